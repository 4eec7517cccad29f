/**
 * apply: the plan is computed first, outside any transaction; then one short transaction re-checks the rows
 * the plan depends on, writes everything, records the apply marker and the pending state, and commits.
 * The state file is promoted only after the commit. See src/state/write-state.ts for why no crash can lose
 * ownership, and the README for the whole design.
 */
import { randomUUID } from 'node:crypto';
import { resolve } from 'node:path';
import type { Diagnostic } from '../errors.js';
import { UserError } from '../errors.js';
import { failpoint } from '../failpoint.js';
import { takeLockFile } from '../lock-file.js';
import type { EntityType } from '../model/change.js';
import type { DesiredObject } from '../model/desired.js';
import type { State } from '../model/state.js';
import { withApplyLock } from '../moodle/apply-lock.js';
import type { MoodleDatabase, Queryable } from '../moodle/database.js';
import { readMarker, writeMarker } from '../moodle/marker.js';
import { ObjectIds } from '../moodle/write-context.js';
import type { PlanOptions, PlanResult } from '../pipeline.js';
import {
  checkSpec,
  fingerprintsOf,
  keysOfPlan,
  openSpecMoodle,
  readAndPlan,
  readMoodle,
  statePath,
  withSpecResources,
} from '../pipeline.js';
import type { PlanFile } from '../plan/plan-file.js';
import { planOfFile, staleReasons } from '../plan/plan-file.js';
import type { LoadedSpec } from '../spec/load.js';
import { nextState } from '../state/next-state.js';
import { resolveState } from '../state/resolve-state.js';
import { checkStateWritable, discardPending, pendingPath, promotePending, writePending } from '../state/write-state.js';
import { TOOL_VERSION } from '../version.js';
import type { PostApplyResult } from './post-apply.js';
import { runPostApply } from './post-apply.js';

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
  /** Live output of the postApply commands (redacted). */
  readonly onPostApplyOutput?: (chunk: string) => void;
}

