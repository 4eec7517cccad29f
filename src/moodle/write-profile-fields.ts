/**
 * Writes custom profile fields and their values as Moodle's profile API does (reference-writes §6–9):
 * - a field (`profile_save_field()`): the user_info_field row with the defaults of a text field, in the
 *   user_info_category of the given name — reused when one exists (the first by sortorder), created otherwise
 *   (sortorder = highest + 1, as `profile_save_category()` does); the field's sortorder is the number of fields
 *   already in that category + 1;
 * - a value (`profile_save_data()`): one user_info_data row (userid, fieldid, data, dataformat 0); a change is a
 *   plain UPDATE of `data`; no timestamps, no events.
 *
 * Ids of inserted rows are re-read by natural key (category name, field shortname, (userid, fieldid)).
 */
import { InternalError } from '../errors.js';
import type { Change } from '../model/change.js';
import { executeIn, insertMany, selectIn } from './batches.js';
import type { Queryable } from './database.js';
import { typedRows } from './read-categories.js';
import type { WriteContext } from './write-context.js';
import {
  asConflict,
  changedColumns,
  changesByAction,
  idsByExactKey,
  integerOf,
  moodleIdOf,
  rereadIds,
  textOf,
  updateColumns,
} from './write-helpers.js';

/** What Moodle's text field stores when not told otherwise: display size, maximum length, not a password. */
const TEXT_DEFAULTS = { param1: '30', param2: '2048', param3: '0' } as const;

const FIELD_UPDATABLE = ['name', 'locked', 'visible'] as const;

/** The category id of every category name the creations need, creating the missing ones. */
async function profileCategories(
  tx: Queryable,
  ctx: WriteContext,
  names: readonly string[],
): Promise<Map<string, number>> {
  const existing = typedRows<{ id: number; name: string; sortorder: number }>(
    'user_info_category',
    await tx.query('SELECT id, name, sortorder FROM {user_info_category} ORDER BY sortorder, id'),
    { id: 'number', name: 'string', sortorder: 'number' },
  );
  const ids = new Map<string, number>();
  // The first by sortorder wins (names are not unique in Moodle); exact comparison, in code.
  for (const row of existing) if (names.includes(row.name) && !ids.has(row.name)) ids.set(row.name, row.id);
  const missing = [...new Set(names.filter((n) => !ids.has(n)))];
  if (missing.length === 0) return ids;
  const top = existing.reduce((max, r) => Math.max(max, r.sortorder), 0);
  await insertMany(
    tx,
    'user_info_category',
    ['name', 'sortorder'],
    missing.map((name, i) => [name, top + i + 1]),
    ctx.budget,
  );
  const found = typedRows<{ id: number; name: string; sortorder: number }>(
    'user_info_category',
    await selectIn(
      tx,
      (list) => `SELECT id, name, sortorder FROM {user_info_category} WHERE sortorder > ? AND name IN (${list})`,
      [top],
      missing,
      ctx.budget,
    ),
    { id: 'number', name: 'string', sortorder: 'number' },
  );
  for (const [name, id] of idsByExactKey(found, (r) => r.name, missing, 'profile field category')) ids.set(name, id);
  return ids;
}

/** Number of fields per category now. */
async function fieldCounts(tx: Queryable): Promise<Map<number, number>> {
  const rows = typedRows<{ categoryid: number; n: number }>(
    'user_info_field',
    await tx.query('SELECT categoryid, COUNT(id) AS n FROM {user_info_field} GROUP BY categoryid'),
    { categoryid: 'number', n: 'number' },
  );
  return new Map(rows.map((r) => [r.categoryid, r.n]));
}

