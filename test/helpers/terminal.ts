/**
 * The real executable on a real pseudo-terminal (util-linux `script`: stdout and stderr both the terminal) or on
 * a pipe, for what depends on being a terminal: colour, progress. What decides colour is removed from the
 * environment first: NO_COLOR, FORCE_COLOR, TERM, and CI (chalk colours no terminal under a CI it does not know,
 * as when this suite runs under `CI=true`).
 */
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { parse, stringify } from 'yaml';
import { COLLEGE_SPEC, copyCollegeSideFiles, type Workspace } from './spec-files.js';

const BIN = fileURLToPath(new URL('../../bin/ldap2moodle.js', import.meta.url));
const COLLEGE_LDIF = fileURLToPath(new URL('../../examples/college/directory.ldif', import.meta.url));

/** Quotes one word for sh. */
const sh = (word: string): string => `'${word.replace(/'/g, `'\\''`)}'`;

export interface TerminalRunOptions {
  /** A pseudo-terminal (true) or a pipe. */
  readonly terminal: boolean;
  /** stderr with stdout (`merge`, what a person sees) or thrown away (`drop`, stdout alone). */
  readonly stderr: 'merge' | 'drop';
  readonly env?: NodeJS.ProcessEnv;
}

/** Runs `ldap2moodle args…` and returns what it printed (stdout, and stderr when merged). */
export function runOnTerminal(args: readonly string[], options: TerminalRunOptions): Promise<string> {
  const { NO_COLOR: _, FORCE_COLOR: __, TERM: ___, CI: ____, ...base } = process.env;
  const redirect = options.stderr === 'merge' ? '2>&1' : '2>/dev/null';
  const command = `${[process.execPath, BIN, ...args].map(sh).join(' ')} ${redirect}`;
  const [file, argv] = options.terminal ? ['script', ['-qec', command, '/dev/null']] : ['sh', ['-c', command]];
  return new Promise((resolve, reject) => {
    execFile(file, argv, { env: { ...base, TERM: 'xterm-256color', ...options.env } }, (error, stdout, stderr) => {
      if (error !== null) reject(new Error(`${command} failed: ${stderr}${stdout}`));
      else resolve(stdout);
    });
  });
}

/** The example collège from its LDIF into an in-memory embedded Moodle, as a spec in `ws`. */
export async function collegeInMemory(ws: Workspace): Promise<string> {
  await copyCollegeSideFiles(ws.dir);
  const college = parse(await readFile(COLLEGE_SPEC, 'utf8')) as Record<string, unknown>;
  college.source = { ldif: COLLEGE_LDIF };
  college.moodle = { driver: 'embedded', path: ':memory:' };
  const path = ws.path('ldap2moodle.yaml');
  await writeFile(path, stringify(college));
  return path;
}
