/**
 * The colour decision of the real executable, on a real pseudo-terminal (util-linux `script`) and on a pipe:
 * chalk's own detection (a terminal, FORCE_COLOR, TERM=dumb) with NO_COLOR and --no-color on top.
 */
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { ensureBuilt } from '../helpers/child-apply.js';
import { ANSI, COLLEGE_SPEC, copyCollegeSideFiles, type Workspace, workspace } from '../helpers/spec-files.js';

const BIN = fileURLToPath(new URL('../../bin/ldap2moodle.js', import.meta.url));
const COLLEGE_LDIF = fileURLToPath(new URL('../../examples/college/directory.ldif', import.meta.url));

/** Quotes one word for sh. */
const sh = (word: string): string => `'${word.replace(/'/g, `'\\''`)}'`;

/**
 * Runs the CLI with `env` on a pseudo-terminal or a pipe. What decides colour is removed from the environment
 * first: NO_COLOR, FORCE_COLOR, TERM, and CI (chalk colours no terminal under a CI it does not know, as when
 * this suite runs under `CI=true`).
 */
function run(args: readonly string[], env: NodeJS.ProcessEnv, terminal: boolean): Promise<string> {
  const { NO_COLOR: _, FORCE_COLOR: __, TERM: ___, CI: ____, ...base } = process.env;
  // stderr away: this is about the plan's colours on stdout; the progress drawn on a terminal's stderr (cursor
  // moves, not colours) is test/integration/logs.test.ts's.
  const command = `${[process.execPath, BIN, ...args].map(sh).join(' ')} 2>/dev/null`;
  const [file, argv] = terminal ? ['script', ['-qec', command, '/dev/null']] : ['sh', ['-c', command]];
  return new Promise((resolve, reject) => {
    execFile(file, argv, { env: { ...base, TERM: 'xterm-256color', ...env } }, (error, stdout, stderr) => {
      if (error !== null) reject(new Error(`${command} failed: ${stderr}${stdout}`));
      else resolve(stdout);
    });
  });
}

describe('colour on a terminal, a pipe, and as the environment says', () => {
  let ws: Workspace;
  let spec: string;
  beforeAll(async () => {
    await ensureBuilt();
    ws = await workspace();
    await copyCollegeSideFiles(ws.dir);
    const college = parse(await readFile(COLLEGE_SPEC, 'utf8')) as Record<string, unknown>;
    college.source = { ldif: COLLEGE_LDIF };
    college.moodle = { driver: 'embedded', path: ':memory:' };
    spec = ws.path('ldap2moodle.yaml');
    await writeFile(spec, stringify(college));
  }, 120_000);
  afterAll(async () => ws?.remove());

  const plan = ['plan', '--spec'];
  it('a terminal is coloured; TERM=dumb, NO_COLOR and --no-color are not', async () => {
    expect(await run([...plan, spec], {}, true)).toMatch(ANSI);
    expect(await run([...plan, spec], { TERM: 'dumb' }, true)).not.toMatch(ANSI);
    expect(await run([...plan, spec], { NO_COLOR: '1' }, true)).not.toMatch(ANSI);
    expect(await run([...plan, spec, '--no-color'], {}, true)).not.toMatch(ANSI);
  }, 180_000);

  it('a pipe is not coloured unless FORCE_COLOR says so; FORCE_COLOR=0 wins over a terminal', async () => {
    expect(await run([...plan, spec], {}, false)).not.toMatch(ANSI);
    expect(await run([...plan, spec], { FORCE_COLOR: '1' }, false)).toMatch(ANSI);
    expect(await run([...plan, spec], { FORCE_COLOR: '0' }, true)).not.toMatch(ANSI);
  }, 180_000);
});
