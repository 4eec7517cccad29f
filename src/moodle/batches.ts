/**
 * Multi-row statements sized in bytes, so that thousands of objects cost a handful of round trips and no
 * statement exceeds what the server accepts (MariaDB's max_allowed_packet).
 */
import type { Queryable, Row, SqlValue } from './database.js';

/** Bytes a value may take in the SQL text (escaping may double a string; numbers are short). */
function valueBytes(value: SqlValue): number {
  if (typeof value === 'string') return 2 * Buffer.byteLength(value) + 4;
  return 24;
}

/** Bound on values per statement, whatever their size (PostgreSQL allows 65,535 parameters). */
const MAX_VALUES = 20_000;

/** Splits `items` into consecutive groups whose values fit `budget` bytes (at least one item per group). */
export function chunkByBytes<T>(
  items: readonly T[],
  budget: number,
  valuesOf: (item: T) => readonly SqlValue[],
): T[][] {
  const chunks: T[][] = [];
  let current: T[] = [];
  let bytes = 0;
  let count = 0;
  for (const item of items) {
    const vals = valuesOf(item);
    const size = vals.reduce<number>((sum, v) => sum + valueBytes(v), 8);
    if (current.length > 0 && (bytes + size > budget || count + vals.length > MAX_VALUES)) {
      chunks.push(current);
      current = [];
      bytes = 0;
      count = 0;
    }
    current.push(item);
    bytes += size;
    count += vals.length;
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}

const placeholders = (n: number): string => Array.from({ length: n }, () => '?').join(', ');

/** `INSERT INTO {table} (cols) VALUES (…), (…)` in as few statements as the budget allows. */
export async function insertMany(
  tx: Queryable,
  table: string,
  columns: readonly string[],
  rows: readonly (readonly SqlValue[])[],
  budget: number,
): Promise<void> {
  const tuple = `(${placeholders(columns.length)})`;
  for (const chunk of chunkByBytes(rows, budget, (r) => r)) {
    await tx.execute(
      `INSERT INTO {${table}} (${columns.join(', ')}) VALUES ${chunk.map(() => tuple).join(', ')}`,
      chunk.flat(),
    );
  }
}

/** `SELECT … WHERE column IN (…)` over any number of keys; rows of every chunk concatenated. */
export async function selectIn<T extends Row>(
  tx: Queryable,
  sql: (inList: string) => string,
  fixed: readonly SqlValue[],
  keys: readonly SqlValue[],
  budget: number,
): Promise<T[]> {
  const rows: T[] = [];
  for (const chunk of chunkByBytes(keys, budget, (k) => [k])) {
    // A loop, not push(...rows): a chunk's result may hold more rows than a spread can pass.
    for (const row of await tx.query<T>(sql(placeholders(chunk.length)), [...fixed, ...chunk])) rows.push(row);
  }
  return rows;
}

/** `DELETE`/`UPDATE … WHERE column IN (…)` over any number of keys. */
export async function executeIn(
  tx: Queryable,
  sql: (inList: string) => string,
  fixed: readonly SqlValue[],
  keys: readonly SqlValue[],
  budget: number,
): Promise<number> {
  let affected = 0;
  for (const chunk of chunkByBytes(keys, budget, (k) => [k])) {
    affected += (await tx.execute(sql(placeholders(chunk.length)), [...fixed, ...chunk])).affectedRows;
  }
  return affected;
}

/** `DELETE FROM {table} WHERE id IN (…)` over any number of row ids. */
export function deleteByIds(tx: Queryable, table: string, ids: readonly number[], budget: number): Promise<number> {
  return executeIn(tx, (list) => `DELETE FROM {${table}} WHERE id IN (${list})`, [], ids, budget);
}

/**
 * Sets per-row values of the same columns on many rows in one statement per chunk:
 * `UPDATE {t} SET a = CASE id WHEN ? THEN ? … END, …, extra = ? WHERE id IN (…)`.
 */
export async function updateManyById(
  tx: Queryable,
  table: string,
  columns: readonly string[],
  rows: readonly { readonly id: number; readonly values: readonly SqlValue[] }[],
  extra: Readonly<Record<string, SqlValue>>,
  budget: number,
): Promise<void> {
  const extraColumns = Object.keys(extra);
  for (const chunk of chunkByBytes(rows, budget, (r) => [r.id, ...r.values, r.id])) {
    const sets = columns.map((column, i) => {
      // PostgreSQL types untyped CASE results as text: say when they are numbers (smallint/bigint columns).
      const then = chunk.every((r) => typeof r.values[i] === 'number') ? tx.integerParameter : '?';
      return `${column} = CASE id ${chunk.map(() => `WHEN ? THEN ${then}`).join(' ')} END`;
    });
    const params: SqlValue[] = [];
    columns.forEach((_, i) => {
      for (const row of chunk) params.push(row.id, row.values[i] ?? null);
    });
    for (const column of extraColumns) {
      sets.push(`${column} = ?`);
      params.push(extra[column] ?? null);
    }
    params.push(...chunk.map((r) => r.id));
    await tx.execute(`UPDATE {${table}} SET ${sets.join(', ')} WHERE id IN (${placeholders(chunk.length)})`, params);
  }
}