/** Runs the spec's postApply commands; secrets the spec resolved never reach their report. */
async function runSpecPostApply(
  loaded: LoadedSpec,
  purgeNeeded: boolean,
  onOutput: ((chunk: string) => void) | undefined,
): Promise<PostApplyResult[]> {
  const commands = loaded.spec.postApply ?? [];
  if (commands.length === 0) return [];
  const secrets = loaded.secrets.filter((s) => s.length > 0);
  const redact = (text: string): string => secrets.reduce((out, secret) => out.split(secret).join('***'), text);
  return runPostApply(
    commands.map((c) => ({ ...c, cwd: c.cwd === undefined ? loaded.dir : resolve(loaded.dir, c.cwd) })),
    { purgeNeeded, redact, ...(onOutput === undefined ? {} : { onOutput }) },
  );
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
  /** The spec's postApply commands, run after the commit (empty when nothing was applied). */
  readonly postApply: readonly PostApplyResult[];
  /** Notes on the run (a cache purge is needed and no postApply command does it). */
  readonly warnings: readonly string[];
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The `apply` command. */
export function applySpec(loaded: LoadedSpec, options: ApplyOptions = {}): Promise<ApplyResult> {
  return withSpecResources(loaded, (source, db, rules) =>
    withStateLock(loaded, () =>
      // One apply at a time per Moodle (from any machine), taken before planning: src/moodle/apply-lock.ts.
      withApplyLock(db, loaded, async () => {
        const planned = await readAndPlan(loaded, source, db, { ...options, repair: true }, rules);
        return finishApply(loaded, db, planned, options);
      }),
    ),
  );
}

/**
 * `apply FILE`: applies a saved plan exactly, without reading the directory, once nothing it was computed from
 * has moved (state, Moodle's rows, spec, tool version); otherwise PLAN_STALE says what moved.
 */
export async function applyPlanFile(
  loaded: LoadedSpec,
  file: PlanFile,
  options: ApplyOptions = {},
): Promise<ApplyResult> {
  const rules = checkSpec(loaded);
  const db = await openSpecMoodle(loaded);
  try {
    return await withStateLock(loaded, () =>
      withApplyLock(db, loaded, async () => {
        const path = statePath(loaded);
        const resolved = await resolveState(db, path, { repair: true });
        const moodle = await readMoodle(db, loaded, rules);
        const plan = planOfFile(file);
        const desired = {
          objects: new Map(Object.entries(file.desired) as [EntityType, readonly DesiredObject[]][]),
          skipped: plan.skipped,
          warnings: [],
        };
        // The rows the plan looked at: those of its objects (when the state moved, the plan is stale anyway).
        const about = keysOfPlan(desired, resolved.state, plan);
        const now = fingerprintsOf(loaded, moodle, resolved.state, file.fingerprints.source, about);
        const reasons = staleReasons(file.fingerprints, now);
        if (reasons.length > 0) {
          throw new UserError(
            'PLAN_STALE',
            `the saved plan (made ${file.created_at}) no longer applies: nothing was written; make a new one with \`plan --out\``,
            reasons.map((message) => ({ message })),
          );
        }
        const planned: PlanResult = {
          plan,
          header: file.header,
          site: moodle.site,
          moodle,
          desired,
          state: resolved.state,
          statePath: path,
          sourceEntries: 0,
          fingerprints: now,
        };
        // The saved plan was reviewed: no confirmation (Terraform's `apply FILE`).
        return finishApply(loaded, db, planned, { ...options, confirm: undefined });
      }),
    );
  } finally {
    await db.close();
  }
}

/** One apply at a time per state file: a second one must not take the first's pending file for debris. */
async function withStateLock<T>(loaded: LoadedSpec, fn: () => Promise<T>): Promise<T> {
  const path = statePath(loaded);
  // Detected before touching Moodle: an apply whose state cannot be written must not start.
  await checkStateWritable(path);
  const lock = await takeLockFile(`${path}.lock`, `the state ${path}`, 'STATE_LOCKED');
  try {
    return await fn();
  } finally {
    await lock.release();
  }
}

/** Confirms, commits, runs the postApply commands: the part of an apply that follows the plan. */
async function finishApply(
  loaded: LoadedSpec,
  db: MoodleDatabase,
  planned: PlanResult,
  options: ApplyOptions,
): Promise<ApplyResult> {
  const nothing = { applied: false, state: planned.state, attempts: 0, postApply: [], warnings: [] };
  if (planned.plan.changes.length === 0) return { planned, ...nothing, statements: db.statementCount };
  if (options.confirm !== undefined && !(await options.confirm(planned))) {
    return { planned, ...nothing, statements: db.statementCount };
  }
  const { state, attempts } = await commitPlan(loaded, db, planned, options);
  const statements = db.statementCount;
  // Committed: whatever the commands do now, the data stays.
  const postApply = await runSpecPostApply(loaded, planned.plan.purgeNeeded, options.onPostApplyOutput);
  const warnings: string[] = [];
  if (planned.plan.purgeNeeded && !postApply.some((r) => r.skipped === undefined)) {
    warnings.push(
      "this apply wrote course categories, courses or groups, which Moodle's caches do not show until they are purged, and no " +
        'postApply command ran: run `php admin/cli/purge_caches.php` in the Moodle directory, or add it to postApply',
    );
  }
  return { planned, applied: true, state, statements, attempts, postApply, warnings };
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
  const budget = await db.statementBudget();
  const [system] = await db.query<{ id: number; path: string }>(
    'SELECT id, path FROM {context} WHERE contextlevel = 10',
  );
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
        const { readings } = planned.moodle;
        const problems: Diagnostic[] = [];
        for (const reading of readings) problems.push(...(await reading.recheck(tx, changes, budget)));
        failIfStale(problems);
        // Ids of what exists, then of what each writer creates: later entities refer to earlier ones.
        const ids = new ObjectIds();
        for (const reading of readings) for (const [key, id] of reading.ids) ids.set(reading.type, key, id);
        const context = {
          site: planned.site,
          systemContextPath: system.path,
          systemContextId: Number(system.id),
          now,
          budget,
          ids,
        };
        for (const reading of readings) await reading.write(tx, context, changes);
        await failpoint('after-writes');
        const next = nextState({
          previous: planned.state,
          changes,
          desired: planned.desired.objects,
          readings,
          ids,
          lineage,
          toolVersion: TOOL_VERSION,
          specHash: loaded.hash,
          ...(planned.plan.scope === undefined ? {} : { scope: planned.plan.scope }),
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

/** Differences found by the rechecks of every entity make the plan stale: nothing is written. */
export function failIfStale(problems: readonly Diagnostic[]): void {
  if (problems.length === 0) return;
  throw new UserError(
    'PLAN_STALE',
    `Moodle changed since the plan was computed (${problems.length} difference${problems.length === 1 ? '' : 's'}); nothing was written: plan again`,
    problems,
  );
}
