/**
 * `ldap2moodle demo` as a newcomer runs it: the built executable in a clean temporary directory, with no
 * server and nothing configured. It must plan the example collège (17 users, 3 categories, 9 cohorts, 27 members, 3 profile fields and their 42 values), apply it, plan again with no
 * changes, and leave a spec that `moodle-query` can read. The run's time is printed for the record (the
 * README promises "a few seconds"), never asserted.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt } from '../helpers/child-apply.js';
import type { CliRun } from '../helpers/spec-files.js';
import { ANSI, withoutStageLines } from '../helpers/spec-files.js';

const BIN = fileURLToPath(new URL('../../bin/ldap2moodle.js', import.meta.url));

function exec(args: readonly string[], cwd: string): Promise<CliRun & { ms: number }> {
  const { NO_COLOR: _, FORCE_COLOR: __, ...env } = process.env;
  const started = performance.now();
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { cwd, env, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1;
      resolve({ code, stdout, stderr, ms: performance.now() - started });
    });
  });
}

describe('ldap2moodle demo in a clean directory', () => {
  let dir: string;
  let demo: CliRun & { ms: number };
  beforeAll(async () => {
    await ensureBuilt();
    dir = await mkdtemp(join(tmpdir(), 'ldap2moodle-demo-test-'));
    demo = await exec(['demo', '--no-color'], dir);
    console.log(`ldap2moodle demo: ${Math.round(demo.ms)} ms (node start, embedded Moodle created, plan, apply, plan)`);
  }, 180_000);
  afterAll(async () => {
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  it('exits 0 with the plan of the collège, applies it, and plans again with no changes', () => {
    // stderr is the log: the plans' warnings and a line per stage, nothing else.
    const notices = withoutStageLines(demo.stderr)
      .split('\n')
      .filter((line) => line !== '');
    expect(notices).toContainEqual(expect.stringMatching(/^Warning: the auth plugin "cas" is not enabled/));
    for (const line of notices) expect(line).toMatch(/^Warning: /);
    expect(demo.stderr).toMatch(/^Wrote 187 changes \(/m);
    expect(demo.code).toBe(0);
    expect(demo.stdout).not.toMatch(ANSI);
    const [first, second] = demo.stdout.split('\nPlanning again:\n');
    expect(first).toContain('Plan: 187 to create.');
    expect(first).toContain('Moodle now has 17 cas users, each with its user context');
    expect(first).toContain('and 3 course categories, 9 cohorts with 27 members, 42 profile field values,');
    expect(second).toContain('No changes. Moodle matches the spec.');
    expect(second).not.toContain('to create');
    expect(demo.stdout).toMatch(/\nDemo finished in \d+\.\d s\.\n$/);
  });

  it('works in ./ldap2moodle-demo only: the spec, the directory, the state and the embedded Moodle', async () => {
    expect(await readdir(dir)).toEqual(['ldap2moodle-demo']);
    const made = await readdir(join(dir, 'ldap2moodle-demo'));
    for (const file of [
      'directory.ldif',
      'levels.csv',
      'subjects.csv',
      'ldap2moodle.yaml',
      'ldap2moodle.state.json',
      'moodle',
    ]) {
      expect(made).toContain(file);
    }
    // The embedded Moodle was closed: no lock file left behind.
    expect(await readdir(join(dir, 'ldap2moodle-demo', 'moodle'))).not.toContain('ldap2moodle.lock');
  });

  it('moodle-query on the demo’s spec lists the users it created', async () => {
    const sql = "SELECT username, firstname, lastname FROM {user} WHERE auth = 'cas' ORDER BY username";
    const run = await exec(['moodle-query', '--spec', 'ldap2moodle-demo/ldap2moodle.yaml', sql], dir);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const lines = run.stdout.split('\n');
    expect(lines[0]).toMatch(/^username +\| firstname +\| lastname$/);
    expect(lines).toContain('(17 rows)');
    expect(run.stdout).toMatch(/\nf4500111 +\| Éloïse +\| MARTIN-DUBOIS\n/);
  });
});
