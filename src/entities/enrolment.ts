/**
 * Manual enrolments, keyed `<course key>/<user key>`: a user_enrolments row on the course's `manual` instance
 * and the user's role in the course context (component '', itemid 0: Moodle's manual enrolment roles are not
 * owned by the instance, reference-writes §18). Stateful: the tool owns the enrolments it created or adopted.
 *
 * - missing → create; an existing enrolment the tool does not manage → adopted (its role added if missing;
 *   other roles never touched) with `enrolments.manual.adopt: matching`, else a conflict;
 * - managed: the role changed → the old role the tool gave is removed, the new one added; suspended in
 *   Moodle → reactivated;
 * - managed and no longer in the directory: `onRemoved` unenrol (unenrol_user()), suspend (status 1, roles
 *   kept, as update_user_enrol() does: the student's grades and work stay), or keep (left as it is and
 *   forgotten: a release).
 *
 * Role assignments of the role_assignment entity may name the same rows (course context, component ''): the
 * old role of a role change is kept when the rules ask for it as a role assignment, and the entity tells the
 * role_assignment entity which role each enrolment holds after the plan (`roleAfterPlan`, see
 * role-assignment.ts), so that neither removes the other's row.
 */
import type { Change, FieldValue } from '../model/change.js';
import { pairKey } from '../model/change.js';
import type { CurrentIndex } from '../model/current.js';
import type { DesiredObject } from '../model/desired.js';
import type { StateObject } from '../model/state.js';
import type { MoodleManualEnrolmentRow, MoodleManualInstanceRow } from '../moodle/read-manual-enrolments.js';
import { CONTEXT_COURSE, readManualEnrolments, readManualInstances } from '../moodle/read-manual-enrolments.js';
import { readAssignableLevels } from '../moodle/read-role-assignments.js';
import { writeManualEnrolmentChanges } from '../moodle/write-manual-enrolments.js';
import type { DiffInput, Entity, EntityDiff } from './entity.js';
import type { ExtraDelta, Removal } from './keyed-diff.js';
import { diffKeyed } from './keyed-diff.js';
import { recheckCatalogued } from './recheck.js';
import { roleAssignmentKey } from './role-assignment.js';

export type EnrolmentRow = MoodleManualEnrolmentRow;

export type EnrolmentOnRemoved = 'unenrol' | 'suspend' | 'keep';

export interface EnrolmentOptions {
  /** `enrolments.manual.adopt` (default matching). */
  readonly adopt: 'never' | 'matching';
  /** `enrolments.manual.onRemoved` (default suspend: keeps the student's grades). */
  readonly onRemoved: EnrolmentOnRemoved;
}

/** What the diff needs of Moodle beyond the rows: the courses' manual instances and the site's roles. */
export interface EnrolmentFacts {
  /** Manual instances of the courses read, in Moodle's order (sortorder, id). */
  readonly instances: readonly MoodleManualInstanceRow[];
  /** Role ids by shortname (site.roles). */
  readonly roles: ReadonlyMap<string, number>;
  /** Context levels each role may be assigned at, by role id (role_context_levels); absent: not checked. */
  readonly levels?: ReadonlyMap<number, ReadonlySet<number>>;
  /** Whether `manual` is in enrol_plugins_enabled. */
  readonly pluginEnabled: boolean;
}

const keyOf = (row: EnrolmentRow, index: CurrentIndex): string | null => {
  const course = index.key('course', row.courseid);
  const user = index.key('user', row.userid);
  return course === undefined || user === undefined ? null : pairKey(course, user);
};

const text = (value: FieldValue | undefined): string => (typeof value === 'string' ? value : '');

/** The first manual instance of each course (the one enrol_user() is given). */
function firstInstances(instances: readonly MoodleManualInstanceRow[]): Map<number, MoodleManualInstanceRow> {
  const out = new Map<number, MoodleManualInstanceRow>();
  for (const instance of instances) if (!out.has(instance.courseid)) out.set(instance.courseid, instance);
  return out;
}

