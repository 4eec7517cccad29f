/**
 * Writes the enrolments cohort-sync methods make, as Moodle's cohort sync does (enrol/cohort/locallib.php
 * enrol_cohort_sync, lib/grouplib.php groups_sync_with_enrolment; reference-writes §16, §22, §24, §27), in the
 * sync's order — enrolments first, then what goes, then roles and groups:
 *
 * - create: a user_enrolments row (status 0, timestart 0, timeend 0 — not the column's default 2147483647 —,
 *   modifierid = the admin cron runs as, times now); unsuspend: status 0, modifierid, timemodified
 *   (update_user_enrol);
 * - then, for every enrolment kept active: the method's role in the course context (component 'enrol_cohort',
 *   itemid = the method, sortorder 0) unless assigned already, and a membership of the method's group
 *   (customint2) owned the same way unless the user is a member already; memberships the method owns in any
 *   other group are deleted; groups.timemodified = now on the groups whose members changed;
 * - delete: enrol_plugin::unenrol_user() (write-unenrol.ts); suspend (unenrolaction 3): status 1 and the
 *   method's role assignments of the course removed, memberships kept; a user the method does not enrol
 *   loses the rows the method owns (the sync deletes such role assignments; such memberships contradict it);
 *   an update taking the role away (a disabled method's user) removes the method's role assignments of the
 *   course, as the sync does for a disabled method.
 *
 * The methods are read again here: the method writer ran first (a group changed, a method created).
 * Users whose enrolments or roles change are marked dirty. Statements are multi-row, chunked by the budget.
 */
import { InternalError, UserError } from '../errors.js';
import type { Change } from '../model/change.js';
import { deleteByIds, executeIn, insertMany, selectIn } from './batches.js';
import type { Queryable } from './database.js';
import { typedRows } from './read-categories.js';
import type { CourseContext, MoodleCohortEnrolRow } from './read-cohort-enrol.js';
import { COHORT_COMPONENT, cohortEnrolsById, courseContexts } from './read-cohort-enrol.js';
import type { WriteContext } from './write-context.js';
import { markUsersDirty } from './write-dirty-users.js';
import { asConflict, changesByAction, moodleIdOf } from './write-helpers.js';
import { actingAdminId, touchGroups, unenrolUsers } from './write-unenrol.js';

interface Item {
  readonly change: Change;
  readonly enrolId: number;
  readonly userId: number;
}

interface Site {
  readonly methods: ReadonlyMap<number, MoodleCohortEnrolRow>;
  readonly contexts: ReadonlyMap<number, CourseContext>;
}

const pair = (a: number, b: number): string => `${a}:${b}`;
const itemPair = (i: Item): string => pair(i.enrolId, i.userId);
const userIds = (items: readonly Item[]): number[] => [...new Set(items.map((i) => i.userId))];

/** The user of a change: its `user` ref, or the `#<id>` the plan shows for a user without key. */
function userIdOf(change: Change, ctx: WriteContext): number {
  const ref = change.refs?.user;
  if (ref !== undefined) return ctx.ids.require(ref, change.address);
  const label = String(change.before?.user ?? '');
  const id = /^#([0-9]+)$/.exec(label)?.[1];
  if (id === undefined) throw new InternalError(`${change.address}: no user reference`);
  return Number(id);
}

function itemOf(change: Change, ctx: WriteContext): Item {
  const method = change.refs?.method;
  if (method?.entity !== 'cohort_enrol') throw new InternalError(`${change.address}: no method reference`);
  return { change, enrolId: ctx.ids.require(method, change.address), userId: userIdOf(change, ctx) };
}

