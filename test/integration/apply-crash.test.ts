/**
 * Crash safety of `apply`, with real processes: the built CLI runs as a child with LDAP2MOODLE_FAILPOINT set,
 * kills itself (SIGKILL, like a power cut of the process) at each point of the apply, and the next run must
 * converge on a fresh Moodle 4.5 each time, on every target: exactly the directory's users, no duplicate user
 * or context, every created user owned by the state, state and marker in agreement, no pending file, an empty
 * plan after. On the embedded Moodle the killed child also leaves its lock file: the next run takes it over.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { applySpec, planSpec } from '../../src/index.js';
import { loadSpec } from '../../src/spec/load.js';
import { afterApply } from '../helpers/apply-specs.js';
import {
  applyTablesSnapshot,
  type ChildRun,
  convergenceProblems,
  ensureBuilt,
  fileBytes,
  PEOPLE_LDIF,
  peopleLdif,
  peopleUsernames,
  readStateFile,
  runApplyChild,
  siteFacts,
  writePeopleSpec,
} from '../helpers/child-apply.js';
import { dropStaleTestDatabases } from '../helpers/mariadb.js';
import { STATE_FILE, type Workspace, workspace } from '../helpers/spec-files.js';
import { EMBEDDED_LOCK } from '../helpers/target-embedded.js';
import { createTarget, TARGETS, type Target, type TargetName } from '../helpers/targets.js';

const PEOPLE = 12;
const ALL = peopleUsernames(1, PEOPLE);

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

beforeAll(async () => {
  await dropStaleTestDatabases();
  await ensureBuilt();
}, 180_000);

interface Site {
  readonly t: Target;
  readonly ws: Workspace;
  readonly spec: string;
  readonly statePath: string;
}

async function freshSite(target: TargetName): Promise<Site> {
  const t = await createTarget(target);
  cleanups.push(() => t.drop());
  const ws = await workspace();
  cleanups.push(() => ws.remove());
  const spec = await writePeopleSpec(ws, t, peopleLdif(PEOPLE));
  return { t, ws, spec, statePath: ws.path(STATE_FILE) };
}

const checksums = (site: Site) => applyTablesSnapshot(site.t);

/** The tool, in a child process or in this one: the assertions' connection is let go first. */
async function child(site: Site, options: Parameters<typeof runApplyChild>[1] = {}): Promise<ChildRun> {
  await site.t.release();
  return runApplyChild(site.spec, options);
}
async function planOf(site: Site) {
  await site.t.release();
  return planSpec(await loadSpec(site.spec));
}
async function applyOf(site: Site) {
  await site.t.release();
  const result = await applySpec(await loadSpec(site.spec));
  if (result.applied) await afterApply(site.t);
  return result;
}

/** The embedded Moodle's lock file, left by the killed child: it names a process that no longer exists. */
async function expectStaleLock(site: Site, run: ChildRun): Promise<void> {
  if (site.t.name !== 'embedded') return;
  const holder = JSON.parse(await readFile(join(site.t.label, EMBEDDED_LOCK), 'utf8')) as { pid: number };
  expect(holder.pid).not.toBe(process.pid);
  expect(() => process.kill(holder.pid, 0)).toThrow();
  expect(run.signal).toBe('SIGKILL');
}

function expectKilled(run: ChildRun): void {
  // The plan is printed before the transaction: the child got that far, then died by its own SIGKILL.
  expect(run.signal, run.stderr).toBe('SIGKILL');
  expect(run.stdout).toContain('Plan: ');
  expect(run.stdout).not.toContain('Apply complete');
}

/** Applies normally (a child without failpoint), then checks convergence and that the next plan is empty. */
async function expectConverges(site: Site, expected: { active: string[]; suspended?: string[] }, args: string[] = []) {
  const run = await child(site, { args });
  expect(run.code, run.stderr).toBe(0);
  expect(await convergenceProblems(site.t, site.statePath, expected)).toEqual([]);
  const next = await planOf(site);
  expect(next.plan.changes).toEqual([]);
  return run;
}