/** The pure enrolment diff. */
export function diffEnrolments(
  input: DiffInput<EnrolmentRow>,
  options: EnrolmentOptions,
  facts: EnrolmentFacts,
): EntityDiff {
  const { index, owned, wanted } = input;
  const managedById = new Map<number, StateObject>(input.managed.map((m) => [m.id, m]));
  const roleNames = new Map([...facts.roles].map(([name, id]) => [id, name]));
  const instances = firstInstances(facts.instances);
  const warnings: string[] = [];

  const roleProblem = (desired: DesiredObject): string | null => {
    const role = text(desired.values.role);
    const id = facts.roles.get(role);
    if (id === undefined) return `role "${role}" of enrolment "${desired.key}" does not exist in Moodle`;
    // Moodle's UI could neither show nor remove a role held where it is not assignable (reference §23).
    if (facts.levels !== undefined && !(facts.levels.get(id)?.has(CONTEXT_COURSE) ?? false)) {
      return `role "${role}" of enrolment "${desired.key}" cannot be assigned in a course context in Moodle (role_context_levels)`;
    }
    return null;
  };

  const checkCreate = (desired: DesiredObject): string | null => {
    for (const [name, entity] of [
      ['course', 'course'],
      ['user', 'user'],
    ] as const) {
      const key = desired.refs?.[name]?.key;
      if (key === undefined) return `enrolment "${desired.key}" names no ${name}`;
      // One the rules produce counts: if it cannot be made, its own conflict says why.
      if (index.id(entity, key) === undefined && !owned(entity, key) && !wanted(entity, key)) {
        return `the ${name} of enrolment "${desired.key}", "${key}", is neither produced by the rules nor in Moodle`;
      }
    }
    const course = desired.refs?.course?.key as string;
    const courseId = index.id('course', course);
    // A course created by this plan gets its default instances from the course writer (checked when written).
    if (courseId !== undefined && !instances.has(courseId)) {
      return `course "${course}" (id ${courseId}) has no manual enrolment instance; add "Manual enrolments" to it in Moodle (Participants > Enrolment methods)`;
    }
    return roleProblem(desired);
  };

  const checkExisting = (desired: DesiredObject, row: EnrolmentRow): string | ExtraDelta | null => {
    const problem = roleProblem(desired);
    if (problem !== null) return problem;
    const role = text(desired.values.role);
    const held = row.roleids.map((id) => roleNames.get(id) ?? `#${id}`);
    const before: Record<string, FieldValue> = {};
    const after: Record<string, FieldValue> = {};
    const managed = managedById.get(row.id);
    if (managed === undefined) {
      // Adopted: the role is added if missing; the roles Moodle's administrators gave stay.
      if (!held.includes(role)) {
        before.role = held.join(', ');
        after.role = role;
      }
    } else {
      // `before.role` is the role the writer removes: the one the tool gave, unless the rules now ask for it
      // as a role assignment of its own (then that entity holds the row).
      const old = text(managed.values.role);
      const course = desired.refs?.course?.key ?? '';
      const user = desired.refs?.user?.key ?? '';
      const removable =
        old !== role &&
        held.includes(old) &&
        !wanted('role_assignment', roleAssignmentKey(`course:${course}`, old, user));
      if (removable) before.role = old;
      if (removable || !held.includes(role)) {
        before.role ??= '';
        after.role = role;
      }
    }
    if (row.status !== 0) {
      before.status = row.status;
      after.status = 0;
    }
    return Object.keys(after).length === 0 ? null : { before, after };
  };

  const removed = (managed: StateObject, row: EnrolmentRow): Removal => {
    const reason = `no longer in the directory (enrolments.manual.onRemoved: ${options.onRemoved})`;
    switch (options.onRemoved) {
      case 'unenrol':
        return { change: { action: 'delete', before: { ...managed.values, status: row.status }, after: {}, reason } };
      case 'suspend':
        return row.status === 0
          ? { change: { action: 'suspend', before: { status: 0 }, after: { status: 1 }, reason } }
          : {};
      case 'keep':
        return {
          change: { action: 'release', before: {}, after: {}, reason: `${reason}: left in Moodle as it is, forgotten` },
        };
    }
  };

  const result = diffKeyed(input, {
    entity: 'enrolment',
    keyOf: (row) => keyOf(row, index),
    describe: (row) => `Moodle manual enrolment id ${row.id} (course id ${row.courseid}, user id ${row.userid})`,
    compared: [],
    adopt: options.adopt,
    checkCreate,
    checkExisting,
    removed,
  });

  if (input.desired.length > 0 && !facts.pluginEnabled) {
    warnings.push(
      'the manual enrolment plugin is disabled in Moodle (enrol_plugins_enabled): the enrolments ldap2moodle writes give no access until it is enabled',
    );
  }
  const disabled = new Set<string>();
  for (const desired of input.desired) {
    const course = desired.refs?.course?.key;
    const courseId = course === undefined ? undefined : index.id('course', course);
    if (courseId !== undefined && instances.get(courseId)?.status === 1) disabled.add(course as string);
  }
  for (const course of [...disabled].sort()) {
    warnings.push(`course "${course}": its manual enrolment instance is disabled, so its enrolments give no access`);
  }

  const changes = result.changes.map(
    (change): Change =>
      change.action === 'update' && change.after.status === 0
        ? { ...change, action: 'unsuspend', reason: 'suspended in Moodle, in the directory again' }
        : change,
  );
  return { changes, conflicts: result.conflicts, warnings: [...result.warnings, ...warnings] };
}

