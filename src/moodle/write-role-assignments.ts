/**
 * Writes role assignments as `role_assign()` / `role_unassign()` do (reference-writes §23, §24):
 * - a row (roleid, contextid, userid, timemodified now, modifierid = the acting admin (write-unenrol's
 *   actingAdminId, as every writer of the project), component, itemid 0,
 *   sortorder 0) and the user's `cache_flags` accesslib/dirtyusers mark;
 * - role_assignments has NO unique index: like role_assign(), which returns an identical row that exists
 *   instead of inserting, nothing is inserted when (roleid, contextid, userid, component, itemid) is held already
 *   (by a row written since the plan, or by the manual enrolment writer a moment earlier in this apply);
 * - removing an assignment deletes every row identical to it (duplicates Moodle holds are one assignment).
 *
 * The contexts of categories and courses created by the same apply are found at write time, by instance id, and
 * so are roles (context.ids, where the role writer records the roles it creates; site.roles for the others).
 * The manual enrolment writer uses the same helpers for its roles (component '').
 */
import { InternalError, UserError } from '../errors.js';
import type { Change } from '../model/change.js';
import { executeIn, insertMany, selectIn } from './batches.js';
import type { Queryable } from './database.js';
import { typedRows } from './read-categories.js';
import type { WriteContext } from './write-context.js';
import { markUsersDirty } from './write-dirty-users.js';
import { changesByAction, moodleIdOf, textOf } from './write-helpers.js';
import { actingAdminId } from './write-unenrol.js';

export interface RoleTuple {
  readonly roleid: number;
  readonly contextid: number;
  readonly userid: number;
}

export const roleTupleKey = (t: RoleTuple): string => `${t.roleid}:${t.contextid}:${t.userid}`;

/** Ids (ascending) of the rows with `component` and itemid 0 of these users, by tuple. */
async function heldAssignments(
  tx: Queryable,
  ctx: WriteContext,
  userIds: readonly number[],
  component: string,
): Promise<Map<string, number[]>> {
  const rows = typedRows<RoleTuple & { id: number; component: string }>(
    'role_assignments',
    await selectIn(
      tx,
      (list) =>
        `SELECT id, roleid, contextid, userid, component FROM {role_assignments} WHERE itemid = 0 AND component = ? AND userid IN (${list})`,
      [component],
      [...new Set(userIds)],
      ctx.budget,
    ),
    { id: 'number', roleid: 'number', contextid: 'number', userid: 'number', component: 'string' },
  );
  const held = new Map<string, number[]>();
  // Exact comparison here: MariaDB's collation would match another case (or trailing spaces) of the component.
  for (const row of rows.filter((r) => r.component === component).sort((a, b) => a.id - b.id)) {
    held.set(roleTupleKey(row), [...(held.get(roleTupleKey(row)) ?? []), row.id]);
  }
  return held;
}

/**
 * Gives these roles (component, itemid 0) where Moodle lacks them; returns the id of each tuple's row (the
 * lowest of identical ones) and the tuples inserted.
 */
export async function assignRoles(
  tx: Queryable,
  ctx: WriteContext,
  tuples: readonly RoleTuple[],
  component: string,
): Promise<{ ids: Map<string, number>; inserted: RoleTuple[] }> {
  if (tuples.length === 0) return { ids: new Map(), inserted: [] };
  const users = tuples.map((t) => t.userid);
  const held = await heldAssignments(tx, ctx, users, component);
  const missing = new Map<string, RoleTuple>();
  for (const t of tuples) if (!held.has(roleTupleKey(t))) missing.set(roleTupleKey(t), t);
  const inserted = [...missing.values()];
  await insertMany(
    tx,
    'role_assignments',
    ['roleid', 'contextid', 'userid', 'timemodified', 'modifierid', 'component', 'itemid', 'sortorder'],
    inserted.map((t) => [t.roleid, t.contextid, t.userid, ctx.now, actingAdminId(ctx), component, 0, 0]),
    ctx.budget,
  );
  const after = inserted.length === 0 ? held : await heldAssignments(tx, ctx, users, component);
  const ids = new Map<string, number>();
  for (const t of tuples) {
    const id = after.get(roleTupleKey(t))?.[0];
    if (id === undefined) throw new InternalError(`inserted role assignment ${roleTupleKey(t)} not found again`);
    ids.set(roleTupleKey(t), id);
  }
  return { ids, inserted };
}

/** Removes these roles (component, itemid 0): every identical row. Returns the tuples that had rows. */
export async function unassignRoles(
  tx: Queryable,
  ctx: WriteContext,
  tuples: readonly RoleTuple[],
  component: string,
): Promise<RoleTuple[]> {
  if (tuples.length === 0) return [];
  const held = await heldAssignments(
    tx,
    ctx,
    tuples.map((t) => t.userid),
    component,
  );
  const removed = tuples.filter((t) => held.has(roleTupleKey(t)));
  const ids = removed.flatMap((t) => held.get(roleTupleKey(t)) ?? []);
  await executeIn(tx, (list) => `DELETE FROM {role_assignments} WHERE id IN (${list})`, [], ids, ctx.budget);
  return removed;
}

