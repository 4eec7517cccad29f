/**
 * MariaDB/MySQL behind `MoodleDatabase`, over mysql2's promise pool.
 *
 * Every pooled connection gets the same session before its first statement: utf8mb4 with Moodle's
 * collation, UTC, and strict SQL mode so that a value too long for its column is an error instead of a
 * silent truncation. Statements go through the text protocol with client-side escaping (mysql2 `query`
 * with values), which is why NO_BACKSLASH_ESCAPES is taken out of the server's SQL mode. `affectedRows` of
 * an UPDATE counts matched rows (mysql2 connects with FOUND_ROWS), as PostgreSQL does.
 */

import { createHash } from 'node:crypto';
import type { EventEmitter } from 'node:events';
import type { Connection, ConnectionOptions, FieldPacket, Pool, PoolConnection, ResultSetHeader } from 'mysql2/promise';
import mysql from 'mysql2/promise';
import { InternalError, UserError } from '../../errors.js';
import type {
  AdvisoryLockAttempt,
  ColumnInfo,
  ExecuteResult,
  MoodleDatabase,
  Queryable,
  Row,
  ServerConnectionOptions,
  SqlValue,
  TableInfo,
} from '../database.js';
import { toColumnInfo } from './catalog.js';

const TABLE_NAME = /^[a-z0-9_]+$/;
export const PREFIX_PATTERN = /^[a-z0-9_]*$/;
/** mysql2's column type code for BIGINT. */
const LONGLONG = 8;
const POOL_SIZE = 4;
/** GET_LOCK names longer than this are refused by the server. */
const LOCK_NAME_MAX = 64;

/**
 * The server-side name of an advisory lock: GET_LOCK names are server-wide (not per database), so `name`
 * carries the database and prefix; one too long for the server is replaced by a digest of it.
 */
export function mysqlLockName(name: string): string {
  if (name.length <= LOCK_NAME_MAX) return name;
  const digest = createHash('sha256').update(name).digest('hex');
  return `ldap2moodle:${digest.slice(0, LOCK_NAME_MAX - 'ldap2moodle:'.length)}`;
}

/** 1235 ER_NOT_SUPPORTED_YET: what Galera answers to GET_LOCK (with wsrep_on). */
function isGaleraRefusal(error: unknown): boolean {
  const errno = (error as { errno?: unknown } | null)?.errno;
  return errno === 1235 || /wsrep|galera|cluster/i.test(error instanceof Error ? error.message : '');
}

export class MysqlDatabase implements MoodleDatabase {
  /** MySQL and MariaDB differ in the few settings noted where they are made. */
  private readonly flavour: 'mariadb' | 'mysql';
  readonly prefix: string;
  readonly description: string;
  readonly location: string;
  private readonly pool: Pool;
  /** Core connections whose session has been set up (keyed by mysql2's underlying connection object). */
  private readonly prepared = new WeakSet<object>();
  private readonly counter = { statements: 0 };
  private budget: number | undefined;
  private readonly lockTimeout: number;
  readonly lockScope: string;
  /** Settings of every connection, the pool's and the dedicated lock sessions'. */
  private readonly connectionOptions: ConnectionOptions;

  constructor(options: ServerConnectionOptions) {
    if (!PREFIX_PATTERN.test(options.prefix)) {
      throw new InternalError(`table prefix ${JSON.stringify(options.prefix)} must match [a-z0-9_]*`);
    }
    this.flavour = options.driver === 'mysql' ? 'mysql' : 'mariadb';
    this.prefix = options.prefix;
    this.lockTimeout = options.lockTimeout ?? 10;
    this.description = `${options.driver}://${options.user}@${options.host}:${options.port}/${options.database}`;
    this.location = `database ${options.database}`;
    this.lockScope = `${options.database}/${options.prefix}`;
    this.connectionOptions = {
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
      connectTimeout: 10_000,
      multipleStatements: false,
    };
    this.pool = mysql.createPool({ ...this.connectionOptions, connectionLimit: POOL_SIZE, maxIdle: POOL_SIZE });
  }

