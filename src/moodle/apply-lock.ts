/**
 * One apply at a time per Moodle, whatever machine or state file it runs from: an advisory lock on the
 * database server, taken before planning and released at the end (on error too), next to the state file's
 * lock (which only serialises applies sharing a state file).
 *
 * - MariaDB/MySQL: `GET_LOCK(name, 0)` on a dedicated connection; PostgreSQL: `pg_try_advisory_lock(key)` on a
 *   dedicated client. The server frees the lock when that session ends, so a killed apply never leaves it
 *   behind. Who holds it is recorded for other processes in a `config_plugins` row (plugin local_ldap2moodle,
 *   name `lock_holder`), written in its own committed transaction once the lock is held and deleted at the
 *   end; a row left by a killed apply is overwritten by the next one (the advisory lock is the truth).
 * - Galera refuses GET_LOCK (it is not replicated): there the lock IS a row, `config_plugins` name `lock`,
 *   inserted in its own committed transaction (the unique key on plugin+name makes the insert the test-and-set)
 *   and deleted at the end. A row left by a killed apply stays: it is taken over, with a notice naming it, when
 *   its process is gone from this host or it is older than `lock.staleAfter`, and otherwise removed by
 *   `ldap2moodle force-unlock LOCK_ID`. An apply on a plain server honours such a row too.
 * - Embedded (PGlite): the directory lock taken when it opens already keeps every other process out.
 *
 * A second apply waits up to the policy's timeout (`--lock-timeout`; none by default), then fails with
 * MOODLE_LOCKED naming the holder (lock id, host, pid, start time, tool version). An advisory lock held by a
 * live session is never taken over, however old its holder: the server holds it; only waiting applies.
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { UserError } from '../errors.js';
import type { LockAttempt, LockPolicy } from '../lock-wait.js';
import { NO_WAIT, noticeTakeover, staleReason, waitedClause, waitForLock } from '../lock-wait.js';
import type { LoadedSpec } from '../spec/load.js';
import { TOOL_VERSION } from '../version.js';
import type { MoodleDatabase, Queryable } from './database.js';
import { MARKER_PLUGIN } from './marker.js';

/** `config_plugins` name of the Galera lock row. */
export const LOCK_ROW = 'lock';
/** `config_plugins` name of the record of who holds the advisory lock. */
export const HOLDER_ROW = 'lock_holder';

export interface ApplyLockHolder {
  /** Random id of this hold: what `force-unlock` is given. */
  readonly id: string;
  readonly pid: number;
  readonly host: string;
  /** ISO time the lock was taken. */
  readonly started: string;
  readonly tool_version: string;
  /** `advisory`: a server lock (the row only records it); `row`: the row is the lock (Galera). */
  readonly mode: 'advisory' | 'row';
}

export interface HeldApplyLock {
  /** Null on the embedded Moodle (its directory lock is the lock). */
  readonly holder: ApplyLockHolder | null;
  release(): Promise<void>;
}

/** The logical advisory lock name of a Moodle (the dialect turns it into a GET_LOCK name or a 64-bit key). */
export function applyLockName(db: Pick<MoodleDatabase, 'lockScope'>): string {
  return `ldap2moodle:${db.lockScope}`;
}

function parseHolder(value: string): ApplyLockHolder | null {
  try {
    const data = JSON.parse(value) as Partial<ApplyLockHolder>;
    if (typeof data.id === 'string' && typeof data.pid === 'number' && typeof data.host === 'string') {
      return data as ApplyLockHolder;
    }
  } catch {
    // not ours, or damaged: shown raw by the callers
  }
  return null;
}

export interface LockRows {
  /** The Galera lock row, if any: its raw value and the holder it names. */
  readonly lock: { readonly value: string; readonly holder: ApplyLockHolder | null } | null;
  /** The recorded holder of the advisory lock, if any (possibly stale: left by a killed apply). */
  readonly recorded: { readonly value: string; readonly holder: ApplyLockHolder | null } | null;
}

/** Reads the lock rows of `config_plugins` (a plain read: never waits on anyone's locks). */
export async function readLockRows(db: MoodleDatabase): Promise<LockRows> {
  const rows = await db.query<{ name: string; value: string }>(
    'SELECT name, value FROM {config_plugins} WHERE plugin = ? AND name IN (?, ?)',
    [MARKER_PLUGIN, LOCK_ROW, HOLDER_ROW],
  );
  const of = (name: string) => {
    const row = rows.find((r) => r.name === name);
    return row === undefined ? null : { value: String(row.value), holder: parseHolder(String(row.value)) };
  };
  return { lock: of(LOCK_ROW), recorded: of(HOLDER_ROW) };
}

