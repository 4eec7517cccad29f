/**
 * Writes cohort-sync enrolment methods and the enrolments they make, as Moodle's enrol_cohort plugin and its
 * sync (enrol/cohort/locallib.php enrol_cohort_sync, lib/grouplib.php groups_sync_with_enrolment) do
 * (reference-writes §16, §17, §22, §27):
 *
 * - a method is an enrol row: enrol 'cohort', status 0, sortorder = the course's max + 1, customint1 = the
 *   cohort, customint2 = the group or 0, roleid, expirythreshold 0, enrolperiod 0, name NULL, times now
 *   (add_instance); a group change is update_instance (timemodified now), enabling/disabling is
 *   update_status (status only, the course context marked dirty); the role assignments a disabled method
 *   made go with the cohort enrolments' changes (the sync removes them); deletion is delete_instance;
 * - an enrolment is a user_enrolments row (status 0, timestart 0, timeend 0, modifierid = the admin cron runs
 *   as, times now), the method's role in the course context (component 'enrol_cohort', itemid = the method,
 *   sortorder 0) and, when the method has a group, a membership of it owned the same way — unless the user is a
 *   member already; memberships the method owns in any other group go (groups.timemodified = now on both);
 * - a suspension (unenrolaction 3) is status 1 and the method's role assignments removed, memberships kept;
 * - rows the method owns for a user it does not enrol are deleted, as the sync deletes them.
 *
 * Every user whose enrolments or roles change is marked dirty. Statements are multi-row, chunked by the budget.
 */
import { InternalError } from '../errors.js';
import type { Change } from '../model/change.js';
import { deleteByIds, executeIn, insertMany, selectIn } from './batches.js';
import type { Queryable, SqlValue } from './database.js';
import { typedRows } from './read-categories.js';
import type { MoodleCohortEnrolRow } from './read-cohort-enrol.js';
import { COHORT_COMPONENT, cohortEnrolsById, courseContexts } from './read-cohort-enrol.js';
import type { WriteContext } from './write-context.js';
import { markContextsDirty } from './write-dirty-users.js';
import { changesByAction, idsByExactKey, integerOf, moodleIdOf, textOf, updateColumns } from './write-helpers.js';
import { touchGroups, unenrolUsers } from './write-unenrol.js';

async function contextPathsOf(tx: Queryable, ctx: WriteContext, methods: Iterable<MoodleCohortEnrolRow>) {
  const contexts = await courseContexts(tx, [...new Set([...methods].map((m) => m.courseid))], ctx.budget);
  return [...contexts.values()].map((c) => c.path);
}

// ---- methods ----------------------------------------------------------------------------------------------

async function createMethods(tx: Queryable, ctx: WriteContext, creates: readonly Change[]): Promise<void> {
  if (creates.length === 0) return;
  const rows = creates.map((change) => {
    const { course, cohort, group } = change.refs ?? {};
    if (course?.entity !== 'course' || cohort?.entity !== 'cohort') {
      throw new InternalError(`${change.address}: a cohort enrolment method needs a course and a cohort reference`);
    }
    const roleid = ctx.site.roles.get(textOf(change, 'role'));
    if (roleid === undefined) throw new InternalError(`${change.address}: role ${textOf(change, 'role')} unknown`);
    return {
      change,
      courseid: ctx.ids.require(course, change.address),
      cohortid: ctx.ids.require(cohort, change.address),
      groupid: group === undefined ? 0 : ctx.ids.require(group, change.address),
      roleid,
    };
  });
  const tops = typedRows<{ courseid: number; top: number | null }>(
    'enrol',
    await selectIn(
      tx,
      (list) => `SELECT courseid, MAX(sortorder) AS top FROM {enrol} WHERE courseid IN (${list}) GROUP BY courseid`,
      [],
      [...new Set(rows.map((r) => r.courseid))],
      ctx.budget,
    ),
    { courseid: 'number', top: 'number?' },
  );
  // add_instance(): COALESCE(MAX(sortorder), -1) + 1 of the course, one after the other.
  const next = new Map(tops.map((t) => [t.courseid, (t.top ?? -1) + 1]));
  const values: SqlValue[][] = rows.map((r) => {
    const sortorder = next.get(r.courseid) ?? 0;
    next.set(r.courseid, sortorder + 1);
    return ['cohort', 0, r.courseid, sortorder, 0, 0, 0, 0, 0, 0, r.roleid, r.cohortid, r.groupid, ctx.now, ctx.now];
  });
  await insertMany(
    tx,
    'enrol',
    [
      'enrol',
      'status',
      'courseid',
      'sortorder',
      'enrolperiod',
      'enrolstartdate',
      'enrolenddate',
      'expirynotify',
      'expirythreshold',
      'notifyall',
      'roleid',
      'customint1',
      'customint2',
      'timecreated',
      'timemodified',
    ],
    values,
    ctx.budget,
  );
  const found = typedRows<{ id: number; courseid: number; customint1: number | null; roleid: number }>(
    'enrol',
    await selectIn(
      tx,
      (list) => `SELECT id, courseid, customint1, roleid FROM {enrol} WHERE enrol = 'cohort' AND courseid IN (${list})`,
      [],
      [...new Set(rows.map((r) => r.courseid))],
      ctx.budget,
    ),
    { id: 'number', courseid: 'number', customint1: 'number?', roleid: 'number' },
  );
  const triple = (course: number, cohort: number | null, role: number) => `${course}:${cohort}:${role}`;
  const ids = idsByExactKey(
    found,
    (r) => triple(r.courseid, r.customint1, r.roleid),
    rows.map((r) => triple(r.courseid, r.cohortid, r.roleid)),
    'cohort enrolment method (course:cohort:role)',
  );
  for (const r of rows)
    ctx.ids.set('cohort_enrol', r.change.key, ids.get(triple(r.courseid, r.cohortid, r.roleid)) as number);
}