/**
 * The role each manual enrolment the tool holds after this plan gives, by enrolment key: the desired one, or
 * (managed, no longer desired, suspended or kept managed) the one the state recorded. Handed to the role
 * assignments (DiffProducts.enrolmentRoles).
 */
export function enrolmentRolesAfter(input: DiffInput<EnrolmentRow>, diff: EntityDiff): Map<string, string> {
  const roles = new Map<string, string>();
  const gone = new Set(diff.changes.filter((c) => c.action === 'delete' || c.action === 'release').map((c) => c.key));
  for (const managed of input.managed) {
    if (!gone.has(managed.key)) roles.set(managed.key, text(managed.values.role));
  }
  for (const desired of input.desired) roles.set(desired.key, text(desired.values.role));
  return roles;
}

/** The manual enrolment entity of one run. */
export function enrolmentEntity(options: EnrolmentOptions): Entity<EnrolmentRow, EnrolmentFacts> {
  return {
    type: 'enrolment',
    read: async (db, context) => {
      const instances = await readManualInstances(db, context.index.ids('course'), context.budget);
      const facts: EnrolmentFacts = {
        instances,
        roles: context.site.roles,
        levels: await readAssignableLevels(db),
        pluginEnabled: context.site.enabledEnrol.includes('manual'),
      };
      return { rows: await readManualEnrolments(db, instances, context.budget), facts };
    },
    identify: (row, { index }) => {
      const key = keyOf(row, index);
      return key === null ? null : { id: row.id, key };
    },
    diff: (input, facts) => {
      const diff = diffEnrolments(input, options, facts);
      return { ...diff, products: { enrolmentRoles: enrolmentRolesAfter(input, diff) } };
    },
    recheck: (tx, planned, changes, budget, context) => {
      const instances = firstInstances(context.facts.instances);
      return recheckCatalogued(
        'enrolment',
        tx,
        planned,
        changes,
        budget,
        context,
        (courseId) => instances.get(courseId)?.id,
      );
    },
    write: (tx, context, changes) => writeManualEnrolmentChanges(tx, context, changes),
  };
}
