/**
 * apply: the plan is computed first, outside any transaction; then one short transaction re-checks the rows
 * the plan depends on, writes everything, records the apply marker and the pending state, and commits.
 * The state file is promoted only after the commit. See src/state/write-state.ts for why no crash can lose
 * ownership, and the README for the whole design.
 */
import { randomUUID } from 'node:crypto';
import { UserError } from '../errors.js';
import { failpoint } from '../failpoint.js';
import { takeLockFile } from '../lock-file.js';
import type { MoodleDatabase, Queryable } from '../moodle/database.js';
import { readMarker, writeMarker } from '../moodle/marker.js';
import { writeUserChanges } from '../moodle/write-users.js';
import type { PlanOptions, PlanResult } from '../pipeline.js';
import { readAndPlan, statePath, withSpecResources } from '../pipeline.js';
import type { LoadedSpec } from '../spec/load.js';
import { nextState } from '../state/next-state.js';
import type { State } from '../state/state.js';
import { checkStateWritable, discardPending, pendingPath, promotePending, writePending } from '../state/write-state.js';
import { TOOL_VERSION } from '../version.js';
import { recheckUsers } from './recheck.js';

export interface ApplyOptions extends PlanOptions {
  /**
   * Called with the plan before anything is written; resolve `false` to stop. The CLI shows the plan and
   * asks "yes" here. Without it the plan is applied (the library caller decided).
   */
  readonly confirm?: (planned: PlanResult) => Promise<boolean>;
  /** Attempts of the transaction when Moodle's own writes deadlock with it (default 3). */
  readonly maxAttempts?: number;
  /** Clock, for tests. */
  readonly now?: () => number;
}

