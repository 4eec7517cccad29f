/**
 * The collège example (examples/college: `extends: sdet`, UAI 0450001A) run against a test Moodle: a fresh
 * target and a workspace holding a copy of the example spec, its `moodle` section replaced by the target's and
 * `source.ldif` pointing at an LDIF in the workspace (the example's, or a variant made by text edits), plus the
 * reads the SDET tests assert on: users, profile fields and data, categories with their contexts, cohorts and
 * members, each normalised the same way on every target.
 *
 * Specs are built by text edits of the example (not parse + stringify) so that a test can find where in the
 * file it put a bad value, and check the line:column an error names.
 */
import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { afterEach, expect } from 'vitest';
import { stringify } from 'yaml';
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
import { loadSpec } from '../../src/spec/load.js';
import { afterApply } from './apply-specs.js';
import { checkIntegrity } from './integrity.js';
import {
  type CliRun,
  COLLEGE_LDIF,
  COLLEGE_SPEC,
  copyCollegeSideFiles,
  runCli,
  TOUCHED_TABLES,
  type Workspace,
  workspace,
} from './spec-files.js';
import { createTarget, type Target, type TargetName } from './targets.js';

export { COLLEGE_LDIF, COLLEGE_SPEC };

/** The collège's structure entry (LE GRAND CEDRE, 0450001A). */
export const CLG_DN = 'ENTStructureSIREN=19450001400015,ou=structures,dc=ent,dc=example';
export const personDn = (uid: string): string => `uid=${uid},ou=people,dc=ent,dc=example`;

/** Every table an SDET apply may write (config_plugins holds the apply marker). */
export const SYNC_TABLES = TOUCHED_TABLES;

export const STATE_NAME = 'ldap2moodle.state.json';

// ---------------------------------------------------------------------------------------------------------
// LDIF edits

/** The entry block (from its `dn:` line to the blank line) of the person `uid`. */
function entryRange(ldif: string, uid: string): { start: number; end: number } {
  const start = ldif.indexOf(`\ndn: ${personDn(uid)}\n`);
  if (start < 0) throw new Error(`no entry ${personDn(uid)} in the LDIF`);
  const end = ldif.indexOf('\n\n', start + 1);
  return { start: start + 1, end: end < 0 ? ldif.length : end + 1 };
}

/** `ldif` with the entry of `uid` rewritten by `edit`; fails when the edit changes nothing. */
export function editEntry(ldif: string, uid: string, edit: (block: string) => string): string {
  const { start, end } = entryRange(ldif, uid);
  const block = ldif.slice(start, end);
  const edited = edit(block);
  if (edited === block) throw new Error(`the edit of ${uid} changed nothing`);
  return ldif.slice(0, start) + edited + ldif.slice(end);
}

/** `block` with the whole line `from` replaced by `to` (several lines allowed); the line must be there once. */
export function replaceLine(block: string, from: string, to: string): string {
  const lines = block.split('\n');
  const at = lines.filter((l) => l === from).length;
  if (at !== 1) throw new Error(`expected the line "${from}" once in the entry, found it ${at} times`);
  return lines.map((l) => (l === from ? to : l)).join('\n');
}

/** `block` with `lines` added after its `dn:` line. */
export const addLines = (block: string, lines: readonly string[]): string => {
  const [dn, ...rest] = block.split('\n');
  return [dn, ...lines, ...rest].join('\n');
};

/** `ldif` without the entry of `uid`. */
export function removeEntry(ldif: string, uid: string): string {
  const { start, end } = entryRange(ldif, uid);
  // Drop the blank line that followed it too.
  return ldif.slice(0, start) + ldif.slice(end + (ldif[end] === '\n' ? 1 : 0));
}

/** A student's class value as the fixture writes it (structure DN form). */
export const classLine = (className: string, structureDn: string = CLG_DN): string =>
  `ENTEleveClasses: ${structureDn}$${className}`;

// ---------------------------------------------------------------------------------------------------------
// Specs

export interface SpecText {
  /** Another example spec than the collège's (the cité scolaire's: CITE_SPEC), reading the same directory. */
  readonly example?: string;
  /** Text edits of the example after the moodle/source replacement (each must change something). */
  readonly edits?: readonly (readonly [string, string])[];
  /** YAML appended at the end: top-level keys the example does not have (cohorts, transcodings, postApply…). */
  readonly append?: string;
}

