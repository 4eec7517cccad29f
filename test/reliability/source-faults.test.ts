/**
 * Source faults against a real slapd, at seeded moments, on every target: slapd killed (SIGKILL) during the
 * apply's paged search, slapd paused (SIGSTOP) beyond the spec's LDAP timeout, and a partial or empty
 * directory. Moodle already holds the people (from an LDIF) and the directory renames some, so a run that
 * went through would write: a fault must end the run with a coded LDAP error, or the guards must refuse it,
 * and Moodle's tables stay exactly as they were. test/integration/ldap-source.test.ts checks the LDAP
 * client's errors one by one; this is the whole `apply` process meeting them at random moments.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import {
  applyTablesSnapshot,
  type ChildRun,
  ensureBuilt,
  peopleLdif,
  runApplyChild,
  runBin,
  writePeopleSpec,
} from '../helpers/child-apply.js';
import { dropStaleTestDatabases } from '../helpers/mariadb.js';
import { type SlapdInstance, startSlapd } from '../helpers/slapd.js';
import { STATE_FILE, type Workspace, workspace, writeSpec } from '../helpers/spec-files.js';
import { createTarget, TARGETS, type Target } from '../helpers/targets.js';
import { FAULTS_PER_TARGET, prng, REPLAY, SEED } from './seeded.js';

const PEOPLE = 2000;
/** Small pages: the search is many round trips, so a seeded moment falls inside it. */
const PAGE_SIZE = 25;
// Long enough for a cold slapd on a loaded CI machine (a first page once took over 1 s), short enough to wait.
const TIMEOUT_MS = 5000;
const RENAMED = Array.from({ length: 20 }, (_, i) => i + 1);

type Outcome = 'coded error' | 'completed after the search';
const outcomes: { fault: string; delay: number; outcome: Outcome }[] = [];

beforeAll(async () => {
  await dropStaleTestDatabases();
  await ensureBuilt();
}, 180_000);

afterAll(() => {
  const count = (o: Outcome) => outcomes.filter((r) => r.outcome === o).length;
  console.info(
    `source faults (${REPLAY}): ${outcomes.length} runs, ${count('coded error')} failed with a coded error and ` +
      `wrote nothing, ${count('completed after the search')} came after the search and completed`,
  );
});

const slapdPid = async (slapd: SlapdInstance): Promise<number> =>
  Number((await readFile(join(slapd.dir, 'slapd.pid'), 'utf8')).trim());

