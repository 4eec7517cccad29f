/**
 * What every lock the tool takes shares (the Moodle apply lock, the state file's lock, the embedded Moodle's
 * directory lock): waiting for a live holder up to `--lock-timeout`, and taking over a holder that is gone
 * (its process no longer exists on this host) or too old (`lock.staleAfter`), with a notice naming it.
 */
import { hostname } from 'node:os';
import { formatDuration, parseDuration } from './duration.js';
import type { UserError } from './errors.js';

/** The spec's default `lock.staleAfter`. */
export const DEFAULT_STALE_AFTER = '6h';

/** Something the user should see while a lock is taken: the one "waiting" line, or a takeover (a warning). */
export interface LockNotice {
  readonly kind: 'waiting' | 'takeover';
  readonly message: string;
}

export interface LockPolicy {
  /** How long to wait for a live holder, in ms (`--lock-timeout`); 0 fails at once. */
  readonly timeoutMs: number;
  /** A holder that started longer ago than this (ms) is taken over, from whatever host (`lock.staleAfter`). */
  readonly staleAfterMs: number;
  readonly notice?: (notice: LockNotice) => void;
}

/** Fail at once; take over after the default staleAfter; tell no one. */
export const NO_WAIT: LockPolicy = { timeoutMs: 0, staleAfterMs: parseDuration(DEFAULT_STALE_AFTER) };

/** What a holder record says about itself, whatever the lock (older lock files have no tool_version). */
export interface HolderFacts {
  readonly pid: number;
  readonly host: string;
  readonly started: string;
}

export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Why `holder` may be taken over, as a clause ("its process 123 is gone from this host"), or null when it may
 * not: its process is alive on this host, or it runs on another host and is younger than `staleAfterMs` (a
 * start time that cannot be read never counts as old).
 */
export function staleReason(holder: HolderFacts, staleAfterMs: number, now = Date.now()): string | null {
  if (holder.host === hostname() && holder.pid !== process.pid && !processAlive(holder.pid)) {
    return `its process ${holder.pid} is gone from this host`;
  }
  const started = Date.parse(holder.started);
  if (Number.isFinite(started) && now - started > staleAfterMs) {
    return `it started ${formatDuration(now - started)} ago, more than lock.staleAfter (${formatDuration(staleAfterMs)})`;
  }
  return null;
}

/** One try at a lock: held, or busy with who holds it and the error to fail with (given how long it waited). */
export type LockAttempt<T> =
  | { readonly held: T }
  | { readonly busy: string; readonly fail: (waited: string | null) => UserError };

/** "after waiting 30s (--lock-timeout)", or nothing when it did not wait: for the end of error messages. */
export function waitedClause(waited: string | null): string {
  return waited === null ? '' : ` after waiting ${waited} (--lock-timeout)`;
}

const FIRST_DELAY_MS = 100;
const MAX_DELAY_MS = 2_000;

/**
 * Runs `attempt` until it holds the lock or `policy.timeoutMs` has passed, with a short backoff (100 ms
 * doubling up to 2 s); says once that it waits, naming the holder; then fails with the last holder's error and
 * how long it waited.
 */
export async function waitForLock<T>(policy: LockPolicy, attempt: () => Promise<LockAttempt<T>>): Promise<T> {
  const started = Date.now();
  let delay = FIRST_DELAY_MS;
  let announced = false;
  for (;;) {
    const result = await attempt();
    if ('held' in result) return result.held;
    const elapsed = Date.now() - started;
    if (elapsed >= policy.timeoutMs) throw result.fail(policy.timeoutMs > 0 ? formatDuration(elapsed) : null);
    if (!announced) {
      announced = true;
      policy.notice?.({
        kind: 'waiting',
        message: `waiting up to ${formatDuration(policy.timeoutMs)} for the lock held by ${result.busy}`,
      });
    }
    await new Promise((resolve) => setTimeout(resolve, Math.min(delay, policy.timeoutMs - elapsed)));
    delay = Math.min(delay * 2, MAX_DELAY_MS);
  }
}

/** Tells the user that `what`'s lock, held by `holder` (described), was taken over, and why. */
export function noticeTakeover(policy: LockPolicy, what: string, holder: string, reason: string): void {
  policy.notice?.({
    kind: 'takeover',
    message: `took over the lock of ${what} held by ${holder}: ${reason}`,
  });
}
