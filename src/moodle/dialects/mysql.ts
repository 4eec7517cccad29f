/**
 * MariaDB/MySQL behind `MoodleDatabase`, over mysql2's promise pool.
 *
 * Every pooled connection gets the same session before its first statement: utf8mb4 with Moodle's
 * collation, UTC, and strict SQL mode so that a value too long for its column is an error instead of a
 * silent truncation. Statements go through the text protocol with client-side escaping (mysql2 `query`
 * with values), which is why NO_BACKSLASH_ESCAPES is taken out of the server's SQL mode. `affectedRows` of
 * an UPDATE counts matched rows (mysql2 connects with FOUND_ROWS), as PostgreSQL does.
 */

import type { FieldPacket, Pool, PoolConnection, ResultSetHeader } from 'mysql2/promise';
import mysql from 'mysql2/promise';
import { InternalError, UserError } from '../../errors.js';
import type {
  ColumnInfo,
  ExecuteResult,
  MoodleConnectionOptions,
  MoodleDatabase,
  Queryable,
  Row,
  SqlValue,
  TableInfo,
} from '../database.js';
import { toColumnInfo } from './catalog.js';

const TABLE_NAME = /^[a-z0-9_]+$/;
export const PREFIX_PATTERN = /^[a-z0-9_]*$/;
/** mysql2's column type code for BIGINT. */
const LONGLONG = 8;
const POOL_SIZE = 4;

export class MysqlDatabase implements MoodleDatabase {
  readonly dialect: 'mariadb' | 'mysql';
  readonly prefix: string;
  readonly description: string;
  readonly location: string;
  private readonly pool: Pool;
  /** Core connections whose session has been set up (keyed by mysql2's underlying connection object). */
  private readonly prepared = new WeakSet<object>();
  private readonly counter = { statements: 0 };
  private budget: number | undefined;
  private readonly lockTimeout: number;

  constructor(options: MoodleConnectionOptions) {
    if (!PREFIX_PATTERN.test(options.prefix)) {
      throw new InternalError(`table prefix ${JSON.stringify(options.prefix)} must match [a-z0-9_]*`);
    }
    this.dialect = options.driver === 'mysql' ? 'mysql' : 'mariadb';
    this.prefix = options.prefix;
    this.lockTimeout = options.lockTimeout ?? 10;
    this.description = `${options.driver}://${options.user}@${options.host}:${options.port}/${options.database}`;
    this.location = `database ${options.database}`;
    this.pool = mysql.createPool({
      host: options.host,
      port: options.port,
      user: options.user,
      password: options.password ?? '',
      database: options.database,
      charset: 'UTF8MB4_UNICODE_CI',
      // BIGINT ids as JS numbers when safe; unsafe ones come back as strings and are refused below.
      supportBigNumbers: true,
      bigNumberStrings: false,
      dateStrings: true,
      timezone: 'Z',
      connectionLimit: POOL_SIZE,
      maxIdle: POOL_SIZE,
      connectTimeout: 10_000,
      multipleStatements: false,
    });
  }

  /** Opens (and prepares) one connection now, so that connection errors surface at open time. */
  async ping(): Promise<void> {
    const conn = await this.acquire();
    conn.release();
  }

  get statementCount(): number {
    return this.counter.statements;
  }

  query<T extends Row = Row>(sql: string, params: readonly SqlValue[] = []): Promise<T[]> {
    this.counter.statements += 1;
    return this.withConnection((conn) => runQuery<T>(conn, this.prefix, sql, params));
  }

  execute(sql: string, params: readonly SqlValue[] = []): Promise<ExecuteResult> {
    this.counter.statements += 1;
    return this.withConnection((conn) => runExecute(conn, this.prefix, sql, params));
  }

  readonly integerParameter = '?';

  isDuplicateKey(error: unknown): boolean {
    return isMysqlDuplicateKey(error);
  }

