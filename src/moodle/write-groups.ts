/**
 * Writes course groups, groupings and the groups of groupings as Moodle's group API does (reference-writes
 * §19; group/lib.php for groupings, which no reference step records):
 * - a group is (courseid, idnumber, name, description, descriptionformat 0, picture 0, visibility 0,
 *   participation 1, timecreated = timemodified = now); visibility/participation only where they exist (4.2+);
 *   a grouping is (courseid, name, idnumber, description, descriptionformat 0, configdata NULL, times now);
 * - updates set the changed columns and `timemodified`;
 * - groups_delete_group() removes the group's calendar events, its grouping links, its members (whoever owns
 *   them), then the row; groups_delete_grouping() removes its links, clears it as a course's default grouping
 *   and as an activity's grouping, then the row;
 * - groups_assign_grouping() adds (groupingid, groupid, timeadded now); unassigning deletes the link only.
 *
 * What Moodle's own group_deleted observers and messaging API would remove with a group (activity overrides,
 * a group conversation and its messages) is teachers' and users' data no SQL should drop unseen: such a
 * group is not deleted. Moodle's caches do not see groups written here until a purge (the plan says so).
 */
import { InternalError, UserError } from '../errors.js';
import type { Change } from '../model/change.js';
import { executeIn, insertMany, selectIn } from './batches.js';
import type { Queryable, SqlValue } from './database.js';
import { typedRows } from './read-categories.js';
import type { GroupSchema } from './read-groups.js';
import type { WriteContext } from './write-context.js';
import {
  asConflict,
  changedColumns,
  changesByAction,
  idsByExactKey,
  moodleIdOf,
  textOf,
  updateColumns,
} from './write-helpers.js';

const UPDATABLE = ['name', 'description'] as const;
/** Values of the plan that are the row's key or its course (never updated: a new key is a new object). */
const KEY_VALUES = ['course', 'idnumber'] as const;

type Table = 'groups' | 'groupings';

function courseIdOf(change: Change, ctx: WriteContext): number {
  const course = change.refs?.course;
  if (course?.entity !== 'course') throw new InternalError(`${change.address}: needs a course reference`);
  return ctx.ids.require(course, change.address);
}

/** The columns and values of a new row, as groups_create_group() / groups_create_grouping() write them. */
function newRow(table: Table, change: Change, ctx: WriteContext, schema: GroupSchema): Record<string, SqlValue> {
  const common = {
    courseid: courseIdOf(change, ctx),
    idnumber: textOf(change, 'idnumber'),
    name: textOf(change, 'name'),
    description: textOf(change, 'description', ''),
    descriptionformat: 0,
    timecreated: ctx.now,
    timemodified: ctx.now,
  };
  if (table === 'groupings') return common;
  return {
    ...common,
    picture: 0,
    ...(schema.visibility ? { visibility: 0 } : {}),
    ...(schema.participation ? { participation: 1 } : {}),
  };
}

/** Inserts the rows of `creates` and records their ids (re-read by exact courseid and idnumber). */
async function createRows(
  tx: Queryable,
  ctx: WriteContext,
  table: Table,
  creates: readonly Change[],
  schema: GroupSchema,
): Promise<void> {
  if (creates.length === 0) return;
  const rows = creates.map((change) => ({ change, values: newRow(table, change, ctx, schema) }));
  const columns = Object.keys(rows[0]?.values ?? {});
  await insertMany(
    tx,
    table,
    columns,
    rows.map((r) => columns.map((c) => r.values[c] ?? null)),
    ctx.budget,
  ).catch(asConflict(tx, `a ${table === 'groups' ? 'group' : 'grouping'}`));
  const found = typedRows<{ id: number; courseid: number; idnumber: string }>(
    table,
    await selectIn(
      tx,
      (list) => `SELECT id, courseid, idnumber FROM {${table}} WHERE courseid IN (${list})`,
      [],
      [...new Set(rows.map((r) => r.values.courseid ?? null))],
      ctx.budget,
    ),
    { id: 'number', courseid: 'number', idnumber: 'string' },
  );
  const label = (courseid: unknown, idnumber: unknown) => `course id ${String(courseid)}, idnumber ${String(idnumber)}`;
  const keys = rows.map((r) => label(r.values.courseid, r.values.idnumber));
  const ids = idsByExactKey(
    found,
    (r) => label(r.courseid, r.idnumber),
    keys,
    table === 'groups' ? 'group' : 'grouping',
  );
  const entity = table === 'groups' ? 'group' : 'grouping';
  rows.forEach((r, i) => {
    ctx.ids.set(entity, r.change.key, ids.get(keys[i] ?? '') as number);
  });
}

