/**
 * Documented error cases through the real executable, as cron or CI meets them: each gets its stable code, a
 * non-zero exit status and no stack trace; `validate` and `state list` work without the secrets; a closed
 * pipe ends the output quietly.
 */
import { spawn } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { type BinRun, ensureBuilt, runBin } from '../helpers/child-apply.js';
import {
  COLLEGE_SPEC,
  copyCollegeSideFiles,
  type Workspace,
  withoutStageLines,
  workspace,
} from '../helpers/spec-files.js';

const BIN = fileURLToPath(new URL('../../bin/ldap2moodle.js', import.meta.url));
const COLLEGE_LDIF = fileURLToPath(new URL('../../examples/college/directory.ldif', import.meta.url));

const cli = runBin;
type Run = BinRun;

/** A user error as the CLI prints it: its code first, never a stack or "Internal error". */
function expectUserError(run: Run, code: string): void {
  expect(run.code, run.stderr).toBe(1);
  expect(run.stderr).toMatch(new RegExp(`^Error \\[${code}\\]: `));
  expect(run.stderr).not.toMatch(/Internal error|\n\s+at .+:\d+:\d+/);
}

describe('error cases through the CLI', () => {
  let ws: Workspace;
  /** The collège example with its own embedded Moodle in the workspace, plus a variant of it. */
  let base: Record<string, unknown>;
  const write = async (name: string, change: (spec: Record<string, unknown>) => void): Promise<string> => {
    const spec = structuredClone(base);
    change(spec);
    const path = ws.path(name);
    await writeFile(path, stringify(spec));
    return path;
  };

  beforeAll(async () => {
    await ensureBuilt();
    ws = await workspace();
    await copyCollegeSideFiles(ws.dir);
    base = parse(await readFile(COLLEGE_SPEC, 'utf8')) as Record<string, unknown>;
    base.source = { ldif: COLLEGE_LDIF };
    base.moodle = { driver: 'embedded', path: ws.path('moodle') };
  }, 120_000);
  afterAll(async () => ws?.remove());

  it('a PostgreSQL database without Moodle (or with another prefix): MOODLE_NOT_FOUND', async () => {
    const spec = await write('pg.yaml', (s) => {
      s.moodle = { driver: 'postgres', host: '127.0.0.1', port: 5432, database: 'postgres', user: 'postgres' };
      s.moodle = { ...(s.moodle as object), prefix: 'l2m_none_' };
    });
    const run = await cli(['plan', '--spec', spec]);
    expectUserError(run, 'MOODLE_NOT_FOUND');
    expect(run.stderr).toContain('prefix "l2m_none_"');
  });

  it('an SQL error in moodle-query: MOODLE_QUERY_FAILED with the database message', async () => {
    const spec = await write('query.yaml', () => undefined);
    const run = await cli(['moodle-query', '--spec', spec, 'SELECT no_such_column FROM {user}']);
    expectUserError(run, 'MOODLE_QUERY_FAILED');
    expect(run.stderr).toContain('no_such_column');
  });

  it('validate: a missing LDIF file is SPEC_READ at its line, not "valid"', async () => {
    const spec = await write('missing-ldif.yaml', (s) => {
      s.source = { ldif: 'nowhere.ldif' };
    });
    const run = await cli(['validate', '--spec', spec]);
    expectUserError(run, 'SPEC_READ');
    expect(run.stderr).toMatch(/missing-ldif\.yaml:\d+:\d+: the LDIF file .*nowhere\.ldif: no such file/);
    expect(run.stdout).toBe('');
  });

  it('validate: a missing transcoding CSV is reported once, without an "unknown transcoding" cascade', async () => {
    const spec = await write('missing-csv.yaml', (s) => {
      const transcodings = s.transcodings as Record<string, { csv: string }>;
      (transcodings.levelNames as { csv: string }).csv = 'no-levels.csv';
    });
    const run = await cli(['validate', '--spec', spec]);
    expectUserError(run, 'SPEC_READ');
    expect(run.stderr.match(/no-levels\.csv/g)?.length).toBe(2); // the summary line and its diagnostic
    expect(run.stderr).not.toMatch(/unknown transcoding/i);
  });

  it('validate --json lists problems with file, line, column, JSON path and code', async () => {
    const spec = await write('bad.yaml', (s) => {
      s.source = { ldif: 'nowhere.ldif' };
    });
    const run = await cli(['validate', '--json', '--spec', spec]);
    expect(run.code).toBe(1);
    const result = JSON.parse(run.stdout) as { valid: boolean; problems: Record<string, unknown>[] };
    expect(result.valid).toBe(false);
    expect(result.problems).toEqual([
      expect.objectContaining({ code: 'SPEC_READ', file: spec, path: '/source/ldif', line: expect.any(Number) }),
    ]);
    const good = await cli(['validate', '--json', '--spec', await write('good.yaml', () => undefined)]);
    expect(good.code, good.stdout).toBe(0);
    expect(JSON.parse(good.stdout)).toMatchObject({ valid: true, problems: [] });
  });

  it('validate and state list never need the secrets; plan does', async () => {
    const spec = await write('secrets.yaml', (s) => {
      s.moodle = {
        driver: 'mariadb',
        host: '127.0.0.1',
        database: 'moodle',
        user: 'moodle',
        password: '${env:L2M_TEST_UNSET_PASSWORD}',
        prefix: 'mdl_',
      };
    });
    const env = { L2M_TEST_UNSET_PASSWORD: '' };
    const validate = await cli(['validate', '--spec', spec], env);
    expect(validate.stderr).toBe('');
    expect(validate.code).toBe(0);
    expect(validate.stdout).toContain(': valid');
    const list = await cli(['state', 'list', '--spec', spec], env);
    expect(list.stderr).toBe('');
    expect(list.code).toBe(0);
    expectUserError(await cli(['plan', '--spec', spec], env), 'SECRET_UNSET');
  });

  it('a closed pipe (plan --json | head -c 1) ends quietly with the command exit code', async () => {
    const spec = await write('pipe.yaml', () => undefined);
    const run = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, [BIN, 'plan', '--json', '--spec', spec], {
        env: { ...process.env, NO_COLOR: '1' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stderr = '';
      child.stderr.on('data', (chunk: Buffer) => {
        stderr += chunk.toString();
      });
      // The reader takes one chunk, then goes away, as `head` does.
      child.stdout.once('data', () => child.stdout.destroy());
      child.on('close', (code) => resolve({ code, stderr }));
    });
    // No EPIPE, no stack: the log's stage lines alone.
    expect(withoutStageLines(run.stderr)).toBe('');
    expect(run.code).toBe(0);
  });
});
