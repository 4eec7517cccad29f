/**
 * SIGKILL of a real `apply` at seeded random moments, on every target: a delay drawn between the child's start
 * and the usual end of an apply (timed first on a site of its own; every other kill between the moment the plan
 * is printed and that end, where the writes are), then SIGKILL. Moodle must be exactly as
 * before (every table's checksum) or exactly as after (every person, once, with a context, the marker set; no
 * subset), the next apply must recover, the plan after it must be empty, and the integrity checker must pass.
 * The failpoint tests (test/integration/apply-crash.test.ts) kill at each named step; this one kills anywhere.
 * `L2M_RELIABILITY_KILLS` and `L2M_RELIABILITY_SEED` (test/reliability/seeded.ts) make it longer or replay it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { planSpec } from '../../src/index.js';
import { loadSpec } from '../../src/spec/load.js';
import {
  applyTablesSnapshot,
  convergenceProblems,
  ensureBuilt,
  peopleLdif,
  peopleUsernames,
  runApplyChild,
  siteFacts,
  writePeopleSpec,
} from '../helpers/child-apply.js';
import { checkIntegrity } from '../helpers/integrity.js';
import { dropStaleTestDatabases } from '../helpers/mariadb.js';
import { STATE_FILE, type Workspace, workspace } from '../helpers/spec-files.js';
import { createTarget, TARGETS, type Target, type TargetName } from '../helpers/targets.js';
import { KILLS_PER_TARGET, prng, REPLAY, SEED } from './seeded.js';

/** Enough people that the writes take a good part of the run, not only node's start. */
const PEOPLE = 300;
const ALL = peopleUsernames(1, PEOPLE);

type Outcome = 'before' | 'after' | 'finished';
const outcomes: { target: TargetName; delay: number; outcome: Outcome }[] = [];

beforeAll(async () => {
  await dropStaleTestDatabases();
  await ensureBuilt();
}, 180_000);

afterAll(() => {
  // The figures of the README's "Guarantees and how they are tested".
  const count = (o: Outcome) => outcomes.filter((r) => r.outcome === o).length;
  console.info(
    `seeded kills (${REPLAY}): ${outcomes.length} runs, ${count('before')} left Moodle as before, ` +
      `${count('after')} as after, ${count('finished')} finished before the kill`,
  );
});

interface Site {
  readonly t: Target;
  readonly ws: Workspace;
  readonly spec: string;
  remove(): Promise<void>;
}

async function freshSite(target: TargetName): Promise<Site> {
  const t = await createTarget(target);
  const ws = await workspace();
  const spec = await writePeopleSpec(ws, t, peopleLdif(PEOPLE));
  return {
    t,
    ws,
    spec,
    remove: async () => {
      await t.drop();
      await ws.remove();
    },
  };
}

describe.each(TARGETS)('seeded SIGKILLs of apply on %s', (target) => {
  // One stream of draws per target, so that a target's kills replay alone (L2M_TARGETS) with the same seed.
  const draw = prng(SEED ^ [...target].reduce((h, ch) => Math.imul(h, 31) + ch.charCodeAt(0), 7));
  let usualMs = 0;
  /** When the plan is on stdout: the writes come after it, in the last part of the run. */
  let planPrintedMs = 0;

  beforeAll(async () => {
    const site = await freshSite(target);
    try {
      await site.t.release();
      const run = await runApplyChild(site.spec, {
        onStdout: (stdout, ms) => {
          if (planPrintedMs === 0 && stdout.includes('Plan: ')) planPrintedMs = ms;
        },
      });
      if (run.code !== 0) throw new Error(`the timing apply failed: ${run.stderr}`);
      usualMs = run.ms;
    } finally {
      await site.remove();
    }
  }, 180_000);

  for (let i = 1; i <= KILLS_PER_TARGET; i += 1) {
    it(`kill ${i} of ${KILLS_PER_TARGET}: exactly before or after, then recovery`, async () => {
      // Every other kill is drawn in the writes' window (after the plan is printed), where most of the risk is;
      // the others anywhere in the run.
      const from = i % 2 === 0 ? planPrintedMs : 0;
      const delay = Math.floor(from + draw() * (usualMs - from));
      const where = `${REPLAY}, ${target} kill ${i} at ${delay} ms of ${Math.round(usualMs)} (plan at ${Math.round(planPrintedMs)})`;
      const site = await freshSite(target);
      try {
        const before = await applyTablesSnapshot(site.t);
        await site.t.release();
        const killed = await runApplyChild(site.spec, { killAfterMs: delay });

        let outcome: Outcome;
        if (killed.signal !== 'SIGKILL') {
          expect(killed.code, `${where}: ${killed.stderr}`).toBe(0);
          outcome = 'finished';
        } else if (JSON.stringify(await applyTablesSnapshot(site.t)) === JSON.stringify(before)) {
          outcome = 'before';
        } else {
          // Not as before: then all of it, nothing half-done.
          const facts = await siteFacts(site.t);
          expect([...facts.users.keys()].sort(), where).toEqual([...ALL].sort());
          expect(facts.duplicateUsers, where).toEqual([]);
          expect(facts.duplicateContexts, where).toEqual([]);
          expect(facts.badContexts, where).toEqual([]);
          expect(facts.marker, where).not.toBeNull();
          outcome = 'after';
        }
        outcomes.push({ target, delay, outcome });

        await site.t.release();
        const recovery = await runApplyChild(site.spec);
        expect(recovery.code, `${where}: ${recovery.stderr}`).toBe(0);
        expect(await convergenceProblems(site.t, site.ws.path(STATE_FILE), { active: ALL }), where).toEqual([]);
        expect(await checkIntegrity(site.t), where).toEqual([]);
        await site.t.release();
        const next = await planSpec(await loadSpec(site.spec));
        expect(next.plan.changes, where).toEqual([]);
      } finally {
        await site.remove();
      }
    }, 180_000);
  }
});
