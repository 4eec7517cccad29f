/**
 * What the rules ask for: one record per object, computed from the directory, compared by the entities' diffs
 * with what Moodle holds, saved in plan files and recorded in the state after an apply.
 */
import type { Fields, ObjectRef } from './change.js';

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