/** Context id by instance id, for contexts of one level (30 user, 40 category, 50 course). */
export async function instanceContexts(
  tx: Queryable,
  level: number,
  instanceIds: readonly number[],
  budget: number,
): Promise<Map<number, number>> {
  const rows = typedRows<{ id: number; instanceid: number }>(
    'context',
    await selectIn(
      tx,
      (list) => `SELECT id, instanceid FROM {context} WHERE contextlevel = ? AND instanceid IN (${list})`,
      [level],
      [...new Set(instanceIds)],
      budget,
    ),
    { id: 'number', instanceid: 'number' },
  );
  return new Map(rows.map((r) => [r.instanceid, r.id]));
}

/** The context kinds of a role assignment's `context` value, with the ref naming its instance and its level. */
const CONTEXT_KINDS = {
  category: { ref: 'category', level: 40 },
  course: { ref: 'course', level: 50 },
  user: { ref: 'target', level: 30 },
} as const;

/** Where each create lands: its contextid (contexts of objects created by this apply are read now). */
async function contextIdsOf(tx: Queryable, ctx: WriteContext, creates: readonly Change[]): Promise<number[]> {
  const wanted = creates.map((change) => {
    const context = textOf(change, 'context');
    if (context === 'system') return { change, level: 10, instance: 0 };
    const kind = CONTEXT_KINDS[context.slice(0, context.indexOf(':')) as keyof typeof CONTEXT_KINDS];
    const ref = kind === undefined ? undefined : change.refs?.[kind.ref];
    if (kind === undefined || ref === undefined) {
      throw new InternalError(`${change.address}: context ${JSON.stringify(context)} without its reference`);
    }
    return { change, level: kind.level, instance: ctx.ids.require(ref, change.address) };
  });
  const byLevel = new Map<number, Map<number, number>>();
  for (const level of new Set(wanted.filter((w) => w.level !== 10).map((w) => w.level))) {
    const instances = wanted.filter((w) => w.level === level).map((w) => w.instance);
    byLevel.set(level, await instanceContexts(tx, level, instances, ctx.budget));
  }
  return wanted.map(({ change, level, instance }) => {
    if (level === 10) return ctx.systemContextId;
    const id = byLevel.get(level)?.get(instance);
    if (id === undefined) {
      throw new UserError(
        'MOODLE_UNSUPPORTED',
        `${change.address}: ${textOf(change, 'context')} (id ${instance}) has no context (level ${level}) in Moodle; ` +
          'let Moodle rebuild its contexts (admin/cli/fix_course_sequence.php or a cron run), then plan again',
      );
    }
    return id;
  });
}

/** A role's id: one this apply created (the role writer runs first) or read, else Moodle's at planning time. */
export function roleIdOf(ctx: WriteContext, change: Change, column = 'role'): number {
  const role = textOf(change, column);
  const id = ctx.ids.get('role', role) ?? ctx.site.roles.get(role);
  if (id === undefined) throw new InternalError(`${change.address}: role ${JSON.stringify(role)} is not in Moodle`);
  return id;
}

export interface RoleAssignmentWriteOptions {
  /** role_assignments.component of the tool's assignments ('' by default: a manual assignment). */
  readonly component: string;
}

/** Applies the role_assignment changes of a plan (create, delete; adopt and release write nothing). */
export async function writeRoleAssignmentChanges(
  tx: Queryable,
  ctx: WriteContext,
  changes: readonly Change[],
  options: RoleAssignmentWriteOptions,
): Promise<void> {
  const byAction = changesByAction(changes, 'role_assignment', ['create', 'adopt', 'release', 'delete']);
  const dirty = new Set<number>();

  const deletes = (byAction.get('delete') ?? []).map(moodleIdOf);
  const planned = typedRows<RoleTuple & { id: number }>(
    'role_assignments',
    await selectIn(
      tx,
      (list) => `SELECT id, roleid, contextid, userid FROM {role_assignments} WHERE id IN (${list})`,
      [],
      deletes,
      ctx.budget,
    ),
    { id: 'number', roleid: 'number', contextid: 'number', userid: 'number' },
  );
  for (const t of await unassignRoles(tx, ctx, planned, options.component)) dirty.add(t.userid);

  const creates = byAction.get('create') ?? [];
  const contexts = await contextIdsOf(tx, ctx, creates);
  const tuples = creates.map((change, i) => {
    const user = change.refs?.user;
    if (user?.entity !== 'user') throw new InternalError(`${change.address}: a role assignment needs a user reference`);
    return {
      roleid: roleIdOf(ctx, change),
      contextid: contexts[i] as number,
      userid: ctx.ids.require(user, change.address),
    };
  });
  const { ids, inserted } = await assignRoles(tx, ctx, tuples, options.component);
  creates.forEach((change, i) => {
    ctx.ids.set('role_assignment', change.key, ids.get(roleTupleKey(tuples[i] as RoleTuple)) as number);
  });
  for (const t of inserted) dirty.add(t.userid);
  await markUsersDirty(tx, ctx, dirty);
}
