/**
 * Compiling a spec's rules: every template, condition, transcoding and search the rules use, checked once,
 * with every problem reported at its spec path. The result is what `desiredState` (rules.ts) evaluates.
 * Reads nothing: the CSV files of transcodings come read with the spec (LoadedSpec.transcodingFiles).
 */
import { InternalError, UserError } from '../errors.js';
import type { DesiredObject } from '../model/desired.js';
import type { SearchRequest } from '../source/source.js';
import type { LoadedSpec, TranscodingFile } from '../spec/load.js';
import type { Spec, UserFieldName } from '../spec/schema.js';
import { USER_FIELD_NAMES } from '../spec/schema.js';
import type { Condition, ExplainedCondition, PositionOf } from './compile.js';
import { compileCondition, compileExplainedCondition, Problems, TemplateCompiler } from './compile.js';
import type { CompiledCourseRule } from './compile-course-rules.js';
import { compileCourseRules } from './compile-course-rules.js';
import { digestValues } from './digest.js';
import type { CompiledObjectRule } from './objects.js';
import { compileObjectRule } from './objects.js';
import type { CompiledTemplate } from './template.js';
import type { Transcoding } from './transcoding.js';
import { buildTranscoding } from './transcoding.js';
import type { CompiledUserRules } from './users.js';

export interface CompiledProfile {
  readonly name: string;
  readonly enabled: boolean;
  readonly when: Condition;
  readonly rules: CompiledUserRules;
  readonly onRemoved: 'keep' | 'suspend';
}

export interface CompiledVars {
  readonly names: readonly string[];
  readonly templates: ReadonlyMap<string, readonly CompiledTemplate[]>;
}

export interface CompiledProfileField {
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
  /** Why `usersWhen` rules a person out (its `reason`s), if the spec says. */
  readonly usersWhy: ExplainedCondition['why'];
  readonly peopleVars: CompiledVars;
  readonly structureVars: CompiledVars;
  readonly constants: Readonly<Record<string, readonly string[]>>;
  readonly transcodings: ReadonlyMap<string, Transcoding>;
  readonly scope: ReadonlySet<string> | null;
  /** `citesScolaires`: the scope grows to the whole cité scolaire of each served establishment. */
  readonly citesScolaires: boolean;
  readonly profileFields: readonly CompiledProfileField[];
  readonly objectRules: readonly CompiledObjectRule[];
  readonly courseRules: readonly CompiledCourseRule[];
  /** `ownership.people`: a person's establishments (undefined: the spec records no ownership). */
  readonly personOwnership?: CompiledTemplate;
  /** Roles the spec declares (`roles.declare`), as desired objects. */
  readonly roles: readonly DesiredObject[];
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
  return compileSpecRules(loaded.spec, loaded.positionOf, loaded.transcodingFiles);
}

/** `transcodingFiles`: the CSV file of every transcoding that names one, by transcoding name. */
export function compileSpecRules(
  spec: Spec,
  positionOf: PositionOf,
  transcodingFiles: ReadonlyMap<string, TranscodingFile>,
): CompiledRules {
  const problems = new Problems(positionOf);
  const transcodings = new Map<string, Transcoding>();
  for (const [name, table] of Object.entries(spec.transcodings ?? {})) {
    const csv = table.csv === undefined ? undefined : transcodingFiles.get(name);
    // loadSpec reads every csv it names (or fails): a table without its file is a bug, not a spec problem.
    if (table.csv !== undefined && csv === undefined) {
      throw new InternalError(`transcoding "${name}": its CSV file ${table.csv} was not read with the spec`);
    }
    try {
      transcodings.set(name, buildTranscoding(name, { ...table, csv }));
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
  const usersWhen = compileExplainedCondition(spec.users.when, '/users/when', people, problems, profileNames);

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

  const ownership = compileOwnership(spec, { people, structures });
  const withOwnership = <R extends { readonly from: 'people' | 'structures' }>(rule: R): R => {
    const template = rule.from === 'structures' ? ownership.structures : ownership.people;
    return template === undefined ? rule : { ...rule, ownership: template };
  };
  const courseRules = compileCourseRules(spec, { people, structures }, problems, profileNames).map(withOwnership);
  const ownedObjectRules = objectRules.map(withOwnership);

  const usesStructures =
    structures.attributes.size > 0 ||
    objectRules.some((r) => r.from === 'structures') ||
    courseRules.some((r) => r.from === 'structures') ||
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
    usersWhen: usersWhen.holds,
    usersWhy: usersWhen.why,
    peopleVars,
    structureVars,
    constants,
    transcodings,
    scope,
    citesScolaires: spec.citesScolaires,
    profileFields,
    objectRules: ownedObjectRules,
    courseRules,
    ...(ownership.person === undefined ? {} : { personOwnership: ownership.person }),
    roles: declaredRoles(spec),
    onDataError: spec.onDataError,
    onInvalidEntry: spec.users.onInvalidEntry,
  };
}

/** `ownership`: the person template, and the object template compiled for each kind of rule. */
function compileOwnership(
  spec: Spec,
  compilers: { readonly people: TemplateCompiler; readonly structures: TemplateCompiler },
): { person?: CompiledTemplate; people?: CompiledTemplate; structures?: CompiledTemplate } {
  if (spec.ownership === undefined) return {};
  const person = compilers.people.compile(spec.ownership.people, '/ownership/people');
  const people = compilers.people.compile(spec.ownership.objects, '/ownership/objects');
  const structures = compilers.structures.compile(spec.ownership.objects, '/ownership/objects');
  return {
    ...(person === undefined ? {} : { person }),
    ...(people === undefined ? {} : { people }),
    ...(structures === undefined ? {} : { structures }),
  };
}

/** Moodle's context levels by the names the spec uses. */
export const CONTEXT_LEVEL_NUMBERS = { system: 10, user: 30, category: 40, course: 50, module: 70, block: 80 } as const;

/** `roles.declare` → one desired role each: levels and capabilities as sorted comma lists (compared as text). */
function declaredRoles(spec: Spec): DesiredObject[] {
  const out: DesiredObject[] = [];
  for (const [shortname, role] of Object.entries(spec.roles?.declare ?? {})) {
    if (!role.enabled) continue;
    const values = {
      shortname,
      name: role.name,
      description: role.description,
      archetype: '',
      contextlevels: role.contextLevels
        .map((level) => CONTEXT_LEVEL_NUMBERS[level])
        .sort((a, b) => a - b)
        .join(','),
      capabilities: [...role.capabilities].sort().join(','),
    };
    out.push({ key: shortname, dn: '', values, sourceDigest: digestValues(values) });
  }
  return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

/** What the structure index reads of establishment entries (see sdet/structures.ts). */
const STRUCTURE_INDEX_ATTRIBUTES = [
  'entstructureuai',
  'entstructuresiren',
  'entstructurenomcourant',
  'entstructurejointure',
  'entetablissementstructrattachfctl',
];
