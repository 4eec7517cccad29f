/**
 * Lock waits on the server targets, seen from the server: which session of the test database waits for a
 * row lock, and ending that session as an administrator would (MariaDB `KILL`, PostgreSQL
 * `pg_terminate_backend`). The embedded Moodle has a single in-process connection: nothing there can wait.
 */
import type { Target } from './targets.js';

export interface LockWait {
  /** MariaDB thread id or PostgreSQL backend pid. */
  readonly id: number;
  readonly waitedMs: number;
}

/**
 * Waits until a session of the target's database has been waiting on a statement matching `like` (a LIKE
 * pattern): on MariaDB, running it for over 200 ms (on these tiny tables, only a lock wait takes that long;
 * INNODB_TRX does not list a wait on the implicit lock of an uncommitted insert); on PostgreSQL, waiting on
 * a lock (`wait_event_type = 'Lock'`).
 */
export async function lockWaiter(t: Target, like: string, timeoutMs = 15_000): Promise<LockWait> {
  if (t.name === 'embedded') throw new Error('the embedded Moodle has no concurrent sessions');
  const sql =
    t.family === 'mariadb'
      ? `SELECT ID AS id, TIME_MS AS waitedMs FROM information_schema.PROCESSLIST
          WHERE DB = DATABASE() AND COMMAND = 'Query' AND INFO LIKE ? AND TIME_MS > 200 AND ID <> CONNECTION_ID()`
      : `SELECT pid AS id, (extract(epoch FROM clock_timestamp() - query_start) * 1000)::int AS "waitedMs"
           FROM pg_catalog.pg_stat_activity
          WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE ? AND pid <> pg_backend_pid()`;
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const [row] = await t.query<{ id: number; waitedMs: number }>(sql, [like]);
    if (row !== undefined) return { id: Number(row.id), waitedMs: Number(row.waitedMs) };
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`no session of ${t.label} waited on ${like} within ${timeoutMs} ms`);
}

/** Ends a session of the target's server, as a database administrator (or a restart) would. */
export async function killSession(t: Target, id: number): Promise<void> {
  if (!Number.isSafeInteger(id)) throw new Error(`bad session id ${id}`);
  if (t.family === 'mariadb') await t.execute(`KILL ${id}`);
  else await t.query('SELECT pg_terminate_backend(?) AS ok', [id]);
}
