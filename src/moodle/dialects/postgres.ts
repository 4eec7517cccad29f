/**
 * PostgreSQL behind `MoodleDatabase`, over node-postgres. Each pooled connection gets the Moodle schema as
 * its search_path (a Moodle may live in another schema than `public`), UTC, and a short lock timeout; int8
 * values (Moodle's ids) come back as exact JS numbers. A transaction runs on one dedicated client.
 */
import { createHash } from 'node:crypto';
import pg from 'pg';
import { InternalError } from '../../errors.js';
import type { AdvisoryLockAttempt, Queryable, Row, ServerConnectionOptions } from '../database.js';
import type { RawRunner } from './postgres-common.js';
import { PostgresFamilyDatabase, queryable, SCHEMA_NAME, toSafeNumber } from './postgres-common.js';

const INT8_OID = 20;
const POOL_SIZE = 4;

/** The 64-bit key of an advisory lock named `name`: the first 8 bytes of its SHA-256, as a signed bigint. */
export function postgresLockKey(name: string): bigint {
  return createHash('sha256').update(name).digest().readBigInt64BE(0);
}

function runner(client: pg.Pool | pg.ClientBase): RawRunner {
  return async (text, values) => {
    const result = await client.query({ text, values: [...values] });
    return { rows: result.rows as Row[], affectedRows: result.rowCount ?? 0 };
  };
}

export class PostgresDatabase extends PostgresFamilyDatabase {
  readonly prefix: string;
  readonly description: string;
  readonly location: string;
  private readonly pool: pg.Pool;
  protected readonly direct: Queryable;
  /** Pooled clients given an 'error' listener (see transaction). */
  private readonly guarded = new WeakSet<pg.PoolClient>();
  readonly lockScope: string;
  /** Settings of every connection, the pool's and the dedicated lock sessions'. */
  private readonly clientConfig: pg.ClientConfig;

  constructor(options: ServerConnectionOptions) {
    super();
    const schema = options.schema ?? 'public';
    if (!SCHEMA_NAME.test(schema)) throw new InternalError(`invalid schema name ${JSON.stringify(schema)}`);
    this.prefix = options.prefix;
    this.description = `postgres://${options.user}@${options.host}:${options.port}/${options.database}`;
    this.location = `database ${options.database}, schema ${schema}`;
    this.lockScope = `${options.database}/${schema}/${options.prefix}`;
    const lockTimeout = options.lockTimeout ?? 10;
    this.clientConfig = {
      host: options.host,
      port: options.port,
      user: options.user,
      password: options.password,
      database: options.database,
      connectionTimeoutMillis: 10_000,
      // Session settings for every connection, sent at connect time (no extra round trip).
      options: `-c search_path=${schema} -c TimeZone=UTC -c lock_timeout=${lockTimeout * 1000}`,
      types: {
        getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
          oid === INT8_OID
            ? (value: string) => toSafeNumber('int8', value)
            : pg.types.getTypeParser(oid, format ?? 'text')) as typeof pg.types.getTypeParser,
      },
    };
    this.pool = new pg.Pool({ ...this.clientConfig, max: POOL_SIZE });
    // An idle client's error (server restart) must not crash the process; the next query reports it.
    this.pool.on('error', () => undefined);
    this.direct = queryable(runner(this.pool), this.prefix, () => {
      this.counter.statements += 1;
    });
  }

  async ping(): Promise<void> {
    await this.pool.query('SELECT 1');
  }

  async tryAdvisoryLock(name: string): Promise<AdvisoryLockAttempt> {
    // A session of its own: the lock belongs to it, and a pooled client would be reused (or ended) meanwhile.
    const client = new pg.Client(this.clientConfig);
    // A session the server ends (pg_terminate_backend) is reported as an 'error' event: not a crash.
    client.on('error', () => undefined);
    const key = String(postgresLockKey(name));
    try {
      await client.connect();
      const result = await client.query<{ got: boolean }>('SELECT pg_try_advisory_lock($1::bigint) AS got', [key]);
      if (result.rows[0]?.got !== true) {
        await client.end();
        return { status: 'busy' };
      }
      // The holder record's writes give up rather than wait on anyone's row locks.
      await client.query("SET lock_timeout = '100ms'");
    } catch (error) {
      await client.end().catch(() => undefined);
      throw error;
    }
    let released = false;
    const session = queryable(runner(client), this.prefix, () => {
      this.counter.statements += 1;
    });
    return {
      status: 'acquired',
      session,
      release: async () => {
        if (released) return;
        released = true;
        try {
          await client.query('SELECT pg_advisory_unlock($1::bigint)', [key]);
        } finally {
          // Ending the session frees its locks even when the unlock failed.
          await client.end().catch(() => undefined);
        }
      },
    };
  }

  async advisoryLockSession(name: string): Promise<number | null> {
    // pg_locks shows a bigint advisory key as its high and low 32 bits (classid, objid), objsubid 1.
    const key = BigInt.asUintN(64, postgresLockKey(name));
    const rows = await this.query<{ pid: number }>(
      `SELECT pid FROM pg_catalog.pg_locks
        WHERE locktype = 'advisory' AND granted AND objsubid = 1
          AND database = (SELECT oid FROM pg_catalog.pg_database WHERE datname = current_database())
          AND CAST(classid AS bigint) = CAST(? AS bigint) AND CAST(objid AS bigint) = CAST(? AS bigint)`,
      [String(key >> 32n), String(key & 0xffffffffn)],
    );
    return rows[0] === undefined ? null : Number(rows[0].pid);
  }

  lockSessionAdvice(_name: string, session: number | null): string {
    const pid = session ?? 'PID';
    return (
      `find it with \`SELECT pid, application_name, client_addr, backend_start FROM pg_stat_activity WHERE pid = ${pid}\` ` +
      `(pg_locks lists it as an advisory lock), and end it with \`SELECT pg_terminate_backend(${pid})\``
    );
  }

  readonly exclusive = false;

  async transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    if (!this.guarded.has(client)) {
      // A session the server ends (restart, pg_terminate_backend) is reported twice: to the statement running,
      // which fails the transaction, and as an 'error' event on the client, which pg-pool leaves unhandled while
      // the client is checked out: an uncaught exception that would kill the process mid-apply.
      client.on('error', () => undefined);
      this.guarded.add(client);
    }
    let open = true;
    const inner = queryable(runner(client), this.prefix, () => {
      if (!open) throw new InternalError('a statement was run on a transaction that has already ended');
      this.counter.statements += 1;
    });
    try {
      await client.query('BEGIN');
      const result = await fn(inner);
      await client.query('COMMIT');
      open = false;
      client.release();
      return result;
    } catch (error) {
      open = false;
      try {
        await client.query('ROLLBACK');
        client.release();
      } catch {
        client.release(true); // state unknown: destroy rather than reuse
      }
      throw error;
    }
  }

  async readOnlyQuery(sql: string, timeoutMs: number): Promise<Row[]> {
    const client = await this.pool.connect();
    client.on('error', () => undefined);
    const inner = queryable(runner(client), this.prefix, () => {
      this.counter.statements += 1;
    });
    try {
      await client.query('BEGIN READ ONLY');
      await client.query(`SET LOCAL statement_timeout = ${Math.max(1, Math.floor(timeoutMs))}`);
      return await inner.query(sql);
    } finally {
      // Never back to the pool: the session ends, and with it any advisory lock the query took.
      client.release(true);
    }
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}
