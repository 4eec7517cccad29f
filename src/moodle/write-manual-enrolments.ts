/**
 * Writes manual enrolments as enrol_manual's enrol_user() / update_user_enrol() / unenrol_user() do
 * (reference-writes §18, §27; lib/enrollib.php):
 * - an enrolment is a user_enrolments row on the course's manual instance: status 0, timestart 0, timeend 0
 *   (the DB default of timeend is 2147483647: never relied upon), modifierid = the acting admin,
 *   timecreated = timemodified = now; its role a role_assignments row in the course context with component ''
 *   and itemid 0 (manual roles are not owned by the instance), never a duplicate (see write-role-assignments.ts);
 * - suspending or reactivating sets status, modifierid and timemodified (update_user_enrol(), roles kept);
 * - a role change removes the old role the tool gave (when the plan says so: `before.role`) and adds the new one;
 * - unenrolling is unenrol_user() (write-unenrol.ts);
 * - every user whose enrolment or roles change is marked dirty (cache_flags accesslib/dirtyusers).
 *
 * The course may be created by the same apply: its manual instance and context are found at write time.
 */
import { InternalError, UserError } from '../errors.js';
import type { Change } from '../model/change.js';
import { insertMany, selectIn } from './batches.js';
import type { Queryable } from './database.js';
import { typedRows } from './read-categories.js';
import { readManualInstances } from './read-manual-enrolments.js';
import type { WriteContext } from './write-context.js';
import { markUsersDirty } from './write-dirty-users.js';
import { asConflict, changesByAction, moodleIdOf, updateColumns } from './write-helpers.js';
import { assignRoles, instanceContexts, type RoleTuple, roleIdOf, unassignRoles } from './write-role-assignments.js';
import { actingAdminId, unenrolUsers } from './write-unenrol.js';

const CONTEXT_COURSE = 50;

interface Placed {
  readonly change: Change;
  readonly courseId: number;
  readonly userId: number;
}

/** The enrolments these changes touch, by user_enrolments id: their user, instance and course. */
async function existingEnrolments(
  tx: Queryable,
  ctx: WriteContext,
  changes: readonly Change[],
): Promise<Map<number, { userid: number; enrolid: number; courseid: number }>> {
  const rows = typedRows<{ id: number; userid: number; enrolid: number; courseid: number }>(
    'user_enrolments',
    await selectIn(
      tx,
      (list) =>
        `SELECT ue.id, ue.userid, ue.enrolid, e.courseid FROM {user_enrolments} ue JOIN {enrol} e ON e.id = ue.enrolid WHERE ue.id IN (${list})`,
      [],
      [...new Set(changes.map(moodleIdOf))],
      ctx.budget,
    ),
    { id: 'number', userid: 'number', enrolid: 'number', courseid: 'number' },
  );
  const byId = new Map(rows.map((r) => [r.id, r]));
  for (const change of changes) {
    if (!byId.has(moodleIdOf(change))) {
      throw new InternalError(`${change.address}: user_enrolments id ${change.moodleId} vanished after the recheck`);
    }
  }
  return byId;
}

/** The manual instance each course enrols through: its first one in Moodle's order (sortorder, id). */
async function manualInstances(
  tx: Queryable,
  ctx: WriteContext,
  creates: readonly Placed[],
): Promise<Map<number, number>> {
  const instances = await readManualInstances(
    tx,
    creates.map((c) => c.courseId),
    ctx.budget,
  );
  const byCourse = new Map<number, number>();
  for (const instance of instances) if (!byCourse.has(instance.courseid)) byCourse.set(instance.courseid, instance.id);
  const missing = creates.filter((c) => !byCourse.has(c.courseId));
  if (missing.length > 0) {
    const courses = [...new Set(missing.map((c) => `"${c.change.refs?.course?.key}" (id ${c.courseId})`))];
    throw new UserError(
      'MOODLE_UNSUPPORTED',
      `course(s) ${courses.join(', ')} have no manual enrolment instance, so nobody can be enrolled there; nothing was ` +
        'written — add "Manual enrolments" to the course in Moodle (Participants > Enrolment methods), then plan again',
      missing.map((c) => ({ message: `${c.change.address}: course ${c.courseId} has no manual enrolment instance` })),
    );
  }
  return byCourse;
}

async function createEnrolments(tx: Queryable, ctx: WriteContext, creates: readonly Placed[]): Promise<void> {
  if (creates.length === 0) return;
  const instances = await manualInstances(tx, ctx, creates);
  const rows = creates.map((c) => ({ ...c, enrolId: instances.get(c.courseId) as number }));
  await insertMany(
    tx,
    'user_enrolments',
    ['enrolid', 'userid', 'status', 'timestart', 'timeend', 'modifierid', 'timecreated', 'timemodified'],
    rows.map((r) => [r.enrolId, r.userId, 0, 0, 0, actingAdminId(ctx), ctx.now, ctx.now]),
    ctx.budget,
  ).catch(asConflict(tx, 'a manual enrolment'));
  // (enrolid, userid) is unique: the pair finds this apply's row.
  const found = typedRows<{ id: number; enrolid: number; userid: number }>(
    'user_enrolments',
    await selectIn(
      tx,
      (list) => `SELECT id, enrolid, userid FROM {user_enrolments} WHERE enrolid IN (${list})`,
      [],
      [...new Set(rows.map((r) => r.enrolId))],
      ctx.budget,
    ),
    { id: 'number', enrolid: 'number', userid: 'number' },
  );
  const ids = new Map(found.map((r) => [`${r.enrolid}:${r.userid}`, r.id]));
  for (const r of rows) {
    const id = ids.get(`${r.enrolId}:${r.userId}`);
    if (id === undefined) throw new InternalError(`${r.change.address}: inserted enrolment not found again`);
    ctx.ids.set('enrolment', r.change.key, id);
  }
}

