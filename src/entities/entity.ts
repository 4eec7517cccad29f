/**
 * What every kind of Moodle object (user, cohort, membership, enrolment, …) provides to the pipeline.
 * Planning is the same loop for all of them: desired objects from the rules, current rows from Moodle,
 * managed objects from the state → changes and conflicts, through the entity's pure `diff`.
 */
import type { Diagnostic } from '../errors.js';
import type { Change, EntityType } from '../plan/change.js';
import type { StateObject } from '../state/state.js';

/** Something in Moodle that prevents the plan (an unmanaged account in the way, a deleted row holding a key). */
export type Conflict = Diagnostic;

export interface EntityDiff {
  readonly changes: readonly Change[];
  readonly conflicts: readonly Conflict[];
  /** Notes for the plan's reader (e.g. a managed row deleted by hand, now forgotten). */
  readonly warnings: readonly string[];
}

export interface DiffInput<Desired, Current, Options> {
  readonly desired: readonly Desired[];
  readonly current: readonly Current[];
  /** Managed objects of this entity, from the state. */
  readonly managed: readonly StateObject[];
  readonly options: Options;
}

export interface Entity<Desired, Current, Options> {
  readonly type: EntityType;
  /** Plural title used by renderers: "Users". */
  readonly title: string;
  /** Pure and deterministic: changes sorted by key. */
  diff(input: DiffInput<Desired, Current, Options>): EntityDiff;
}
