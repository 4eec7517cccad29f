/**
 * Files the tool writes on a full disk: the state (and its pending file) and a saved plan are written in full
 * or not at all. On a small tmpfs, an apply whose new state does not fit fails with STATE_WRITE, rolls Moodle
 * back and leaves the previous state byte for byte; once space is freed the next apply goes through. `plan
 * --out` on the full volume fails with PLAN_WRITE and leaves no file. Temporary files a killed run left next
 * to the state are removed by the next apply.
 *
 * Mounting needs root (CI runs as root); where `mount` is refused, the disk-full cases are skipped, unless
 * L2M_REQUIRE_TMPFS=1 (`.ci/run` sets it when it runs as root): then they fail.
 */
import { execFileSync } from 'node:child_process';
import { mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import {
  COLLEGE_LDIF,
  COLLEGE_SPEC,
  copyCollegeSideFiles,
  runCli,
  type Workspace,
  workspace,
} from '../helpers/spec-files.js';

const TMPFS_SIZE = 256 * 1024;

function tryMount(dir: string): boolean {
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${TMPFS_SIZE},mode=0700`, 'tmpfs', dir], { stdio: 'pipe' });
    return true;
  } catch {
    return false;
  }
}

/** Fills the volume at `dir` until fewer than `leave` bytes are free (tmpfs counts whole pages). */
async function fill(dir: string, leave: number): Promise<void> {
  const out = execFileSync('df', ['-B1', '--output=avail', dir], { encoding: 'utf8' });
  const avail = Number(out.trim().split('\n').at(-1));
  await writeFile(`${dir}/filler`, Buffer.alloc(Math.max(0, avail - leave)));
}

describe('files written on a full disk', () => {
  let ws: Workspace;
  let full: string;
  let mounted = false;
  let specPath: string;
  let fewerPeople: string;

  beforeAll(async () => {
    ws = await workspace();
    full = ws.path('full');
    await mkdir(full);
    mounted = tryMount(full);
    if (!mounted && process.env.L2M_REQUIRE_TMPFS === '1') {
      throw new Error('L2M_REQUIRE_TMPFS=1 but a tmpfs cannot be mounted (not root? no CAP_SYS_ADMIN?)');
    }
    await copyCollegeSideFiles(ws.dir);
    // The first apply sees the directory without some people; the second, all of them (a bigger state).
    const records = (await readFile(COLLEGE_LDIF, 'utf8')).split(/\n\n+/);
    let dropped = 0;
    fewerPeople = ws.path('fewer.ldif');
    await writeFile(
      fewerPeople,
      `${records.filter((r) => !(/^dn: uid=[^\n]*,ou=people,/im.test(r) && dropped++ < 8)).join('\n\n')}\n`,
    );
    const spec = parse(await readFile(COLLEGE_SPEC, 'utf8')) as Record<string, unknown>;
    spec.source = { ldif: fewerPeople };
    spec.moodle = { driver: 'embedded', path: ws.path('moodle') };
    spec.state = { path: `${full}/site.state.json` };
    // The run reports elsewhere: the full volume holds the state alone (a report that cannot be written only warns).
    spec.reports = { dir: ws.path('site.reports') };
    specPath = ws.path('site.yaml');
    await writeFile(specPath, stringify(spec));
  }, 120_000);

  afterAll(async () => {
    if (mounted) execFileSync('umount', [full]);
    await ws?.remove();
  });

  it('apply with the state on a full volume fails with STATE_WRITE, keeps the good state, and recovers', async (ctx) => {
    if (!mounted) ctx.skip();
    const first = await runCli(['apply', '--spec', specPath, '--auto-approve']);
    expect(first.stderr).not.toMatch(/Error|Internal/);
    expect(first.code).toBe(0);
    const statePath = `${full}/site.state.json`;
    const good = await readFile(statePath);
    // The full directory: the new state is bigger than what is left.
    await writeFile(specPath, (await readFile(specPath, 'utf8')).replace(fewerPeople, COLLEGE_LDIF));
    await fill(full, 16 * 1024);
    expect(good.length).toBeGreaterThan(16 * 1024);

    const failed = await runCli(['apply', '--spec', specPath, '--auto-approve']);
    expect(failed.code).not.toBe(0);
    expect(failed.stderr).toMatch(/Error \[STATE_WRITE\]/);
    expect(failed.stderr).not.toMatch(/Internal error/);
    expect(await readFile(statePath)).toEqual(good);
    expect((await readdir(full)).sort()).toEqual(['filler', 'site.state.json']);
    // Moodle was rolled back: a plan still has the people to create.
    const plan = await runCli(['plan', '--spec', specPath, '--detailed-exitcode']);
    expect(plan.code).toBe(2);

    await rm(`${full}/filler`);
    const again = await runCli(['apply', '--spec', specPath, '--auto-approve']);
    expect(again.stderr).not.toMatch(/Error|Internal/);
    expect(again.code).toBe(0);
    expect((await runCli(['plan', '--spec', specPath, '--detailed-exitcode'])).code).toBe(0);
  }, 300_000);

  it('apply on a volume without a byte left: STATE_WRITE for the lock file, nothing left behind', async (ctx) => {
    if (!mounted) ctx.skip();
    const statePath = `${full}/site.state.json`;
    const good = await readFile(statePath);
    await fill(full, 0);
    try {
      // Fill the last partial page too: the lock file's first byte must not fit.
      await writeFile(`${full}/filler-2`, Buffer.alloc(4096)).catch(() => undefined);
      const run = await runCli(['apply', '--spec', specPath, '--auto-approve']);
      expect(run.code).toBe(1);
      expect(run.stderr).toMatch(/^Error \[STATE_WRITE\]: cannot create the lock file .*site\.state\.json\.lock/m);
      expect(run.stderr).not.toMatch(/Internal error/);
      expect(await readFile(statePath)).toEqual(good);
      expect((await readdir(full)).filter((n) => n.startsWith('site.'))).toEqual(['site.state.json']);
    } finally {
      await rm(`${full}/filler`, { force: true });
      await rm(`${full}/filler-2`, { force: true });
    }
  }, 300_000);

  it('plan --out on a full volume fails with PLAN_WRITE and leaves no file', async (ctx) => {
    if (!mounted) ctx.skip();
    await fill(full, 4 * 1024);
    try {
      // A change to plan: the saved plan is then well over the space left.
      await writeFile(specPath, (await readFile(specPath, 'utf8')).replace(COLLEGE_LDIF, fewerPeople));
      const run = await runCli(['plan', '--spec', specPath, '--out', `${full}/site.plan.json`]);
      expect(run.code).toBe(1);
      expect(run.stderr).toMatch(/^Error \[PLAN_WRITE\]: cannot write the plan file .*site\.plan\.json: ENOSPC/m);
      expect(run.stderr).not.toMatch(/Internal error/);
      expect((await readdir(full)).filter((name) => name.includes('plan'))).toEqual([]);
    } finally {
      await rm(`${full}/filler`, { force: true });
    }
  }, 300_000);

  it('the next apply removes the temporary files a killed run left next to the state, and only those', async () => {
    const dir = ws.path('leftovers');
    await mkdir(dir);
    const spec = parse(await readFile(specPath, 'utf8')) as Record<string, unknown>;
    spec.moodle = { driver: 'embedded', path: ws.path('moodle-leftovers') };
    spec.state = { path: `${dir}/site.state.json` };
    const path = ws.path('leftovers.yaml');
    await writeFile(path, stringify(spec));
    const debris = [
      'site.state.json.pending.3141592653', // write-file-atomic's, before
      'site.state.json.4242',
      'site.state.json.pending.l2m-tmp.12345.0a1b2c3d4e5f',
      'site.state.json.l2m-tmp.999.ffee',
    ];
    const kept = ['site.state.json.bak', 'other.state.json.1234', 'notes.txt'];
    for (const name of [...debris, ...kept]) await writeFile(`${dir}/${name}`, 'x');
    const run = await runCli(['apply', '--spec', path, '--auto-approve']);
    expect(run.stderr).not.toMatch(/Error|Internal/);
    expect(run.code).toBe(0);
    expect((await readdir(dir)).sort()).toEqual([...kept, 'site.state.json'].sort());
    expect((await stat(`${dir}/site.state.json`)).mode & 0o777).toBe(0o600);
  }, 300_000);
});