/** Every row of a table these users hold with component enrol_cohort. */
async function ownedRows<T>(tx: Queryable, ctx: WriteContext, table: string, columns: string, users: number[]) {
  const kinds = Object.fromEntries(columns.split(', ').map((c) => [c, 'number'] as const));
  return typedRows<T>(
    table,
    await selectIn(
      tx,
      (list) => `SELECT ${columns} FROM {${table}} WHERE component = ? AND userid IN (${list})`,
      [COHORT_COMPONENT],
      users,
      ctx.budget,
    ),
    kinds,
  );
}

function methodOf(site: Site, item: Item): MoodleCohortEnrolRow {
  const method = site.methods.get(item.enrolId);
  if (method === undefined) throw new InternalError(`${item.change.address}: enrolment method ${item.enrolId} is gone`);
  return method;
}

function courseContextOf(site: Site, item: Item): CourseContext {
  const course = methodOf(site, item).courseid;
  const context = site.contexts.get(course);
  if (context === undefined) {
    throw new UserError(
      'MOODLE_UNSUPPORTED',
      `${item.change.address}: course ${course} has no context (level 50) in Moodle; let Moodle rebuild its contexts (admin/cli/fix_course_sequence.php or a cron run), then plan again`,
    );
  }
  return context;
}

/** Enrolments created or made active again. */
async function writeEnrolments(
  tx: Queryable,
  ctx: WriteContext,
  creates: readonly Item[],
  unsuspends: readonly Item[],
) {
  const admin = actingAdminId(ctx);
  await executeIn(
    tx,
    (list) => `UPDATE {user_enrolments} SET status = 0, modifierid = ?, timemodified = ? WHERE id IN (${list})`,
    [admin, ctx.now],
    unsuspends.map((i) => moodleIdOf(i.change)),
    ctx.budget,
  );
  if (creates.length === 0) return;
  await insertMany(
    tx,
    'user_enrolments',
    ['status', 'enrolid', 'userid', 'timestart', 'timeend', 'modifierid', 'timecreated', 'timemodified'],
    creates.map((i) => [0, i.enrolId, i.userId, 0, 0, admin, ctx.now, ctx.now]),
    ctx.budget,
  ).catch(asConflict(tx, 'a cohort enrolment'));
  const found = typedRows<{ id: number; enrolid: number; userid: number }>(
    'user_enrolments',
    await selectIn(
      tx,
      (list) => `SELECT id, enrolid, userid FROM {user_enrolments} WHERE userid IN (${list})`,
      [],
      userIds(creates),
      ctx.budget,
    ),
    { id: 'number', enrolid: 'number', userid: 'number' },
  );
  const ids = new Map(found.map((r) => [pair(r.enrolid, r.userid), r.id]));
  for (const item of creates) {
    const id = ids.get(itemPair(item));
    if (id === undefined) throw new InternalError(`${item.change.address}: inserted enrolment not found again`);
    ctx.ids.set('cohort_enrolment', item.change.key, id);
  }
}

/** The method's role for active enrolments of enabled methods; returns the users given a role. */
async function assignRoles(tx: Queryable, ctx: WriteContext, site: Site, items: readonly Item[]): Promise<number[]> {
  const roles = new Set(ctx.site.roles.values());
  // The sync assigns roles of enabled methods only, and only roles that exist.
  const due = items.filter((i) => methodOf(site, i).status === 0 && roles.has(methodOf(site, i).roleid));
  if (due.length === 0) return [];
  const held = await ownedRows<{ roleid: number; contextid: number; userid: number; itemid: number }>(
    tx,
    ctx,
    'role_assignments',
    'roleid, contextid, userid, itemid',
    userIds(due),
  );
  const has = new Set(held.map((r) => `${pair(r.itemid, r.userid)}:${r.roleid}:${r.contextid}`));
  const rows = due.flatMap((i) => {
    const { roleid } = methodOf(site, i);
    const contextid = courseContextOf(site, i).id;
    const key = `${itemPair(i)}:${roleid}:${contextid}`;
    if (has.has(key)) return [];
    has.add(key);
    return [[roleid, contextid, i.userId, ctx.now, actingAdminId(ctx), COHORT_COMPONENT, i.enrolId, 0]];
  });
  await insertMany(
    tx,
    'role_assignments',
    ['roleid', 'contextid', 'userid', 'timemodified', 'modifierid', 'component', 'itemid', 'sortorder'],
    rows,
    ctx.budget,
  );
  return rows.map((r) => r[2] as number);
}

