/**
 * Small helpers every entity writer shares: changes by action, typed access to change values, ids of rows
 * just inserted re-read by exact natural key, grouped column updates, duplicate keys as conflicts, and the
 * category contexts other rows hang under.
 */
import { InternalError, UserError } from '../errors.js';
import type { Change, ChangeAction, EntityType } from '../model/change.js';
import { selectIn, updateManyById } from './batches.js';
import type { Queryable, SqlValue } from './database.js';
import { CONTEXT_CATEGORY, typedRows } from './read-categories.js';

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

/**
 * Ids of rows this apply just inserted, re-read by a unique text column and matched exactly (see
 * idsByExactKey): `what` names the key in messages ("cohort idnumber").
 */
export async function rereadIds(
  tx: Queryable,
  table: string,
  column: string,
  keys: readonly string[],
  budget: number,
  what: string,
): Promise<Map<string, number>> {
  const rows = typedRows<{ id: number } & Record<string, string | null>>(
    table,
    await selectIn(tx, (list) => `SELECT id, ${column} FROM {${table}} WHERE ${column} IN (${list})`, [], keys, budget),
    { id: 'number', [column]: 'string?' },
  );
  return idsByExactKey(rows, (r) => r[column] ?? null, keys, what);
}
