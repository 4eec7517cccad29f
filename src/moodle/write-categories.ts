/**
 * Writes course categories as `core_course_category::create()` does (reference-writes §10, §11): the
 * category row (path of category ids, depth, the sortorder fix_course_sortorder() gives it: sortorders.ts) and its
 * context (level 40, path = the parent category's context path, or the system one, + its own id). Updates
 * set the changed columns and `timemodified`. Categories are never released or deleted by the tool.
 *
 * A child may be created by the same call as its parent: creations run in waves, parents first, so the
 * statements grow with the depth of the tree, not with the number of categories. Ids of inserted rows are
 * re-read by natural key (idnumber), never derived from insertId.
 */
import { InternalError } from '../errors.js';
import type { Change } from '../model/change.js';
import { insertMany, selectIn, updateManyById } from './batches.js';
import type { Queryable } from './database.js';
import { CONTEXT_CATEGORY, typedRows } from './read-categories.js';
import { writeMoodleSortorders } from './sortorders.js';
import type { WriteContext } from './write-context.js';
import {
  asConflict,
  type ContextInfo,
  categoryContexts,
  changedColumns,
  changesByAction,
  moodleIdOf,
  requireContext,
  rereadIds,
  textOf,
  updateColumns,
} from './write-helpers.js';

// ---- categories -----------------------------------------------------------------------------------------

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

async function createWave(tx: Queryable, ctx: WriteContext, wave: readonly Change[]): Promise<void> {
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
        0, // sortorder: numbered below as Moodle numbers it
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
  const newIds = await rereadIds(tx, 'course_categories', 'idnumber', keys, ctx.budget, 'course category idnumber');
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
    // Inserted with sortorder 0 as core_course_category::create() does, then numbered as its
    // fix_course_sortorder() numbers them (sortorders.ts).
    for (const wave of waves(creates)) await createWave(tx, ctx, wave);
    await writeMoodleSortorders(tx, ctx.budget);
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
