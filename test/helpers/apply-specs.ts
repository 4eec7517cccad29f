/**
 * Sites for the apply tests: a fresh Moodle on one target, a temp directory holding an LDIF of chosen people
 * and a spec reading it into that Moodle (state next to the spec), and the reads the assertions need (rows,
 * state file, marker, checksums), written once for every target. Reuses the workspace and spec writers of
 * spec-files.ts. Every run of the tool goes through the site, which lets go of the assertions' connection
 * first (the embedded Moodle admits one process at a time).
 */
import { readFile, stat, writeFile } from 'node:fs/promises';
import { PassThrough } from 'node:stream';
import { buildCli } from '../../src/cli/main.js';
import { UserError } from '../../src/errors.js';
import {
  type ApplyOptions,
  type ApplyResult,
  applySpec,
  type PlanOptions,
  type PlanResult,
  planSpec,
} from '../../src/index.js';
import type { State } from '../../src/model/state.js';
import { type LoadedSpec, loadSpec } from '../../src/spec/load.js';
import { assertIntegrity } from './integrity.js';
import {
  Capture,
  type CliRun,
  STATE_FILE,
  TOUCHED_TABLES,
  type Workspace,
  workspace,
  writeSpec,
} from './spec-files.js';
import { createTarget, type Target, type TargetName, type TargetOptions } from './targets.js';

export const PEOPLE_BASE = 'ou=people,dc=ent,dc=example';

/** One directory person; the spec below turns it into a Moodle user. */
export interface Person {
  readonly uid: string;
  readonly givenName: string;
  readonly sn: string;
  readonly mail?: string;
  /** ENTPersonJointure, `<source>$<key>`: the key becomes the idnumber. */
  readonly jointure?: string;
}

/** The i-th test person (1-based): uid `P0001`, idnumber `ENT0001`. */
export function person(i: number, over: Partial<Person> = {}): Person {
  const n = String(i).padStart(4, '0');
  return {
    uid: `P${n}`,
    givenName: `Given${n}`,
    sn: `SURNAME${n}`,
    mail: `p${n}@ent.example`,
    jointure: `AC-TEST$ENT${n}`,
    ...over,
  };
}

export const people = (n: number): Person[] => Array.from({ length: n }, (_, i) => person(i + 1));

/** The Moodle username of a person (the spec lower-cases the uid). */
export const usernameOf = (p: Person): string => p.uid.toLowerCase();

export function peopleLdif(list: readonly Person[]): string {
  const blocks = [
    'version: 1',
    'dn: dc=ent,dc=example\nobjectClass: dcObject\nobjectClass: organization\ndc: ent\no: ent',
    `dn: ${PEOPLE_BASE}\nobjectClass: organizationalUnit\nou: people`,
  ];
  for (const p of list) {
    const lines = [
      `dn: uid=${p.uid},${PEOPLE_BASE}`,
      'objectClass: inetOrgPerson',
      'objectClass: ENTPerson',
      `uid: ${p.uid}`,
      `cn: ${p.sn} ${p.givenName}`,
      `sn: ${p.sn}`,
      `givenName: ${p.givenName}`,
    ];
    if (p.mail !== undefined) lines.push(`mail: ${p.mail}`);
    if (p.jointure !== undefined) lines.push(`ENTPersonJointure: ${p.jointure}`);
    blocks.push(lines.join('\n'));
  }
  return `${blocks.join('\n\n')}\n`;
}

/** The `users` section of the test specs (cas users, matched by username). */
export function usersSection(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    search: { base: PEOPLE_BASE, scope: 'sub', filter: '(objectClass=inetOrgPerson)' },
    match: 'username',
    auth: 'cas',
    fields: {
      username: '{uid|lower}',
      idnumber: '{ENTPersonJointure|first|split("$", -1)}',
      firstname: '{givenName}',
      lastname: '{sn}',
      email: '{mail|first|default("")}',
    },
    onRemoved: 'suspend',
    adopt: 'never',
    onInvalidEntry: 'fail',
    ...overrides,
  };
}

/** Tables an apply may write (config_plugins holds the apply marker). */
export const TOUCHED = TOUCHED_TABLES;

export type Row = Record<string, unknown>;

export interface ApplySite {
  readonly t: Target;
  readonly ws: Workspace;
  readonly specPath: string;
  readonly statePath: string;
  /** Rewrites the LDIF the spec reads. */
  setPeople(list: readonly Person[]): Promise<void>;
  /** Writes the LDIF the spec reads as given (e.g. from generatePeopleLdif). */
  setLdif(text: string): Promise<void>;
  /** Rewrites the spec with other `users` overrides. */
  setUsers(overrides: Record<string, unknown>): Promise<void>;
  load(): Promise<LoadedSpec>;
  apply(options?: ApplyOptions): Promise<ApplyResult>;
  plan(options?: PlanOptions): Promise<PlanResult>;
  /** The UserError an apply fails with (fails the test when it succeeds or throws anything else). */
  applyError(options?: ApplyOptions): Promise<UserError>;
  /** The CLI in-process, with a stdin of our own (see runCliWithInput). */
  cli(argv: readonly string[], options?: { tty?: boolean; input?: string }): Promise<CliRun>;
  checksums(): Promise<Record<string, string>>;
  state(): Promise<State & { apply_id?: string }>;
  /** Bytes of the state file, or null when there is none. */
  stateBytes(): Promise<Buffer | null>;
  pendingExists(): Promise<boolean>;
  marker(): Promise<Row | null>;
  /** Every user row (all columns) but the guest and the admin, by id. */
  users(): Promise<Row[]>;
  userRow(username: string): Promise<Row>;
  /** The user contexts (level 30) of users other than guest and admin. */
  userContexts(): Promise<Row[]>;
  /** Inserts a user row as an admin would (manual auth by default); returns its id. */
  insertUser(values: Record<string, string | number>): Promise<number>;
  /** Inserts an open session of `userid`; returns its id. */
  insertSession(userid: number, sid: string): Promise<number>;
  sessionsOf(userid: number): Promise<Row[]>;
  remove(): Promise<void>;
}

