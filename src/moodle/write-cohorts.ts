/**
 * Writes cohorts and their members as `cohort_add_cohort()` / `cohort_update_cohort()` /
 * `cohort_delete_cohort()` / `cohort_add_member()` / `cohort_remove_member()` do (reference-writes §13–15, §27):
 * - a cohort row in the system context or in a category's (level 40), descriptionformat 1, theme '',
 *   timecreated = timemodified = now; `component` is the ownership marker (non-empty: read-only in Moodle's UI);
 * - updates set the changed columns (a move between contexts is a new contextid) and `timemodified`; a release
 *   clears the component; a deletion removes the members, then the cohort;
 * - a member is (cohortid, userid, timeadded now).
 *
 * No events are fired: Moodle's hourly enrol_cohort sync enrols added members into the courses of cohort
 * enrolment instances. Thousands of members cost a few statements (multi-row, chunked by the budget).
 */
import { InternalError, UserError } from '../errors.js';
import type { Change } from '../model/change.js';
import { executeIn, insertMany, selectIn } from './batches.js';
import type { Queryable, SqlValue } from './database.js';
import { typedRows } from './read-categories.js';
import type { WriteContext } from './write-context.js';
import {
  asConflict,
  type ContextInfo,
  categoryContexts,
  changedColumns,
  changesByAction,
  integerOf,
  moodleIdOf,
  requireContext,
  rereadIds,
  textOf,
  updateColumns,
} from './write-helpers.js';

const UPDATABLE = ['name', 'component', 'visible', 'description'] as const;
/** Values of the plan that say where the cohort lives; written as `contextid`, never as columns. */
const PLACEMENT = ['context', 'category'] as const;

/** The context ids of the categories these changes name in `refs.category`, by category id. */
async function contextsOfCategories(
  tx: Queryable,
  ctx: WriteContext,
  changes: readonly Change[],
): Promise<ReadonlyMap<number, ContextInfo>> {
  const ids = changes.flatMap((c) =>
    c.refs?.category === undefined ? [] : [ctx.ids.require(c.refs.category, c.address)],
  );
  return ids.length === 0 ? new Map() : categoryContexts(tx, ids, ctx.budget);
}

/** Where a cohort of this change lives: the category's context, or the system one. */
function contextIdOf(change: Change, ctx: WriteContext, contexts: ReadonlyMap<number, ContextInfo>): number {
  const category = change.refs?.category;
  if (category === undefined) return ctx.systemContextId;
  if (category.entity !== 'category') throw new InternalError(`${change.address}: category is a ${category.entity}`);
  return requireContext(contexts, ctx.ids.require(category, change.address), change.address).id;
}

async function createCohorts(tx: Queryable, ctx: WriteContext, creates: readonly Change[]): Promise<void> {
  if (creates.length === 0) return;
  const contexts = await contextsOfCategories(tx, ctx, creates);
  await insertMany(
    tx,
    'cohort',
    [
      'contextid',
      'name',
      'idnumber',
      'description',
      'descriptionformat',
      'visible',
      'component',
      'timecreated',
      'timemodified',
      'theme',
    ],
    creates.map((change) => [
      contextIdOf(change, ctx, contexts),
      textOf(change, 'name'),
      textOf(change, 'idnumber'),
      textOf(change, 'description', ''),
      1,
      integerOf(change, 'visible', 1),
      textOf(change, 'component', ''),
      ctx.now,
      ctx.now,
      '',
    ]),
    ctx.budget,
  );
  const keys = creates.map((c) => textOf(c, 'idnumber'));
  const ids = await rereadIds(tx, 'cohort', 'idnumber', keys, ctx.budget, 'cohort idnumber');
  for (const change of creates) ctx.ids.set('cohort', change.key, ids.get(textOf(change, 'idnumber')) as number);
}

/** The contextid an update moves the cohort to, if it moves. */
function movedTo(change: Change, ctx: WriteContext, contexts: ReadonlyMap<number, ContextInfo>): number | undefined {
  if (change.refs?.category !== undefined) return contextIdOf(change, ctx, contexts);
  const context = change.after.context;
  if (context === 'system') return ctx.systemContextId;
  if (context !== undefined || change.after.category !== undefined) {
    throw new InternalError(`${change.address}: a move needs refs.category or context "system"`);
  }
  return undefined;
}

/**
 * Moodle's cohort_deleted event makes enrol_cohort delete (or disable) the enrolment instances synced with the
 * cohort, and every enrolment through them; a direct-SQL deletion fires no event and would leave instances
 * pointing at nothing. Such a cohort is not deleted: its course enrolment methods must go first.
 */