async function updateMethods(tx: Queryable, ctx: WriteContext, updates: readonly Change[]): Promise<void> {
  const instance: { id: number; values: Record<string, SqlValue> }[] = [];
  const status: { id: number; values: Record<string, SqlValue> }[] = [];
  for (const change of updates) {
    const values: Record<string, SqlValue> = {};
    if ('status' in change.after) values.status = integerOf(change, 'status');
    if ('group' in change.after) {
      const group = change.refs?.group;
      values.customint2 = group === undefined ? 0 : ctx.ids.require(group, change.address);
    }
    for (const column of Object.keys(change.after)) {
      if (column !== 'status' && column !== 'group') {
        throw new InternalError(`${change.address}: ${change.action} of ${column}, not a column this writer manages`);
      }
    }
    // update_instance() stamps timemodified; update_status() changes the status alone.
    if ('customint2' in values) instance.push({ id: moodleIdOf(change), values });
    else if ('status' in values) status.push({ id: moodleIdOf(change), values });
  }
  await updateColumns(tx, 'enrol', instance, { timemodified: ctx.now }, ctx.budget);
  await updateColumns(tx, 'enrol', status, {}, ctx.budget);
  if (status.length > 0) {
    const methods = await cohortEnrolsById(
      tx,
      status.map((s) => s.id),
      ctx.budget,
    );
    await markContextsDirty(tx, ctx, await contextPathsOf(tx, ctx, methods.values()));
  }
}

/**
 * update_status(disabled). What the sync right after it does for a disabled method (its role assignments go)
 * is planned user by user among the cohort enrolments, and written by their writer.
 */
async function disableMethods(tx: Queryable, ctx: WriteContext, ids: readonly number[]): Promise<void> {
  if (ids.length === 0) return;
  await executeIn(tx, (list) => `UPDATE {enrol} SET status = 1 WHERE id IN (${list})`, [], ids, ctx.budget);
  const methods = await cohortEnrolsById(tx, ids, ctx.budget);
  await markContextsDirty(tx, ctx, await contextPathsOf(tx, ctx, methods.values()));
}

/** delete_instance(): everyone unenrolled, the remainders the method owns deleted, then the enrol row. */
async function deleteMethods(tx: Queryable, ctx: WriteContext, ids: readonly number[]): Promise<void> {
  if (ids.length === 0) return;
  const methods = await cohortEnrolsById(tx, ids, ctx.budget);
  const participants = typedRows<{ enrolid: number; userid: number }>(
    'user_enrolments',
    await selectIn(
      tx,
      (list) => `SELECT enrolid, userid FROM {user_enrolments} WHERE enrolid IN (${list})`,
      [],
      ids,
      ctx.budget,
    ),
    { enrolid: 'number', userid: 'number' },
  );
  await unenrolUsers(
    tx,
    ctx,
    participants.map((p) => ({
      enrolId: p.enrolid,
      plugin: 'cohort',
      userId: p.userid,
      courseId: methods.get(p.enrolid)?.courseid ?? 0,
    })),
  );
  const members = typedRows<{ id: number; groupid: number }>(
    'groups_members',
    await selectIn(
      tx,
      (list) => `SELECT id, groupid FROM {groups_members} WHERE component = ? AND itemid IN (${list})`,
      [COHORT_COMPONENT],
      ids,
      ctx.budget,
    ),
    { id: 'number', groupid: 'number' },
  );
  await deleteByIds(
    tx,
    'groups_members',
    members.map((m) => m.id),
    ctx.budget,
  );
  await touchGroups(
    tx,
    ctx,
    members.map((m) => m.groupid),
  );
  await executeIn(
    tx,
    (list) => `DELETE FROM {role_assignments} WHERE component = ? AND itemid IN (${list})`,
    [COHORT_COMPONENT],
    ids,
    ctx.budget,
  );
  await executeIn(tx, (list) => `DELETE FROM {user_enrolments} WHERE enrolid IN (${list})`, [], ids, ctx.budget);
  await executeIn(tx, (list) => `DELETE FROM {enrol} WHERE id IN (${list})`, [], ids, ctx.budget);
  await markContextsDirty(tx, ctx, await contextPathsOf(tx, ctx, methods.values()));
}

/** Applies the method changes of a plan; created ids go to `ctx.ids` (the enrolments come next). */
export async function writeCohortEnrolChanges(tx: Queryable, ctx: WriteContext, changes: readonly Change[]) {
  const byAction = changesByAction(changes, 'cohort_enrol', [
    'create',
    'adopt',
    'update',
    'unsuspend',
    'suspend',
    'delete',
  ]);
  await deleteMethods(tx, ctx, (byAction.get('delete') ?? []).map(moodleIdOf));
  await createMethods(tx, ctx, byAction.get('create') ?? []);
  const updates = ['adopt', 'update', 'unsuspend'] as const;
  await updateMethods(
    tx,
    ctx,
    updates.flatMap((a) => byAction.get(a) ?? []),
  );
  await disableMethods(tx, ctx, (byAction.get('suspend') ?? []).map(moodleIdOf));
}
