/**
 * What Moodle's `enrol_plugin::unenrol_user()` (lib/enrollib.php) writes, for many users at once:
 *
 * 1. the group memberships owned by the instance (component `enrol_<plugin>`, itemid = instance id) and the
 *    role assignments it owns in the course context are deleted;
 * 2. the user_enrolments row is deleted;
 * 3. when that was the user's last enrolment in the course: every remaining role assignment of the user in the
 *    course context and its child contexts (activities, blocks: role_unassign_all with subcontexts), every
 *    membership of the course's groups (groups_delete_group_members), and the user's `user_lastaccess` row of
 *    the course are deleted too;
 * 4. `groups.timemodified` = now on every group that lost a member (groups_remove_member), and every user is
 *    marked dirty (cache_flags accesslib/dirtyusers, mark_user_dirty).
 *
 * Moodle's last-enrolment cleanup also calls grade_user_unenrol(), which deletes the user's grades of the
 * course (grade_grades, keeping grade_grades_history): the gradebook tables are not the tool's, so the grades
 * stay, unseen while the user is not enrolled, and count again if they come back. Events (user_enrolment_
 * deleted and its observers, e.g. mod_forum's subscriptions cleanup) do not fire on direct SQL.
 *
 * An unenrolment whose user_enrolments row is gone already does nothing (Moodle: "weird, user not enrolled").
 * Each step is one statement per chunk of users, whatever the number of users, instances and courses.
 */
import { deleteByIds, executeIn, selectIn } from './batches.js';
import type { Queryable } from './database.js';
import { typedRows } from './read-categories.js';
import { courseContexts } from './read-cohort-enrol.js';
import type { WriteContext } from './write-context.js';
import { markUsersDirty } from './write-dirty-users.js';

export interface Unenrolment {
  readonly enrolId: number;
  readonly plugin: string;
  readonly userId: number;
  readonly courseId: number;
}

/** The user Moodle's syncs write as (`modifierid`): cron runs as the main admin, the first of `siteadmins`. */
export function actingAdminId(context: WriteContext): number {
  return context.site.siteAdminIds[0] ?? 0;
}

const pair = (a: number, b: number): string => `${a}:${b}`;

