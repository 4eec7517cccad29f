/**
 * Rules: spec + directory entries → the desired Moodle state, every entity at once. Pure once compiled
 * (compiling reads the spec's CSV transcoding files, nothing else).
 *
 *   people      → variables ({$uais}…) → profiles → users (their profile's fields) → profile data
 *                 → categories / cohorts of the `from: people` rules (one per `each` combination) → members
 *   structures  → variables ({$uai}) → categories / cohorts of the `from: structures` rules
 *
 * Data problems (a structure not in the directory, a value in no known form, a transcoding miss, one cohort
 * idnumber with two names) leave the object out and are listed as skipped, with the entry's DN and the reason.
 */
import { readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import type { DesiredObject } from '../entities/entity.js';
import { UserError } from '../errors.js';
import type { EntityType } from '../plan/change.js';
import type { LdapEntry } from '../source/entry.js';
import type { SearchRequest } from '../source/source.js';
import type { LoadedSpec } from '../spec/load.js';
import type { Spec, UserFieldName } from '../spec/schema.js';
import { USER_FIELD_NAMES } from '../spec/schema.js';
import type { Condition, PositionOf } from './compile.js';
import { compileCondition, Problems, TemplateCompiler } from './compile.js';
import { digestValues } from './digest.js';
import type { CompiledObjectRule, ObjectCollector } from './objects.js';
import { collectObjects, compileObjectRule, newCollector } from './objects.js';
import { buildStructureIndex } from './sdet/structures.js';
import type { SkippedEntry } from './skipped.js';
import type { CompiledTemplate, EvalContext } from './template.js';
import type { Transcoding } from './transcoding.js';
import { buildTranscoding } from './transcoding.js';
import type { CompiledUserRules, DesiredUser, UserCandidate, UserConstraints } from './users.js';
import { collectUsers, failOnSkipped, userKey } from './users.js';

export interface DirectoryEntries {
  readonly people: readonly LdapEntry[];
  readonly structures: readonly LdapEntry[];
}

interface CompiledProfile {
  readonly name: string;
  readonly enabled: boolean;
  readonly when: Condition;
  readonly rules: CompiledUserRules;
  readonly onRemoved: 'keep' | 'suspend';
}

interface CompiledVars {
  readonly names: readonly string[];
  readonly templates: ReadonlyMap<string, readonly CompiledTemplate[]>;
}

interface CompiledProfileField {
  readonly shortname: string;
  readonly values: DesiredObject['values'];
  readonly value: CompiledTemplate;
}

export interface CompiledRules {
  readonly searches: { readonly people: SearchRequest; readonly structures?: SearchRequest };
  /** Auth plugins users are created with (each must be enabled in Moodle). */
  readonly auths: readonly string[];
  readonly match: 'username' | 'idnumber';
  readonly profiles: readonly CompiledProfile[];
  /** True when the spec has no users.profiles: every person searched is a user. */
  readonly single: boolean;
  readonly usersWhen: Condition;
  readonly peopleVars: CompiledVars;
  readonly structureVars: CompiledVars;
  readonly constants: Readonly<Record<string, readonly string[]>>;
  readonly transcodings: ReadonlyMap<string, Transcoding>;
  readonly scope: ReadonlySet<string> | null;
  readonly profileFields: readonly CompiledProfileField[];
  readonly objectRules: readonly CompiledObjectRule[];
  readonly onDataError: 'skip' | 'fail';
  readonly onInvalidEntry: 'skip' | 'fail';
}

const VISIBILITY = { none: 0, private: 1, everyone: 2, teachers: 3 } as const;

function compileVars(
  vars: Readonly<Record<string, readonly string[]>> | undefined,
  path: string,
  compiler: TemplateCompiler,
): CompiledVars {
  const templates = new Map<string, CompiledTemplate[]>();
  for (const [name, sources] of Object.entries(vars ?? {})) {
    const compiled = sources.flatMap((source, i) => compiler.compile(source, `${path}/${name}/${i}`) ?? []);
    templates.set(name, compiled);
  }
  return { names: [...templates.keys()], templates };
}

function compileUserFields(
  fields: Readonly<Partial<Record<UserFieldName, string>>>,
  path: (name: string) => string,
  match: 'username' | 'idnumber',
  auth: string,
  compiler: TemplateCompiler,
): CompiledUserRules {
  const compiled = new Map<UserFieldName, CompiledTemplate>();
  const attributes = new Set<string>();
  for (const name of USER_FIELD_NAMES) {
    const source = fields[name];
    if (source === undefined) continue;
    const template = compiler.compile(source, path(name));
    if (template === undefined) continue;
    compiled.set(name, template);
    for (const a of template.attributes) attributes.add(a);
  }
  return { match, auth, fields: compiled, attributes: [...attributes].sort() };
}

const resolveFrom = (dir: string, path: string): string => (isAbsolute(path) ? path : resolve(dir, path));

function searchOf(
  spec: Spec,
  which: 'people' | 'structures',
  problems: Problems,
  attributes: readonly string[],
): SearchRequest | undefined {
  const configured = spec.directory?.[which] ?? (which === 'people' ? spec.users.search : undefined);
  if (configured === undefined && which === 'structures') return undefined;
  const base = configured?.base ?? spec.source.ldap?.baseDN;
  if (base === undefined) {
    problems.add(
      which === 'people' ? '/directory/people' : '/directory/structures',
      `directory.${which}.base is required (an LDIF source has no default base DN)`,
    );
    return undefined;
  }
  return {
    base,
    scope: configured?.scope ?? 'sub',
    filter: configured?.filter ?? '(objectClass=*)',
    attributes: [...new Set([...attributes, 'objectclass'])].sort(),
  };
}

/** Compiles every rule of the spec; all problems at once, each at its spec path. */
export function compileRules(loaded: LoadedSpec): CompiledRules {
  return compileSpecRules(loaded.spec, loaded.positionOf, loaded.dir);
}

export function compileSpecRules(spec: Spec, positionOf: PositionOf, dir: string): CompiledRules {
  const problems = new Problems(positionOf);
  const transcodings = new Map<string, Transcoding>();
  for (const [name, table] of Object.entries(spec.transcodings ?? {})) {
    try {
      transcodings.set(
        name,
        buildTranscoding(name, { ...table, csv: table.csv && resolveFrom(dir, table.csv) }, (path) =>
          readFileSync(path, 'utf8'),
        ),
      );
    } catch (error) {
      if (!(error instanceof UserError)) throw error;
      for (const d of error.diagnostics) problems.add(`/transcodings/${name}`, d.message);
      if (error.diagnostics.length === 0) problems.add(`/transcodings/${name}`, error.message);
    }
  }
  const options = { templates: spec.templates ?? {}, transcodings: new Set(transcodings.keys()) };
  const people = new TemplateCompiler(options, problems);
  const structures = new TemplateCompiler(options, problems);

  const peopleVars = compileVars(
    spec.directory?.people?.vars ?? spec.users.search?.vars,
    '/directory/people/vars',
    people,
  );
  const structureVars = compileVars(spec.directory?.structures?.vars, '/directory/structures/vars', structures);
  const profileNames = Object.keys(spec.users.profiles ?? {});
  const usersWhen = compileCondition(spec.users.when, '/users/when', people, problems, profileNames);

  const profiles: CompiledProfile[] = [];
  for (const [name, profile] of Object.entries(spec.users.profiles ?? {})) {
    const fields = { ...spec.users.fields, ...profile.fields };
    profiles.push({
      name,
      enabled: profile.enabled,
      when: compileCondition(profile.when, `/users/profiles/${name}/when`, people, problems, profileNames),
      onRemoved: profile.onRemoved ?? spec.users.onRemoved,
      rules: compileUserFields(
        fields,
        (field) =>
          profile.fields?.[field as UserFieldName] !== undefined
            ? `/users/profiles/${name}/fields/${field}`
            : `/users/fields/${field}`,
        spec.users.match,
        profile.auth ?? spec.users.auth,
        people,
      ),
    });
  }
  const single = profiles.length === 0;
  if (single) {
    profiles.push({
      name: '',
      enabled: true,
      when: () => true,
      onRemoved: spec.users.onRemoved,
      rules: compileUserFields(
        spec.users.fields,
        (f) => `/users/fields/${f}`,
        spec.users.match,
        spec.users.auth,
        people,
      ),
    });
  }
  if (spec.users.match === 'idnumber') {
    for (const profile of profiles) {
      if (!profile.rules.fields.has('idnumber')) {
        problems.add(
          '/users/match',
          `match is "idnumber" but ${profile.name ? `profile ${profile.name}` : 'users.fields'} has no idnumber template`,
        );
      }
    }
  }

  const profileFields: CompiledProfileField[] = [];
  const fieldCategory = spec.profileFields?.category ?? 'ENT';
  for (const [shortname, field] of Object.entries(spec.profileFields?.fields ?? {})) {
    if (!field.enabled) continue;
    const value = people.compile(field.value, `/profileFields/fields/${shortname}/value`);
    if (value === undefined) continue;
    profileFields.push({
      shortname,
      value,
      values: {
        shortname,
        name: field.name,
        datatype: 'text',
        categoryName: fieldCategory,
        locked: field.locked ? 1 : 0,
        visible: VISIBILITY[field.visible],
      },
    });
  }

  const objectRules: CompiledObjectRule[] = [];
  const component = spec.cohorts?.component ?? 'local_ldap2moodle';
  for (const [name, rule] of Object.entries(spec.categories?.rules ?? {})) {
    if (!rule.enabled) continue;
    const compiler = rule.from === 'structures' ? structures : people;
    const compiled = compileObjectRule(
      'category',
      name,
      rule,
      `/categories/rules/${name}`,
      compiler,
      problems,
      profileNames,
      {},
    );
    if (compiled !== undefined) objectRules.push(compiled);
  }
  for (const [name, rule] of Object.entries(spec.cohorts?.rules ?? {})) {
    if (!rule.enabled) continue;
    const compiler = rule.from === 'structures' ? structures : people;
    const compiled = compileObjectRule(
      'cohort',
      name,
      rule,
      `/cohorts/rules/${name}`,
      compiler,
      problems,
      profileNames,
      {
        component,
        visible: 1,
      },
    );
    if (compiled !== undefined) objectRules.push(compiled);
  }

  const usesStructures =
    structures.attributes.size > 0 ||
    objectRules.some((r) => r.from === 'structures') ||
    spec.directory?.structures !== undefined;
  const peopleSearch = searchOf(spec, 'people', problems, [...people.attributes]);
  const structureSearch = usesStructures
    ? searchOf(spec, 'structures', problems, [...structures.attributes, ...STRUCTURE_INDEX_ATTRIBUTES])
    : undefined;
  if (usesStructures && structureSearch === undefined && spec.directory?.structures === undefined) {
    problems.add('/directory', 'the rules read establishments: add directory.structures (base and filter)');
  }
  if (problems.list.length > 0 || peopleSearch === undefined) {
    throw new UserError('SPEC_INVALID', `${problems.list.length} problem(s) in the rules`, problems.list);
  }
  const constants: Record<string, readonly string[]> = {};
  for (const [name, value] of Object.entries(spec.vars ?? {})) constants[name] = [value];
  const scope =
    spec.establishments === undefined ? null : new Set(spec.establishments.map((u) => u.trim().toUpperCase()));
  return {
    searches: { people: peopleSearch, ...(structureSearch === undefined ? {} : { structures: structureSearch }) },
    auths: [...new Set(profiles.filter((p) => p.enabled).map((p) => p.rules.auth))],
    match: spec.users.match,
    profiles,
    single,
    usersWhen,
    peopleVars,
    structureVars,
    constants,
    transcodings,
    scope,
    profileFields,
    objectRules,
    onDataError: spec.onDataError,
    onInvalidEntry: spec.users.onInvalidEntry,
  };
}

/** What the structure index reads of establishment entries (see sdet/structures.ts). */
const STRUCTURE_INDEX_ATTRIBUTES = [
  'entstructureuai',
  'entstructuresiren',
  'entstructurenomcourant',
  'entstructurejointure',
  'entetablissementstructrattachfctl',
];

export interface DesiredState {
  readonly objects: ReadonlyMap<EntityType, readonly DesiredObject[]>;
  readonly skipped: readonly SkippedEntry[];
  readonly warnings: readonly string[];
  /** Problems that are data errors (onDataError decides), as opposed to entries that cannot be users. */
  readonly dataErrors: number;
}

/** Which entity a data problem is listed under when several met it (the object it keeps from being made). */
const RANK: Readonly<Record<EntityType, number>> = {
  user: 0,
  profile_field: 1,
  profile_data: 1,
  category: 2,
  cohort: 2,
  cohort_member: 2,
};

/** Evaluates an entry's variables: constants, then each variable's templates in order, without repeats. */
function evaluateVars(entry: LdapEntry, vars: CompiledVars, base: EvalContext): Record<string, readonly string[]> {
  const out: Record<string, readonly string[]> = { ...base.vars };
  for (const name of vars.names) {
    const seen = new Set<string>();
    for (const template of vars.templates.get(name) ?? []) {
      for (const value of template.evaluate(entry, { ...base, vars: out })) if (value !== '') seen.add(value);
    }
    out[name] = [...seen];
  }
  return out;
}

/** All entries → the desired state. */
export function desiredState(
  entries: DirectoryEntries,
  rules: CompiledRules,
  constraints: UserConstraints,
): DesiredState {
  const skipped: SkippedEntry[] = [];
  let dataErrors = 0;
  const structures = buildStructureIndex(entries.structures);
  const base: EvalContext = {
    vars: rules.constants,
    transcodings: rules.transcodings,
    structures,
    scope: rules.scope,
  };
  // A data problem met while evaluating for an entity and an entry: listed once per entry and message (a bad
  // class value is read for the person's establishments, the classes field and the class cohorts alike),
  // under the most specific entity that met it: what it keeps from being made.
  const reported = new Map<string, number>();
  const reporter =
    (entity: EntityType, dn: string) =>
    (problem: { severity: 'error' | 'warning'; message: string }): void => {
      const id = `${dn}\u0000${problem.message}`;
      const at = reported.get(id);
      if (at !== undefined) {
        const earlier = skipped[at];
        if (earlier !== undefined && RANK[entity] > RANK[earlier.entity]) skipped[at] = { ...earlier, entity };
        return;
      }
      reported.set(id, skipped.length);
      dataErrors += 1;
      skipped.push({ entity, dn, reason: problem.message, kind: 'data' });
    };

  const candidates: UserCandidate[] = [];
  const personContexts = new Map<LdapEntry, { context: EvalContext; profiles: string[] }>();
  for (const entry of entries.people) {
    const context: EvalContext = { ...base, report: reporter('user', entry.dn) };
    const vars = evaluateVars(entry, rules.peopleVars, context);
    const matched = rules.profiles.filter((p) => p.enabled && p.when(entry, { ...context, vars }, []));
    const profiles = rules.single ? [] : matched.map((p) => p.name);
    const withProfiles: EvalContext = { ...context, vars: { ...vars, profiles, profile: profiles.slice(0, 1) } };
    personContexts.set(entry, { context: withProfiles, profiles });
    const primary = matched[0];
    if (primary === undefined || !rules.usersWhen(entry, withProfiles, profiles)) continue;
    candidates.push({
      entry,
      rules: primary.rules,
      context: withProfiles,
      ...(rules.single ? {} : { profile: primary.name }),
    });
  }
  const users = collectUsers(candidates, rules.match, constraints);
  const userByDn = new Map<string, DesiredUser>(users.users.map((u) => [u.dn, u]));

  const profileData: DesiredObject[] = [];
  const collector: ObjectCollector = newCollector();
  for (const entry of entries.people) {
    const person = personContexts.get(entry);
    if (person === undefined) continue;
    const user = userByDn.get(entry.dn);
    if (user !== undefined) {
      for (const field of rules.profileFields) {
        const context = { ...person.context, report: reporter('profile_data', entry.dn) };
        const data = field.value
          .evaluate(entry, context)
          .filter((v) => v !== '')
          .join(',');
        if (data === '') continue;
        profileData.push({
          key: `${field.shortname}/${user.key}`,
          dn: entry.dn,
          values: { data },
          refs: { field: { entity: 'profile_field', key: field.shortname }, user: { entity: 'user', key: user.key } },
          sourceDigest: user.sourceDigest,
        });
      }
    }
    for (const rule of rules.objectRules) {
      if (rule.from !== 'people') continue;
      collectObjects(rule, entry, person.context, person.profiles, user?.key, collector, reporter);
    }
  }
  for (const entry of entries.structures) {
    const context: EvalContext = { ...base, report: reporter('category', entry.dn) };
    const vars = evaluateVars(entry, rules.structureVars, context);
    for (const rule of rules.objectRules) {
      if (rule.from !== 'structures') continue;
      collectObjects(rule, entry, { ...context, vars }, [], undefined, collector, reporter);
    }
  }
  const objects = collector.finish(skipped);
  dataErrors += objects.conflicts;
  const fieldObjects: DesiredObject[] = rules.profileFields.map((f) => ({
    key: f.shortname,
    dn: '',
    values: f.values,
    sourceDigest: digestValues(f.values),
  }));
  const byKey = <T extends { key: string }>(list: T[]): T[] =>
    list.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  skipped.push(...users.skipped);
  skipped.sort((a, b) => (a.dn < b.dn ? -1 : a.dn > b.dn ? 1 : a.entity < b.entity ? -1 : a.entity > b.entity ? 1 : 0));
  return {
    objects: new Map<EntityType, readonly DesiredObject[]>([
      ['category', objects.categories],
      // In the spec's order, which Moodle's sortorder follows.
      ['profile_field', fieldObjects],
      ['user', users.users],
      ['profile_data', byKey(profileData)],
      ['cohort', objects.cohorts],
      ['cohort_member', objects.members],
    ]),
    skipped,
    warnings: structures.skipped.map((s) => `structure ${s.dn} is ignored: ${s.reason}`),
    dataErrors,
  };
}

/** `onInvalidEntry: fail` / `onDataError: fail`: the skipped entries become one error listing them all. */
export function failOnErrors(desired: DesiredState, spec: Spec): void {
  const users = desired.skipped.filter((s) => s.kind === undefined);
  if (spec.users.onInvalidEntry === 'fail') failOnSkipped(users);
  const data = desired.skipped.filter((s) => s.kind === 'data');
  if (spec.onDataError !== 'fail' || data.length === 0) return;
  throw new UserError(
    'ENTRY_INVALID',
    `${data.length === 1 ? '1 data error' : `${data.length} data errors`} in the directory (onDataError is "fail"; ` +
      'set it to "skip" to plan without the objects concerned)',
    data.map((s) => ({ dn: s.dn, message: `${s.entity}: ${s.reason}` })),
  );
}

export { userKey };
