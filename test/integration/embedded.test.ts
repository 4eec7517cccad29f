/**
 * The embedded Moodle (PGlite) as a place: `:memory:`, a directory that persists between processes, its lock
 * file (a live holder refuses, a dead one is taken over), and the directories it must refuse without
 * touching them: one written by another PGlite or layout version, one that is not an embedded Moodle at all.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { UserError } from '../../src/errors.js';
import { applySpec, planSpec } from '../../src/index.js';
import { EMBEDDED_FORMAT, PGLITE_VERSION } from '../../src/moodle/dialects/embedded-snapshot.js';
import { loadSpec } from '../../src/spec/load.js';
import { afterApply } from '../helpers/apply-specs.js';
import { ensureBuilt, runApplyChild } from '../helpers/child-apply.js';
import {
  COLLEGE_LDIF,
  collegeUsers,
  runCli,
  STATE_FILE,
  userErrorParagraph,
  type Workspace,
  workspace,
  writeSpec,
  withoutStageLines,
} from '../helpers/spec-files.js';
import { EMBEDDED_LOCK, EMBEDDED_SCRATCH, EMBEDDED_STAMP } from '../helpers/target-embedded.js';
import { createTarget, type Target } from '../helpers/targets.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BIN = join(ROOT, 'bin/ldap2moodle.js');

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

beforeAll(async () => {
  await ensureBuilt();
}, 180_000);

async function scratch(): Promise<Workspace> {
  const ws = await workspace(EMBEDDED_SCRATCH);
  cleanups.push(() => ws.remove());
  return ws;
}

/** The example collège into the embedded Moodle at `path` (relative to the spec, or `:memory:`). */
async function collegeInto(ws: Workspace, path: string | Target): Promise<string> {
  return writeSpec(ws, {
    version: 1,
    source: { ldif: COLLEGE_LDIF },
    moodle: typeof path === 'string' ? { driver: 'embedded', path } : path.moodleSection(ws.dir),
    users: await collegeUsers(),
  });
}

/** A fresh embedded Moodle (a copy of the test template) and a spec of the collège next to it. */
async function site(): Promise<{ t: Target; ws: Workspace; spec: string }> {
  const t = await createTarget('embedded');
  cleanups.push(() => t.drop());
  const ws = await scratch();
  return { t, ws, spec: await collegeInto(ws, t) };
}

/** Every file under `dir` with a digest of its bytes: a directory "untouched" means this is equal. */
async function tree(dir: string): Promise<string[]> {
  const files = (await readdir(dir, { recursive: true, withFileTypes: true })).filter((e) => e.isFile());
  const out: string[] = [];
  for (const f of files) {
    const path = join(f.parentPath, f.name);
    out.push(
      `${path.slice(dir.length)} ${createHash('sha256')
        .update(await readFile(path))
        .digest('hex')}`,
    );
  }
  return out.sort();
}

async function planError(spec: string): Promise<UserError> {
  const error = await planSpec(await loadSpec(spec)).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(UserError);
  return error as UserError;
}

function exec(args: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { cwd: ROOT }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : -1, stdout, stderr });
    });
  });
}

/** Another process holding the embedded Moodle at `dir` open (as a long apply would), until killed. */
async function holder(dir: string): Promise<ChildProcess> {
  const entry = join(ROOT, 'dist/moodle/dialects/embedded.js');
  const code = `const { EmbeddedDatabase } = await import(${JSON.stringify(entry)});
    await EmbeddedDatabase.open(process.argv[1]);
    process.stdout.write('open\\n');
    setInterval(() => {}, 1000);`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', code, dir], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  cleanups.push(async () => {
    child.kill('SIGKILL');
  });
  await new Promise<void>((resolve, reject) => {
    let err = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      err += chunk.toString();
    });
    child.stdout?.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('open')) resolve();
    });
    child.on('exit', (status) => reject(new Error(`the holder exited (${status}) before opening ${dir}:\n${err}`)));
  });
  return child;
}

const killed = (child: ChildProcess) =>
  new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });

describe('the embedded Moodle', () => {
  it(':memory: applies the whole plan, and keeps nothing: the next run meets a fresh Moodle', async () => {
    const ws = await scratch();
    const spec = await collegeInto(ws, ':memory:');
    const result = await applySpec(await loadSpec(spec));
    expect(result.applied).toBe(true);
    expect(result.planned.plan.changes).toHaveLength(13);
    expect(result.planned.header.target).toMatch(/^embedded:\/\/:memory: \(Moodle 4\.5/);
    // Nothing on disk but the spec and the state file.
    expect((await readdir(ws.dir)).sort()).toEqual(['ldap2moodle.state.json', 'ldap2moodle.yaml']);
    const query = await runCli(['moodle-query', '--spec', spec, 'SELECT username FROM {user} ORDER BY id']);
    expect(query.stdout).toBe('username\n--------\nguest\nadmin\n(2 rows)\n');
    // The state says serial 1, the new in-memory Moodle carries no marker: refused, as a wrong site would be.
    const error = await planError(spec);
    expect(error.code).toBe('STATE_INVALID');
    expect(error.message).toContain('this Moodle carries no ldap2moodle marker');
  });

  it('a directory is created on first use and persists: apply in one process, plan in another → no changes', async () => {
    const ws = await scratch();
    const spec = await collegeInto(ws, 'moodle');
    const apply = await runApplyChild(spec);
    expect(withoutStageLines(apply.stderr)).toMatch(/^Warning: the auth plugin "cas" is not enabled[^\n]*\n$/);
    expect(apply.code).toBe(0);
    expect(apply.stdout).toContain('Apply complete: 13 changes written in one transaction.');
    expect((await readdir(ws.path('moodle'))).sort()).toEqual([EMBEDDED_STAMP, 'pgdata']);
    expect(JSON.parse(await readFile(ws.path(`moodle/${EMBEDDED_STAMP}`), 'utf8'))).toEqual({
      format: EMBEDDED_FORMAT,
      pglite: PGLITE_VERSION,
      moodle: '4.5',
    });
    const plan = await exec(['plan', '--no-color', '--spec', spec]);
    expect(plan.code).toBe(0);
    expect(withoutStageLines(plan.stderr)).toMatch(/^Warning: the auth plugin "cas" is not enabled[^\n]*\n$/);
    expect(plan.stdout).toContain('No changes. Moodle matches the spec.');
    expect(JSON.parse(await readFile(ws.path(STATE_FILE), 'utf8'))).toMatchObject({ serial: 1 });
  });

  it('a directory another process holds: MOODLE_LOCKED naming it; once it died, its lock is taken over', async () => {
    const { t, spec } = await site();
    const before = await t.checksums(['user', 'context', 'config_plugins']);
    await t.release();
    const child = await holder(t.label);
    const run = await runCli(['plan', '--spec', spec]);
    const paragraph = userErrorParagraph(run, 'MOODLE_LOCKED');
    expect(paragraph).toContain(`the embedded Moodle ${t.label} is in use by process ${child.pid} on ${hostname()}`);
    expect(paragraph).toContain(join(t.label, EMBEDDED_LOCK));

    await killed(child);
    // Its lock file stays, naming a process that is gone: the next run takes it over, then releases it.
    expect(JSON.parse(await readFile(join(t.label, EMBEDDED_LOCK), 'utf8'))).toMatchObject({ pid: child.pid });
    const { plan } = await planSpec(await loadSpec(spec));
    expect(plan.changes).toHaveLength(13);
    expect(await readdir(t.label)).not.toContain(EMBEDDED_LOCK);
    expect(await t.checksums(['user', 'context', 'config_plugins'])).toEqual(before);
  });

  for (const [name, content] of [
    ['a process that died', () => JSON.stringify({ pid: 2 ** 22 + 12345, host: hostname(), started: 'x' })],
    ['a process killed while writing it (not JSON)', () => '{"pid": 12'],
  ] as const) {
    it(`a stale lock left by ${name} is taken over and released`, async () => {
      const { t, spec } = await site();
      await writeFile(join(t.label, EMBEDDED_LOCK), content());
      const result = await applySpec(await loadSpec(spec));
      expect(result.applied).toBe(true);
      await afterApply(t);
      expect(await readdir(t.label)).not.toContain(EMBEDDED_LOCK);
    });
  }

  for (const [what, stamp, shown] of [
    ['another PGlite version', { pglite: '0.0.1' }, 'PGlite 0.0.1'],
    ['another layout (format)', { format: EMBEDDED_FORMAT + 98 }, `format ${EMBEDDED_FORMAT + 98}`],
  ] as const) {
    it(`a directory written by ${what}: MOODLE_UNSUPPORTED, not upgraded, not touched`, async () => {
      const { t, spec } = await site();
      const file = join(t.label, EMBEDDED_STAMP);
      await writeFile(file, JSON.stringify({ ...JSON.parse(await readFile(file, 'utf8')), ...stamp }));
      const before = await tree(t.label);
      const error = await planError(spec);
      expect(error.code).toBe('MOODLE_UNSUPPORTED');
      expect(error.message).toContain(shown);
      expect(error.message).toContain(`PGlite ${PGLITE_VERSION}`);
      expect(error.message).toContain('It is not upgraded silently');
      expect(await tree(t.label)).toEqual(before);
    });
  }

  it('a directory that is not an embedded Moodle: refused, left as it was', async () => {
    const ws = await scratch();
    await mkdir(ws.path('moodle'));
    await writeFile(ws.path('moodle/notes.txt'), 'somebody else’s files\n');
    const before = await tree(ws.path('moodle'));
    const error = await planError(await collegeInto(ws, 'moodle'));
    expect(error.code).toBe('MOODLE_UNSUPPORTED');
    expect(error.message).toContain(`${ws.path('moodle')} is not an embedded Moodle made by ldap2moodle`);
    expect(await tree(ws.path('moodle'))).toEqual(before);
  });

  it('a path that is a file: refused with a user error naming it', async () => {
    const ws = await scratch();
    await writeFile(ws.path('moodle'), 'a file\n');
    const run = await runCli(['plan', '--spec', await collegeInto(ws, 'moodle')]);
    const paragraph = userErrorParagraph(run, 'MOODLE_CONNECT');
    expect(paragraph).toContain(`cannot open the embedded Moodle ${ws.path('moodle')}`);
    expect(paragraph).toContain('moodle.path must be a directory');
    expect(await readFile(ws.path('moodle'), 'utf8')).toBe('a file\n');
  });
});