export function describeHolder(holder: ApplyLockHolder): string {
  return (
    `lock ${holder.id}, held by process ${holder.pid} on ${holder.host} since ${holder.started} ` +
    `(ldap2moodle ${holder.tool_version})`
  );
}

function lockedError(
  db: MoodleDatabase,
  what: { holder: ApplyLockHolder | null; raw?: string; session?: number | null; staleButLive?: string | null },
  specPath: string | undefined,
  waited: string | null,
): UserError {
  const spec = specPath === undefined ? '' : ` --spec ${specPath}`;
  const id = what.holder?.id ?? 'LOCK_ID';
  const who = holderText(what);
  const live =
    what.staleButLive === null || what.staleButLive === undefined
      ? ''
      : ` Its record looks stale (${what.staleButLive}), but its database session is alive and the server holds ` +
        'the lock for it: an advisory lock is never taken over, only waited for.';
  const advice =
    what.holder?.mode === 'row' || what.raw !== undefined
      ? `if that process is gone for good, run \`ldap2moodle force-unlock${spec} ${id}\``
      : 'if that process is gone, the server frees its lock when its session ends; for a session that lingers, ' +
        `\`ldap2moodle force-unlock${spec} ${id}\` says how to end it`;
  return new UserError(
    'MOODLE_LOCKED',
    `another ldap2moodle apply is running on ${db.location} (${db.description}): ${who}; nothing was ` +
      `done${waitedClause(waited)}.${live} Wait for it to finish and run again (--lock-timeout waits for it); ${advice}.`,
  );
}

/** The holder as the "waiting for the lock held by …" line names it: `process 12 on h since … (ldap2moodle 0.1.0, lock ID)`. */
function busyText(what: { holder: ApplyLockHolder | null; raw?: string; session?: number | null }): string {
  const h = what.holder;
  if (h === null) return holderText(what);
  const session = what.session === null || what.session === undefined ? '' : `, database session ${what.session}`;
  return `process ${h.pid} on ${h.host} since ${h.started} (ldap2moodle ${h.tool_version}, lock ${h.id}${session})`;
}

/** The holder as messages name it, with its database session when known. */
function holderText(what: { holder: ApplyLockHolder | null; raw?: string; session?: number | null }): string {
  const who =
    what.holder !== null
      ? describeHolder(what.holder)
      : what.raw !== undefined
        ? `a lock row whose value is not an ldap2moodle holder: ${what.raw}`
        : 'a process that has not recorded itself yet';
  return what.session === null || what.session === undefined ? who : `${who} (database session ${what.session})`;
}

function newHolder(mode: ApplyLockHolder['mode']): ApplyLockHolder {
  return {
    id: randomUUID(),
    pid: process.pid,
    host: hostname(),
    started: new Date().toISOString(),
    tool_version: TOOL_VERSION,
    mode,
  };
}

async function deleteRow(db: MoodleDatabase, name: string, value: string): Promise<number> {
  // Only the row as read: never one that another process wrote meanwhile.
  const result = await db.transaction((tx) =>
    tx.execute('DELETE FROM {config_plugins} WHERE plugin = ? AND name = ? AND value = ?', [
      MARKER_PLUGIN,
      name,
      value,
    ]),
  );
  return result.affectedRows;
}

/** The Galera fallback: the lock is a committed row; the unique key on (plugin, name) refuses a second one. */
async function tryLockRow(
  db: MoodleDatabase,
  specPath: string | undefined,
  policy: LockPolicy,
): Promise<LockAttempt<HeldApplyLock>> {
  for (let attempt = 0; attempt < 2; attempt++) {
    const holder = newHolder('row');
    const value = JSON.stringify(holder);
    try {
      await db.transaction((tx) =>
        tx.execute('INSERT INTO {config_plugins} (plugin, name, value) VALUES (?, ?, ?)', [
          MARKER_PLUGIN,
          LOCK_ROW,
          value,
        ]),
      );
      return {
        held: {
          holder,
          release: async () => {
            await deleteRow(db, LOCK_ROW, value);
          },
        },
      };
    } catch (error) {
      // A duplicate key, or on Galera a certification conflict with another node's insert: held.
      if (!db.isDuplicateKey(error) && !db.isTransient(error)) throw error;
    }
    const { lock } = await readLockRows(db);
    if (lock === null) continue; // released meanwhile
    if (!(await takeOverRow(db, lock, policy))) return busyRow(db, lock, specPath);
  }
  return busyRow(db, { value: '', holder: null }, specPath);
}

