/**
 * The one door to a Moodle database. Dialect differences (quoting, placeholders, ids of inserted rows,
 * type coercions) live behind it, in `dialects/`; planning code never sees which server it talks to.
 *
 * SQL given to `query`/`execute` uses `?` placeholders and `{table}` for prefixed, quoted table names
 * (`SELECT id FROM {user} WHERE username = ?`), as Moodle's own DML layer does.
 */
export type SqlValue = string | number | bigint | null | boolean;
export type Row = Record<string, unknown>;

export interface ExecuteResult {
  readonly affectedRows: number;
}

export interface Queryable {
  /** Runs a SELECT and returns its rows; integer columns come back as JS numbers. */
  query<T extends Row = Row>(sql: string, params?: readonly SqlValue[]): Promise<T[]>;
  execute(sql: string, params?: readonly SqlValue[]): Promise<ExecuteResult>;
  /** True for a unique-key violation: a row written meanwhile (by Moodle) holds the key being inserted. */
  isDuplicateKey(error: unknown): boolean;
  /**
   * A placeholder for an integer where the server cannot infer the type (a CASE result): `?` on MariaDB,
   * `CAST(? AS BIGINT)` on PostgreSQL, which types untyped CASE results as text.
   */
  readonly integerParameter: string;
}

/** A table as the catalogue describes it. */
export interface TableInfo {
  /** Storage engine (MariaDB) or `postgres`. */
  readonly engine: string;
  /** Whether a transaction covers its rows (InnoDB, any PostgreSQL table; not MyISAM). */
  readonly transactional: boolean;
}

/** A column as the catalogue describes it. */
export interface ColumnInfo {
  readonly name: string;
  /** Normalised type name: `varchar`, `char`, `bigint`, `smallint`, `text`, … */
  readonly type: string;
  /** Maximum length in characters for char/varchar columns; null for every other type. */
  readonly maxLength: number | null;
}

/**
 * What `tryAdvisoryLock` found. `exclusive`: the database admits one process at a time already (the embedded
 * Moodle's directory lock), so there is nothing more to take. `unsupported`: the server refuses advisory locks
 * (Galera), the caller falls back to a lock row.
 */
export type AdvisoryLockAttempt =
  | {
      readonly status: 'acquired';
      /**
       * The lock's own session, for the short writes that record its holder: they run outside the apply's
       * connections and give up at once rather than wait on others' row locks (on MariaDB, inserting a row
       * waits on any lock held on the next one in the index: a holder record must never stall an apply).
       */
      readonly session: Queryable;
      readonly release: () => Promise<void>;
    }
  | { readonly status: 'busy' }
  | { readonly status: 'unsupported'; readonly reason: string }
  | { readonly status: 'exclusive' };

export interface MoodleDatabase extends Queryable {
  /** Table prefix, e.g. `mdl_`. */
  readonly prefix: string;
  /** Human description for messages (`mariadb://root@127.0.0.1:3306/moodle`); never holds a password. */
  readonly description: string;
  /** Runs `fn` in one transaction: commit when it resolves, roll back when it throws. */
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>;
  /**
   * Runs one query in a read-only transaction that is rolled back, with a statement timeout (`moodle-query`):
   * the server refuses any write (`setval`, a data-modifying CTE, an INSERT in a function) and stops a query
   * running longer than `timeoutMs`. Runs on a session of its own, ended afterwards, so that nothing the
   * query took (a GET_LOCK, a session variable) outlives it.
   */
  readOnlyQuery(sql: string, timeoutMs: number): Promise<Row[]>;
  /**
   * True for errors that a new attempt of the whole transaction may not meet again: deadlocks and lock-wait
   * timeouts caused by Moodle's own concurrent writes.
   */
  isTransient(error: unknown): boolean;
  /** Largest SQL text one statement may have, in bytes (MariaDB's max_allowed_packet, with a margin). */
  statementBudget(): Promise<number>;
  /** Catalogue: which of these tables (full names, prefix included) exist, and how they store rows. */
  describeTables(names: readonly string[]): Promise<Map<string, TableInfo>>;
  /** Catalogue: the columns of one table (full name), in order. */
  describeColumns(table: string): Promise<ColumnInfo[]>;
  /** Where the tables live, for messages: the database (MariaDB) or the database and schema (PostgreSQL). */
  readonly location: string;
  /**
   * What tells this Moodle apart from others on the same server (database, schema, prefix): advisory lock
   * names are built from it, so that two Moodles sharing a server do not block each other.
   */
  readonly lockScope: string;
  /**
   * Tries, without waiting, to take the advisory lock `name` on a dedicated session of its own (a pooled
   * connection could be handed to other work, or closed, while the lock must stay). The lock lasts until
   * `release`, or until that session ends (the process dies): the server then frees it.
   */
  tryAdvisoryLock(name: string): Promise<AdvisoryLockAttempt>;
  /** The server session holding the advisory lock `name` (MariaDB connection id, PostgreSQL pid), or null. */
  advisoryLockSession(name: string): Promise<number | null>;
  /**
   * How an administrator finds the server session that holds the advisory lock `name` (`session`, when known)
   * and ends it, in the server's own terms, for messages: "find it with …, and end it with …". No session can
   * release another's advisory lock, so ending the holder's session is the only way out of a hung apply.
   */
  lockSessionAdvice(name: string, session: number | null): string;
  /**
   * True when having the database open already keeps every other process out (the embedded Moodle's directory
   * lock): it has no advisory lock, and a killed process leaves nothing in it to unlock.
   */
  readonly exclusive: boolean;
  /** Statements sent so far on this database (for tests and benchmarks: no per-row round trips). */
  readonly statementCount: number;
  close(): Promise<void>;
}

/** Connection settings of a database server, secrets already resolved. */
export interface ServerConnectionOptions {
  readonly driver: 'mariadb' | 'mysql' | 'postgres';
  readonly host: string;
  readonly port: number;
  readonly database: string;
  readonly user: string;
  readonly password?: string;
  readonly prefix: string;
  /** PostgreSQL schema holding Moodle's tables (default `public`). */
  readonly schema?: string;
  /** Seconds to wait for a row lock before the statement fails (and the apply retries). */
  readonly lockTimeout?: number;
}

/** `path` of an embedded Moodle that lives in memory only (nothing kept after `close`). */
export const MEMORY = ':memory:';

/** The embedded Moodle (PGlite, in-process). */
export interface EmbeddedConnectionOptions {
  readonly driver: 'embedded';
  /** Its directory, already resolved against the spec's (created on first use), or `MEMORY`. */
  readonly path: string;
  readonly prefix: string;
}

/** What `openMoodle` opens: a server's database, or the embedded Moodle. */
export type MoodleConnectionOptions = ServerConnectionOptions | EmbeddedConnectionOptions;