/** The example spec's text, reading `ldif` into `target`, with `options` applied. */
export async function collegeSpecText(
  target: Target,
  ws: Workspace,
  ldif: string,
  options: SpecText = {},
): Promise<string> {
  let text = await readFile(options.example ?? COLLEGE_SPEC, 'utf8');
  const replace = (from: string, to: string) => {
    if (!text.includes(from)) throw new Error(`the example spec has no "${from}"`);
    // A function: `$` patterns in `to` are not replacement patterns.
    text = text.replace(from, () => to);
  };
  replace(
    options.example === undefined ? 'ldif: directory.ldif' : 'ldif: ../college/directory.ldif',
    `ldif: ${JSON.stringify(ldif)}`,
  );
  replace('moodle:\n  driver: embedded\n  path: moodle\n', stringify({ moodle: target.moodleSection(ws.dir) }));
  for (const [from, to] of options.edits ?? []) replace(from, to);
  if (options.append !== undefined) text = `${text.replace(/\n*$/, '\n')}${options.append}`;
  return text;
}

/** 1-based line and column of the first occurrence of `needle` in `text` (where a test put a bad value). */
export function positionOf(text: string, needle: string): { line: number; column: number } {
  const at = text.indexOf(needle);
  if (at < 0 || text.indexOf(needle, at + 1) >= 0) throw new Error(`"${needle}" is not in the spec exactly once`);
  const before = text.slice(0, at).split('\n');
  return { line: before.length, column: (before.at(-1) ?? '').length + 1 };
}

// ---------------------------------------------------------------------------------------------------------
// Sites

export interface CollegeSite {
  readonly t: Target;
  readonly ws: Workspace;
  readonly specPath: string;
  readonly ldifPath: string;
  readonly statePath: string;
  /** The LDIF the spec reads, as last written. */
  ldif(): Promise<string>;
  writeLdif(text: string): Promise<void>;
  /**
   * Writes `<name>.ldif` (the example's LDIF by default) and `<name>.yaml`, the example spec reading it with
   * `options` (its state would be `<name>.state.json`); returns the spec's path.
   */
  writeVariant(name: string, ldif?: string, options?: SpecText): Promise<string>;
  apply(options?: ApplyOptions, specPath?: string): Promise<ApplyResult>;
  plan(options?: PlanOptions, specPath?: string): Promise<PlanResult>;
  /** The UserError an apply fails with (fails the test when it succeeds or throws anything else). */
  applyError(options?: ApplyOptions, specPath?: string): Promise<UserError>;
  /** The CLI in-process (the assertion connection let go first). */
  cli(argv: readonly string[]): Promise<CliRun>;
  /** Fails the test on any Moodle integrity problem (run after every apply). */
  expectIntegrity(): Promise<void>;
  /** Checksums of SYNC_TABLES. */
  checksums(): Promise<Record<string, string>>;
  /** Bytes of the state file (null when there is none) and whether a pending one exists. */
  stateFiles(): Promise<{ state: Buffer | null; pending: boolean }>;
  /** What an apply writes: checksums of SYNC_TABLES and the state files of the workspace (any spec's). */
  written(): Promise<{ sums: Record<string, string>; stateFiles: string[] }>;
  state(): Promise<State>;
  read(): Promise<CollegeMoodle>;
  remove(): Promise<void>;
}

async function bytesOrNull(path: string): Promise<Buffer | null> {
  return readFile(path).catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT') return null;
    throw e;
  });
}

async function userErrorOf(run: Promise<unknown>): Promise<UserError> {
  const outcome = await run.then(
    (result) => result,
    (error: unknown) => error,
  );
  if (!(outcome instanceof UserError)) {
    throw new Error(`expected a UserError, got ${outcome instanceof Error ? outcome.stack : String(outcome)}`, {
      cause: outcome,
    });
  }
  return outcome;
}

/**
 * For a describe block: a function that makes collège sites on `target` (reading `ldif`, the example's by default,
 * with `spec`'s edits), each removed after its test.
 */
export function collegeSites(target: TargetName): (ldif?: string, spec?: SpecText) => Promise<CollegeSite> {
  const made: CollegeSite[] = [];
  afterEach(async () => {
    for (const s of made.splice(0).reverse()) await s.remove();
  });
  return async (ldif, spec) => {
    const s = await collegeSite(target, {
      ...(ldif === undefined ? {} : { ldif }),
      ...(spec === undefined ? {} : { spec }),
    });
    made.push(s);
    return s;
  };
}

