/**
 * What every writer receives inside the apply's transaction: the site's facts, the apply's clock, the statement
 * budget, and the id registry through which objects created by this apply are found by the ones written after
 * them (a cohort in a category created a moment earlier, a member of a user just inserted).
 */
import { InternalError } from '../errors.js';
import type { EntityType, ObjectRef } from '../model/change.js';
import type { MoodleSite } from './site.js';

/** Moodle ids of objects by entity and key: the ones the plan read, then the ones this apply creates. */
export class ObjectIds {
  private readonly ids = new Map<EntityType, Map<string, number>>();

  get(entity: EntityType, key: string): number | undefined {
    return this.ids.get(entity)?.get(key);
  }

  /** The id of a referenced object; its absence is a bug (the plan ordered writes so that it exists). */
  require(ref: ObjectRef, from: string): number {
    const id = this.get(ref.entity, ref.key);
    if (id === undefined) throw new InternalError(`${from}: no Moodle id for ${ref.entity} "${ref.key}"`);
    return id;
  }

  set(entity: EntityType, key: string, id: number): void {
    let byKey = this.ids.get(entity);
    if (byKey === undefined) {
      byKey = new Map();
      this.ids.set(entity, byKey);
    }
    byKey.set(key, id);
  }

  /** Every key → id of one entity (for the next state). */
  all(entity: EntityType): ReadonlyMap<string, number> {
    return this.ids.get(entity) ?? new Map();
  }
}

export interface WriteContext {
  readonly site: MoodleSite;
  /** The system context's path ("/1"): user and top-level category contexts hang under it. */
  readonly systemContextPath: string;
  /** The system context's id (a cohort's contextid when it lives at site level). */
  readonly systemContextId: number;
  /** Unix time of the apply, written to timecreated/timemodified/timeadded. */
  readonly now: number;
  /** Bytes per statement (see batches.ts). */
  readonly budget: number;
  readonly ids: ObjectIds;
}