  isTransient(error: unknown): boolean {
    const errno = (error as { errno?: unknown } | null)?.errno;
    // 1213 ER_LOCK_DEADLOCK, 1205 ER_LOCK_WAIT_TIMEOUT: InnoDB rolled the statement (or transaction) back.
    return errno === 1213 || errno === 1205;
  }

  async describeTables(names: readonly string[]): Promise<Map<string, TableInfo>> {
    if (names.length === 0) return new Map();
    const rows = await this.query<{ name: string; engine: string | null }>(
      `SELECT TABLE_NAME AS name, ENGINE AS engine FROM information_schema.TABLES
        WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME IN (${names.map(() => '?').join(', ')})`,
      names,
    );
    // information_schema compares names case-insensitively here: keep exact matches only.
    return new Map(
      rows
        .filter((r) => names.includes(r.name))
        .map((r) => [
          r.name,
          { engine: r.engine ?? 'none', transactional: (r.engine ?? '').toLowerCase() === 'innodb' },
        ]),
    );
  }

  async describeColumns(table: string): Promise<ColumnInfo[]> {
    const rows = await this.query<{ name: string; type: string; length: number | null }>(
      `SELECT COLUMN_NAME AS name, DATA_TYPE AS type, CHARACTER_MAXIMUM_LENGTH AS length
         FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?
        ORDER BY ORDINAL_POSITION`,
      [table],
    );
    return rows.map((r) => toColumnInfo(r.name, r.type.toLowerCase(), r.length));
  }

  async statementBudget(): Promise<number> {
    if (this.budget === undefined) {
      const [row] = await this.query<{ packet: number }>('SELECT @@max_allowed_packet AS packet');
      // Half the packet: escaping can double a value's bytes, and the server needs room for the rest.
      this.budget = Math.max(64 * 1024, Math.floor(Number(row?.packet ?? 1_048_576) / 2));
    }
    return this.budget;
  }

  async transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    const conn = await this.acquire();
    let open = true;
    const guard = (): void => {
      if (!open) throw new InternalError('a statement was run on a transaction that has already ended');
    };
    const tx: Queryable = {
      dialect: this.dialect,
      query: async <R extends Row = Row>(sql: string, params: readonly SqlValue[] = []) => {
        guard();
        this.counter.statements += 1;
        return runQuery<R>(conn, this.prefix, sql, params);
      },
      execute: async (sql: string, params: readonly SqlValue[] = []) => {
        guard();
        this.counter.statements += 1;
        return runExecute(conn, this.prefix, sql, params);
      },
      isDuplicateKey: isMysqlDuplicateKey,
      integerParameter: '?',
    };
    let result: T;
    try {
      await conn.query('START TRANSACTION');
      result = await fn(tx);
      await conn.query('COMMIT');
    } catch (error) {
      open = false;
      try {
        await conn.query('ROLLBACK');
        conn.release();
      } catch {
        // The connection's state is unknown: never hand it back to the pool.
        conn.destroy();
      }
      throw error;
    }
    open = false;
    conn.release();
    return result;
  }

  async close(): Promise<void> {
    await this.pool.end();
  }

  private async withConnection<T>(fn: (conn: PoolConnection) => Promise<T>): Promise<T> {
    const conn = await this.acquire();
    try {
      return await fn(conn);
    } finally {
      conn.release();
    }
  }

  private async acquire(): Promise<PoolConnection> {
    const conn = await this.pool.getConnection();
    if (this.prepared.has(conn.connection)) return conn;
    try {
      await prepareSession(conn, this.lockTimeout);
    } catch (error) {
      conn.destroy();
      throw error;
    }
    this.prepared.add(conn.connection);
    return conn;
  }
}

/** 1062 ER_DUP_ENTRY. */
function isMysqlDuplicateKey(error: unknown): boolean {
  return (error as { errno?: unknown } | null)?.errno === 1062;
}

