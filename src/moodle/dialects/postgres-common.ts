/**
 * What PostgreSQL and the embedded PGlite share: `?` → `$n` placeholders, quoted prefixed table names,
 * 64-bit integers turned into exact JS numbers, the catalogue queries and the transient error codes.
 * Each concrete dialect only says how to run one statement and how to open a transaction.
 */
import { InternalError, UserError } from '../../errors.js';
import type {
  AdvisoryLockAttempt,
  ColumnInfo,
  ExecuteResult,
  MoodleDatabase,
  Queryable,
  Row,
  SqlValue,
  TableInfo,
} from '../database.js';
import { toColumnInfo } from './catalog.js';

export interface RawResult {
  readonly rows: Row[];
  readonly affectedRows: number;
}

/** Runs one statement with positional `$n` parameters. */
export type RawRunner = (text: string, values: readonly SqlValue[]) => Promise<RawResult>;

const TABLE_NAME = /^[a-z0-9_]+$/;

/** 40P01 deadlock, 55P03 lock_timeout, 40001 serialization failure: a new attempt may succeed. */
const TRANSIENT = new Set(['40P01', '55P03', '40001']);

export function isTransientPostgresError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && TRANSIENT.has(code);
}

/** PostgreSQL types an untyped CASE result as text: integers must say what they are. */
export const POSTGRES_INTEGER_PARAMETER = 'CAST(? AS BIGINT)';

/** 23505 unique_violation. */
export function isPostgresDuplicateKey(error: unknown): boolean {
  return (error as { code?: unknown } | null)?.code === '23505';
}

/**
 * PostgreSQL puts the values of a failed constraint in `detail` (`Key (mnethostid, username)=(1, jdupont)
 * already exists.`), not in the message as MariaDB does: add it, so that messages built on `error.message`
 * name the row.
 */
function withDetail(error: unknown): unknown {
  const detail = (error as { detail?: unknown } | null)?.detail;
  if (error instanceof Error && typeof detail === 'string' && detail !== '' && !error.message.includes(detail)) {
    error.message = `${error.message} (${detail})`;
  }
  return error;
}

/** `{user}` → `"mdl_user"`, `?` → `$1, $2 …` (outside quotes), with a placeholder count check. */
export function toPositional(sql: string, prefix: string, params: readonly SqlValue[]): string {
  let out = '';
  let n = 0;
  let quote: string | null = null;
  for (let i = 0; i < sql.length; i++) {
    const c = sql[i] as string;
    if (quote !== null) {
      out += c;
      if (c === quote) quote = null;
      continue;
    }
    if (c === "'" || c === '"') {
      quote = c;
      out += c;
    } else if (c === '?') {
      n += 1;
      out += `$${n}`;
    } else if (c === '{') {
      const end = sql.indexOf('}', i);
      const name = end < 0 ? '' : sql.slice(i + 1, end);
      if (!TABLE_NAME.test(name)) throw new InternalError(`invalid table name in SQL: ${sql}`);
      out += `"${prefix}${name}"`;
      i = end;
    } else {
      out += c;
    }
  }
  if (n !== params.length) throw new InternalError(`SQL has ${n} placeholders but ${params.length} values: ${sql}`);
  return out;
}

/** int8 columns arrive as strings (pg) or bigints: make them exact numbers, or refuse. */
export function toSafeNumber(column: string, value: unknown): unknown {
  if (typeof value === 'bigint' || (typeof value === 'string' && /^-?\d+$/.test(value))) {
    const n = Number(value);
    if (!Number.isSafeInteger(n)) {
      throw new UserError(
        'MOODLE_UNSUPPORTED',
        `column ${column} holds ${String(value)}, beyond the largest integer ldap2moodle handles exactly`,
      );
    }
    return n;
  }
  return value;
}