  async tryAdvisoryLock(name: string): Promise<AdvisoryLockAttempt> {
    // A connection of its own: GET_LOCK belongs to the session, and a pooled one would go back to the pool.
    const conn: Connection = await mysql.createConnection(this.connectionOptions);
    // A session the server ends (KILL) is reported as an 'error' event too: it must not crash the process.
    (conn as unknown as EventEmitter).on('error', () => undefined);
    const lockName = mysqlLockName(name);
    try {
      const [vars] = await conn.query("SHOW VARIABLES LIKE 'wsrep_on'");
      const wsrep = Array.isArray(vars) ? (vars[0] as { Value?: unknown } | undefined) : undefined;
      if (String(wsrep?.Value ?? '').toUpperCase() === 'ON') {
        conn.destroy();
        return { status: 'unsupported', reason: 'Galera cluster (wsrep_on = ON): GET_LOCK is not replicated' };
      }
      const [rows] = await conn.query('SELECT GET_LOCK(?, 0) AS got', [lockName]);
      const got = Array.isArray(rows) ? (rows[0] as { got?: unknown } | undefined)?.got : undefined;
      if (Number(got) !== 1) {
        conn.destroy();
        return { status: 'busy' };
      }
      // The holder record's writes must not wait on anyone's row locks (0 = no wait; MySQL's minimum is 1 s).
      await conn.query('SET SESSION innodb_lock_wait_timeout = ?', [this.flavour === 'mysql' ? 1 : 0]);
    } catch (error) {
      conn.destroy();
      if (isGaleraRefusal(error)) return { status: 'unsupported', reason: (error as Error).message };
      throw error;
    }
    let released = false;
    const session: Queryable = {
      query: async <R extends Row = Row>(sql: string, params: readonly SqlValue[] = []) => {
        this.counter.statements += 1;
        return runQuery<R>(conn, this.prefix, sql, params);
      },
      execute: async (sql: string, params: readonly SqlValue[] = []) => {
        this.counter.statements += 1;
        return runExecute(conn, this.prefix, sql, params);
      },
      isDuplicateKey: isMysqlDuplicateKey,
      integerParameter: '?',
    };
    return {
      status: 'acquired',
      session,
      release: async () => {
        if (released) return;
        released = true;
        try {
          await conn.query('SELECT RELEASE_LOCK(?) AS released', [lockName]);
          await conn.end();
        } catch {
          // Ending the session frees its locks all the same.
          conn.destroy();
        }
      },
    };
  }

  async advisoryLockSession(name: string): Promise<number | null> {
    const [row] = await this.query<{ holder: number | null }>('SELECT IS_USED_LOCK(?) AS holder', [
      mysqlLockName(name),
    ]);
    return row?.holder === null || row?.holder === undefined ? null : Number(row.holder);
  }

  lockSessionAdvice(name: string, session: number | null): string {
    return (
      `find it with \`SELECT IS_USED_LOCK('${mysqlLockName(name)}')\` (the connection id) and ` +
      `\`SHOW PROCESSLIST\`, and end it with \`KILL ${session ?? 'ID'}\``
    );
  }

  readonly exclusive = false;

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

  async readOnlyQuery(sql: string, timeoutMs: number): Promise<Row[]> {
    const conn = await this.acquire();
    try {
      // MariaDB's max_statement_time is in seconds and covers every statement; MySQL's max_execution_time, in
      // milliseconds, covers SELECT (the only statement a read-only transaction lets through anyway).
      if (this.flavour === 'mysql') await conn.query('SET SESSION max_execution_time = ?', [timeoutMs]);
      else await conn.query('SET SESSION max_statement_time = ?', [timeoutMs / 1000]);
      await conn.query('START TRANSACTION READ ONLY');
      this.counter.statements += 1;
      return await runQuery(conn, this.prefix, sql, []);
    } finally {
      // Locks a query took (GET_LOCK) are released now: the server ends a closed session only eventually.
      await conn.query('ROLLBACK').catch(() => undefined);
      await conn.query('SELECT RELEASE_ALL_LOCKS()').catch(() => undefined);
      // Never back to the pool: the session ends, and with it anything else the query set.
      conn.destroy();
    }
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
  conn: Connection,
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
  conn: Connection,
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
