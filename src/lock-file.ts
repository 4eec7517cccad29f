/**
 * A lock file naming its holder (pid, host, start time), created exclusively. A lock left by a process that
 * died (same host, pid gone) is taken over; a live holder makes the caller fail at once with who holds it.
 */
import { readFile, rm, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import type { ErrorCode } from './errors.js';
import { InternalError, UserError } from './errors.js';

export interface LockHolder {
  readonly pid: number;
  readonly host: string;
  readonly started: string;
}

export interface HeldLock {
  readonly path: string;
  release(): Promise<void>;
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Takes the lock at `path`; `what` names the locked thing in the error ("the embedded Moodle /x"). */
export async function takeLockFile(path: string, what: string, code: ErrorCode): Promise<HeldLock> {
  const mine: LockHolder = { pid: process.pid, host: hostname(), started: new Date().toISOString() };
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      await writeFile(path, `${JSON.stringify(mine)}\n`, { flag: 'wx', mode: 0o600 });
      return { path, release: () => rm(path, { force: true }) };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    let holder: LockHolder | undefined;
    try {
      holder = JSON.parse(await readFile(path, 'utf8')) as LockHolder;
    } catch {
      holder = undefined; // half-written by a process killed while taking it
    }
    const elsewhere = holder !== undefined && holder.host !== hostname();
    if (holder !== undefined && (elsewhere || processAlive(holder.pid))) {
      throw new UserError(
        code,
        `${what} is in use by process ${holder.pid} on ${holder.host} since ${holder.started}; wait for it to ` +
          `finish (if that process is gone for good, delete ${path}).`,
      );
    }
    await rm(path, { force: true }); // its holder died without releasing it
  }
  throw new InternalError(`could not take the lock ${path}`);
}