async function refuseSyncedCohorts(tx: Queryable, ctx: WriteContext, deletes: readonly Change[]): Promise<void> {
  const used = typedRows<{ id: number; courseid: number; customint1: number }>(
    'enrol',
    await selectIn(
      tx,
      (list) => `SELECT id, courseid, customint1 FROM {enrol} WHERE enrol = 'cohort' AND customint1 IN (${list})`,
      [],
      deletes.map(moodleIdOf),
      ctx.budget,
    ),
    { id: 'number', courseid: 'number', customint1: 'number' },
  );
  if (used.length === 0) return;
  const problems = deletes.flatMap((change) => {
    const instances = used.filter((e) => e.customint1 === change.moodleId);
    if (instances.length === 0) return [];
    const courses = [...new Set(instances.map((e) => e.courseid))].join(', ');
    return [
      {
        message: `${change.address}: synced into course(s) ${courses} by cohort enrolment instance(s) ${instances.map((e) => e.id).join(', ')}`,
      },
    ];
  });
  throw new UserError(
    'MOODLE_CONFLICT',
    `${problems.length} cohort(s) to delete are used by course enrolment methods (Cohort sync); nothing was written — ` +
      'remove those enrolment methods in Moodle (or keep the cohorts), then plan again',
    problems,
  );
}

/** Applies the cohort changes of a plan; the ids of created cohorts go to `ctx.ids` (members come next). */
export async function writeCohortChanges(tx: Queryable, ctx: WriteContext, changes: readonly Change[]): Promise<void> {
  const byAction = changesByAction(changes, 'cohort', ['create', 'update', 'adopt', 'release', 'delete']);
  // Checked before anything is written.
  await refuseSyncedCohorts(tx, ctx, byAction.get('delete') ?? []);
  await createCohorts(tx, ctx, byAction.get('create') ?? []);

  const updates = [...(byAction.get('update') ?? []), ...(byAction.get('adopt') ?? [])];
  const contexts = await contextsOfCategories(tx, ctx, updates);
  const rows = updates.map((change) => {
    const values: Record<string, SqlValue> = changedColumns(change, UPDATABLE, PLACEMENT);
    const contextid = movedTo(change, ctx, contexts);
    if (contextid !== undefined) values.contextid = contextid;
    return { id: moodleIdOf(change), values };
  });
  // A release hands the cohort back to Moodle's administrators: no owner, editable again in the UI.
  for (const change of byAction.get('release') ?? []) rows.push({ id: moodleIdOf(change), values: { component: '' } });
  await updateColumns(tx, 'cohort', rows, { timemodified: ctx.now }, ctx.budget);

  const deletes = (byAction.get('delete') ?? []).map(moodleIdOf);
  await executeIn(tx, (list) => `DELETE FROM {cohort_members} WHERE cohortid IN (${list})`, [], deletes, ctx.budget);
  await executeIn(tx, (list) => `DELETE FROM {cohort} WHERE id IN (${list})`, [], deletes, ctx.budget);
}

/** Applies the cohort member changes of a plan (create, delete); created ids go to `ctx.ids`. */
export async function writeCohortMemberChanges(
  tx: Queryable,
  ctx: WriteContext,
  changes: readonly Change[],
): Promise<void> {
  const byAction = changesByAction(changes, 'cohort_member', ['create', 'delete']);
  const deletes = (byAction.get('delete') ?? []).map(moodleIdOf);
  // Deletions first: a member removed and added again must not meet its old row on the unique key.
  await executeIn(tx, (list) => `DELETE FROM {cohort_members} WHERE id IN (${list})`, [], deletes, ctx.budget);

  const creates = (byAction.get('create') ?? []).map((change) => {
    const { cohort, user } = change.refs ?? {};
    if (cohort?.entity !== 'cohort' || user?.entity !== 'user') {
      throw new InternalError(`${change.address}: a member needs a cohort and a user reference`);
    }
    return {
      change,
      cohortid: ctx.ids.require(cohort, change.address),
      userid: ctx.ids.require(user, change.address),
    };
  });
  if (creates.length === 0) return;
  await insertMany(
    tx,
    'cohort_members',
    ['cohortid', 'userid', 'timeadded'],
    creates.map((c) => [c.cohortid, c.userid, ctx.now]),
    ctx.budget,
  ).catch(asConflict(tx, 'a cohort membership'));
  // Re-read by (cohortid, userid): this apply's rows are those added now to these cohorts.
  const found = typedRows<{ id: number; cohortid: number; userid: number }>(
    'cohort_members',
    await selectIn(
      tx,
      (list) => `SELECT id, cohortid, userid FROM {cohort_members} WHERE timeadded = ? AND cohortid IN (${list})`,
      [ctx.now],
      [...new Set(creates.map((c) => c.cohortid))],
      ctx.budget,
    ),
    { id: 'number', cohortid: 'number', userid: 'number' },
  );
  const ids = new Map(found.map((r) => [`${r.cohortid}:${r.userid}`, r.id]));
  for (const c of creates) {
    const id = ids.get(`${c.cohortid}:${c.userid}`);
    if (id === undefined) throw new InternalError(`${c.change.address}: inserted member not found again`);
    ctx.ids.set('cohort_member', c.change.key, id);
  }
}