/** A lock row that stays: busy, naming it. */
function busyRow(
  db: MoodleDatabase,
  lock: NonNullable<LockRows['lock']>,
  specPath: string | undefined,
): LockAttempt<HeldApplyLock> {
  const what = lock.holder === null && lock.value !== '' ? { holder: null, raw: lock.value } : { holder: lock.holder };
  return { busy: busyText(what), fail: (waited) => lockedError(db, what, specPath, waited) };
}

/**
 * Deletes the Galera lock row `lock` when its holder is gone from this host or older than staleAfter, with a
 * notice naming it; false when it must stay (a live or unknown holder).
 */
async function takeOverRow(
  db: MoodleDatabase,
  lock: NonNullable<LockRows['lock']>,
  policy: LockPolicy,
): Promise<boolean> {
  if (lock.holder === null) return false;
  const reason = staleReason(lock.holder, policy.staleAfterMs);
  if (reason === null) return false;
  await deleteRow(db, LOCK_ROW, lock.value);
  noticeTakeover(policy, `${db.location} (${db.description})`, describeHolder(lock.holder), reason);
  return true;
}

/**
 * Records who holds the advisory lock, on the lock's own session (each statement committed at once), replacing
 * a record left by a killed apply. Best effort: a record that cannot be written without waiting is skipped
 * (the lock itself is held; a second apply is refused all the same, only less precisely).
 */
async function recordHolder(session: Queryable, holder: ApplyLockHolder): Promise<boolean> {
  try {
    await session.execute('DELETE FROM {config_plugins} WHERE plugin = ? AND name = ?', [MARKER_PLUGIN, HOLDER_ROW]);
    await session.execute('INSERT INTO {config_plugins} (plugin, name, value) VALUES (?, ?, ?)', [
      MARKER_PLUGIN,
      HOLDER_ROW,
      JSON.stringify(holder),
    ]);
    return true;
  } catch {
    return false;
  }
}

export interface AcquireOptions {
  /** The spec, for the `force-unlock --spec` hint in messages. */
  readonly specPath?: string;
  /** `row`: use the Galera fallback even where advisory locks work (tests of it run on a plain server). */
  readonly mode?: 'auto' | 'row';
  /** How long to wait for a live holder, when to take over a stale one, and whom to tell (default: NO_WAIT). */
  readonly policy?: LockPolicy;
}

/**
 * Takes the apply lock of `db`, waiting for a live holder up to the policy's timeout, or fails with
 * MOODLE_LOCKED naming its holder. Exported for callers other than `apply` that must exclude applies (e.g. a
 * `plan --out` that locks).
 */
export function acquireApplyLock(db: MoodleDatabase, options: AcquireOptions = {}): Promise<HeldApplyLock> {
  const policy = options.policy ?? NO_WAIT;
  if (options.mode === 'row') return waitForLock(policy, () => tryLockRow(db, options.specPath, policy));
  return waitForLock(policy, () => tryApplyLock(db, options.specPath, policy));
}

async function tryApplyLock(
  db: MoodleDatabase,
  specPath: string | undefined,
  policy: LockPolicy,
): Promise<LockAttempt<HeldApplyLock>> {
  const name = applyLockName(db);
  const attempt = await db.tryAdvisoryLock(name);
  switch (attempt.status) {
    case 'exclusive':
      return { held: { holder: null, release: async () => undefined } };
    case 'unsupported':
      return tryLockRow(db, specPath, policy);
    case 'busy': {
      const [rows, session] = await Promise.all([readLockRows(db), db.advisoryLockSession(name)]);
      const holder = rows.recorded?.holder ?? null;
      // A record that looks stale says so: its session is alive all the same, and the server holds the lock.
      const staleButLive = holder === null ? null : staleReason(holder, policy.staleAfterMs);
      const what = { holder, session, staleButLive };
      return { busy: busyText(what), fail: (waited) => lockedError(db, what, specPath, waited) };
    }
    case 'acquired':
      break;
  }
  const holder = newHolder('advisory');
  try {
    // A Galera lock row left on this database (a cluster member, or before a migration off Galera) counts too.
    const { lock } = await readLockRows(db);
    if (lock !== null && !(await takeOverRow(db, lock, policy))) {
      await attempt.release();
      return busyRow(db, lock, specPath);
    }
  } catch (error) {
    await attempt.release().catch(() => undefined);
    throw error;
  }
  const recorded = await recordHolder(attempt.session, holder);
  const value = JSON.stringify(holder);
  return {
    held: {
      holder,
      release: async () => {
        try {
          // Only this hold's own record; one left behind is replaced by the next apply.
          if (recorded) {
            await attempt.session
              .execute('DELETE FROM {config_plugins} WHERE plugin = ? AND name = ? AND value = ?', [
                MARKER_PLUGIN,
                HOLDER_ROW,
                value,
              ])
              .catch(() => undefined);
          }
        } finally {
          await attempt.release();
        }
      },
    },
  };
}

