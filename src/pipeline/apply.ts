/**
 * The pipeline, applying half: `apply` computes the plan first, outside any transaction (src/pipeline/plan.ts),
 * or takes a saved one; then src/apply/commit.ts writes it in one short transaction and the state follows; then
 * the spec's postApply commands run. Both halves hold the state file's lock and Moodle's apply lock throughout.
 */
import { resolve } from 'node:path';
import type { CommitOptions } from '../apply/commit.js';
import { commitPlan } from '../apply/commit.js';
import type { PostApplyResult } from '../apply/post-apply.js';
import { runPostApply } from '../apply/post-apply.js';
import { readMoodle } from '../entities/read-moodle.js';
import { UserError } from '../errors.js';
import { takeLockFile } from '../lock-file.js';
import type { LockPolicy } from '../lock-wait.js';
import type { EntityType } from '../model/change.js';
import { writes } from '../model/change.js';
import type { DesiredObject } from '../model/desired.js';
import { isRefused } from '../model/plan.js';
import type { State } from '../model/state.js';
import { withApplyLock } from '../moodle/apply-lock.js';
import { lockPolicyOf, openSpecMoodle } from '../moodle/connect.js';
import type { MoodleDatabase } from '../moodle/database.js';
import { observeDatabase } from '../moodle/observed-database.js';
import { readSite } from '../moodle/site.js';
import { inStage, NO_OBSERVER } from '../observe/events.js';
import { fingerprintsOf, keysOfPlan } from '../plan/fingerprints.js';
import { allowanceOf, checkGuards, mergeAllowances, removalLimits } from '../plan/guards.js';
import type { PlanFile } from '../plan/plan-file.js';
import { planOfFile, staleReasons } from '../plan/plan-file.js';
import type { LoadedSpec } from '../spec/load.js';
import { resolveState } from '../state/resolve-state.js';
import { statePath } from '../state/state-path.js';
import { checkStateWritable, removeStateTemporaries } from '../state/write-state.js';
import type { PlanOptions, PlanResult } from './plan.js';
import { checkSpec, PlanRefusedError, readAndPlan, withSpecResources } from './plan.js';

export interface ApplyOptions extends PlanOptions, CommitOptions {
  /**
   * Called with the plan before anything is written; resolve `false` to stop. The CLI shows the plan and
   * asks "yes" here. Without it the plan is applied (the library caller decided).
   */
  readonly confirm?: (planned: PlanResult) => Promise<boolean>;
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

/** The `apply` command. */
export function applySpec(loaded: LoadedSpec, options: ApplyOptions = {}): Promise<ApplyResult> {
  const policy = lockPolicyOf(loaded, options);
  return withSpecResources(
    loaded,
    (source, db, rules) =>
      withStateLock(loaded, policy, () =>
        // One apply at a time per Moodle (from any machine), taken before planning: src/moodle/apply-lock.ts.
        withApplyLock(db, loaded, policy, async () => {
          const planned = await readAndPlan(loaded, source, db, { ...options, repair: true }, rules);
          if (isRefused(planned.plan)) throw new PlanRefusedError(planned);
          return finishApply(loaded, db, planned, options);
        }),
      ),
    policy,
    options.observer,
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
  const policy = lockPolicyOf(loaded, options);
  const observer = options.observer ?? NO_OBSERVER;
  const opened = await openSpecMoodle(loaded, policy);
  const db = observeDatabase(opened, observer);
  try {
    return await withStateLock(loaded, policy, () =>
      withApplyLock(db, loaded, policy, async () => {
        const path = statePath(loaded);
        const { resolved, moodle } = await inStage(observer, 'moodle', async () => {
          const state = await resolveState(db, path, { repair: true });
          return { resolved: state, moodle: await readMoodle(db, loaded, rules, await readSite(db)) };
        });
        const saved = planOfFile(file);
        // The guards again, with the allowance the plan was made (and reviewed) with and the one given now.
        const plan = {
          ...saved,
          guards: checkGuards(saved, {
            sourceEntries: file.plan.guards.sourceEntries,
            managed: resolved.state.objects,
            limits: removalLimits(loaded.spec.guards?.maxRemovals),
            allowance: mergeAllowances(
              file.plan.guards.allowance,
              allowanceOf(options.allowRemovals, options.allowEmptySource ?? false),
            ),
          }),
        };
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
          sourceEntries: file.plan.guards.sourceEntries,
          fingerprints: now,
        };
        if (isRefused(plan)) throw new PlanRefusedError(planned);
        // The saved plan was reviewed: no confirmation (Terraform's `apply FILE`).
        return finishApply(loaded, db, planned, { ...options, confirm: undefined });
      }),
    );
  } finally {
    await db.close();
  }
}

/** One apply at a time per state file: a second one must not take the first's pending file for debris. */
async function withStateLock<T>(loaded: LoadedSpec, policy: LockPolicy, fn: () => Promise<T>): Promise<T> {
  const path = statePath(loaded);
  // Detected before touching Moodle: an apply whose state cannot be written must not start.
  await checkStateWritable(path);
  const lock = await takeLockFile(`${path}.lock`, `the state ${path}`, 'STATE_LOCKED', policy);
  try {
    // Temporary files of a run killed while writing the state (directory data, as big as the state): every
    // writer holds this lock, so none of them is in use.
    await removeStateTemporaries(path);
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
  // Held objects alone write nothing: no transaction, no new state.
  if (!planned.plan.changes.some(writes)) return { planned, ...nothing, statements: db.statementCount };
  if (options.confirm !== undefined && !(await options.confirm(planned))) {
    return { planned, ...nothing, statements: db.statementCount };
  }
  const { state, attempts } = await commitPlan(loaded.hash, db, planned, options);
  const statements = db.statementCount;
  // Committed: whatever the commands do now, the data stays.
  const runCommands = () => runSpecPostApply(loaded, planned.plan.purgeNeeded, options.onPostApplyOutput);
  const postApply =
    (loaded.spec.postApply ?? []).length === 0
      ? []
      : await inStage(options.observer ?? NO_OBSERVER, 'postApply', runCommands);
  const warnings: string[] = [];
  if (planned.plan.purgeNeeded && !postApply.some((r) => r.skipped === undefined)) {
    warnings.push(
      "this apply wrote course categories, courses or groups, which Moodle's caches do not show until they are purged, and no " +
        'postApply command ran: run `php admin/cli/purge_caches.php` in the Moodle directory, or add it to postApply',
    );
  }
  return { planned, applied: true, state, statements, attempts, postApply, warnings };
}
