/**
 * What every kind of Moodle object (user, category, cohort, member, profile field, …) provides to the pipeline.
 * Planning and applying are the same loop for all of them, in ENTITY_ORDER:
 *
 *   read (I/O) → diff (pure: desired objects + current rows + managed objects → changes) → recheck and write
 *   (I/O, inside the apply's transaction)
 *
 * An entity is built per run from the spec (its options are closed over), so the pipeline only sees this one
 * interface and never names an entity.
 */
import type { Diagnostic } from '../errors.js';
import type { Change, EntityType } from '../model/change.js';
import type { CurrentIndex } from '../model/current.js';
import type { DesiredObject } from '../model/desired.js';
import type { StateObject } from '../model/state.js';
import type { Queryable } from '../moodle/database.js';
import type { MoodleSite } from '../moodle/site.js';
import type { WriteContext } from '../moodle/write-context.js';

/** Something in Moodle that prevents the plan (an unmanaged account in the way, a deleted row holding a key). */
export type Conflict = Diagnostic;

export interface EntityDiff {
  readonly changes: readonly Change[];
  readonly conflicts: readonly Conflict[];
  /** Notes for the plan's reader (e.g. a managed row deleted by hand, now forgotten). */
  readonly warnings: readonly string[];
}

/** Whether the tool owns an object after this plan: managed in the state, or created/adopted by the plan. */
export type Ownership = (entity: EntityType, key: string) => boolean;

export interface DiffInput<Current> {
  readonly desired: readonly DesiredObject[];
  readonly current: readonly Current[];
  /** Managed objects of this entity, from the state. */
  readonly managed: readonly StateObject[];
  readonly index: CurrentIndex;
  /** Ownership of objects of the entities planned before this one. */
  readonly owned: Ownership;
  /** Whether the rules of this run ask for an object (of any entity). */
  readonly wanted: (entity: EntityType, key: string) => boolean;
}

export interface ReadContext {
  readonly site: MoodleSite;
  readonly budget: number;
  /** What was read of the entities before this one (members are read for the cohorts read). */
  readonly index: CurrentIndex;
}

export interface Entity<Current> {
  readonly type: EntityType;
  /** False for rows owned through their parent (members through their cohort, data through its field). */
  readonly stateful: boolean;
  /** I/O: the rows of Moodle this entity compares against. */
  read(db: Queryable, context: ReadContext): Promise<readonly Current[]>;
  /** Key and id of a current row (the key the desired objects use), or null when it has none. */
  identify(row: Current): { readonly id: number; readonly key: string } | null;
  /** Pure and deterministic: changes sorted by key. */
  diff(input: DiffInput<Current>): EntityDiff;
  /**
   * Inside the transaction, before writing: what changed in Moodle since `planned` was read, among the rows the
   * changes depend on (locked until COMMIT). Empty when the plan still holds.
   */
  recheck(
    tx: Queryable,
    planned: readonly Current[],
    changes: readonly Change[],
    budget: number,
  ): Promise<Diagnostic[]>;
  /** Inside the transaction: writes the changes of this entity; records created ids in `context.ids`. */
  write(tx: Queryable, context: WriteContext, changes: readonly Change[]): Promise<void>;
}

/** Sorts changes by key, the order every entity lists them in. */
export function byKey<T extends { readonly key: string }>(a: T, b: T): number {
  return a.key < b.key ? -1 : a.key > b.key ? 1 : 0;
}
