/**
 * Cohort-sync enrolment methods (Moodle's enrol_cohort instances), keyed `<course>/<cohort>/<role>`: the
 * course's key, the synced cohort's key and the role's shortname. An instance syncing the same cohort with the
 * same role in the same course is the same method (Moodle's form refuses a second one): an unmanaged one is
 * taken over, never duplicated. The group (customint2) is the managed value; a disabled method the rules ask
 * for is enabled again. The enrolments a method makes are the cohort_enrolment entity, planned right after it,
 * so a created method and its enrolments are what add_instance() and its sync would have written.
 *
 * A managed method the rules no longer produce (`enrolments.cohorts.onRemoved`): `delete` is delete_instance()
 * (everyone it enrolled unenrolled), `disable` is update_status(disabled) and the sync right after it (its
 * role assignments removed, enrolments kept), `keep` leaves it.
 */
import type { Change } from '../model/change.js';
import type { CurrentIndex } from '../model/current.js';
import type { DesiredObject } from '../model/desired.js';
import type { MoodleCohortEnrolRow } from '../moodle/read-cohort-enrol.js';
import { readCohortEnrols } from '../moodle/read-cohort-enrol.js';
import { writeCohortEnrolChanges } from '../moodle/write-cohort-enrol.js';
import type { DiffInput, Entity, EntityDiff } from './entity.js';
import type { ExtraDelta, Removal } from './keyed-diff.js';
import { diffKeyed } from './keyed-diff.js';
import { recheckCatalogued } from './recheck.js';

export type CohortEnrolRow = MoodleCohortEnrolRow;

export type CohortEnrolOnRemoved = 'delete' | 'disable' | 'keep';

export interface CohortEnrolOptions {
  /** Role ids by shortname (`site.roles`). */
  readonly roles: ReadonlyMap<string, number>;
  /** `enrolments.cohorts.onRemoved`. */
  readonly onRemoved: CohortEnrolOnRemoved;
  /**
   * Whether Moodle's cohort plugin is enabled (`site.enabledEnrol` has `cohort`); default true. When it is
   * not, Moodle's sync task removes every role the plugin assigned: creating methods is refused.
   */
  readonly pluginEnabled?: boolean;
}

/** The key of a method: `<course>/<cohort>/<role>`. */
export const methodKey = (course: string, cohort: string, role: string): string => `${course}/${cohort}/${role}`;

/** Role shortnames by id. */
export function roleNames(roles: ReadonlyMap<string, number>): Map<number, string> {
  return new Map([...roles].map(([name, id]) => [id, name]));
}

/** The row's key from the index and the roles; null when the course, cohort or role has none. */
function keyOf(row: CohortEnrolRow, index: CurrentIndex, names: ReadonlyMap<number, string>): string | null {
  const course = index.key('course', row.courseid);
  const cohort = row.customint1 === null ? undefined : index.key('cohort', row.customint1);
  const role = names.get(row.roleid);
  return course === undefined || cohort === undefined || role === undefined ? null : methodKey(course, cohort, role);
}

/** The group a row adds its users to, as the plan shows it: its key, `#<id>` for one without key, or ''. */
function groupOf(row: CohortEnrolRow, index: CurrentIndex): string {
  if (row.customint2 === null || row.customint2 === 0) return '';
  return index.key('group', row.customint2) ?? `#${row.customint2}`;
}

const STATUS_ENABLED = 0;
const STATUS_DISABLED = 1;