async function createFields(tx: Queryable, ctx: WriteContext, creates: readonly Change[]): Promise<void> {
  if (creates.length === 0) return;
  const categories = await profileCategories(
    tx,
    ctx,
    creates.map((c) => textOf(c, 'categoryName')),
  );
  const counts = await fieldCounts(tx);
  const rows = creates.map((change) => {
    const datatype = textOf(change, 'datatype');
    if (datatype !== 'text') throw new InternalError(`${change.address}: datatype ${datatype} is not supported`);
    const categoryid = categories.get(textOf(change, 'categoryName')) as number;
    const sortorder = (counts.get(categoryid) ?? 0) + 1;
    counts.set(categoryid, sortorder);
    const param = (name: keyof typeof TEXT_DEFAULTS) => String(change.after[name] ?? TEXT_DEFAULTS[name]);
    return [
      textOf(change, 'shortname'),
      textOf(change, 'name'),
      datatype,
      '',
      1,
      categoryid,
      sortorder,
      0,
      integerOf(change, 'locked'),
      integerOf(change, 'visible'),
      0,
      0,
      '',
      0,
      param('param1'),
      param('param2'),
      param('param3'),
      '',
      '',
    ];
  });
  await insertMany(
    tx,
    'user_info_field',
    [
      'shortname',
      'name',
      'datatype',
      'description',
      'descriptionformat',
      'categoryid',
      'sortorder',
      'required',
      'locked',
      'visible',
      'forceunique',
      'signup',
      'defaultdata',
      'defaultdataformat',
      'param1',
      'param2',
      'param3',
      'param4',
      'param5',
    ],
    rows,
    ctx.budget,
  );
  const shortnames = creates.map((c) => textOf(c, 'shortname'));
  const ids = await rereadIds(tx, 'user_info_field', 'shortname', shortnames, ctx.budget, 'profile field shortname');
  for (const change of creates)
    ctx.ids.set('profile_field', change.key, ids.get(textOf(change, 'shortname')) as number);
}

/** Applies the profile field changes of a plan (create, update, adopt); created ids go to `ctx.ids`. */
export async function writeProfileFieldChanges(
  tx: Queryable,
  ctx: WriteContext,
  changes: readonly Change[],
): Promise<void> {
  const byAction = changesByAction(changes, 'profile_field', ['create', 'update', 'adopt']);
  await createFields(tx, ctx, byAction.get('create') ?? []);
  const updates = [...(byAction.get('update') ?? []), ...(byAction.get('adopt') ?? [])];
  // user_info_field has no timemodified.
  await updateColumns(
    tx,
    'user_info_field',
    updates.map((change) => ({ id: moodleIdOf(change), values: changedColumns(change, FIELD_UPDATABLE) })),
    {},
    ctx.budget,
  );
}

/** Applies the profile value changes of a plan (create, update, delete); created ids go to `ctx.ids`. */
export async function writeProfileDataChanges(
  tx: Queryable,
  ctx: WriteContext,
  changes: readonly Change[],
): Promise<void> {
  const byAction = changesByAction(changes, 'profile_data', ['create', 'update', 'delete']);
  const deletes = (byAction.get('delete') ?? []).map(moodleIdOf);
  // Deletions first: a value removed and re-created for the same (user, field) must not meet its old row.
  await executeIn(tx, (list) => `DELETE FROM {user_info_data} WHERE id IN (${list})`, [], deletes, ctx.budget);
  await updateColumns(
    tx,
    'user_info_data',
    (byAction.get('update') ?? []).map((change) => ({
      id: moodleIdOf(change),
      values: { data: textOf(change, 'data') },
    })),
    {},
    ctx.budget,
  );

  const creates = (byAction.get('create') ?? []).map((change) => {
    const { field, user } = change.refs ?? {};
    if (field?.entity !== 'profile_field' || user?.entity !== 'user') {
      throw new InternalError(`${change.address}: a profile value needs a field and a user reference`);
    }
    return {
      change,
      fieldid: ctx.ids.require(field, change.address),
      userid: ctx.ids.require(user, change.address),
      data: textOf(change, 'data'),
    };
  });
  if (creates.length === 0) return;
  await insertMany(
    tx,
    'user_info_data',
    ['userid', 'fieldid', 'data', 'dataformat'],
    creates.map((c) => [c.userid, c.fieldid, c.data, 0]),
    ctx.budget,
  ).catch(asConflict(tx, 'a profile field value'));
  // Fields are few: they go whole into every statement, the users are chunked.
  const fieldIds = [...new Set(creates.map((c) => c.fieldid))];
  const found = typedRows<{ id: number; userid: number; fieldid: number }>(
    'user_info_data',
    await selectIn(
      tx,
      (list) =>
        `SELECT id, userid, fieldid FROM {user_info_data} WHERE fieldid IN (${fieldIds.map(() => '?').join(', ')}) AND userid IN (${list})`,
      fieldIds,
      [...new Set(creates.map((c) => c.userid))],
      ctx.budget,
    ),
    { id: 'number', userid: 'number', fieldid: 'number' },
  );
  const ids = new Map(found.map((r) => [`${r.userid}:${r.fieldid}`, r.id]));
  for (const c of creates) {
    const id = ids.get(`${c.userid}:${c.fieldid}`);
    if (id === undefined) throw new InternalError(`${c.change.address}: inserted value not found again`);
    ctx.ids.set('profile_data', c.change.key, id);
  }
}
