/**
 * A Moodle database that tells a run observer about every statement it runs: its kind, its first table, the
 * rows it returned or touched and its time (src/observe/events.ts). Values never leave: neither the
 * parameters nor the rows.
 */
import type { RunObserver } from '../observe/events.js';
import { NO_OBSERVER, sqlKind, sqlTable } from '../observe/events.js';
import type {
  AdvisoryLockAttempt,
  ColumnInfo,
  ExecuteResult,
  MoodleDatabase,
  Queryable,
  Row,
  SqlValue,
  TableInfo,
} from './database.js';

function observedQueryable<Q extends Queryable>(inner: Q, observer: RunObserver) {
  /** Runs one statement and tells the observer its kind, first table, rows and time. */
  const timed = async <R>(sql: string, run: () => Promise<R>, rowsOf: (result: R) => number): Promise<R> => {
    const started = performance.now();
    const result = await run();
    const ms = performance.now() - started;
    observer.emit({ type: 'sql', kind: sqlKind(sql), table: sqlTable(sql), rows: rowsOf(result), ms });
    return result;
  };
  return {
    query: <T extends Row = Row>(sql: string, params?: readonly SqlValue[]): Promise<T[]> =>
      timed(
        sql,
        () => inner.query<T>(sql, params),
        (rows) => rows.length,
      ),
    execute: (sql: string, params?: readonly SqlValue[]): Promise<ExecuteResult> =>
      timed(
        sql,
        () => inner.execute(sql, params),
        (result) => result.affectedRows,
      ),
    isDuplicateKey: (error: unknown) => inner.isDuplicateKey(error),
    integerParameter: inner.integerParameter,
  };
}

/** `db`, watched by `observer` (itself when nobody watches). */
export function observeDatabase(db: MoodleDatabase, observer: RunObserver): MoodleDatabase {
  if (observer === NO_OBSERVER) return db;
  return {
    ...observedQueryable(db, observer),
    prefix: db.prefix,
    description: db.description,
    location: db.location,
    lockScope: db.lockScope,
    exclusive: db.exclusive,
    get statementCount() {
      return db.statementCount;
    },
    transaction: <T>(fn: (tx: Queryable) => Promise<T>): Promise<T> =>
      db.transaction((tx) => fn(observedQueryable(tx, observer))),
    readOnlyQuery: (sql: string, timeoutMs: number) => db.readOnlyQuery(sql, timeoutMs),
    isTransient: (error: unknown) => db.isTransient(error),
    statementBudget: () => db.statementBudget(),
    describeTables: (names: readonly string[]): Promise<Map<string, TableInfo>> => db.describeTables(names),
    describeColumns: (table: string): Promise<ColumnInfo[]> => db.describeColumns(table),
    tryAdvisoryLock: (name: string): Promise<AdvisoryLockAttempt> => db.tryAdvisoryLock(name),
    advisoryLockSession: (name: string) => db.advisoryLockSession(name),
    lockSessionAdvice: (name: string, session: number | null) => db.lockSessionAdvice(name, session),
    close: () => db.close(),
  };
}