/** groups_sync_with_enrolment() for these enrolments: into the method's group, out of the method's others. */
async function syncGroups(tx: Queryable, ctx: WriteContext, site: Site, items: readonly Item[]): Promise<void> {
  if (items.length === 0) return;
  const wanted = [...new Set(items.map((i) => methodOf(site, i).customint2 ?? 0).filter((g) => g > 0))];
  const groups = typedRows<{ id: number; courseid: number }>(
    'groups',
    await selectIn(tx, (list) => `SELECT id, courseid FROM {groups} WHERE id IN (${list})`, [], wanted, ctx.budget),
    { id: 'number', courseid: 'number' },
  );
  const courseOfGroup = new Map(groups.map((g) => [g.id, g.courseid]));
  const memberships = typedRows<{ id: number; groupid: number; userid: number; component: string; itemid: number }>(
    'groups_members',
    await selectIn(
      tx,
      (list) => `SELECT id, groupid, userid, component, itemid FROM {groups_members} WHERE userid IN (${list})`,
      [],
      userIds(items),
      ctx.budget,
    ),
    { id: 'number', groupid: 'number', userid: 'number', component: 'string', itemid: 'number' },
  );
  const member = new Set(memberships.map((m) => pair(m.groupid, m.userid)));
  const groupOf = new Map<string, number>();
  const added: (readonly [number, number, number])[] = [];
  for (const item of items) {
    const method = methodOf(site, item);
    const group = method.customint2 ?? 0;
    // A group of another course (or a deleted one) is ignored, as the sync's join ignores it.
    if (group <= 0 || courseOfGroup.get(group) !== method.courseid) continue;
    groupOf.set(itemPair(item), group);
    if (member.has(pair(group, item.userId))) continue;
    member.add(pair(group, item.userId));
    added.push([group, item.userId, item.enrolId]);
  }
  const synced = new Set(items.map(itemPair));
  const gone = memberships.filter(
    (m) =>
      m.component === COHORT_COMPONENT &&
      synced.has(pair(m.itemid, m.userid)) &&
      groupOf.get(pair(m.itemid, m.userid)) !== m.groupid,
  );
  await deleteByIds(
    tx,
    'groups_members',
    gone.map((m) => m.id),
    ctx.budget,
  );
  await insertMany(
    tx,
    'groups_members',
    ['groupid', 'userid', 'timeadded', 'component', 'itemid'],
    added.map(([group, user, enrol]) => [group, user, ctx.now, COHORT_COMPONENT, enrol]),
    ctx.budget,
  ).catch(asConflict(tx, 'a group membership'));
  await touchGroups(tx, ctx, [...gone.map((m) => m.groupid), ...added.map(([group]) => group)]);
}

/** update_user_enrol(suspended) where active, then the method's role assignments of the course removed. */
async function suspend(tx: Queryable, ctx: WriteContext, site: Site, items: readonly Item[]): Promise<void> {
  if (items.length === 0) return;
  await executeIn(
    tx,
    (list) => `UPDATE {user_enrolments} SET status = 1, modifierid = ?, timemodified = ? WHERE id IN (${list})`,
    [actingAdminId(ctx), ctx.now],
    items.filter((i) => i.change.action === 'suspend').map((i) => moodleIdOf(i.change)),
    ctx.budget,
  );
  const contextOf = new Map(items.map((i) => [itemPair(i), courseContextOf(site, i).id]));
  const held = await ownedRows<{ id: number; userid: number; itemid: number; contextid: number }>(
    tx,
    ctx,
    'role_assignments',
    'id, userid, itemid, contextid',
    userIds(items),
  );
  await deleteByIds(
    tx,
    'role_assignments',
    held.filter((r) => contextOf.get(pair(r.itemid, r.userid)) === r.contextid).map((r) => r.id),
    ctx.budget,
  );
  await markUsersDirty(tx, ctx, userIds(items));
}

