/**
 * For the crash and failure tests of `apply`: the built CLI run as a real child process (so that a failpoint's
 * SIGKILL kills a real process, connections and all), a directory of generated people with its spec, and the
 * checks that a Moodle site and its state file agree after whatever happened.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { State } from '../../src/model/state.js';
import { generatedUid, generatePeopleLdif, PEOPLE_BASE_DN } from './gen-people.js';
import { type Workspace, writeSpec } from './spec-files.js';
import type { Target } from './targets.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BIN = join(ROOT, 'bin/ldap2moodle.js');

/** Sources under src/ whose compiled file in dist/ is missing or older than them. */
async function staleSources(): Promise<string[]> {
  const stale: string[] = [];
  for (const file of await readdir(join(ROOT, 'src'), { recursive: true })) {
    if (!file.endsWith('.ts')) continue;
    const source = await stat(join(ROOT, 'src', file));
    const built = await stat(join(ROOT, 'dist', file.replace(/\.ts$/, '.js'))).catch(() => null);
    if (built === null || built.mtimeMs < source.mtimeMs) stale.push(file);
  }
  return stale;
}

const BUILD_LOCK = join(ROOT, '.tmp', 'build.lock');

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Runs `fn` holding `.tmp/build.lock`: test files in other workers wait instead of building side by side. */
async function withBuildLock<T>(fn: () => Promise<T>): Promise<T> {
  await mkdir(dirname(BUILD_LOCK), { recursive: true });
  for (;;) {
    try {
      await writeFile(BUILD_LOCK, String(process.pid), { flag: 'wx' });
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const holder = Number(await readFile(BUILD_LOCK, 'utf8').catch(() => ''));
      if (Number.isSafeInteger(holder) && holder > 0 && !alive(holder)) await rm(BUILD_LOCK, { force: true });
      else await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
  try {
    return await fn();
  } finally {
    await rm(BUILD_LOCK, { force: true });
  }
}

/**
 * Builds dist/ (`tsc -p tsconfig.build.json`) unless it is up to date: the child runs `bin/ldap2moodle.js`,
 * which loads dist/, and a stale build would test old code. One build at a time across test workers.
 */
export async function ensureBuilt(): Promise<{ built: boolean; ms: number }> {
  const started = performance.now();
  if ((await staleSources()).length === 0) return { built: false, ms: performance.now() - started };
  return withBuildLock(async () => {
    // Another worker may have built it while this one waited.
    if ((await staleSources()).length === 0) return { built: false, ms: performance.now() - started };
    const tsc = join(ROOT, 'node_modules/typescript/bin/tsc');
    try {
      await promisify(execFile)(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { cwd: ROOT });
    } catch (error) {
      const { stdout } = error as { stdout?: string };
      throw new Error(`tsc -p tsconfig.build.json failed in ${ROOT}:\n${stdout ?? ''}`);
    }
    return { built: true, ms: performance.now() - started };
  });
}

export interface ChildRun {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly ms: number;
}

/**
 * Runs `node bin/ldap2moodle.js apply --spec <spec> --auto-approve --no-color [...args]`, with
 * `LDAP2MOODLE_FAILPOINT` set to `failpoint` when given (and unset otherwise). On the embedded target, let go
 * of the assertions' connection first (`target.release()`).
 */
export function runApplyChild(
  specPath: string,
  options: {
    readonly failpoint?: string;
    readonly args?: readonly string[];
    /** SIGKILL the child this many ms after it was started (test/reliability's seeded random moments). */
    readonly killAfterMs?: number;
    /** Called with the child's stdout so far on each chunk, and the ms since it started. */
    readonly onStdout?: (stdoutSoFar: string, ms: number) => void;
  } = {},
): Promise<ChildRun> {
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.LDAP2MOODLE_FAILPOINT;
  if (options.failpoint !== undefined) env.LDAP2MOODLE_FAILPOINT = options.failpoint;
  const argv = [BIN, 'apply', '--spec', specPath, '--auto-approve', '--no-color', ...(options.args ?? [])];
  const started = performance.now();
  return new Promise((resolve, reject) => {
    // stdin ignored: the command sees no terminal, as under cron.
    const child = spawn(process.execPath, argv, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      options.onStdout?.(stdout, performance.now() - started);
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const killer =
      options.killAfterMs === undefined ? undefined : setTimeout(() => child.kill('SIGKILL'), options.killAfterMs);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(killer);
      resolve({ code, signal, stdout, stderr, ms: performance.now() - started });
    });
  });
}

/** The lower-cased uids (Moodle usernames) of people `from`..`to` of generatePeopleLdif. */
export function peopleUsernames(from: number, to: number): string[] {
  return Array.from({ length: to - from + 1 }, (_, i) => generatedUid(from + i).toLowerCase());
}

/**
 * The LDIF of generatePeopleLdif(n) without the people in `without`, and with the `sn` of the people in
 * `renamed` (1-based indexes) ending in "-renamed".
 */
export function peopleLdif(n: number, changes: { without?: number[]; renamed?: number[] } = {}): string {
  const blocks = generatePeopleLdif(n).split('\n\n');
  return blocks
    .filter((block) => !(changes.without ?? []).some((i) => block.startsWith(`dn: uid=${generatedUid(i)},`)))
    .map((block) => {
      const i = (changes.renamed ?? []).find((r) => block.startsWith(`dn: uid=${generatedUid(r)},`));
      return i === undefined ? block : block.replace(/^sn: (.*)$/m, 'sn: $1-renamed');
    })
    .join('\n\n');
}

export const PEOPLE_LDIF = 'people.ldif';
export const PEOPLE_SPEC = 'ldap2moodle.yaml';

/**
 * Writes `people.ldif` (the LDIF text given) and `ldap2moodle.yaml` reading it into the test Moodle, the
 * people under ou=people becoming `cas` users. `moodle` and `state` override parts of the spec's sections.
 */
export async function writePeopleSpec(
  ws: Workspace,
  target: Target,
  ldif: string,
  overrides: { moodle?: Record<string, unknown>; state?: Record<string, unknown> } = {},
): Promise<string> {
  await writeFile(ws.path(PEOPLE_LDIF), ldif);
  return writeSpec(
    ws,
    {
      version: 1,
      source: { ldif: PEOPLE_LDIF },
      moodle: target.moodleSection(ws.dir, overrides.moodle),
      ...(overrides.state !== undefined ? { state: overrides.state } : {}),
      users: {
        search: { base: PEOPLE_BASE_DN, scope: 'sub', filter: '(objectClass=ENTPerson)' },
        match: 'username',
        auth: 'cas',
        fields: {
          username: '{uid|lower}',
          idnumber: '{ENTPersonJointure|first|split("$", 2)}',
          firstname: '{givenName}',
          lastname: '{sn}',
          email: '{mail|first|default("")}',
        },
        onRemoved: 'suspend',
      },
    },
    PEOPLE_SPEC,
  );
}

/** The tables an apply may write (config_plugins holds the marker). */
export const APPLY_TABLES = ['mdl_user', 'mdl_context', 'mdl_config_plugins', 'mdl_sessions'] as const;

/**
 * What an apply writes, for "Moodle unchanged" checks: the tables' checksums, config_plugins' rows but the
 * apply lock's bookkeeping (`lock_holder` names the apply in progress; one left by a killed apply is harmless
 * and overwritten by the next, see src/moodle/apply-lock.ts).
 */
export async function applyTablesSnapshot(t: Target): Promise<Record<string, unknown>> {
  const sums: Record<string, unknown> = await t.checksums(APPLY_TABLES.filter((name) => name !== 'mdl_config_plugins'));
  sums.config_plugins = await t.query(
    "SELECT plugin, name, value FROM mdl_config_plugins WHERE NOT (plugin = 'local_ldap2moodle' AND name IN ('lock', 'lock_holder')) ORDER BY id",
  );
  return sums;
}

export interface SiteFacts {
  /** `cas` users (the ones the people spec creates), by username: id and suspended flag. */
  readonly users: ReadonlyMap<string, { readonly id: number; readonly suspended: number }>;
  /** Usernames of more than one row, user ids with more than one user context. */
  readonly duplicateUsers: readonly string[];
  readonly duplicateContexts: readonly number[];
  /** `cas` users without a user context, or whose context is not /1/<id> at depth 2. */
  readonly badContexts: readonly number[];
  /** The apply marker (JSON), or null. */
  readonly marker: { lineage: string; serial: number; apply_id: string } | null;
}

/** What the Moodle site holds, read by plain SQL (not by the code under test). */
export async function siteFacts(t: Target): Promise<SiteFacts> {
  const users = await t.query<{ id: number; username: string; suspended: number }>(
    "SELECT id, username, suspended FROM mdl_user WHERE auth = 'cas' AND deleted = 0 ORDER BY username",
  );
  const dupUsers = await t.query<{ username: string }>(
    'SELECT username FROM mdl_user GROUP BY mnethostid, username HAVING COUNT(*) > 1',
  );
  const dupContexts = await t.query<{ instanceid: number }>(
    'SELECT instanceid FROM mdl_context WHERE contextlevel = 30 GROUP BY instanceid HAVING COUNT(*) > 1',
  );
  const bad = await t.query<{ id: number }>(
    `SELECT u.id FROM mdl_user u LEFT JOIN mdl_context c ON c.contextlevel = 30 AND c.instanceid = u.id
      WHERE u.auth = 'cas' AND (c.id IS NULL OR c.path <> CONCAT('/1/', c.id) OR c.depth <> 2)`,
  );
  const [markerRow] = await t.query<{ value: string }>(
    "SELECT value FROM mdl_config_plugins WHERE plugin = 'local_ldap2moodle' AND name = 'state'",
  );
  return {
    users: new Map(users.map((u) => [u.username, { id: Number(u.id), suspended: Number(u.suspended) }])),
    duplicateUsers: dupUsers.map((r) => r.username),
    duplicateContexts: dupContexts.map((r) => Number(r.instanceid)),
    badContexts: bad.map((r) => Number(r.id)),
    marker: markerRow === undefined ? null : (JSON.parse(markerRow.value) as SiteFacts['marker']),
  };
}

/** The state file as JSON, or null when it does not exist. */
export async function readStateFile(path: string): Promise<State | null> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as State;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
}

