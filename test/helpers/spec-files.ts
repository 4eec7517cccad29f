/**
 * Test workspaces for the end-to-end tests: a temp directory holding a sync spec that points at a test
 * database (and an LDIF file or a test slapd), an optional hand-written state file, and a way to run the CLI
 * on it with captured output.
 */
import { copyFile, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import { parse, stringify } from 'yaml';
import { buildCli } from '../../src/cli/main.js';
import { type PlanOptions, type PlanResult, planSpec } from '../../src/index.js';
import type { StateObject } from '../../src/model/state.js';
import { loadSpec } from '../../src/spec/load.js';
import { assertIntegrity } from './integrity.js';
import type { SlapdInstance } from './slapd.js';
import { createTarget, type Target, type TargetName } from './targets.js';

export { moodleSection } from './targets.js';

export const COLLEGE_SPEC = fileURLToPath(new URL('../../examples/college/ldap2moodle.yaml', import.meta.url));
export const COLLEGE_LDIF = fileURLToPath(new URL('../../examples/college/directory.ldif', import.meta.url));
/** The cité scolaire example: the same directory, three establishments served. */
export const CITE_SPEC = fileURLToPath(new URL('../../examples/cite-scolaire/ldap2moodle.yaml', import.meta.url));
export const SMALL_LDIF = fileURLToPath(new URL('../fixtures/ldap/small.ldif', import.meta.url));
/** Files the example spec reads next to itself, besides its LDIF (its CSV transcoding). */
export const COLLEGE_SIDE_FILES = ['levels.csv', 'subjects.csv'] as const;

/** Copies the example's side files into `dir`, so that a copy of its spec written there loads. */
export async function copyCollegeSideFiles(dir: string): Promise<void> {
  for (const file of COLLEGE_SIDE_FILES) {
    await copyFile(fileURLToPath(new URL(`../../examples/college/${file}`, import.meta.url)), join(dir, file));
  }
}

/** Matches the start of any ANSI escape sequence (colours, bold). */
// biome-ignore lint/suspicious/noControlCharactersInRegex: ESC is what is being looked for
export const ANSI = /\u001b\[/;

/** `text` without its SGR sequences (colours, bold). */
// biome-ignore lint/suspicious/noControlCharactersInRegex: ESC is what is being removed
export const stripAnsi = (text: string): string => text.replace(/\u001b\[[0-9;]*m/g, '');

export interface Workspace {
  readonly dir: string;
  /** Absolute path of a file in the workspace. */
  path(name: string): string;
  remove(): Promise<void>;
}

/** A fresh temp directory (under `base`, the system's temp directory by default). */
export async function workspace(base: string = tmpdir()): Promise<Workspace> {
  const dir = await mkdtemp(join(base, 'ldap2moodle-e2e-'));
  return {
    dir,
    path: (name) => join(dir, name),
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}

/** Tables a plan must leave untouched (config_plugins holds the apply marker). */
export const TOUCHED_TABLES = [
  'mdl_user',
  'mdl_context',
  'mdl_config',
  'mdl_sessions',
  'mdl_config_plugins',
  'mdl_course_categories',
  'mdl_cohort',
  'mdl_cohort_members',
  'mdl_user_info_category',
  'mdl_user_info_field',
  'mdl_user_info_data',
  'mdl_course',
  'mdl_course_sections',
  'mdl_course_format_options',
  'mdl_enrol',
  'mdl_user_enrolments',
  'mdl_role_assignments',
  'mdl_groups',
  'mdl_groups_members',
  'mdl_groupings',
  'mdl_groupings_groups',
  'mdl_cache_flags',
  'mdl_role',
  'mdl_role_context_levels',
  'mdl_role_capabilities',
  'mdl_user_lastaccess',
];

/** A fresh Moodle on one target and an empty workspace for one test. */
export interface TestSite {
  readonly t: Target;
  readonly ws: Workspace;
  /** Checksums of TOUCHED_TABLES once the test's own set-up was done. */
  readonly before: Record<string, string>;
  /** The tables are as they were and no state file (nor `.pending` one) appeared. */
  expectNothingWritten(): Promise<void>;
  /** `planSpec` of the spec at `specPath` (the target's assertion connection let go first). */
  plan(specPath: string, options?: PlanOptions): Promise<PlanResult>;
  /** The CLI in-process (the target's assertion connection let go first). */
  cli(argv: readonly string[], options?: { tty?: boolean }): Promise<CliRun>;
  remove(): Promise<void>;
}

/** `prepare` runs the test's own inserts before the checksums are taken. */
export async function testSite(
  target: TargetName,
  prepare: (t: Target) => Promise<void> = async () => {},
): Promise<TestSite> {
  const [t, ws] = await Promise.all([createTarget(target), workspace()]);
  const remove = async () => {
    await t.drop();
    await ws.remove();
  };
  try {
    await prepare(t);
    const before = await t.checksums(TOUCHED_TABLES);
    await t.release();
    return {
      t,
      ws,
      before,
      async expectNothingWritten() {
        expect(await t.checksums(TOUCHED_TABLES)).toEqual(before);
        expect((await readdir(ws.dir)).filter((name) => name.includes('.state.'))).toEqual([]);
      },
      async plan(specPath, options = {}) {
        await t.release();
        return planSpec(await loadSpec(specPath), options);
      },
      async cli(argv, options = {}) {
        await t.release();
        const run = await runCli(argv, options);
        // Every apply of every test leaves a Moodle whose invariants hold (test/helpers/integrity.ts).
        if (argv[0] === 'apply' && run.code === 0) {
          await assertIntegrity(t);
          await t.release();
        }
        return run;
      },
      remove,
    };
  } catch (error) {
    await remove();
    throw error;
  }
}

/** The `source` section reading a test slapd as its size-limited service account. */
export function ldapSource(slapd: SlapdInstance, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    ldap: { url: slapd.url, bindDN: slapd.bindDN, password: slapd.password, baseDN: slapd.baseDN, ...overrides },
  };
}

/** A users-only spec's `users` section (test/fixtures/specs/users-only.yaml: the collège's people, no preset). */
export const USERS_ONLY_SPEC = fileURLToPath(new URL('../fixtures/specs/users-only.yaml', import.meta.url));

export async function collegeUsers(overrides: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
  const example = parse(await readFile(USERS_ONLY_SPEC, 'utf8')) as { users: Record<string, unknown> };
  return { ...example.users, ...overrides };
}

/** Writes `spec` as YAML (`name` decides the state file name: `<name without extension>.state.json`). */
export async function writeSpec(ws: Workspace, spec: unknown, name = 'ldap2moodle.yaml'): Promise<string> {
  const path = ws.path(name);
  await writeFile(path, stringify(spec, { lineWidth: 0 }));
  return path;
}

/** The spec of the example collège, reading `ldif` (absolute path) into the test Moodle. */
export async function collegeSpec(
  ws: Workspace,
  target: Target,
  options: { ldif?: string; users?: Record<string, unknown> } = {},
): Promise<string> {
  return writeSpec(ws, {
    version: 1,
    source: { ldif: options.ldif ?? COLLEGE_LDIF },
    moodle: target.moodleSection(ws.dir),
    users: await collegeUsers(options.users),
  });
}

/** The default state path of `ldap2moodle.yaml` (see statePath in src/pipeline.ts). */
export const STATE_FILE = 'ldap2moodle.state.json';

const LINEAGE = '4f0d7a52-2f4e-4a8b-9d55-6a1c5e0b9e21';
const SERIAL = 3;

/**
 * What an earlier apply would have left, written by hand: the state file (format of src/state/state.ts)
 * managing `objects`, and the apply marker in Moodle's config_plugins (src/moodle/marker.ts) with the same
 * lineage and serial, without which the state is refused.
 */
export async function writeAppliedState(
  ws: Workspace,
  target: Target,
  objects: readonly StateObject[],
): Promise<string> {
  const path = ws.path(STATE_FILE);
  const state = {
    format_version: 1,
    serial: SERIAL,
    lineage: LINEAGE,
    tool_version: '0.1.0',
    spec_hash: 'sha256:0',
    objects,
  };
  await writeFile(path, `${JSON.stringify(state, null, 2)}\n`);
  const marker = {
    lineage: LINEAGE,
    serial: SERIAL,
    apply_id: 'a1b2c3d4',
    applied_at: '2026-01-05T07:00:00.000Z',
    tool_version: '0.1.0',
  };
  await target.insert('config_plugins', { plugin: 'local_ldap2moodle', name: 'state', value: JSON.stringify(marker) });
  return path;
}

export interface CliRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** A stream that keeps what is written to it; `isTTY` to pose as a terminal. */
export class Capture extends Writable {
  text = '';
  constructor(readonly isTTY: boolean) {
    super();
  }
  override _write(chunk: Buffer | string, _encoding: BufferEncoding, callback: () => void): void {
    this.text += chunk.toString();
    callback();
  }
}

/** A line the log writes at the end of a run, one per stage ("Read 44 directory entries (2 searches) in 0.1 s"). */
export const STAGE_LINE = /^(?:Read|Planned|Wrote|Ran) .*\bin \d+(?:\.\d)? m?s(?: \(failed\))?$/;

/** stderr without the stage lines of the default log: what a test of notices, warnings and errors looks at. */
export function withoutStageLines(stderr: string): string {
  return stderr
    .split(/(?<=\n)/)
    .filter((line) => !STAGE_LINE.test(line.trimEnd()))
    .join('');
}

/** The log of a plan of cas users on a test Moodle, stage lines aside: the one warning that cas is not enabled. */
export const CAS_WARNING_ONLY = /^Warning: the auth plugin "cas" is not enabled in Moodle[^\n]*\n$/;

/** Runs the CLI in-process (the TS sources) with captured stdout/stderr. */
export async function runCli(argv: readonly string[], options: { tty?: boolean } = {}): Promise<CliRun> {
  const stdout = new Capture(options.tty === true);
  const stderr = new Capture(false);
  // colorDepth 1: clipanion's own messages (usage errors, help) without colours, like a pipe.
  const code = await buildCli().run([...argv], { stdin: process.stdin, stdout, stderr, colorDepth: 1 });
  return { code, stdout: stdout.text, stderr: stderr.text };
}

/**
 * Asserts the shape of a user error on stderr: one `Error [CODE]: …` paragraph (one line), then only
 * indented diagnostic lines; no stack trace, no "Internal error". Returns the paragraph.
 */
export function userErrorParagraph(run: CliRun, code: string): string {
  const lines = run.stderr.split('\n');
  const [first, ...rest] = lines;
  const problems: string[] = [];
  if (run.code !== 1) problems.push(`exit code ${run.code}, expected 1`);
  if (run.stdout !== '') problems.push(`stdout not empty: ${run.stdout}`);
  if (!first?.startsWith(`Error [${code}]: `)) problems.push(`first line is not "Error [${code}]: …"`);
  if (rest.at(-1) !== '') problems.push('stderr does not end with a newline');
  if (rest.slice(0, -1).some((l) => !l.startsWith('  '))) problems.push('a line after the paragraph is not indented');
  if (/Internal error|^\s+at /m.test(run.stderr)) problems.push('a stack trace or internal error was printed');
  if (problems.length > 0) throw new Error(`${problems.join('; ')}\n--- stderr ---\n${run.stderr}`);
  return (first ?? '').slice(`Error [${code}]: `.length);
}