/** Rows a method owns for users it does not enrol. */
async function removeOwned(tx: Queryable, ctx: WriteContext, items: readonly Item[]): Promise<void> {
  if (items.length === 0) return;
  const stale = new Set(items.map(itemPair));
  const users = userIds(items);
  const roles = (
    await ownedRows<{ id: number; userid: number; itemid: number }>(
      tx,
      ctx,
      'role_assignments',
      'id, userid, itemid',
      users,
    )
  ).filter((r) => stale.has(pair(r.itemid, r.userid)));
  const members = (
    await ownedRows<{ id: number; groupid: number; userid: number; itemid: number }>(
      tx,
      ctx,
      'groups_members',
      'id, groupid, userid, itemid',
      users,
    )
  ).filter((m) => stale.has(pair(m.itemid, m.userid)));
  await deleteByIds(
    tx,
    'role_assignments',
    roles.map((r) => r.id),
    ctx.budget,
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
  await markUsersDirty(
    tx,
    ctx,
    roles.map((r) => r.userid),
  );
}

/**
 * Whether a change takes the method's roles away and keeps the enrolment: a suspension (or the roles of a
 * suspended one removed), or the roles of a disabled method's users (`role` → '').
 */
const losesRoles = (change: Change): boolean =>
  change.action === 'suspend' || change.after.status === 1 || (change.action === 'update' && change.after.role === '');

/** Applies the cohort enrolment changes of a plan; created enrolments' ids go to `ctx.ids`. */
export async function writeCohortEnrolmentChanges(
  tx: Queryable,
  ctx: WriteContext,
  changes: readonly Change[],
): Promise<void> {
  const byAction = changesByAction(changes, 'cohort_enrolment', ['create', 'update', 'unsuspend', 'suspend', 'delete']);
  const items = [...byAction.values()].flat().map((change) => itemOf(change, ctx));
  if (items.length === 0) return;
  const methods = await cohortEnrolsById(
    tx,
    items.map((i) => i.enrolId),
    ctx.budget,
  );
  const site: Site = {
    methods,
    contexts: await courseContexts(tx, [...new Set([...methods.values()].map((m) => m.courseid))], ctx.budget),
  };
  const of = (test: (change: Change) => boolean) => items.filter((i) => test(i.change));
  const creates = of((c) => c.action === 'create');
  const unsuspends = of((c) => c.action === 'unsuspend');
  const kept = of((c) => c.action !== 'delete' && !losesRoles(c));

  // The sync's order: enrol first, so that an unenrolment below never takes a new enrolment for the last one.
  await writeEnrolments(tx, ctx, creates, unsuspends);
  await unenrolUsers(
    tx,
    ctx,
    of((c) => c.action === 'delete' && c.moodleId !== null).map((i) => ({
      enrolId: i.enrolId,
      plugin: 'cohort',
      userId: i.userId,
      courseId: methodOf(site, i).courseid,
    })),
  );
  await removeOwned(
    tx,
    ctx,
    of((c) => c.action === 'delete' && c.moodleId === null),
  );
  // The roles of a disabled method go only if it is disabled now (its disabling was not held).
  await suspend(
    tx,
    ctx,
    site,
    of(losesRoles).filter((i) => 'status' in i.change.after || methodOf(site, i).status !== 0),
  );
  const given = await assignRoles(tx, ctx, site, kept);
  await syncGroups(tx, ctx, site, kept);
  await markUsersDirty(tx, ctx, [...userIds(creates), ...userIds(unsuspends), ...given]);
}