/** The bytes of a file, or null when it does not exist (to compare a state file before and after). */
export async function fileBytes(path: string): Promise<Buffer | null> {
  return readFile(path).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return null;
    throw error;
  });
}

/** Lists of what is wrong between a site, its state file and the expected users; empty when they agree. */
export async function convergenceProblems(
  t: Target,
  statePath: string,
  expected: { readonly active: readonly string[]; readonly suspended?: readonly string[] },
): Promise<string[]> {
  const site = await siteFacts(t);
  const state = await readStateFile(statePath);
  const problems: string[] = [];
  const want = [...expected.active, ...(expected.suspended ?? [])].sort();
  const have = [...site.users.keys()].sort();
  if (JSON.stringify(have) !== JSON.stringify(want)) problems.push(`cas users ${have.join(',')} ≠ ${want.join(',')}`);
  for (const name of expected.suspended ?? []) {
    if (site.users.get(name)?.suspended !== 1) problems.push(`${name} is not suspended`);
  }
  for (const name of expected.active) if (site.users.get(name)?.suspended !== 0) problems.push(`${name} is suspended`);
  if (site.duplicateUsers.length > 0) problems.push(`duplicate users ${site.duplicateUsers.join(',')}`);
  if (site.duplicateContexts.length > 0) problems.push(`duplicate contexts of ${site.duplicateContexts.join(',')}`);
  if (site.badContexts.length > 0) problems.push(`users without a proper context: ${site.badContexts.join(',')}`);
  if (state === null) return [...problems, 'no state file'];
  const owned = state.objects.filter((o) => o.type === 'user').map((o) => o.id);
  const ids = [...site.users.values()].map((u) => u.id);
  const forgotten = ids.filter((id) => !owned.includes(id));
  if (forgotten.length > 0) problems.push(`users not in the state: ${forgotten.join(',')}`);
  if (owned.length !== new Set(owned).size) problems.push('the state lists a user twice');
  if (site.marker === null) problems.push('no marker');
  else if (site.marker.serial !== state.serial || site.marker.lineage !== state.lineage) {
    problems.push(`marker ${site.marker.lineage}/${site.marker.serial} ≠ state ${state.lineage}/${state.serial}`);
  } else if (site.marker.apply_id !== state.apply_id) {
    problems.push(`marker apply_id ${site.marker.apply_id} ≠ state ${String(state.apply_id)}`);
  }
  if ((await fileBytes(`${statePath}.pending`)) !== null) problems.push('a .pending file is left');
  return problems;
}

/** What the built executable printed and how it exited. */
export interface BinRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `node bin/ldap2moodle.js …args` (no colours unless `env` says otherwise), as cron or CI would. */
export function runBin(args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<BinRun> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [BIN, ...args],
      { env: { ...process.env, NO_COLOR: '1', ...env }, maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1;
        resolve({ code, stdout, stderr });
      },
    );
  });
}