/** The roles to add (after.role) and to remove (before.role, on updates only) of these enrolments. */
async function changeRoles(tx: Queryable, ctx: WriteContext, placed: readonly Placed[]): Promise<Set<number>> {
  const contexts = await instanceContexts(
    tx,
    CONTEXT_COURSE,
    placed.map((p) => p.courseId),
    ctx.budget,
  );
  const adds: RoleTuple[] = [];
  const removes: RoleTuple[] = [];
  for (const { change, courseId, userId } of placed) {
    const role = change.after.role;
    const old = change.before?.role;
    const removing =
      (change.action === 'update' || change.action === 'unsuspend') &&
      typeof old === 'string' &&
      old !== '' &&
      old !== role;
    if (role === undefined && !removing) continue;
    const contextid = contexts.get(courseId);
    if (contextid === undefined) {
      throw new UserError(
        'MOODLE_UNSUPPORTED',
        `${change.address}: course ${courseId} has no context (level 50) in Moodle; let Moodle rebuild its contexts ` +
          '(admin/cli/fix_course_sequence.php or a cron run), then plan again',
      );
    }
    if (role !== undefined) adds.push({ roleid: roleIdOf(ctx, change), contextid, userid: userId });
    if (removing) {
      const roleid = ctx.site.roles.get(old);
      if (roleid !== undefined) removes.push({ roleid, contextid, userid: userId });
    }
  }
  const dirty = new Set<number>();
  for (const t of await unassignRoles(tx, ctx, removes, '')) dirty.add(t.userid);
  for (const t of (await assignRoles(tx, ctx, adds, '')).inserted) dirty.add(t.userid);
  return dirty;
}

/** Applies the manual enrolment changes of a plan; created ids go to `ctx.ids`. */
export async function writeManualEnrolmentChanges(
  tx: Queryable,
  ctx: WriteContext,
  changes: readonly Change[],
): Promise<void> {
  const byAction = changesByAction(changes, 'enrolment', [
    'create',
    'adopt',
    'update',
    'unsuspend',
    'suspend',
    'release',
    'delete',
  ]);
  const dirty = new Set<number>();
  const existing = [
    ...(byAction.get('adopt') ?? []),
    ...(byAction.get('update') ?? []),
    ...(byAction.get('unsuspend') ?? []),
    ...(byAction.get('suspend') ?? []),
    ...(byAction.get('delete') ?? []),
  ];
  const rows = await existingEnrolments(tx, ctx, existing);
  const rowOf = (change: Change) =>
    rows.get(moodleIdOf(change)) as { userid: number; enrolid: number; courseid: number };

  // Unenrolments: enrol_plugin::unenrol_user() (its own dirty marks).
  await unenrolUsers(
    tx,
    ctx,
    (byAction.get('delete') ?? []).map((change) => {
      const ue = rowOf(change);
      return { enrolId: ue.enrolid, plugin: 'manual', userId: ue.userid, courseId: ue.courseid };
    }),
  );

  const creates = (byAction.get('create') ?? []).map((change) => {
    const { course, user } = change.refs ?? {};
    if (course?.entity !== 'course' || user?.entity !== 'user') {
      throw new InternalError(`${change.address}: an enrolment needs a course and a user reference`);
    }
    return { change, courseId: ctx.ids.require(course, change.address), userId: ctx.ids.require(user, change.address) };
  });
  await createEnrolments(tx, ctx, creates);
  for (const c of creates) dirty.add(c.userId);

  // Status: update_user_enrol() (modifierid, timemodified; roles kept).
  const statusRows = existing
    .filter((change) => change.action !== 'delete' && typeof change.after.status === 'number')
    .map((change) => ({ id: moodleIdOf(change), values: { status: change.after.status as number }, change }));
  await updateColumns(
    tx,
    'user_enrolments',
    statusRows,
    { modifierid: actingAdminId(ctx), timemodified: ctx.now },
    ctx.budget,
  );
  for (const r of statusRows) dirty.add(rowOf(r.change).userid);

  const withRoles = [
    ...creates,
    ...existing
      .filter((c) => c.action === 'adopt' || c.action === 'update' || c.action === 'unsuspend')
      .map((change) => ({ change, courseId: rowOf(change).courseid, userId: rowOf(change).userid })),
  ];
  for (const user of await changeRoles(tx, ctx, withRoles)) dirty.add(user);
  await markUsersDirty(tx, ctx, dirty);
}