async function prepareSession(conn: PoolConnection, lockTimeout: number): Promise<void> {
  await conn.query("SET NAMES utf8mb4 COLLATE utf8mb4_unicode_ci, time_zone = '+00:00'");
  const [rows] = await conn.query('SELECT @@GLOBAL.sql_mode AS mode');
  const first = Array.isArray(rows) ? (rows[0] as { mode?: unknown } | undefined) : undefined;
  const serverModes = typeof first?.mode === 'string' ? first.mode.split(',') : [];
  const modes = serverModes.filter((m) => m !== '' && m !== 'NO_BACKSLASH_ESCAPES');
  if (!modes.includes('STRICT_ALL_TABLES')) modes.push('STRICT_ALL_TABLES');
  await conn.query('SET SESSION sql_mode = ?', [modes.join(',')]);
  // Moodle writes concurrently: wait briefly for its row locks, then fail the statement so the apply retries.
  await conn.query('SET SESSION innodb_lock_wait_timeout = ?', [lockTimeout]);
}

async function runQuery<T extends Row>(
  conn: PoolConnection,
  prefix: string,
  sql: string,
  params: readonly SqlValue[],
): Promise<T[]> {
  const [rows, fields] = await conn.query({ sql: prepareSql(sql, prefix, params), values: [...params] });
  if (!Array.isArray(rows) || !Array.isArray(fields)) {
    throw new InternalError(`query() was given a statement that returns no rows: ${sql}`);
  }
  refuseUnsafeIntegers(rows as Row[], fields as FieldPacket[]);
  return rows as T[];
}

async function runExecute(
  conn: PoolConnection,
  prefix: string,
  sql: string,
  params: readonly SqlValue[],
): Promise<ExecuteResult> {
  const [result] = await conn.query<ResultSetHeader>({
    sql: prepareSql(sql, prefix, params),
    values: [...params],
  });
  if (Array.isArray(result)) {
    throw new InternalError(`execute() was given a statement that returns rows: ${sql}`);
  }
  return { affectedRows: result.affectedRows };
}

/** Expands `{name}` into the quoted, prefixed table name and checks the placeholder count. */
export function prepareSql(sql: string, prefix: string, params: readonly SqlValue[]): string {
  const expanded = sql.replace(/\{([^{}]*)\}/g, (_match, name: string) => {
    if (!TABLE_NAME.test(name)) throw new InternalError(`invalid table name {${name}} in SQL: ${sql}`);
    return `\`${prefix}${name}\``;
  });
  const placeholders = countPlaceholders(expanded);
  if (placeholders !== params.length) {
    throw new InternalError(`SQL has ${placeholders} placeholders but ${params.length} values: ${sql}`);
  }
  return expanded;
}

/** Counts `?` outside quoted strings and identifiers. */
function countPlaceholders(sql: string): number {
  let count = 0;
  let quote: string | null = null;
  for (let i = 0; i < sql.length; i++) {
    const c = sql[i];
    if (quote !== null) {
      if (c === '\\' && quote !== '`') i++;
      else if (c === quote) quote = null;
    } else if (c === "'" || c === '"' || c === '`') {
      quote = c;
    } else if (c === '?') {
      count++;
    }
  }
  return count;
}

/** With supportBigNumbers, mysql2 returns a BIGINT beyond 2^53 as a string: refuse it rather than round it. */
function refuseUnsafeIntegers(rows: readonly Row[], fields: readonly FieldPacket[]): void {
  const bigintColumns = fields.filter((f) => (f.columnType ?? f.type) === LONGLONG).map((f) => f.name);
  if (bigintColumns.length === 0) return;
  for (const row of rows) {
    for (const column of bigintColumns) {
      const value = row[column];
      if (typeof value === 'string') {
        throw new UserError(
          'MOODLE_UNSUPPORTED',
          `column ${column} holds ${value}, beyond the largest integer ldap2moodle handles exactly ` +
            `(${Number.MAX_SAFE_INTEGER}); such ids are not supported.`,
        );
      }
    }
  }
}