/** A fresh Moodle on `target` and a workspace with the collège spec reading `ldif` (the example's by default). */
export async function collegeSite(
  target: TargetName,
  options: { ldif?: string; spec?: SpecText } = {},
): Promise<CollegeSite> {
  const [t, ws] = await Promise.all([createTarget(target), workspace()]);
  try {
    const ldifPath = ws.path('directory.ldif');
    const specPath = ws.path('ldap2moodle.yaml');
    const statePath = ws.path(STATE_NAME);
    await writeFile(ldifPath, options.ldif ?? (await readFile(COLLEGE_LDIF, 'utf8')));
    await copyCollegeSideFiles(ws.dir);
    const writeSpecFile = async (spec: SpecText = {}, name = 'ldap2moodle.yaml', ldif = ldifPath) => {
      const path = ws.path(name);
      await writeFile(path, await collegeSpecText(t, ws, ldif, spec));
      return path;
    };
    await writeSpecFile(options.spec);
    const site: CollegeSite = {
      t,
      ws,
      specPath,
      ldifPath,
      statePath,
      ldif: () => readFile(ldifPath, 'utf8'),
      writeLdif: (text) => writeFile(ldifPath, text),
      async writeVariant(name, ldif, spec = {}) {
        const path = ws.path(`${name}.ldif`);
        await writeFile(path, ldif ?? (await readFile(COLLEGE_LDIF, 'utf8')));
        return writeSpecFile(spec, `${name}.yaml`, path);
      },
      async apply(applyOptions = {}, path = specPath) {
        await t.release();
        const result = await applySpec(await loadSpec(path), applyOptions);
        // Every apply of every test leaves a Moodle whose invariants hold.
        if (result.applied) await afterApply(t);
        return result;
      },
      async plan(planOptions = {}, path = specPath) {
        await t.release();
        return planSpec(await loadSpec(path), planOptions);
      },
      applyError: (applyOptions = {}, path = specPath) => userErrorOf(site.apply(applyOptions, path)),
      async cli(argv) {
        await t.release();
        const run = await runCli(argv);
        if (argv[0] === 'apply' && run.code === 0) await afterApply(t);
        return run;
      },
      async expectIntegrity() {
        expect(await checkIntegrity(t)).toEqual([]);
      },
      checksums: () => t.checksums(SYNC_TABLES),
      async stateFiles() {
        const pending = await stat(`${statePath}.pending`).then(
          () => true,
          () => false,
        );
        return { state: await bytesOrNull(statePath), pending };
      },
      async written() {
        const files = (await readdir(ws.dir)).filter((f) => f.includes('.state.')).sort();
        return { sums: await t.checksums(SYNC_TABLES), stateFiles: files };
      },
      state: async () => JSON.parse(await readFile(statePath, 'utf8')) as State,
      read: () => readCollegeMoodle(t),
      async remove() {
        await t.drop();
        await ws.remove();
      },
    };
    return site;
  } catch (error) {
    await t.drop();
    await ws.remove();
    throw error;
  }
}

// ---------------------------------------------------------------------------------------------------------
// What Moodle holds, normalised (PostgreSQL returns bigints as text, MariaDB numbers)

export interface MoodleUser {
  readonly username: string;
  readonly idnumber: string;
  readonly firstname: string;
  readonly lastname: string;
  readonly email: string;
  readonly auth: string;
  readonly institution: string;
  readonly department: string;
  readonly suspended: number;
  readonly deleted: number;
}

export interface MoodleProfileField {
  readonly shortname: string;
  readonly name: string;
  readonly datatype: string;
  readonly category: string;
  readonly sortorder: number;
  readonly required: number;
  readonly locked: number;
  readonly visible: number;
  readonly forceunique: number;
  readonly signup: number;
  readonly defaultdata: string;
  readonly param1: string;
  readonly param2: string;
  readonly param3: string;
}

export interface MoodleCategory {
  readonly id: number;
  readonly idnumber: string;
  readonly name: string;
  /** idnumber of the parent category ('' at the top level). */
  readonly parent: string;
  readonly depth: number;
  readonly path: string;
  readonly visible: number;
  readonly coursecount: number;
  readonly context: {
    readonly id: number;
    readonly contextlevel: number;
    readonly path: string;
    readonly depth: number;
  };
}

export interface MoodleCohort {
  readonly idnumber: string;
  readonly name: string;
  readonly component: string;
  readonly visible: number;
  readonly contextid: number;
}

export interface CollegeMoodle {
  /** Every user but guest and admin, by username. */
  readonly users: readonly MoodleUser[];
  readonly profileCategories: readonly string[];
  readonly profileFields: readonly MoodleProfileField[];
  /** shortname → username → data. */
  readonly profileData: Readonly<Record<string, Readonly<Record<string, string>>>>;
  /** Categories with an idnumber, by idnumber. */
  readonly categories: readonly MoodleCategory[];
  readonly cohorts: readonly MoodleCohort[];
  /** cohort idnumber → sorted usernames. */
  readonly members: Readonly<Record<string, readonly string[]>>;
}

const text = (v: unknown): string => (v === null || v === undefined ? '' : String(v));
const num = (v: unknown): number => Number(v);
const byText = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

