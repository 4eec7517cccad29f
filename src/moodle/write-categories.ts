/**
 * Writes course categories as `core_course_category::create()` does (reference-writes §10, §11): the
 * category row (path of category ids, depth, a sortorder block of 10000 after the highest one) and its
 * context (level 40, path = the parent category's context path, or the system one, + its own id). Updates
 * set the changed columns and `timemodified`. Categories are never released or deleted by the tool.
 *
 * A child may be created by the same call as its parent: creations run in waves, parents first, so the
 * statements grow with the depth of the tree, not with the number of categories. Ids of inserted rows are
 * re-read by natural key (idnumber), never derived from insertId.
 *
 * Also holds the small helpers the writers of the other entities share (exact-key re-reads, grouped updates).
 */
import { InternalError, UserError } from '../errors.js';
import type { Change, ChangeAction, EntityType } from '../plan/change.js';
import { insertMany, selectIn, updateManyById } from './batches.js';
import type { Queryable, SqlValue } from './database.js';
import { CONTEXT_CATEGORY, typedRows } from './read-categories.js';
import type { WriteContext } from './write-context.js';

// ---- shared by the writers ----------------------------------------------------------------------------

/** The changes of one entity by action; an action the writer does not handle is a planner bug. */
export function changesByAction(
  all: readonly Change[],
  entity: EntityType,
  handled: readonly ChangeAction[],
): ReadonlyMap<ChangeAction, readonly Change[]> {
  const out = new Map<ChangeAction, Change[]>(handled.map((a) => [a, []]));
  for (const change of all) {
    if (change.entity !== entity) continue;
    const list = out.get(change.action);
    if (list === undefined) throw new InternalError(`${change.address}: ${change.action} is not a ${entity} change`);
    list.push(change);
  }
  return out;
}

export function moodleIdOf(change: Change): number {
  if (change.moodleId === null) throw new InternalError(`${change.address}: ${change.action} without a Moodle id`);
  return change.moodleId;
}

export function textOf(change: Change, column: string, fallback?: string): string {
  const value = change.after[column] ?? fallback;
  if (typeof value !== 'string') throw new InternalError(`${change.address}: ${column} is not a text value`);
  return value;
}

export function integerOf(change: Change, column: string, fallback?: number): number {
  const value = change.after[column] ?? fallback;
  if (typeof value !== 'number' || !Number.isSafeInteger(value)) {
    throw new InternalError(`${change.address}: ${column} is not an integer value`);
  }
  return value;
}

/**
 * Id per key of rows just inserted, from a re-read by natural key. MariaDB's collation lets `IN` match keys
 * that differ in case or accents, so keys are compared here exactly; a key held by two rows means someone
 * (Moodle) wrote the same object meanwhile: a conflict, not a guess.
 */
export function idsByExactKey<R extends { readonly id: number }>(
  rows: readonly R[],
  keyOf: (row: R) => string | null,
  keys: readonly string[],
  what: string,
): Map<string, number> {
  const wanted = new Set(keys);
  const ids = new Map<string, number>();
  for (const row of rows) {
    const key = keyOf(row);
    if (key === null || !wanted.has(key)) continue;
    if (ids.has(key)) {
      throw new UserError(
        'MOODLE_CONFLICT',
        `${what} ${JSON.stringify(key)} is held by two rows (ids ${ids.get(key)} and ${row.id}) after this apply's insert: ` +
          'Moodle wrote the same object meanwhile; nothing was written — plan again',
      );
    }
    ids.set(key, row.id);
  }
  const missing = keys.filter((k) => !ids.has(k));
  if (missing.length > 0) {
    throw new InternalError(`inserted ${what}s not found again: ${missing.slice(0, 5).join(', ')}`);
  }
  return ids;
}

/**
 * Per-row column updates, one multi-row UPDATE per set of columns changed together (and per chunk);
 * `extra` is set on every row (`timemodified`).
 */
export async function updateColumns(
  tx: Queryable,
  table: string,
  rows: readonly { readonly id: number; readonly values: Readonly<Record<string, SqlValue>> }[],
  extra: Readonly<Record<string, SqlValue>>,
  budget: number,
): Promise<void> {
  const groups = new Map<string, { id: number; values: SqlValue[] }[]>();
  for (const row of rows) {
    const columns = Object.keys(row.values).sort();
    if (columns.length === 0) continue;
    const signature = columns.join(',');
    const group = groups.get(signature) ?? [];
    group.push({ id: row.id, values: columns.map((c) => row.values[c] ?? null) });
    groups.set(signature, group);
  }
  for (const [signature, group] of groups) {
    await updateManyById(tx, table, signature.split(','), group, extra, budget);
  }
}

