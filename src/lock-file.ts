/**
 * A lock file naming its holder (pid, host, start time, tool version), created exclusively. A lock left by a
 * process that died (same host, pid gone) or older than `lock.staleAfter` is taken over with a notice; a live
 * holder is waited for up to the policy's timeout, then the caller fails with who holds it.
 */
import { type FileHandle, open, readFile, rm } from 'node:fs/promises';
import { hostname } from 'node:os';
import type { ErrorCode } from './errors.js';
import { InternalError, UserError } from './errors.js';
import { formatDuration } from './duration.js';
import type { LockAttempt, LockPolicy } from './lock-wait.js';
import { NO_WAIT, noticeTakeover, staleReason, waitedClause, waitForLock } from './lock-wait.js';
import { TOOL_VERSION } from './version.js';

export interface LockHolder {
  readonly pid: number;
  readonly host: string;
  readonly started: string;
  /** Absent from files written before it was recorded. */
  readonly tool_version?: string;
}

export interface HeldLock {
  readonly path: string;
  release(): Promise<void>;
}

function parseHolder(text: string): LockHolder | undefined {
  try {
    const data = JSON.parse(text) as Partial<LockHolder>;
    if (typeof data.pid === 'number' && typeof data.host === 'string' && typeof data.started === 'string') {
      return data as LockHolder;
    }
  } catch {
    // half-written by a process killed while taking it
  }
  return undefined;
}

/** `process 123 on host since 2026-…Z (ldap2moodle 0.1.0)`. */
export function describeLockHolder(holder: LockHolder): string {
  const version = holder.tool_version === undefined ? '' : ` (ldap2moodle ${holder.tool_version})`;
  return `process ${holder.pid} on ${holder.host} since ${holder.started}${version}`;
}

/**
 * Takes the lock at `path`; `what` names the locked thing in messages ("the embedded Moodle /x"). A live
 * holder is waited for up to `policy.timeoutMs`, then `code` is thrown naming it.
 */
export function takeLockFile(
  path: string,
  what: string,
  code: ErrorCode,
  policy: LockPolicy = NO_WAIT,
): Promise<HeldLock> {
  const mine: LockHolder = {
    pid: process.pid,
    host: hostname(),
    started: new Date().toISOString(),
    tool_version: TOOL_VERSION,
  };
  // A lock that cannot be written (a full disk, a read-only directory) is the file system's problem, coded.
  const cannotCreate = (error: unknown): UserError =>
    new UserError(
      code === 'STATE_LOCKED' ? 'STATE_WRITE' : code,
      `cannot create the lock file ${path} for ${what}: ${(error as Error).message}; nothing was written`,
      [],
      { cause: error },
    );
  const once = async (): Promise<LockAttempt<HeldLock>> => {
    for (let attempt = 0; attempt < 2; attempt++) {
      let handle: FileHandle | null = null;
      try {
        handle = await open(path, 'wx', 0o600);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw cannotCreate(error);
      }
      if (handle !== null) {
        try {
          await handle.writeFile(`${JSON.stringify(mine)}\n`);
          await handle.close();
        } catch (error) {
          // This process created the file: a half-written lock (a full disk) is removed, not left behind.
          await handle.close().catch(() => undefined);
          await rm(path, { force: true });
          throw cannotCreate(error);
        }
        return { held: { path, release: () => rm(path, { force: true }) } };
      }
      const text = await readFile(path, 'utf8').catch((error: NodeJS.ErrnoException) => {
        if (error.code === 'ENOENT') return null; // released meanwhile
        throw error;
      });
      if (text === null) continue;
      const holder = parseHolder(text);
      if (holder !== undefined) {
        const reason = staleReason(holder, policy.staleAfterMs);
        if (reason === null) {
          const who = describeLockHolder(holder);
          return {
            busy: `${who} (${path})`,
            fail: (waited) =>
              new UserError(
                code,
                `${what} is in use by ${who}${waitedClause(waited)}; wait for it to finish, or give --lock-timeout ` +
                  `to wait for it. If that process is gone for good, delete ${path}; a lock older than ` +
                  `lock.staleAfter (${formatDuration(policy.staleAfterMs)}) is taken over by itself.`,
              ),
          };
        }
        noticeTakeover(policy, what, `${describeLockHolder(holder)} (${path})`, reason);
      }
      await rm(path, { force: true }); // its holder is gone (or it was half-written by a process killed taking it)
    }
    throw new InternalError(`could not take the lock ${path}`);
  };
  return waitForLock(policy, once);
}