export async function readCollegeMoodle(t: Target): Promise<CollegeMoodle> {
  const users = (
    await t.query(
      "SELECT username, idnumber, firstname, lastname, email, auth, institution, department, suspended, deleted FROM {user} WHERE username NOT IN ('guest', 'admin')",
    )
  )
    .map((r) => ({
      username: text(r.username),
      idnumber: text(r.idnumber),
      firstname: text(r.firstname),
      lastname: text(r.lastname),
      email: text(r.email),
      auth: text(r.auth),
      institution: text(r.institution),
      department: text(r.department),
      suspended: num(r.suspended),
      deleted: num(r.deleted),
    }))
    .sort((a, b) => byText(a.username, b.username));

  const categoryNames = new Map(
    (await t.query('SELECT id, name FROM {user_info_category}')).map((r) => [num(r.id), text(r.name)]),
  );
  const profileFields = (
    await t.query(
      'SELECT shortname, name, datatype, categoryid, sortorder, required, locked, visible, forceunique, signup, defaultdata, param1, param2, param3 FROM {user_info_field}',
    )
  )
    .map((r) => ({
      shortname: text(r.shortname),
      name: text(r.name),
      datatype: text(r.datatype),
      category: categoryNames.get(num(r.categoryid)) ?? `#${text(r.categoryid)}`,
      sortorder: num(r.sortorder),
      required: num(r.required),
      locked: num(r.locked),
      visible: num(r.visible),
      forceunique: num(r.forceunique),
      signup: num(r.signup),
      defaultdata: text(r.defaultdata),
      param1: text(r.param1),
      param2: text(r.param2),
      param3: text(r.param3),
    }))
    .sort((a, b) => byText(a.shortname, b.shortname));

  const profileData: Record<string, Record<string, string>> = {};
  for (const r of await t.query(
    'SELECT f.shortname, u.username, d.data, d.dataformat FROM {user_info_data} d JOIN {user_info_field} f ON f.id = d.fieldid JOIN {user} u ON u.id = d.userid',
  )) {
    const field = text(r.shortname);
    profileData[field] ??= {};
    (profileData[field] as Record<string, string>)[text(r.username)] = text(r.data);
    expect(num(r.dataformat), `dataformat of ${field}/${text(r.username)}`).toBe(0);
  }

  const contexts = new Map(
    (await t.query('SELECT id, contextlevel, instanceid, path, depth FROM {context} WHERE contextlevel = 40')).map(
      (r) => [
        num(r.instanceid),
        { id: num(r.id), contextlevel: num(r.contextlevel), path: text(r.path), depth: num(r.depth) },
      ],
    ),
  );
  const categoryRows = await t.query(
    'SELECT id, idnumber, name, parent, depth, path, visible, coursecount FROM {course_categories}',
  );
  const idnumberOf = new Map(categoryRows.map((r) => [num(r.id), text(r.idnumber)]));
  const categories = categoryRows
    .filter((r) => text(r.idnumber) !== '')
    .map((r) => ({
      id: num(r.id),
      idnumber: text(r.idnumber),
      name: text(r.name),
      parent: num(r.parent) === 0 ? '' : (idnumberOf.get(num(r.parent)) ?? `#${text(r.parent)}`),
      depth: num(r.depth),
      path: text(r.path),
      visible: num(r.visible),
      coursecount: num(r.coursecount),
      context: contexts.get(num(r.id)) ?? { id: 0, contextlevel: 0, path: '(none)', depth: 0 },
    }))
    .sort((a, b) => byText(a.idnumber, b.idnumber));

  const cohorts = (await t.query('SELECT idnumber, name, component, visible, contextid FROM {cohort}'))
    .map((r) => ({
      idnumber: text(r.idnumber),
      name: text(r.name),
      component: text(r.component),
      visible: num(r.visible),
      contextid: num(r.contextid),
    }))
    .sort((a, b) => byText(a.idnumber, b.idnumber));

  const members: Record<string, string[]> = {};
  for (const r of await t.query(
    'SELECT c.idnumber, u.username FROM {cohort_members} m JOIN {cohort} c ON c.id = m.cohortid JOIN {user} u ON u.id = m.userid',
  )) {
    const cohort = text(r.idnumber);
    members[cohort] ??= [];
    (members[cohort] as string[]).push(text(r.username));
  }
  for (const list of Object.values(members)) list.sort(byText);

  return {
    users,
    profileCategories: [...categoryNames.values()].sort(byText),
    profileFields,
    profileData,
    categories,
    cohorts,
    members,
  };
}

/** `address action` of each change of a plan, for exact comparisons. */
export const changeList = (plan: PlanResult): string[] =>
  plan.plan.changes.map((c) => `${c.action} ${c.address}`).sort(byText);