/** The changed columns of an update among `allowed`; any other is a planner bug (never written blindly). */
export function changedColumns(change: Change, allowed: readonly string[], ignored: readonly string[] = []) {
  const values: Record<string, SqlValue> = {};
  for (const [column, value] of Object.entries(change.after)) {
    if (ignored.includes(column)) continue;
    if (!allowed.includes(column)) {
      throw new InternalError(`${change.address}: ${change.action} of ${column}, not a column this writer manages`);
    }
    values[column] = value;
  }
  return values;
}

/** A duplicate-key failure of an insert as a conflict the user can act on; anything else unchanged. */
export function asConflict(tx: Queryable, what: string): (error: unknown) => never {
  return (error: unknown) => {
    if (tx.isDuplicateKey(error)) {
      throw new UserError(
        'MOODLE_CONFLICT',
        `${what} of this plan was written in Moodle meanwhile (${(error as Error).message}); nothing was written — plan again`,
        [],
        { cause: error },
      );
    }
    throw error;
  };
}

export interface ContextInfo {
  readonly id: number;
  readonly path: string;
  readonly depth: number;
}

/** Contexts (level 40) of these categories, by category id. */
export async function categoryContexts(
  tx: Queryable,
  categoryIds: readonly number[],
  budget: number,
): Promise<Map<number, ContextInfo>> {
  const rows = typedRows<{ id: number; instanceid: number; path: string | null; depth: number }>(
    'context',
    await selectIn(
      tx,
      (list) => `SELECT id, instanceid, path, depth FROM {context} WHERE contextlevel = ? AND instanceid IN (${list})`,
      [CONTEXT_CATEGORY],
      [...new Set(categoryIds)],
      budget,
    ),
    { id: 'number', instanceid: 'number', path: 'string?', depth: 'number' },
  );
  return new Map(rows.map((r) => [r.instanceid, { id: r.id, path: r.path ?? '', depth: r.depth }]));
}

/** The context of a category the writes hang under; a missing or pathless one cannot be built upon. */
export function requireContext(contexts: ReadonlyMap<number, ContextInfo>, categoryId: number, from: string) {
  const context = contexts.get(categoryId);
  if (context === undefined || !/^(\/\d+)+$/.test(context.path)) {
    throw new UserError(
      'MOODLE_UNSUPPORTED',
      `${from}: course category ${categoryId} has no usable context (level 40) in Moodle; ` +
        'let Moodle rebuild its contexts (admin/cli/fix_course_sequence.php or a cron run), then plan again',
    );
  }
  return context;
}

// ---- categories -----------------------------------------------------------------------------------------

/** Moodle's MAX_COURSES_IN_CATEGORY: each category owns a block of sortorders. */
const SORTORDER_BLOCK = 10_000;

const UPDATABLE = ['name', 'description'] as const;

interface CategoryInfo {
  readonly id: number;
  readonly path: string;
  readonly depth: number;
}

/** Creations ordered in waves: each wave's parents exist already or were created by an earlier wave. */
function waves(creates: readonly Change[]): Change[][] {
  const byKey = new Map(creates.map((c) => [c.key, c]));
  const level = new Map<string, number>();
  const levelOf = (change: Change, seen: Set<string>): number => {
    const known = level.get(change.key);
    if (known !== undefined) return known;
    const parent = change.refs?.parent;
    const created = parent === undefined ? undefined : byKey.get(parent.key);
    if (parent !== undefined && parent.entity !== 'category') {
      throw new InternalError(`${change.address}: parent is a ${parent.entity}`);
    }
    if (seen.has(change.key)) throw new InternalError(`${change.address}: categories form a cycle`);
    seen.add(change.key);
    const own = created === undefined ? 0 : levelOf(created, seen) + 1;
    level.set(change.key, own);
    return own;
  };
  const out: Change[][] = [];
  for (const change of creates) {
    const n = levelOf(change, new Set());
    while (out.length <= n) out.push([]);
    out[n]?.push(change);
  }
  return out;
}

async function maxSortorder(tx: Queryable): Promise<number> {
  const [row] = await tx.query('SELECT MAX(sortorder) AS top FROM {course_categories}');
  const top = row?.top ?? 0;
  if (top === null) return 0;
  if (typeof top !== 'number') throw new InternalError(`MAX(sortorder) came back as ${typeof top}`);
  return top;
}

