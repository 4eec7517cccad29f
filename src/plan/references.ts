/**
 * Objects of the course side (groups, enrolments, role assignments…) name other objects by key: a course, a
 * group, a cohort, a user. One that names an object neither produced by the rules nor in Moodle cannot be made
 * (a course that does not exist and no rule creates, a user who is not in Moodle): it is left out and listed
 * with its DN and reason, a data error like any other (`onDataError: fail` stops the run). Objects are checked
 * in ENTITY_ORDER, so an object left out takes the ones that name it along (a group of a left-out course).
 */

import { ENTITY_ORDER, factsOf } from '../entities/catalog.js';
import type { EntityType } from '../model/change.js';
import type { CurrentIndex } from '../model/current.js';
import type { DesiredObject } from '../model/desired.js';
import type { SkippedEntry } from '../model/skipped.js';
import { describeKey } from '../rules/clean-values.js';

export function dropDanglingReferences(
  desired: ReadonlyMap<EntityType, readonly DesiredObject[]>,
  index: CurrentIndex,
): { readonly desired: Map<EntityType, readonly DesiredObject[]>; readonly skipped: SkippedEntry[] } {
  const kept = new Map<EntityType, readonly DesiredObject[]>(desired);
  const keys = new Map<EntityType, Set<string>>();
  const skipped: SkippedEntry[] = [];
  for (const entity of ENTITY_ORDER) {
    const objects = desired.get(entity) ?? [];
    const list = factsOf(entity).refsCheckedByPlan
      ? objects.filter((object) => {
          for (const [name, ref] of Object.entries(object.refs ?? {})) {
            if (ref === undefined) continue;
            if (keys.get(ref.entity)?.has(ref.key) || index.id(ref.entity, ref.key) !== undefined) continue;
            const { noun } = factsOf(ref.entity);
            skipped.push({
              entity,
              dn: object.dn,
              reason: `${entity} "${describeKey(object.key)}": its ${name === 'target' ? 'target user' : noun} "${describeKey(ref.key)}" is neither produced by the rules nor in Moodle; it is left out`,
              kind: 'data',
            });
            return false;
          }
          return true;
        })
      : objects;
    kept.set(entity, list);
    keys.set(entity, new Set(list.map((o) => o.key)));
  }
  return { desired: kept, skipped };
}
