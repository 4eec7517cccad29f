/**
 * The apply's recheck of an entity's table, as the entity catalogue describes it (`table`, `refs`, `recheck`):
 * the SQL is in src/moodle/recheck-rows.ts; this only turns the catalogue's facts and a reading into its input.
 */
import type { Diagnostic } from '../errors.js';
import type { Change, EntityType } from '../model/change.js';
import type { Queryable } from '../moodle/database.js';
import type { RecheckTable } from '../moodle/recheck-rows.js';
import { recheckRows } from '../moodle/recheck-rows.js';
import { factsOf } from './catalog.js';
import type { RecheckContext } from './entity.js';

/** The recheck table of an entity: its catalogue facts, its refs resolved to the tables they point into. */
export function recheckTableOf(entity: EntityType): RecheckTable {
  const facts = factsOf(entity);
  return {
    ...facts.recheck,
    table: facts.table,
    references: Object.fromEntries(Object.entries(facts.refs).map(([name, target]) => [name, factsOf(target).table])),
  };
}

/**
 * Rechecks the rows an entity's changes depend on. `manualInstance` gives a course's manual enrolment instance
 * (the manual enrolments' natural key); the other entities have no use for it.
 */
export function recheckCatalogued<Row extends { readonly id: number }, Facts>(
  entity: EntityType,
  tx: Queryable,
  planned: readonly Row[],
  changes: readonly Change[],
  budget: number,
  context: RecheckContext<Facts>,
  manualInstance: (courseId: number) => number | undefined = () => undefined,
): Promise<Diagnostic[]> {
  return recheckRows(tx, recheckTableOf(entity), planned, changes, budget, {
    idOf: (ref) => context.index.id(ref.entity, ref.key),
    roleId: (shortname) => context.site.roles.get(shortname),
    manualInstance,
  });
}