describe.each(TARGETS)('crashes on %s', (target) => {
  describe('a crash before anything is committed leaves Moodle as it was', () => {
    for (const point of ['before-transaction', 'after-writes', 'after-pending']) {
      it(`at ${point}: Moodle unchanged, then the next apply converges`, async () => {
        const site = await freshSite(target);
        const before = await checksums(site);

        const killed = await child(site, { failpoint: point });
        expectKilled(killed);
        await expectStaleLock(site, killed);

        expect(await checksums(site)).toEqual(before);
        expect(await fileBytes(site.statePath)).toBeNull();
        // Only a crash after the pending file was written leaves one; it names an apply Moodle never saw.
        const pending = await readStateFile(`${site.statePath}.pending`);
        if (point === 'after-pending') {
          expect(pending?.apply_id).toMatch(/^[0-9a-f-]{36}$/);
          const plan = await planOf(site);
          expect(plan.plan.changes.filter((c) => c.action === 'create')).toHaveLength(PEOPLE);
          expect(plan.plan.warnings.join('\n')).toContain('not committed in Moodle');
          // A plan writes nothing, not even the cleanup of the pending file.
          expect(await fileBytes(`${site.statePath}.pending`)).not.toBeNull();
        } else {
          expect(pending).toBeNull();
        }

        await expectConverges(site, { active: ALL });
        const state = await readStateFile(site.statePath);
        expect(state?.serial).toBe(1);
      });
    }
  });

  describe('a crash after the commit loses nothing', () => {
    it('at after-commit: the plan already sees the commit without writing the state, the next apply records it', async () => {
      const site = await freshSite(target);
      const killed = await child(site, { failpoint: 'after-commit' });
      expectKilled(killed);
      await expectStaleLock(site, killed);

      // Moodle committed: the users exist, the marker names the pending file's apply; the state file is not there.
      const facts = await siteFacts(site.t);
      expect([...facts.users.keys()].sort()).toEqual(ALL);
      const pending = await readStateFile(`${site.statePath}.pending`);
      expect(facts.marker?.apply_id).toBe(pending?.apply_id);
      expect(await fileBytes(site.statePath)).toBeNull();

      const plan = await planOf(site);
      expect(plan.plan.changes).toEqual([]);
      expect(plan.plan.warnings.join('\n')).toMatch(/an apply was interrupted \(.*committed in Moodle\)/);
      expect(plan.state.serial).toBe(1);
      expect(await fileBytes(site.statePath)).toBeNull();
      expect(await fileBytes(`${site.statePath}.pending`)).not.toBeNull();

      const pendingBytes = await fileBytes(`${site.statePath}.pending`);
      const result = await applyOf(site);
      expect(result.applied).toBe(false);
      expect(result.planned.plan.warnings.join('\n')).toContain('had committed in Moodle: its state was recorded');
      // Promoted as is: the state file is the pending file, renamed.
      expect(await fileBytes(site.statePath)).toEqual(pendingBytes);
      expect(await convergenceProblems(site.t, site.statePath, { active: ALL })).toEqual([]);
      expect((await planOf(site)).plan.changes).toEqual([]);
    });

    it('at after-promote: everything was recorded; the next apply has nothing to do', async () => {
      const site = await freshSite(target);
      expectKilled(await child(site, { failpoint: 'after-promote' }));
      expect(await convergenceProblems(site.t, site.statePath, { active: ALL })).toEqual([]);
      const run = await expectConverges(site, { active: ALL });
      expect(run.stdout).toContain('No changes');
    });
  });

  describe('a crash during a second apply', () => {
    it('at after-writes (updates and suspensions) leaves the first apply in force, then converges', async () => {
      const site = await freshSite(target);
      const first = await child(site);
      expect(first.code, first.stderr).toBe(0);
      const firstState = await fileBytes(site.statePath);
      // Two people leave (suspended), one is renamed (updated).
      await writeFile(site.ws.path(PEOPLE_LDIF), peopleLdif(PEOPLE, { without: [4, 9], renamed: [2] }));
      // A suspension ends the user's sessions: one is open, so that the crash must also keep it.
      await site.t.execute(
        "INSERT INTO mdl_sessions (sid, userid, timecreated, timemodified) SELECT 'sid-p4', id, 1, 1 FROM mdl_user WHERE username = 'p0000004'",
      );
      const before = await checksums(site);

      expectKilled(await child(site, { failpoint: 'after-writes', args: ['--allow-removals', '2'] }));

      expect(await checksums(site)).toEqual(before);
      expect(await fileBytes(site.statePath)).toEqual(firstState);
      expect(await fileBytes(`${site.statePath}.pending`)).toBeNull();
      expect(await convergenceProblems(site.t, site.statePath, { active: ALL })).toEqual([]);

      const gone = [...peopleUsernames(4, 4), ...peopleUsernames(9, 9)];
      await expectConverges(site, { active: ALL.filter((u) => !gone.includes(u)), suspended: gone }, [
        '--allow-removals',
        '2',
      ]);
      expect((await readStateFile(site.statePath))?.serial).toBe(2);
      const [renamed] = await site.t.query<{ lastname: string }>(
        "SELECT lastname FROM mdl_user WHERE username = 'p0000002'",
      );
      expect(renamed?.lastname).toMatch(/-renamed$/);
      expect(await site.t.query("SELECT id FROM mdl_sessions WHERE sid = 'sid-p4'")).toEqual([]);
    });
  });
});