async function updateRows(tx: Queryable, ctx: WriteContext, table: Table, updates: readonly Change[]): Promise<void> {
  const rows = updates.map((change) => ({
    id: moodleIdOf(change),
    values: changedColumns(change, UPDATABLE, KEY_VALUES),
  }));
  await updateColumns(tx, table, rows, { timemodified: ctx.now }, ctx.budget);
}

/** Rows of a side table pointing at these groups, by group id (empty when the install lacks the table). */
async function referencing(
  tx: Queryable,
  ctx: WriteContext,
  schema: GroupSchema,
  table: 'message_conversations' | 'assign_overrides' | 'lesson_overrides' | 'quiz_overrides',
  groupIds: readonly number[],
): Promise<{ id: number; groupid: number }[]> {
  if (!schema.tables.has(table) || groupIds.length === 0) return [];
  const sql =
    table === 'message_conversations'
      ? (list: string) =>
          "SELECT id, itemid AS groupid FROM {message_conversations} WHERE component = 'core_group' " +
          `AND itemtype = 'groups' AND itemid IN (${list})`
      : (list: string) => `SELECT id, groupid FROM {${table}} WHERE groupid IN (${list})`;
  return typedRows(table, await selectIn(tx, sql, [], groupIds, ctx.budget), { id: 'number', groupid: 'number' });
}

/** Refuses, before anything is written, to delete groups whose deletion would drop others' data unseen. */
async function refuseBoundGroups(
  tx: Queryable,
  ctx: WriteContext,
  schema: GroupSchema,
  deletes: readonly Change[],
): Promise<void> {
  const ids = deletes.map(moodleIdOf);
  const bound = [
    ...(await referencing(tx, ctx, schema, 'message_conversations', ids)).map((r) => ({
      ...r,
      what: 'a group conversation',
    })),
    ...(await referencing(tx, ctx, schema, 'assign_overrides', ids)).map((r) => ({
      ...r,
      what: 'assignment overrides',
    })),
    ...(await referencing(tx, ctx, schema, 'lesson_overrides', ids)).map((r) => ({ ...r, what: 'lesson overrides' })),
    ...(await referencing(tx, ctx, schema, 'quiz_overrides', ids)).map((r) => ({ ...r, what: 'quiz overrides' })),
  ];
  if (bound.length === 0) return;
  const problems = deletes.flatMap((change) => {
    const mine = bound.filter((b) => b.groupid === change.moodleId);
    if (mine.length === 0) return [];
    return [
      {
        message: `${change.address}: Moodle group id ${change.moodleId} has ${[...new Set(mine.map((b) => b.what))].join(', ')}`,
      },
    ];
  });
  throw new UserError(
    'MOODLE_CONFLICT',
    `${problems.length} group(s) to delete carry activity overrides or a messaging conversation, which deleting a ` +
      'group in Moodle removes with it; nothing was written — delete those groups in Moodle (or keep them: ' +
      'groups.onRemoved: keep), then plan again',
    problems,
  );
}

/** Applies the group changes of a plan; the ids of created groups go to `ctx.ids` (members come next). */
export async function writeGroupChanges(
  tx: Queryable,
  ctx: WriteContext,
  changes: readonly Change[],
  schema: GroupSchema,
): Promise<void> {
  const byAction = changesByAction(changes, 'group', ['create', 'update', 'adopt', 'delete']);
  const deletes = byAction.get('delete') ?? [];
  await refuseBoundGroups(tx, ctx, schema, deletes);
  await createRows(tx, ctx, 'groups', byAction.get('create') ?? [], schema);
  await updateRows(tx, ctx, 'groups', [...(byAction.get('update') ?? []), ...(byAction.get('adopt') ?? [])]);

  const ids = deletes.map(moodleIdOf);
  if (ids.length === 0) return;
  const each = (sql: (list: string) => string, fixed: readonly SqlValue[] = []) =>
    executeIn(tx, sql, fixed, ids, ctx.budget);
  if (schema.tables.has('event')) await each((list) => `DELETE FROM {event} WHERE groupid IN (${list})`);
  await each((list) => `DELETE FROM {groupings_groups} WHERE groupid IN (${list})`);
  await each((list) => `DELETE FROM {groups_members} WHERE groupid IN (${list})`);
  // Moodle keeps an enrolment method's group id when the group goes (no observer resets it) and its sync then
  // adds members to no group; the id is cleared here so that no instance points at a missing group.
  await each(
    (list) =>
      `UPDATE {enrol} SET customint2 = 0, timemodified = ? WHERE enrol IN ('cohort', 'meta') AND customint2 IN (${list})`,
    [ctx.now],
  );
  await each((list) => `DELETE FROM {groups} WHERE id IN (${list})`);
}

