/**
 * PostgreSQL behind `MoodleDatabase`, over node-postgres. Each pooled connection gets the Moodle schema as
 * its search_path (a Moodle may live in another schema than `public`), UTC, and a short lock timeout; int8
 * values (Moodle's ids) come back as exact JS numbers. A transaction runs on one dedicated client.
 */
import pg from 'pg';
import { InternalError } from '../../errors.js';
import type { MoodleConnectionOptions, Queryable, Row } from '../database.js';
import type { RawRunner } from './postgres-common.js';
import { PostgresFamilyDatabase, queryable, SCHEMA_NAME, toSafeNumber } from './postgres-common.js';

const INT8_OID = 20;
const POOL_SIZE = 4;

function runner(client: pg.Pool | pg.PoolClient): RawRunner {
  return async (text, values) => {
    const result = await client.query({ text, values: [...values] });
    return { rows: result.rows as Row[], affectedRows: result.rowCount ?? 0 };
  };
}

export class PostgresDatabase extends PostgresFamilyDatabase {
  readonly dialect = 'postgres' as const;
  readonly prefix: string;
  readonly description: string;
  readonly location: string;
  private readonly pool: pg.Pool;
  protected readonly direct: Queryable;
  /** Pooled clients given an 'error' listener (see transaction). */
  private readonly guarded = new WeakSet<pg.PoolClient>();

  constructor(options: MoodleConnectionOptions) {
    super();
    const schema = options.schema ?? 'public';
    if (!SCHEMA_NAME.test(schema)) throw new InternalError(`invalid schema name ${JSON.stringify(schema)}`);
    this.prefix = options.prefix;
    this.description = `postgres://${options.user}@${options.host}:${options.port}/${options.database}`;
    this.location = `database ${options.database}, schema ${schema}`;
    const lockTimeout = options.lockTimeout ?? 10;
    this.pool = new pg.Pool({
      host: options.host,
      port: options.port,
      user: options.user,
      password: options.password,
      database: options.database,
      max: POOL_SIZE,
      connectionTimeoutMillis: 10_000,
      // Session settings for every connection, sent at connect time (no extra round trip).
      options: `-c search_path=${schema} -c TimeZone=UTC -c lock_timeout=${lockTimeout * 1000}`,
      types: {
        getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
          oid === INT8_OID
            ? (value: string) => toSafeNumber('int8', value)
            : pg.types.getTypeParser(oid, format ?? 'text')) as typeof pg.types.getTypeParser,
      },
    });
    // An idle client's error (server restart) must not crash the process; the next query reports it.
    this.pool.on('error', () => undefined);
    this.direct = queryable('postgres', runner(this.pool), this.prefix, () => {
      this.counter.statements += 1;
    });
  }

  async ping(): Promise<void> {
    await this.pool.query('SELECT 1');
  }

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
    const inner = queryable('postgres', runner(client), this.prefix, () => {
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

  async close(): Promise<void> {
    await this.pool.end();
  }
}