async function createWave(
  tx: Queryable,
  ctx: WriteContext,
  wave: readonly Change[],
  sortorders: ReadonlyMap<string, number>,
): Promise<void> {
  const parentIds = new Map<string, number>();
  for (const change of wave) {
    const parent = change.refs?.parent;
    if (parent !== undefined) parentIds.set(change.key, ctx.ids.require(parent, change.address));
  }
  const ids = [...new Set(parentIds.values())];
  const parents = new Map<number, CategoryInfo>();
  if (ids.length > 0) {
    const rows = await selectIn(
      tx,
      (list) => `SELECT id, path, depth FROM {course_categories} WHERE id IN (${list})`,
      [],
      ids,
      ctx.budget,
    );
    for (const r of typedRows<CategoryInfo>('course_categories', rows, {
      id: 'number',
      path: 'string',
      depth: 'number',
    })) {
      parents.set(r.id, r);
    }
  }
  const parentContexts = ids.length > 0 ? await categoryContexts(tx, ids, ctx.budget) : new Map<number, ContextInfo>();
  const systemDepth = ctx.systemContextPath.split('/').length - 1;
  const parentOf = (change: Change): CategoryInfo | null => {
    const id = parentIds.get(change.key);
    if (id === undefined) return null;
    const info = parents.get(id);
    if (info === undefined) throw new InternalError(`${change.address}: parent category ${id} not found`);
    return info;
  };

  await insertMany(
    tx,
    'course_categories',
    [
      'name',
      'idnumber',
      'description',
      'descriptionformat',
      'parent',
      'sortorder',
      'coursecount',
      'visible',
      'visibleold',
      'timemodified',
      'depth',
      'path',
    ],
    wave.map((change) => {
      const parent = parentOf(change);
      return [
        textOf(change, 'name'),
        textOf(change, 'idnumber'),
        textOf(change, 'description', ''),
        0,
        parent?.id ?? 0,
        sortorders.get(change.key) ?? 0,
        0,
        1,
        1,
        ctx.now,
        (parent?.depth ?? 0) + 1,
        '', // set below from the new id
      ];
    }),
    ctx.budget,
  );
  const keys = wave.map((c) => textOf(c, 'idnumber'));
  const found = typedRows<{ id: number; idnumber: string | null }>(
    'course_categories',
    await selectIn(
      tx,
      (list) => `SELECT id, idnumber FROM {course_categories} WHERE idnumber IN (${list})`,
      [],
      keys,
      ctx.budget,
    ),
    { id: 'number', idnumber: 'string?' },
  );
  const newIds = idsByExactKey(found, (r) => r.idnumber, keys, 'course category idnumber');
  const idOf = (change: Change) => newIds.get(textOf(change, 'idnumber')) as number;

  await updateManyById(
    tx,
    'course_categories',
    ['path'],
    wave.map((change) => ({ id: idOf(change), values: [`${parentOf(change)?.path ?? ''}/${idOf(change)}`] })),
    {},
    ctx.budget,
  );
  await insertMany(
    tx,
    'context',
    ['contextlevel', 'instanceid', 'depth', 'locked'],
    wave.map((change) => {
      const parent = parentIds.get(change.key);
      const depth = parent === undefined ? systemDepth : requireContext(parentContexts, parent, change.address).depth;
      return [CONTEXT_CATEGORY, idOf(change), depth + 1, 0];
    }),
    ctx.budget,
  ).catch(asConflict(tx, 'a category context'));
  const contexts = await categoryContexts(tx, [...newIds.values()], ctx.budget);
  await updateManyById(
    tx,
    'context',
    ['path'],
    wave.map((change) => {
      const parent = parentIds.get(change.key);
      const parentPath =
        parent === undefined ? ctx.systemContextPath : requireContext(parentContexts, parent, change.address).path;
      const own = contexts.get(idOf(change));
      if (own === undefined) throw new InternalError(`${change.address}: inserted context not found again`);
      return { id: own.id, values: [`${parentPath}/${own.id}`] };
    }),
    {},
    ctx.budget,
  );
  for (const change of wave) ctx.ids.set('category', change.key, idOf(change));
}

/**
 * Applies the category changes of a plan (create, update, adopt). The ids of created categories go to
 * `ctx.ids` under their keys: cohorts and sub-categories written next hang under them.
 */
export async function writeCategoryChanges(
  tx: Queryable,
  ctx: WriteContext,
  changes: readonly Change[],
): Promise<void> {
  const byAction = changesByAction(changes, 'category', ['create', 'update', 'adopt']);
  const creates = byAction.get('create') ?? [];
  if (creates.length > 0) {
    if (!/^(\/\d+)+$/.test(ctx.systemContextPath)) {
      throw new InternalError(`unexpected system context path ${JSON.stringify(ctx.systemContextPath)}`);
    }
    const ordered = waves(creates);
    // Blocks of 10000 after the highest, in creation order (parents first), as Moodle numbers them.
    const top = await maxSortorder(tx);
    const sortorders = new Map(ordered.flat().map((c, i) => [c.key, top + SORTORDER_BLOCK * (i + 1)]));
    for (const wave of ordered) await createWave(tx, ctx, wave, sortorders);
  }
  const updates = [...(byAction.get('update') ?? []), ...(byAction.get('adopt') ?? [])];
  await updateColumns(
    tx,
    'course_categories',
    updates.map((change) => ({ id: moodleIdOf(change), values: changedColumns(change, UPDATABLE) })),
    { timemodified: ctx.now },
    ctx.budget,
  );
}