/** Applies the grouping changes of a plan; the ids of created groupings go to `ctx.ids`. */
export async function writeGroupingChanges(
  tx: Queryable,
  ctx: WriteContext,
  changes: readonly Change[],
  schema: GroupSchema,
): Promise<void> {
  const byAction = changesByAction(changes, 'grouping', ['create', 'update', 'adopt', 'delete']);
  await createRows(tx, ctx, 'groupings', byAction.get('create') ?? [], schema);
  await updateRows(tx, ctx, 'groupings', [...(byAction.get('update') ?? []), ...(byAction.get('adopt') ?? [])]);

  const ids = (byAction.get('delete') ?? []).map(moodleIdOf);
  if (ids.length === 0) return;
  const each = (sql: (list: string) => string) => executeIn(tx, sql, [], ids, ctx.budget);
  await each((list) => `DELETE FROM {groupings_groups} WHERE groupingid IN (${list})`);
  await each((list) => `UPDATE {course} SET defaultgroupingid = 0 WHERE defaultgroupingid IN (${list})`);
  if (schema.tables.has('course_modules')) {
    await each((list) => `UPDATE {course_modules} SET groupingid = 0 WHERE groupingid IN (${list})`);
  }
  await each((list) => `DELETE FROM {groupings} WHERE id IN (${list})`);
}

/** Applies the grouping-group link changes of a plan (create, delete); created ids go to `ctx.ids`. */
export async function writeGroupingGroupChanges(
  tx: Queryable,
  ctx: WriteContext,
  changes: readonly Change[],
): Promise<void> {
  const byAction = changesByAction(changes, 'grouping_group', ['create', 'delete']);
  const deletes = (byAction.get('delete') ?? []).map(moodleIdOf);
  await executeIn(tx, (list) => `DELETE FROM {groupings_groups} WHERE id IN (${list})`, [], deletes, ctx.budget);

  const creates = (byAction.get('create') ?? []).map((change) => {
    const { grouping, group } = change.refs ?? {};
    if (grouping?.entity !== 'grouping' || group?.entity !== 'group') {
      throw new InternalError(`${change.address}: a grouping link needs a grouping and a group reference`);
    }
    return {
      change,
      groupingid: ctx.ids.require(grouping, change.address),
      groupid: ctx.ids.require(group, change.address),
    };
  });
  if (creates.length === 0) return;
  await insertMany(
    tx,
    'groupings_groups',
    ['groupingid', 'groupid', 'timeadded'],
    creates.map((c) => [c.groupingid, c.groupid, ctx.now]),
    ctx.budget,
  );
  // Re-read by (groupingid, groupid): this apply's rows are those added now to these groupings.
  const found = typedRows<{ id: number; groupingid: number; groupid: number }>(
    'groupings_groups',
    await selectIn(
      tx,
      (list) =>
        `SELECT id, groupingid, groupid FROM {groupings_groups} WHERE timeadded = ? AND groupingid IN (${list})`,
      [ctx.now],
      [...new Set(creates.map((c) => c.groupingid))],
      ctx.budget,
    ),
    { id: 'number', groupingid: 'number', groupid: 'number' },
  );
  const label = (groupingid: number, groupid: number) => `grouping id ${groupingid}, group id ${groupid}`;
  const ids = idsByExactKey(
    found,
    (r) => label(r.groupingid, r.groupid),
    creates.map((c) => label(c.groupingid, c.groupid)),
    'grouping link',
  );
  for (const c of creates) {
    ctx.ids.set('grouping_group', c.change.key, ids.get(label(c.groupingid, c.groupid)) as number);
  }
}