export interface ApplyResult {
  readonly planned: PlanResult;
  /** False when there was nothing to do or the confirmation was refused. */
  readonly applied: boolean;
  /** The state after the apply (the previous one when nothing was applied). */
  readonly state: State;
  /** SQL statements sent to Moodle during the whole run. */
  readonly statements: number;
  readonly attempts: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The `apply` command. */
export function applySpec(loaded: LoadedSpec, options: ApplyOptions = {}): Promise<ApplyResult> {
  return withSpecResources(loaded, async (source, db) => {
    const path = statePath(loaded);
    // Detected before touching Moodle: an apply whose state cannot be written must not start.
    await checkStateWritable(path);
    // One apply at a time per state file: a second one must not take the first's pending file for debris.
    const lock = await takeLockFile(`${path}.lock`, `the state ${path}`, 'STATE_LOCKED');
    try {
      const planned = await readAndPlan(loaded, source, db, { ...options, repair: true });
      if (planned.plan.changes.length === 0) {
        return { planned, applied: false, state: planned.state, statements: db.statementCount, attempts: 0 };
      }
      if (options.confirm !== undefined && !(await options.confirm(planned))) {
        return { planned, applied: false, state: planned.state, statements: db.statementCount, attempts: 0 };
      }
      const { state, attempts } = await commitPlan(loaded, db, planned, options);
      return { planned, applied: true, state, statements: db.statementCount, attempts };
    } finally {
      await lock.release();
    }
  });
}

/**
 * Writes a computed plan in one transaction and records the state (the second half of `applySpec`, for
 * callers that already hold the database and the plan, like the demo).
 */
export async function commitPlan(
  loaded: LoadedSpec,
  db: MoodleDatabase,
  planned: PlanResult,
  options: ApplyOptions,
): Promise<{ state: State; attempts: number }> {
  const maxAttempts = options.maxAttempts ?? 3;
  const lineage = planned.state.lineage !== '' ? planned.state.lineage : randomUUID();
  const applyId = randomUUID();
  const changes = planned.plan.changes;
  const managedFields = ['auth', ...Object.keys(loaded.spec.users.fields)];
  const budget = await db.statementBudget();
  const [system] = await db.query<{ path: string }>('SELECT path FROM {context} WHERE contextlevel = 10');
  if (system === undefined)
    throw new UserError('MOODLE_UNSUPPORTED', `${db.description}: Moodle has no system context`);

  for (let attempt = 1; ; attempt++) {
    let bodyDone = false;
    let committed = false;
    const now = Math.floor((options.now ?? Date.now)() / 1000);
    try {
      await failpoint('before-transaction');
      const state = await db.transaction(async (tx) => {
        await recheckMarker(tx, planned.state, db.description);
        await recheckUsers(tx, planned.site, planned.moodle.users, changes, managedFields, budget);
        const createdIds = await writeUserChanges(
          tx,
          { site: planned.site, systemContextPath: system.path, now, budget },
          changes,
        );
        await failpoint('after-writes');
        const next = nextState({
          previous: planned.state,
          changes,
          desired: planned.desired.users,
          moodleUsers: planned.moodle.users,
          createdIds,
          lineage,
          toolVersion: TOOL_VERSION,
          specHash: loaded.hash,
        });
        await writeMarker(tx, {
          lineage,
          serial: next.serial,
          apply_id: applyId,
          applied_at: new Date(now * 1000).toISOString(),
          tool_version: TOOL_VERSION,
        });
        await writePending(planned.statePath, { ...next, apply_id: applyId });
        await failpoint('after-pending');
        bodyDone = true;
        return { ...next, apply_id: applyId };
      });
      committed = true;
      await failpoint('after-commit');
      await promotePending(planned.statePath);
      await failpoint('after-promote');
      return { state, attempts: attempt };
    } catch (error) {
      if (committed) {
        // Moodle has the changes and its marker names the pending file: the next run records it.
        throw new UserError(
          'STATE_WRITE',
          `the changes were committed to ${db.description}, but the state file could not be replaced: ` +
            `${(error as Error).message}. ${pendingPath(planned.statePath)} holds the new state; fix the cause, ` +
            'and the next plan or apply records it.',
          [],
          { cause: error },
        );
      }
      if (bodyDone) {
        // COMMIT itself failed: Moodle may or may not have committed. The pending file stays; the next run
        // reads Moodle's marker and finalises or discards it.
        throw new UserError(
          'APPLY_FAILED',
          `the commit to ${db.description} failed (${(error as Error).message}); whether it took effect is unknown. ` +
            'The next plan or apply checks Moodle and finalises the state accordingly.',
          [],
          { cause: error },
        );
      }
      await discardPending(planned.statePath);
      if (db.isTransient(error) && attempt < maxAttempts) {
        await sleep(100 * attempt);
        continue;
      }
      if (error instanceof UserError) throw error;
      const retried = db.isTransient(error) ? ` after ${attempt} attempts` : '';
      const reason = (error as Error).message.replace(/\.+$/, '');
      throw new UserError(
        'APPLY_FAILED',
        `applying to ${db.description} failed${retried}: ${reason}. The transaction was rolled back: nothing was written.`,
        [],
        { cause: error },
      );
    }
  }
}

/**
 * Another apply may have committed between this one's plan and its transaction (two runs at once, or a run
 * during the confirmation): writing now would overwrite its state and forget what it created. The marker row
 * stays locked until COMMIT, so that concurrent applies go one after the other.
 */
async function recheckMarker(tx: Queryable, planned: State, where: string): Promise<void> {
  const marker = await readMarker(tx, { forUpdate: true });
  const unchanged =
    marker === null ? planned.serial === 0 : marker.lineage === planned.lineage && marker.serial === planned.serial;
  if (!unchanged) {
    throw new UserError(
      'PLAN_STALE',
      `another apply committed to ${where} since the plan was computed (Moodle is now at serial ` +
        `${marker?.serial ?? 0} of lineage ${marker?.lineage ?? '(none)'}, the plan started from serial ${planned.serial}); ` +
        'nothing was written: plan again',
    );
  }
}