/**
 * Runs `fn` holding the apply lock of `db` (see the top of this file; waiting and takeover as `policy` says), released when `fn` ends, whether it
 * resolves or throws. A failed release never hides `fn`'s own error.
 */
export async function withApplyLock<T>(
  db: MoodleDatabase,
  loaded: LoadedSpec,
  policy: LockPolicy,
  fn: () => Promise<T>,
): Promise<T> {
  const lock = await acquireApplyLock(db, { specPath: loaded.path, policy });
  let result: T;
  try {
    result = await fn();
  } catch (error) {
    await lock.release().catch(() => undefined);
    throw error;
  }
  await lock.release();
  return result;
}

export interface ForceUnlockResult {
  /** What was removed, for the command's report. */
  readonly removed: readonly string[];
  /** When nothing was removed: why, as a sentence for the report. */
  readonly nothingRemoved?: string;
}

/** What is left to report when the lock went away between reading it and removing it. */
const RELEASED_MEANWHILE = 'The lock was released meanwhile: nothing to remove.';

/**
 * `force-unlock LOCK_ID`: removes the Galera lock row or the recorded holder whose id is `lockId`. Refuses,
 * naming the current holder, when the id does not match; refuses too when the advisory lock is still held by a
 * live session, which no other session can release: it says how to find and end that session. A database that
 * is exclusive (the embedded Moodle) was opened, so no other process has it: nothing can be left to remove.
 */
export async function forceUnlock(db: MoodleDatabase, lockId: string): Promise<ForceUnlockResult> {
  if (db.exclusive) {
    return {
      removed: [],
      nothingRemoved:
        `${db.location} is locked only while a process has it open (its directory lock file), and none has: ` +
        'nothing to unlock.',
    };
  }
  const rows = await readLockRows(db);
  const removed: string[] = [];
  const result = (): ForceUnlockResult =>
    removed.length === 0 ? { removed, nothingRemoved: RELEASED_MEANWHILE } : { removed };
  if (rows.lock !== null && rows.lock.holder?.id === lockId) {
    if ((await deleteRow(db, LOCK_ROW, rows.lock.value)) > 0) {
      removed.push(`the lock row (config_plugins ${MARKER_PLUGIN}/${LOCK_ROW}) of ${describeHolder(rows.lock.holder)}`);
    }
    return result();
  }
  if (rows.recorded !== null && rows.recorded.holder?.id === lockId) {
    const holder = rows.recorded.holder;
    const name = applyLockName(db);
    const attempt = await db.tryAdvisoryLock(name);
    if (attempt.status === 'busy') {
      const session = await db.advisoryLockSession(name);
      const how = db.lockSessionAdvice(name, session);
      throw new UserError(
        'MOODLE_LOCKED',
        `${describeHolder(holder)} is still held by a live database session${session === null ? '' : ` (${session})`} ` +
          `on ${db.description}: ldap2moodle cannot release another session's advisory lock. If that apply is ` +
          `really gone (a hung process), ${how}; the lock is freed with the session.`,
      );
    }
    try {
      if ((await deleteRow(db, HOLDER_ROW, rows.recorded.value)) > 0) {
        removed.push(
          `the stale holder record (config_plugins ${MARKER_PLUGIN}/${HOLDER_ROW}) of ${describeHolder(holder)}`,
        );
      }
    } finally {
      if (attempt.status === 'acquired') await attempt.release();
    }
    return result();
  }
  const current = [rows.lock, rows.recorded]
    .filter((r) => r !== null)
    .map((r) => (r.holder === null ? `a damaged lock row: ${r.value}` : describeHolder(r.holder)));
  throw new UserError(
    'MOODLE_LOCKED',
    current.length === 0
      ? `no apply lock is recorded on ${db.location} (${db.description}): nothing to unlock for ${lockId}`
      : `${lockId} is not the current lock of ${db.location} (${db.description}), which is ${current.join('; and ')}: ` +
          'nothing was removed. Check the id in the MOODLE_LOCKED message.',
  );
}