/** The pure method diff. */
export function diffCohortEnrols(input: DiffInput<CohortEnrolRow>, options: CohortEnrolOptions): EntityDiff {
  const { index, owned, wanted } = input;
  const names = roleNames(options.roles);
  type Shown = CohortEnrolRow & { readonly key: string | null; readonly group: string };
  const rows: Shown[] = input.current.map((row) => ({
    ...row,
    key: keyOf(row, index, names),
    group: groupOf(row, index),
  }));

  /** A referenced object that is neither in Moodle nor made by this plan. */
  const missing = (desired: DesiredObject, name: 'course' | 'cohort' | 'group'): string | null => {
    const ref = desired.refs?.[name];
    // One the rules produce counts: if it cannot be made, its own conflict says why.
    if (ref === undefined || index.id(ref.entity, ref.key) !== undefined || owned(ref.entity, ref.key)) return null;
    if (wanted(ref.entity, ref.key)) return null;
    return `the ${name} of cohort enrolment method "${desired.key}", "${ref.key}", is neither produced by the rules nor in Moodle`;
  };
  const roleProblem = (desired: DesiredObject): string | null => {
    const role = desired.values.role;
    return typeof role === 'string' && options.roles.has(role)
      ? null
      : `role "${String(role)}" of cohort enrolment method "${desired.key}" does not exist in Moodle (no role with that shortname)`;
  };
  const checkCreate = (desired: DesiredObject): string | null =>
    roleProblem(desired) ??
    (options.pluginEnabled === false
      ? 'the cohort sync enrolment plugin (enrol_cohort) is disabled in Moodle, whose sync task then removes every role it gave; enable it (Site administration > Plugins > Enrolments) first'
      : null) ??
    missing(desired, 'course') ??
    missing(desired, 'cohort') ??
    missing(desired, 'group');

  // The writer resolves the group (which this plan may create) from refs; status comes back to enabled.
  const checkExisting = (desired: DesiredObject, row: Shown): string | ExtraDelta | null => {
    const problem = missing(desired, 'group');
    if (problem !== null) return problem;
    const refs = desired.refs === undefined ? {} : { refs: desired.refs };
    return row.status === STATUS_ENABLED
      ? { before: {}, after: {}, ...refs }
      : { before: { status: row.status }, after: { status: STATUS_ENABLED }, ...refs };
  };

  const removed = (_: unknown, row: Shown): Removal => {
    const reason = `no longer in the directory (enrolments.cohorts.onRemoved: ${options.onRemoved})`;
    switch (options.onRemoved) {
      case 'keep':
        return {};
      case 'disable':
        return row.status === STATUS_DISABLED
          ? {}
          : {
              change: {
                action: 'suspend',
                before: { status: row.status },
                after: { status: STATUS_DISABLED },
                reason,
              },
            };
      case 'delete': {
        const [course, cohort, role] = [
          index.key('course', row.courseid) ?? '',
          row.customint1 === null ? '' : (index.key('cohort', row.customint1) ?? ''),
          names.get(row.roleid) ?? '',
        ];
        return {
          change: { action: 'delete', before: { course, cohort, role, group: row.group }, after: {}, reason },
        };
      }
    }
  };

  const result = diffKeyed<Shown>(
    { ...input, current: rows },
    {
      entity: 'cohort_enrol',
      keyOf: (row) => row.key,
      describe: (row) => `Moodle enrolment method id ${row.id} (cohort sync in course id ${row.courseid})`,
      compared: ['group'],
      adopt: 'matching',
      checkCreate,
      checkExisting,
      removed,
    },
  );
  const changes = result.changes.map(renamed);
  return { ...result, changes, products: { cohortMethodsAfter: methodsAfter(rows, changes, index) } };
}

/** The methods in Moodle after these changes: the cohort each syncs and its status then. */
function methodsAfter(
  rows: readonly (CohortEnrolRow & { readonly key: string | null })[],
  changes: readonly Change[],
  index: CurrentIndex,
): Map<string, { cohort: string; status: number }> {
  const after = new Map<string, { cohort: string; status: number }>();
  for (const row of rows) {
    const cohort = row.customint1 === null ? undefined : index.key('cohort', row.customint1);
    if (row.key !== null && cohort !== undefined && !after.has(row.key)) {
      after.set(row.key, { cohort, status: row.status });
    }
  }
  for (const change of changes) {
    const now = after.get(change.key);
    const cohort = change.refs?.cohort?.key;
    if (change.action === 'delete') after.delete(change.key);
    else if (change.action === 'create' && cohort !== undefined)
      after.set(change.key, { cohort, status: STATUS_ENABLED });
    else if (now !== undefined && typeof change.after.status === 'number') {
      after.set(change.key, { ...now, status: change.after.status });
    }
  }
  return after;
}

/** Actions and reasons as the plan's reader should see them. */
function renamed(change: Change): Change {
  if (change.action === 'adopt') {
    return { ...change, reason: 'existing cohort sync of the same cohort and role taken over' };
  }
  const fields = Object.keys(change.after);
  if (change.action === 'update' && fields.length === 1 && change.after.status === STATUS_ENABLED) {
    return { ...change, action: 'unsuspend', reason: 'back in the directory: the disabled method is enabled again' };
  }
  return change;
}

/** The cohort enrolment method entity of one run. */
export function cohortEnrolEntity(options: CohortEnrolOptions): Entity<CohortEnrolRow> {
  const names = roleNames(options.roles);
  return {
    type: 'cohort_enrol',
    read: async (db) => ({ rows: await readCohortEnrols(db), facts: undefined }),
    identify: (row, { index }) => {
      const key = keyOf(row, index, names);
      return key === null ? null : { id: row.id, key };
    },
    diff: (input) => diffCohortEnrols(input, options),
    recheck: (tx, planned, changes, budget, context) =>
      recheckCatalogued('cohort_enrol', tx, planned, changes, budget, context),
    write: (tx, context, changes) => writeCohortEnrolChanges(tx, context, changes),
  };
}