describe.each(TARGETS)('source faults on %s', (target) => {
  const draw = prng(SEED ^ 0x5eed ^ target.length);
  let t: Target;
  let ws: Workspace;
  let ldifSpec: string;
  let directory: string;
  let searchEndMs = 0;

  /** The people spec reading `slapd` instead of the LDIF file. */
  async function ldapSpec(slapd: SlapdInstance, timeout = TIMEOUT_MS): Promise<string> {
    const spec = parse(await readFile(ldifSpec, 'utf8')) as Record<string, unknown>;
    spec.source = {
      ldap: {
        url: slapd.url,
        bindDN: slapd.bindDN,
        password: slapd.password,
        baseDN: slapd.baseDN,
        pageSize: PAGE_SIZE,
        timeout,
      },
    };
    // The state of the LDIF spec's applies: the same Moodle, the same owner.
    spec.state = { path: STATE_FILE };
    return writeSpec(ws, spec, 'ldap.yaml');
  }

  async function withSlapd<T>(ldif: string, fn: (slapd: SlapdInstance) => Promise<T>): Promise<T> {
    const file = ws.path(`directory-${Math.floor(draw() * 1e9)}.ldif`);
    await writeFile(file, ldif);
    const slapd = await startSlapd(file, { LDAP_BULK: '1', LDAP_ADMIN_ROOTDN: '1' });
    try {
      return await fn(slapd);
    } finally {
      await slapd.stop().catch(() => undefined);
    }
  }

  /** An apply that meets a fault: a coded LDAP error (or one that came too late: a complete run). */
  async function faultyApply(fault: string, delay: number, run: ChildRun, before: unknown): Promise<void> {
    const where = `${REPLAY}, ${target} ${fault} at ${delay} ms of ${Math.round(searchEndMs)}`;
    if (run.code === 0) {
      outcomes.push({ fault, delay, outcome: 'completed after the search' });
      return;
    }
    expect(run.stderr, where).toMatch(/^Error \[LDAP_[A-Z_]+\]: /m);
    expect(run.stderr, where).not.toContain('Internal error');
    expect(await applyTablesSnapshot(t), where).toEqual(before);
    outcomes.push({ fault, delay, outcome: 'coded error' });
  }

  beforeAll(async () => {
    t = await createTarget(target);
    ws = await workspace();
    directory = peopleLdif(PEOPLE, { renamed: RENAMED });
    ldifSpec = await writePeopleSpec(ws, t, peopleLdif(PEOPLE));
    await t.release();
    const first = await runApplyChild(ldifSpec);
    if (first.code !== 0) throw new Error(`the first apply failed: ${first.stderr}`);
    // When the search ends, from the start of the process: a plan's JSON log stamps the source stage's end.
    await withSlapd(directory, async (slapd) => {
      const spec = await ldapSpec(slapd);
      await t.release();
      const started = Date.now();
      const plan = await runBin(['plan', '--spec', spec, '--log-format', 'json']);
      if (plan.code !== 0) throw new Error(`the timing plan failed: ${plan.stderr}`);
      const read = plan.stderr
        .split('\n')
        .filter((line) => line.startsWith('{'))
        .map((line) => JSON.parse(line) as { time: number; msg: string })
        .find((line) => /directory entr/.test(line.msg));
      if (read === undefined) throw new Error(`no "Read … directory entries" line in:\n${plan.stderr}`);
      searchEndMs = read.time - started;
    });
  }, 300_000);

  afterAll(async () => {
    await t?.drop();
    await ws?.remove();
  });

  for (let i = 1; i <= FAULTS_PER_TARGET; i += 1) {
    it(`slapd killed at a seeded moment (${i} of ${FAULTS_PER_TARGET}): a coded error, nothing written`, async () => {
      const delay = Math.floor(draw() * searchEndMs);
      await withSlapd(directory, async (slapd) => {
        const spec = await ldapSpec(slapd);
        const before = await applyTablesSnapshot(t);
        const pid = await slapdPid(slapd);
        await t.release();
        const killer = setTimeout(() => process.kill(pid, 'SIGKILL'), delay);
        const run = await runApplyChild(spec).finally(() => clearTimeout(killer));
        await faultyApply('kill', delay, run, before);
      });
    }, 120_000);

    it(`slapd paused beyond the timeout (${i} of ${FAULTS_PER_TARGET}): a coded error, nothing written`, async () => {
      const delay = Math.floor(draw() * searchEndMs);
      await withSlapd(directory, async (slapd) => {
        const spec = await ldapSpec(slapd);
        const before = await applyTablesSnapshot(t);
        const pid = await slapdPid(slapd);
        await t.release();
        const pauser = setTimeout(() => process.kill(pid, 'SIGSTOP'), delay);
        const run = await runApplyChild(spec).finally(() => {
          clearTimeout(pauser);
          process.kill(pid, 'SIGCONT');
        });
        await faultyApply('pause', delay, run, before);
      });
    }, 120_000);
  }

  it.each([
    ['a partial directory (a tenth of the people)', PEOPLE / 10],
    ['an empty people branch', 0],
  ])(
    '%s: refused by the guards, nothing written',
    async (_name, kept) => {
      const without = Array.from({ length: PEOPLE - kept }, (_, i) => kept + i + 1);
      await withSlapd(peopleLdif(PEOPLE, { without }), async (slapd) => {
        const spec = await ldapSpec(slapd, 30_000);
        const before = await applyTablesSnapshot(t);
        await t.release();
        const run = await runApplyChild(spec);
        expect(run.code, run.stderr).not.toBe(0);
        expect(run.stderr).toMatch(/^Error \[PLAN_REFUSED\]: /m);
        expect(run.stdout).toContain('REFUSED');
        expect(await applyTablesSnapshot(t)).toEqual(before);
      });
    },
    120_000,
  );
});
