/**
 * What the rules left out, and why: the plan lists every one (an entry that cannot become a user, a class
 * value in no known form, a reference to a structure the directory does not have, a transcoding miss).
 */
import type { EntityType } from './change.js';

export interface SkippedEntry {
  /** The entity the entry (or value) would have produced. */
  readonly entity: EntityType;
  readonly dn: string;
  readonly reason: string;
  /**
   * `data`: a value the rules could not use (a structure not in the directory, a value in no known form, a
   * transcoding miss, conflicting objects); `onDataError` decides. Absent: an entry that cannot become a
   * user at all; `users.onInvalidEntry` decides.
   */
  readonly kind?: 'data';
  /**
   * True when the value names a person who is not in the directory (a child who left, still listed by a
   * parent): an ordinary departure seen from the other side, not an error of this entry, so nothing is held
   * for it (plan/hold.ts).
   */
  readonly absent?: true;
}
