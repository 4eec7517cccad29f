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
}

export interface MoodleDatabase extends Queryable {
  readonly dialect: 'mariadb' | 'mysql';
  /** Table prefix, e.g. `mdl_`. */
  readonly prefix: string;
  /** Human description for messages (`mariadb://root@127.0.0.1:3306/moodle`); never holds a password. */
  readonly description: string;
  /** Runs `fn` in one transaction: commit when it resolves, roll back when it throws. */
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>;
  /**
   * True for errors that a new attempt of the whole transaction may not meet again: deadlocks and lock-wait
   * timeouts caused by Moodle's own concurrent writes.
   */
  isTransient(error: unknown): boolean;
  /** Largest SQL text one statement may have, in bytes (MariaDB's max_allowed_packet, with a margin). */
  statementBudget(): Promise<number>;
  /** Statements sent so far on this database (for tests and benchmarks: no per-row round trips). */
  readonly statementCount: number;
  close(): Promise<void>;
}

/** Connection settings, secrets already resolved. */
export interface MoodleConnectionOptions {
  readonly driver: 'mariadb' | 'mysql';
  readonly host: string;
  readonly port: number;
  readonly database: string;
  readonly user: string;
  readonly password?: string;
  readonly prefix: string;
  /** Seconds to wait for a row lock before the statement fails (and the apply retries). */
  readonly lockTimeout?: number;
}
