/**
 * What every kind of Moodle object (user, category, cohort, member, profile field, …) provides to the pipeline.
 * Planning and applying are the same loop for all of them, in ENTITY_ORDER (entities/catalog.ts):
 *
 *   read (I/O: rows + facts) → diff (pure: desired objects + current rows + managed objects → changes) →
 *   recheck and write (I/O, inside the apply's transaction)
 *
 * An entity is built per run from the spec (its options, immutable, are closed over) and holds no state of its
 * own: `read` returns what it read, and every later call receives what it needs as arguments — its own reading,
 * the index of every entity read, and what the entities diffed before it handed on (`DiffProducts`). The facts
 * every stage needs about an entity (names, order, ownership, redaction, guards, recheck) are in the catalogue,
 * so the pipeline only sees this one interface and never names an entity.
 */
import type { Diagnostic } from '../errors.js';
import type { Change, EntityType } from '../model/change.js';
import type { CurrentIndex } from '../model/current.js';
import type { DesiredObject } from '../model/desired.js';
import type { SkippedEntry } from '../model/skipped.js';
import type { StateObject } from '../model/state.js';
import type { Queryable } from '../moodle/database.js';
import type { MoodleSite } from '../moodle/site.js';
import type { WriteContext } from '../moodle/write-context.js';

/** Something in Moodle that prevents the plan (an unmanaged account in the way, a deleted row holding a key). */
export type Conflict = Diagnostic;

/**
 * What an entity's diff hands to the entities diffed after it, which list it in their catalogue `uses` (so
 * that they are planned after it). Declared here, field by field, so that the flow between entities is visible.
 */
export interface DiffProducts {
  /**
   * enrolment → role_assignment: the role each manual enrolment the tool holds after this plan gives, by
   * `<course>/<user>` (a role assignment of that role in that course is then the enrolment's row).
   */
  readonly enrolmentRoles?: ReadonlyMap<string, string>;
  /**
   * cohort_member → cohort_enrolment: the memberships `<cohort>/<user>` (`#<id>` for a user without key) of the
   * cohorts read that Moodle holds after this plan.
   */
  readonly cohortMembersAfter?: ReadonlySet<string>;
  /**
   * cohort_enrol → cohort_enrolment: the cohort-sync methods (by key) still in Moodle after this plan, with the
   * cohort they sync and their status then (0 enabled, 1 disabled).
   */
  readonly cohortMethodsAfter?: ReadonlyMap<string, { readonly cohort: string; readonly status: number }>;
}

export interface EntityDiff {
  readonly changes: readonly Change[];
  readonly conflicts: readonly Conflict[];
  /** Notes for the plan's reader (e.g. a managed row deleted by hand, now forgotten). */
  readonly warnings: readonly string[];
  /** What this diff hands to the entities diffed after it. */
  readonly products?: DiffProducts;
  /**
   * Entries left out by the diff itself, each with its DN and why (a uid that is Moodle's admin or guest): listed
   * with the rules' skipped entries, the rest of the plan goes on.
   */
  readonly skipped?: readonly SkippedEntry[];
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
  /** What the entities diffed before this one handed on. */
  readonly products: DiffProducts;
  /**
   * People of the directory read whom the rules leave out on purpose, by normalised DN, with the spec's reason
   * (`users.when`'s `reason`): what their removal is shown with.
   */
  readonly excluded?: ReadonlyMap<string, string>;
}

export interface ReadContext {
  readonly site: MoodleSite;
  readonly budget: number;
  /** What was read of the entities before this one (members are read for the cohorts read). */
  readonly index: CurrentIndex;
}

/** What an entity read of Moodle: its rows, and what its diff needs to know beyond them (a site's roles…). */
export interface EntityRead<Row, Facts> {
  readonly rows: readonly Row[];
  readonly facts: Facts;
}

/** What `identify` sees besides a row: the entity's facts and the keys and ids of the entities read before it. */
export interface ReadingContext<Facts> {
  readonly facts: Facts;
  readonly index: CurrentIndex;
}

/** What `recheck` sees besides rows: the entity's facts, the index of every entity read, the site. */
export interface RecheckContext<Facts> extends ReadingContext<Facts> {
  readonly site: MoodleSite;
}

/** A row's id and natural key. */
export interface Identity {
  readonly id: number;
  readonly key: string;
}

export interface Entity<Row, Facts = undefined> {
  readonly type: EntityType;
  /** I/O: the rows of Moodle this entity compares against, and the facts its diff needs. */
  read(db: Queryable, context: ReadContext): Promise<EntityRead<Row, Facts>>;
  /** Key and id of a current row (the key the desired objects use), or null when it has none. */
  identify(row: Row, context: ReadingContext<Facts>): Identity | null;
  /** Pure and deterministic: changes sorted by key. */
  diff(input: DiffInput<Row>, facts: Facts): EntityDiff;
  /**
   * Inside the transaction, before writing: what changed in Moodle since `planned` was read, among the rows the
   * changes depend on (locked until COMMIT). Empty when the plan still holds.
   */
  recheck(
    tx: Queryable,
    planned: readonly Row[],
    changes: readonly Change[],
    budget: number,
    context: RecheckContext<Facts>,
  ): Promise<Diagnostic[]>;
  /** Inside the transaction: writes the changes of this entity; records created ids in `context.ids`. */
  write(tx: Queryable, context: WriteContext, changes: readonly Change[]): Promise<void>;
}

/** Sorts changes by key, the order every entity lists them in. */
export function byKey<T extends { readonly key: string }>(a: T, b: T): number {
  return a.key < b.key ? -1 : a.key > b.key ? 1 : 0;
}