/** Builds the `Queryable` of one connection (or transaction) from its statement runner. */
export function queryable(run: RawRunner, prefix: string, count: () => void): Queryable {
  const runSql = async (sql: string, params: readonly SqlValue[]): Promise<RawResult> => {
    const text = toPositional(sql, prefix, params);
    try {
      return await run(text, params);
    } catch (error) {
      throw withDetail(error);
    }
  };
  return {
    async query<T extends Row = Row>(sql: string, params: readonly SqlValue[] = []): Promise<T[]> {
      count();
      return (await runSql(sql, params)).rows as T[];
    },
    async execute(sql: string, params: readonly SqlValue[] = []): Promise<ExecuteResult> {
      count();
      return { affectedRows: (await runSql(sql, params)).affectedRows };
    },
    isDuplicateKey: isPostgresDuplicateKey,
    integerParameter: POSTGRES_INTEGER_PARAMETER,
  };
}

export const SCHEMA_NAME = /^[a-z_][a-z0-9_]*$/;

export async function describePostgresTables(db: Queryable, names: readonly string[]): Promise<Map<string, TableInfo>> {
  if (names.length === 0) return new Map();
  const rows = await db.query<{ name: string }>(
    `SELECT c.relname AS name FROM pg_catalog.pg_class c
       JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p')
        AND c.relname IN (${names.map(() => '?').join(', ')})`,
    names,
  );
  return new Map(rows.map((r) => [r.name, { engine: 'postgres', transactional: true }]));
}

const PG_TYPES: Readonly<Record<string, string>> = { 'character varying': 'varchar', character: 'char' };

export async function describePostgresColumns(db: Queryable, table: string): Promise<ColumnInfo[]> {
  const rows = await db.query<{ name: string; type: string; length: number | null }>(
    `SELECT column_name AS name, data_type AS type, character_maximum_length AS length
       FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = ?
      ORDER BY ordinal_position`,
    [table],
  );
  return rows.map((r) => toColumnInfo(r.name, PG_TYPES[r.type] ?? r.type, r.length));
}

/**
 * What PostgreSQL and PGlite databases do the same way; a subclass says how statements run (`direct`, built
 * with `queryable`), how transactions open and how it closes.
 */
export abstract class PostgresFamilyDatabase implements MoodleDatabase {
  abstract readonly prefix: string;
  abstract readonly description: string;
  abstract readonly location: string;
  readonly integerParameter = POSTGRES_INTEGER_PARAMETER;
  protected readonly counter = { statements: 0 };
  protected abstract readonly direct: Queryable;

  abstract readonly lockScope: string;
  abstract transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>;
  abstract readOnlyQuery(sql: string, timeoutMs: number): Promise<Row[]>;
  abstract tryAdvisoryLock(name: string): Promise<AdvisoryLockAttempt>;
  abstract advisoryLockSession(name: string): Promise<number | null>;
  abstract lockSessionAdvice(name: string, session: number | null): string;
  abstract readonly exclusive: boolean;
  abstract close(): Promise<void>;

  get statementCount(): number {
    return this.counter.statements;
  }

  query<T extends Row = Row>(sql: string, params?: readonly SqlValue[]): Promise<T[]> {
    return this.direct.query<T>(sql, params);
  }

  execute(sql: string, params?: readonly SqlValue[]): Promise<ExecuteResult> {
    return this.direct.execute(sql, params);
  }

  isTransient(error: unknown): boolean {
    return isTransientPostgresError(error);
  }

  isDuplicateKey(error: unknown): boolean {
    return isPostgresDuplicateKey(error);
  }

  async statementBudget(): Promise<number> {
    // No packet limit as in MariaDB; keep statements moderate all the same.
    return 8 * 1024 * 1024;
  }

  describeTables(names: readonly string[]): Promise<Map<string, TableInfo>> {
    return describePostgresTables(this.direct, names);
  }

  describeColumns(table: string): Promise<ColumnInfo[]> {
    return describePostgresColumns(this.direct, table);
  }
}
