/**
 * Dialect-neutral SQL for test assertions: tests write `{user}` or plain `mdl_user`, `?` placeholders, and
 * the same statement runs on MariaDB, PostgreSQL and the embedded PGlite. Checksums and snapshots are built
 * from plain `SELECT * … ORDER BY id`, so the same check means the same thing on every target.
 *
 * Deliberately written apart from src/moodle/dialects: an assertion must not share the code it checks.
 */
import { createHash } from 'node:crypto';

export type Row = Record<string, unknown>;
export type SqlParam = string | number | bigint | boolean | null;

/** The SQL family of a target: the embedded Moodle speaks PostgreSQL. */
export type SqlFamily = 'mariadb' | 'postgres';

/** What reads a target: enough for checksums and snapshots. */
export interface SqlReader {
  readonly family: SqlFamily;
  readonly prefix: string;
  query<T extends Row = Row>(sql: string, params?: readonly SqlParam[]): Promise<T[]>;
}

const IDENTIFIER = /^[a-z0-9_]+$/;

/** `user` or `mdl_user` → the full table name with the target's prefix. */
export function tableName(name: string, prefix: string): string {
  const bare = name.startsWith('mdl_') ? name.slice(4) : name;
  if (!IDENTIFIER.test(bare)) throw new Error(`bad table name ${name}`);
  return `${prefix}${bare}`;
}

export const quoteIdentifier = (family: SqlFamily, name: string): string =>
  family === 'mariadb' ? `\`${name}\`` : `"${name}"`;

/**
 * `{name}` → the quoted prefixed table, `mdl_` → the prefix, and for PostgreSQL `?` → `$1, $2 …` (outside
 * quoted strings and identifiers).
 */
export function translateSql(sql: string, family: SqlFamily, prefix: string): string {
  let text = sql.replace(/\{([a-z0-9_]+)\}/g, (_m, name: string) => quoteIdentifier(family, `${prefix}${name}`));
  if (prefix !== 'mdl_') text = text.replace(/\bmdl_/g, prefix);
  if (family === 'mariadb') return text;
  let out = '';
  let n = 0;
  let quote: string | null = null;
  for (const c of text) {
    if (quote !== null) {
      if (c === quote) quote = null;
    } else if (c === "'" || c === '"') {
      quote = c;
    } else if (c === '?') {
      n += 1;
      out += `$${n}`;
      continue;
    }
    out += c;
  }
  return out;
}

/** A value in a form that JSON keeps exactly (Buffers as hex, bigints as text). */
function canonical(value: unknown): unknown {
  if (Buffer.isBuffer(value)) return `0x${value.toString('hex')}`;
  if (value instanceof Uint8Array) return `0x${Buffer.from(value).toString('hex')}`;
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof Date) return value.toISOString();
  return value;
}

/** sha256 of the rows as JSON, columns in the order given by the server. */
export function rowsDigest(rows: readonly Row[]): string {
  const hash = createHash('sha256');
  for (const row of rows) {
    hash.update(JSON.stringify(Object.entries(row).map(([k, v]) => [k, canonical(v)])));
    hash.update('\n');
  }
  return `${rows.length}:${hash.digest('hex').slice(0, 16)}`;
}

/** Checksum of each table (`user` or `mdl_user`), keyed as given: row count and digest of `SELECT * ORDER BY id`. */
export async function tableDigests(reader: SqlReader, tables: readonly string[]): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const table of tables) {
    const name = quoteIdentifier(reader.family, tableName(table, reader.prefix));
    out[table] = rowsDigest(await reader.query(`SELECT * FROM ${name} ORDER BY id`));
  }
  return out;
}

/** Every table of the target's schema (or database) whose name starts with its prefix. */
export async function prefixedTables(reader: SqlReader): Promise<string[]> {
  const like = `${reader.prefix.replaceAll('_', '\\_')}%`;
  const rows =
    reader.family === 'mariadb'
      ? await reader.query<{ name: string }>(
          'SELECT TABLE_NAME AS name FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME LIKE ?',
          [like],
        )
      : await reader.query<{ name: string }>(
          'SELECT tablename AS name FROM pg_catalog.pg_tables WHERE schemaname = current_schema() AND tablename LIKE ?',
          [like],
        );
  return rows.map((r) => r.name).filter((n) => n.startsWith(reader.prefix));
}

/** `INSERT INTO <table> (columns) VALUES (?, …)` for one row. */
export function insertSql(
  family: SqlFamily,
  prefix: string,
  table: string,
  row: Readonly<Record<string, SqlParam>>,
): { sql: string; params: SqlParam[] } {
  const columns = Object.keys(row);
  const name = quoteIdentifier(family, tableName(table, prefix));
  const sql = `INSERT INTO ${name} (${columns.join(', ')}) VALUES (${columns.map(() => '?').join(', ')})`;
  return { sql, params: Object.values(row) };
}