/** What Moodle's enrol_plugin::unenrol_user() writes, for many users at once. */
export async function unenrolUsers(tx: Queryable, context: WriteContext, list: readonly Unenrolment[]): Promise<void> {
  if (list.length === 0) return;
  const { budget } = context;

  // Every enrolment of these users, in any course: the rows to delete, and what remains after.
  const enrolments = typedRows<{ id: number; enrolid: number; userid: number; courseid: number }>(
    'user_enrolments',
    await selectIn(
      tx,
      (users) =>
        `SELECT ue.id, ue.enrolid, ue.userid, e.courseid FROM {user_enrolments} ue JOIN {enrol} e ON e.id = ue.enrolid WHERE ue.userid IN (${users})`,
      [],
      [...new Set(list.map((u) => u.userId))],
      budget,
    ),
    { id: 'number', enrolid: 'number', userid: 'number', courseid: 'number' },
  );
  const existing = new Set(enrolments.map((ue) => pair(ue.enrolid, ue.userid)));
  const done = list.filter((u) => existing.has(pair(u.enrolId, u.userId)));
  if (done.length === 0) return;
  const users = [...new Set(done.map((u) => u.userId))];
  /** `enrolId:userId` → the component the instance owns rows with. */
  const owner = new Map(done.map((u) => [pair(u.enrolId, u.userId), `enrol_${u.plugin}`]));
  const courseOfEnrol = new Map(done.map((u) => [u.enrolId, u.courseId]));
  const left = new Set(
    enrolments.filter((ue) => !owner.has(pair(ue.enrolid, ue.userid))).map((ue) => pair(ue.courseid, ue.userid)),
  );
  /** `courseId:userId` of the users left with no enrolment in that course: the big cleanup. */
  const last = new Set(done.map((u) => pair(u.courseId, u.userId)).filter((cu) => !left.has(cu)));
  const contexts = await courseContexts(tx, [...courseOfEnrol.values()], budget);
  const courseOfPath = new Map([...contexts].filter(([, c]) => c.path !== '').map(([course, c]) => [c.path, course]));
  const courseOfContext = new Map([...contexts].map(([course, c]) => [c.id, course]));

  const memberships = typedRows<{
    id: number;
    groupid: number;
    userid: number;
    component: string;
    itemid: number;
    courseid: number;
  }>(
    'groups_members',
    await selectIn(
      tx,
      (list) =>
        `SELECT gm.id, gm.groupid, gm.userid, gm.component, gm.itemid, g.courseid FROM {groups_members} gm JOIN {groups} g ON g.id = gm.groupid WHERE gm.userid IN (${list})`,
      [],
      users,
      budget,
    ),
    { id: 'number', groupid: 'number', userid: 'number', component: 'string', itemid: 'number', courseid: 'number' },
  );
  const goneMemberships = memberships.filter(
    (gm) => owner.get(pair(gm.itemid, gm.userid)) === gm.component || last.has(pair(gm.courseid, gm.userid)),
  );

  const assignments = typedRows<{
    id: number;
    userid: number;
    contextid: number;
    component: string;
    itemid: number;
    path: string | null;
  }>(
    'role_assignments',
    await selectIn(
      tx,
      (list) =>
        `SELECT ra.id, ra.userid, ra.contextid, ra.component, ra.itemid, ctx.path FROM {role_assignments} ra LEFT JOIN {context} ctx ON ctx.id = ra.contextid WHERE ra.userid IN (${list})`,
      [],
      users,
      budget,
    ),
    { id: 'number', userid: 'number', contextid: 'number', component: 'string', itemid: 'number', path: 'string?' },
  );
  /** The course whose context is this one or one of its parents (a module's, a block's), if any. */
  const courseAbove = (contextId: number, path: string | null): number | undefined => {
    const direct = courseOfContext.get(contextId);
    if (direct !== undefined || path === null) return direct;
    const parts = path.split('/');
    for (let n = parts.length - 1; n > 1; n--) {
      const course = courseOfPath.get(parts.slice(0, n).join('/'));
      if (course !== undefined) return course;
    }
    return undefined;
  };
  const goneAssignments = assignments.filter((ra) => {
    const enrolCourse = courseOfEnrol.get(ra.itemid);
    const owned =
      owner.get(pair(ra.itemid, ra.userid)) === ra.component &&
      enrolCourse !== undefined &&
      contexts.get(enrolCourse)?.id === ra.contextid;
    if (owned) return true;
    const course = courseAbove(ra.contextid, ra.path);
    return course !== undefined && last.has(pair(course, ra.userid));
  });

  const accesses =
    last.size === 0
      ? []
      : typedRows<{ id: number; userid: number; courseid: number }>(
          'user_lastaccess',
          await selectIn(
            tx,
            (list) => `SELECT id, userid, courseid FROM {user_lastaccess} WHERE userid IN (${list})`,
            [],
            [...new Set(done.filter((u) => last.has(pair(u.courseId, u.userId))).map((u) => u.userId))],
            budget,
          ),
          { id: 'number', userid: 'number', courseid: 'number' },
        ).filter((a) => last.has(pair(a.courseid, a.userid)));

  await deleteByIds(
    tx,
    'groups_members',
    goneMemberships.map((gm) => gm.id),
    budget,
  );
  await deleteByIds(
    tx,
    'role_assignments',
    goneAssignments.map((ra) => ra.id),
    budget,
  );
  await deleteByIds(
    tx,
    'user_enrolments',
    enrolments.filter((ue) => owner.has(pair(ue.enrolid, ue.userid))).map((ue) => ue.id),
    budget,
  );
  await deleteByIds(
    tx,
    'user_lastaccess',
    accesses.map((a) => a.id),
    budget,
  );
  await touchGroups(
    tx,
    context,
    goneMemberships.map((gm) => gm.groupid),
  );
  await markUsersDirty(tx, context, users);
}

/** groups.timemodified = now on the groups whose members changed (what groups_add/remove_member() write). */
export async function touchGroups(tx: Queryable, context: WriteContext, groupIds: readonly number[]): Promise<void> {
  await executeIn(
    tx,
    (list) => `UPDATE {groups} SET timemodified = ? WHERE id IN (${list})`,
    [context.now],
    [...new Set(groupIds)].sort((a, b) => a - b),
    context.budget,
  );
}
