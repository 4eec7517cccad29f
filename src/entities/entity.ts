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
import type { Queryable } from '../moodle/database.js';
import type { MoodleSite } from '../moodle/site.js';
import type { WriteContext } from '../moodle/write-context.js';
import type { Change, EntityType, Fields, ObjectRef } from '../plan/change.js';
import type { StateObject } from '../state/state.js';

/** Something in Moodle that prevents the plan (an unmanaged account in the way, a deleted row holding a key). */
export type Conflict = Diagnostic;

/** One object the directory asks for, computed by the rules. */
export interface DesiredObject {
  /** Natural key (see Change.key). */
  readonly key: string;
  /** Directory entry it comes from (the first one, when several produce it). */
  readonly dn: string;
  /** Managed values, exactly as they should be in Moodle. */
  readonly values: Fields;
  /** Objects it points at (a member's cohort and user, a category's parent). */
  readonly refs?: Readonly<Partial<Record<string, ObjectRef>>>;
  /** Digest of the directory values it was computed from. */
  readonly sourceDigest: string;
  /** Users: the profile (student, teacher, …) whose rules produced it. */
  readonly profile?: string;
  /** UAIs of the establishments it belongs to (`scopes`): what a run scoped to some establishments may touch. */
  readonly establishments?: readonly string[];
}

export interface EntityDiff {
  readonly changes: readonly Change[];
  readonly conflicts: readonly Conflict[];
  /** Notes for the plan's reader (e.g. a managed row deleted by hand, now forgotten). */
  readonly warnings: readonly string[];
}

/** Ids and keys of what Moodle holds now, for every entity read so far. */
export interface CurrentIndex {
  id(entity: EntityType, key: string): number | undefined;
  key(entity: EntityType, id: number): string | undefined;
  /** Ids of the current rows of an entity that have a key. */
  ids(entity: EntityType): readonly number[];
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
  /** Plural title used by renderers: "Users". */
  readonly title: string;
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