/** The integrity check after an apply; the embedded target's connection is let go again for the tool. */
export async function afterApply(t: Target): Promise<void> {
  await assertIntegrity(t);
  await t.release();
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    (e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') return false;
      throw e;
    },
  );
}

export async function applySite(
  target: TargetName,
  initial: readonly Person[],
  users: Record<string, unknown> = {},
  dbOptions: TargetOptions = {},
): Promise<ApplySite> {
  const [t, ws] = await Promise.all([createTarget(target, dbOptions), workspace()]);
  const ldifPath = ws.path('directory.ldif');
  const specPath = ws.path('ldap2moodle.yaml');
  const writeUsers = async (overrides: Record<string, unknown>) => {
    await writeSpec(
      ws,
      {
        version: 1,
        source: { ldif: 'directory.ldif' },
        moodle: t.moodleSection(ws.dir),
        users: usersSection(overrides),
      },
      'ldap2moodle.yaml',
    );
  };
  await writeFile(ldifPath, peopleLdif(initial));
  await writeUsers(users);
  const statePath = ws.path(STATE_FILE);
  const load = () => loadSpec(specPath);

  const site: ApplySite = {
    t,
    ws,
    specPath,
    statePath,
    setPeople: (list) => writeFile(ldifPath, peopleLdif(list)),
    setLdif: (text) => writeFile(ldifPath, text),
    setUsers: writeUsers,
    load,
    async apply(options = {}) {
      await t.release();
      const result = await applySpec(await load(), options);
      // Every apply of every test leaves a Moodle whose invariants hold (test/helpers/integrity.ts).
      if (result.applied) await afterApply(t);
      return result;
    },
    async plan(options = {}) {
      await t.release();
      return planSpec(await load(), options);
    },
    async applyError(options = {}) {
      const outcome = await site.apply(options).then(
        (result) => result,
        (error: unknown) => error,
      );
      if (!(outcome instanceof UserError)) {
        throw new Error(`expected the apply to fail with a UserError, got ${String(outcome)}`, { cause: outcome });
      }
      return outcome;
    },
    async cli(argv, options = {}) {
      await t.release();
      const run = await runCliWithInput(argv, options);
      if (argv[0] === 'apply' && run.code === 0) await afterApply(t);
      return run;
    },
    checksums: () => t.checksums(TOUCHED),
    state: async () => JSON.parse(await readFile(statePath, 'utf8')) as State & { apply_id?: string },
    stateBytes: async () => ((await exists(statePath)) ? readFile(statePath) : null),
    pendingExists: () => exists(`${statePath}.pending`),
    async marker() {
      const rows = await t.query<{ value: string }>(
        "SELECT value FROM mdl_config_plugins WHERE plugin = 'local_ldap2moodle' AND name = 'state'",
      );
      if (rows.length > 1) throw new Error('several marker rows');
      return rows[0] === undefined ? null : (JSON.parse(String(rows[0].value)) as Row);
    },
    users: () => t.query('SELECT * FROM mdl_user WHERE id > 2 ORDER BY id'),
    async userRow(username) {
      const rows = await t.query('SELECT * FROM mdl_user WHERE username = ? AND mnethostid = 1', [username]);
      if (rows[0] === undefined || rows.length > 1) throw new Error(`${rows.length} user rows for ${username}`);
      return rows[0];
    },
    userContexts: () =>
      t.query('SELECT * FROM mdl_context WHERE contextlevel = 30 AND instanceid > 2 ORDER BY instanceid'),
    insertUser: (values) => t.insert('user', { auth: 'manual', confirmed: 1, mnethostid: 1, ...values }),
    insertSession(userid, sid) {
      const now = Math.floor(Date.now() / 1000);
      return t.insert('sessions', {
        state: 0,
        sid,
        userid,
        sessdata: null,
        timecreated: now,
        timemodified: now,
        firstip: '10.0.0.1',
        lastip: '10.0.0.1',
      });
    },
    sessionsOf: (userid) => t.query('SELECT * FROM mdl_sessions WHERE userid = ? ORDER BY id', [userid]),
    async remove() {
      await t.drop();
      await ws.remove();
    },
  };
  return site;
}

/**
 * Runs the CLI in-process with a stdin of our own: not a terminal unless `tty`, holding `input` (what a
 * person would type) and then closed.
 */
export async function runCliWithInput(
  argv: readonly string[],
  options: { tty?: boolean; input?: string } = {},
): Promise<CliRun> {
  const stdin = Object.assign(new PassThrough(), { isTTY: options.tty === true });
  stdin.end(options.input ?? '');
  const stdout = new Capture(false);
  const stderr = new Capture(false);
  const code = await buildCli().run([...argv], { stdin, stdout, stderr, colorDepth: 1 });
  return { code, stdout: stdout.text, stderr: stderr.text };
}
