/**
 * Writes group memberships as groups_add_member() / groups_remove_member() do (reference-writes §20): a member
 * is (groupid, userid, timeadded now, component '', itemid 0) — the tool's members claim no plugin, since
 * Moodle accepts only an installed plugin there and `enrol_cohort` rows belong to the cohort sync (§21–22) —
 * and every membership change sets its group's `timemodified` to now. Thousands of members cost a few
 * statements (multi-row, chunked by the budget).
 */
import { InternalError } from '../errors.js';
import type { Change } from '../model/change.js';
import { executeIn, insertMany, selectIn } from './batches.js';
import type { Queryable } from './database.js';
import { typedRows } from './read-categories.js';
import type { WriteContext } from './write-context.js';
import { asConflict, changesByAction, idsByExactKey, moodleIdOf } from './write-helpers.js';

/** Groups of these membership rows, read before they go. */
async function groupsOfRows(tx: Queryable, ctx: WriteContext, ids: readonly number[]): Promise<number[]> {
  const rows = typedRows<{ groupid: number }>(
    'groups_members',
    await selectIn(tx, (list) => `SELECT groupid FROM {groups_members} WHERE id IN (${list})`, [], ids, ctx.budget),
    { groupid: 'number' },
  );
  return rows.map((r) => r.groupid);
}

/** Applies the group member changes of a plan (create, delete); created ids go to `ctx.ids`. */
export async function writeGroupMemberChanges(
  tx: Queryable,
  ctx: WriteContext,
  changes: readonly Change[],
): Promise<void> {
  const byAction = changesByAction(changes, 'group_member', ['create', 'delete']);
  const deletes = (byAction.get('delete') ?? []).map(moodleIdOf);
  const touched = new Set<number>(deletes.length === 0 ? [] : await groupsOfRows(tx, ctx, deletes));
  // Deletions first: a member removed and added again must not meet its old row on the unique key. Only rows
  // without a component: a plugin's membership is never the tool's to remove (the planner plans none).
  await executeIn(
    tx,
    (list) => `DELETE FROM {groups_members} WHERE component = '' AND id IN (${list})`,
    [],
    deletes,
    ctx.budget,
  );

  const creates = (byAction.get('create') ?? []).map((change) => {
    const { group, user } = change.refs ?? {};
    if (group?.entity !== 'group' || user?.entity !== 'user') {
      throw new InternalError(`${change.address}: a member needs a group and a user reference`);
    }
    return { change, groupid: ctx.ids.require(group, change.address), userid: ctx.ids.require(user, change.address) };
  });
  for (const c of creates) touched.add(c.groupid);
  if (creates.length > 0) {
    await insertMany(
      tx,
      'groups_members',
      ['groupid', 'userid', 'timeadded', 'component', 'itemid'],
      creates.map((c) => [c.groupid, c.userid, ctx.now, '', 0]),
      ctx.budget,
    ).catch(asConflict(tx, 'a group membership'));
  }
  await executeIn(
    tx,
    (list) => `UPDATE {groups} SET timemodified = ? WHERE id IN (${list})`,
    [ctx.now],
    [...touched].sort((a, b) => a - b),
    ctx.budget,
  );
  if (creates.length === 0) return;

  // Re-read by (groupid, userid): this apply's rows are those added now to these groups.
  const found = typedRows<{ id: number; groupid: number; userid: number }>(
    'groups_members',
    await selectIn(
      tx,
      (list) => `SELECT id, groupid, userid FROM {groups_members} WHERE timeadded = ? AND groupid IN (${list})`,
      [ctx.now],
      [...new Set(creates.map((c) => c.groupid))],
      ctx.budget,
    ),
    { id: 'number', groupid: 'number', userid: 'number' },
  );
  const label = (groupid: number, userid: number) => `group id ${groupid}, user id ${userid}`;
  const ids = idsByExactKey(
    found,
    (r) => label(r.groupid, r.userid),
    creates.map((c) => label(c.groupid, c.userid)),
    'group membership',
  );
  for (const c of creates) ctx.ids.set('group_member', c.change.key, ids.get(label(c.groupid, c.userid)) as number);
}
