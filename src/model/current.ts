/**
 * What Moodle holds now, as far as the plan needs it: the ids and natural keys of the rows each entity read.
 */
import type { EntityType } from './change.js';

/** Ids and keys of what Moodle holds now, for every entity read so far. */
export interface CurrentIndex {
  id(entity: EntityType, key: string): number | undefined;
  key(entity: EntityType, id: number): string | undefined;
  /** Ids of the current rows of an entity that have a key. */
  ids(entity: EntityType): readonly number[];
}
