/**
 * The apply's transaction: one short transaction re-checks the rows the plan depends on, writes everything,
 * records the apply marker and the pending state, and commits. The state file is promoted only after the
 * commit. See src/state/write-state.ts for why no crash can lose ownership, and the README for the whole design.
 */
import { randomUUID } from 'node:crypto';
import type { EntityReading } from '../entities/reading.js';
import type { Diagnostic } from '../errors.js';
import { UserError } from '../errors.js';
import { failpoint } from '../failpoint.js';
import type { EntityType } from '../model/change.js';
import { writes } from '../model/change.js';
import type { DesiredObject } from '../model/desired.js';
import type { Plan } from '../model/plan.js';
import type { State } from '../model/state.js';
import type { MoodleDatabase, Queryable } from '../moodle/database.js';
import { readMarker, writeMarker } from '../moodle/marker.js';
import type { MoodleSite } from '../moodle/site.js';
import { ObjectIds } from '../moodle/write-context.js';
import type { RunObserver } from '../observe/events.js';
import { inStage, NO_OBSERVER } from '../observe/events.js';
import { nextState } from '../state/next-state.js';
import { discardPending, pendingPath, promotePending, writePending } from '../state/write-state.js';
import { TOOL_VERSION } from '../version.js';

/** What the transaction writes and records: a plan and what it was computed from. */
export interface CommitInput {
  readonly plan: Plan;
  readonly desired: { readonly objects: ReadonlyMap<EntityType, readonly DesiredObject[]> };
  /** What was read of Moodle: each reading rechecks and writes its entity's changes. */
  readonly moodle: { readonly readings: readonly EntityReading[] };
  readonly site: MoodleSite;
  /** The state the plan started from. */
  readonly state: State;
  readonly statePath: string;
}

export interface CommitOptions {
  /** Attempts of the transaction when Moodle's own writes deadlock with it (default 3). */
  readonly maxAttempts?: number;
  /** Clock, for tests. */
  readonly now?: () => number;
  /** Who watches the run: the writing and state stages, and the changes written so far. */
  readonly observer?: RunObserver;
}

/**
 * Writes a computed plan in one transaction and records the state (the second half of `applySpec`, for
 * callers that already hold the database and the plan, like the demo).
 */
export async function commitPlan(
  specHash: string,
  db: MoodleDatabase,
  planned: CommitInput,
  options: CommitOptions,
): Promise<{ state: State; attempts: number }> {
  const maxAttempts = options.maxAttempts ?? 3;
  const observer = options.observer ?? NO_OBSERVER;
  const lineage = planned.state.lineage !== '' ? planned.state.lineage : randomUUID();
  const applyId = randomUUID();
  // Held objects are left as they are: nothing to recheck or write for them.
  const changes = planned.plan.changes.filter(writes);
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
      const state = await inStage(
        observer,
        'writing',
        () =>
          db.transaction(async (tx) => {
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
            let written = 0;
            for (const reading of readings) {
              await reading.write(tx, context, changes);
              written += changes.filter((c) => c.entity === reading.type).length;
              observer.emit({ type: 'progress', stage: 'writing', done: written, total: changes.length });
            }
            await failpoint('after-writes');
            const next = nextState({
              previous: planned.state,
              changes,
              desired: planned.desired.objects,
              readings,
              ids,
              lineage,
              toolVersion: TOOL_VERSION,
              specHash,
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
          }),
        changes.length,
      );
      committed = true;
      await failpoint('after-commit');
      await inStage(observer, 'state', () => promotePending(planned.statePath));
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

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
