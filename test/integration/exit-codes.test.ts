/**
 * The documented exit codes through the real executable, as cron and CI see them: 2 = changes applied with
 * --detailed-exitcode (0 once there is nothing to do), 3 = applied but a postApply command failed, 4 = refused
 * by a guard (nothing written), and `apply --json`'s result document saying the same.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { ensureBuilt, runBin } from '../helpers/child-apply.js';
import { COLLEGE_SPEC, copyCollegeSideFiles, type Workspace, workspace } from '../helpers/spec-files.js';

const COLLEGE_LDIF = fileURLToPath(new URL('../../examples/college/directory.ldif', import.meta.url));

const cli = runBin;

describe('exit codes of apply', () => {
  let ws: Workspace;
  let base: Record<string, unknown>;
  const spec = async (name: string, change: (s: Record<string, unknown>) => void = () => undefined) => {
    const s = structuredClone(base);
    change(s);
    await writeFile(ws.path(name), stringify(s));
    return ws.path(name);
  };

  beforeAll(async () => {
    await ensureBuilt();
    ws = await workspace();
    await copyCollegeSideFiles(ws.dir);
    base = parse(await readFile(COLLEGE_SPEC, 'utf8')) as Record<string, unknown>;
    base.source = { ldif: COLLEGE_LDIF };
    base.moodle = { driver: 'embedded', path: ws.path('moodle') };
    base.state = { path: ws.path('site.state.json') };
  }, 120_000);
  afterAll(async () => ws?.remove());

  it('2 when --detailed-exitcode applied changes, then 0 when there is nothing to do; --json says so', async () => {
    const path = await spec('site.yaml');
    const first = await cli(['apply', '--spec', path, '--auto-approve', '--detailed-exitcode', '--json']);
    expect(first.stderr).not.toMatch(/Error|Internal/);
    expect(first.code).toBe(2);
    const applied = JSON.parse(first.stdout) as Record<string, unknown>;
    expect(applied).toMatchObject({
      outcome: 'applied',
      exit_code: 2,
      changes_written: 187,
      state: { path: ws.path('site.state.json'), serial: 1 },
    });
    expect((applied.summary as Record<string, number>).create).toBe(187);
    const second = await cli(['apply', '--spec', path, '--auto-approve', '--detailed-exitcode', '--json']);
    expect(second.code).toBe(0);
    expect(JSON.parse(second.stdout)).toMatchObject({ outcome: 'no_changes', exit_code: 0, changes_written: 0 });
    // Without --detailed-exitcode, applied changes are a plain success.
    expect((await cli(['apply', '--spec', path, '--auto-approve'])).code).toBe(0);
  }, 240_000);

  it('3 when the data is written but a postApply command failed', async () => {
    const path = await spec('post-apply.yaml', (s) => {
      s.moodle = { driver: 'embedded', path: ws.path('moodle-post') };
      s.state = { path: ws.path('post.state.json') };
      s.postApply = [{ run: [process.execPath, '-e', 'process.exit(5)'], when: 'always' }];
    });
    const run = await cli(['apply', '--spec', path, '--auto-approve', '--json']);
    expect(run.code).toBe(3);
    const result = JSON.parse(run.stdout) as Record<string, unknown>;
    expect(result).toMatchObject({ outcome: 'post_apply_failed', exit_code: 3, changes_written: 187 });
    expect(result.post_apply).toEqual([expect.objectContaining({ exit_code: 5 })]);
    // Written: the next plan has nothing to do.
    expect((await cli(['plan', '--spec', path, '--detailed-exitcode'])).code).toBe(0);
  }, 240_000);

  it('4 when a guard refuses the plan, nothing written; --json carries the guards', async () => {
    // The site of the first test, now fed a directory without its people.
    const structuresOnly = (await readFile(COLLEGE_LDIF, 'utf8'))
      .split(/\n\n+/)
      .filter((record) => !/^dn: [^\n]*,ou=people,/im.test(record))
      .join('\n\n');
    await writeFile(ws.path('no-people.ldif'), `${structuresOnly}\n`);
    const path = await spec('refused.yaml', (s) => {
      s.source = { ldif: ws.path('no-people.ldif') };
    });
    const run = await cli(['apply', '--spec', path, '--auto-approve', '--json']);
    expect(run.code).toBe(4);
    expect(run.stderr).toMatch(/^Error \[PLAN_REFUSED\]/);
    expect(JSON.parse(run.stdout)).toMatchObject({ outcome: 'refused', exit_code: 4, changes_written: 0 });
    const plan = await cli(['plan', '--spec', path]);
    // The plan's warnings are logged first (the plan is shown), then the error.
    expect(plan.stderr).toMatch(/^Error \[PLAN_REFUSED\]/m);
    expect(plan.code).toBe(4);
    // Nothing was written: the full directory still has nothing to do.
    expect((await cli(['plan', '--spec', await spec('site.yaml'), '--detailed-exitcode'])).code).toBe(0);
  }, 240_000);

  it('apply --json without --auto-approve or a plan file is a usage error, before anything is read', async () => {
    const run = await cli(['apply', '--spec', await spec('site.yaml'), '--json']);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('--auto-approve');
  });
});
