/**
 * Rules: spec + directory entries → the desired Moodle state, every entity at once. Pure (the CSV files of
 * transcodings come read with the spec).
 *
 *   people      → variables ({$uais}…) → profiles → users (their profile's fields) → profile data
 *                 → categories / cohorts of the `from: people` rules (one per `each` combination) → members
 *   structures  → variables ({$uai}) → categories / cohorts of the `from: structures` rules
 *
 * Data problems (a structure not in the directory, a value in no known form, a transcoding miss, one cohort
 * idnumber with two names) leave the object out and are listed as skipped, with the entry's DN and the reason.
 */

import { ENTITY_ORDER, factsOf } from '../entities/catalog.js';
import { UserError } from '../errors.js';
import type { EntityType } from '../model/change.js';
import type { DesiredObject } from '../model/desired.js';
import type { SkippedEntry } from '../model/skipped.js';
import type { LdapEntry } from '../source/entry.js';
import { normalizeDn } from '../source/entry.js';
import type { Spec } from '../spec/schema.js';
import type { CompiledProfile, CompiledRules, CompiledVars } from './compile-rules.js';
import { checkObjectTexts } from './clean-values.js';
import { collectCourseObjects, finishCourseObjects } from './course-objects.js';
import { digestValues } from './digest.js';
import type { ObjectCollector } from './objects.js';
import { collectObjects, establishmentsOf, newCollector } from './objects.js';
import { buildPersonIndex } from './sdet/people.js';
import type { StructureIndex } from './sdet/structures.js';
import { buildStructureIndex } from './sdet/structures.js';
import type { EvalContext, LinkIndex, LinkSource, TemplateProblem } from './template.js';
import type { DesiredUser, UserCandidate, UserConstraints } from './users.js';
import { collectUsers, failOnSkipped } from './users.js';

export type { CompiledRules } from './compile-rules.js';
export { compileRules, compileSpecRules } from './compile-rules.js';

export interface DirectoryEntries {
  readonly people: readonly LdapEntry[];
  readonly structures: readonly LdapEntry[];
}

export interface DesiredState {
  readonly objects: ReadonlyMap<EntityType, readonly DesiredObject[]>;
  readonly skipped: readonly SkippedEntry[];
  readonly warnings: readonly string[];
  /**
   * People of the directory read whom `users.when` rules out with a `reason`, by normalised DN: a managed user
   * among them is suspended with that reason, not as someone who left the directory.
   */
  readonly excluded?: ReadonlyMap<string, string>;
  /** A scoped run's establishments (`--establishment`): the plan touches nothing of the others. */
  readonly scope?: readonly string[];
}

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

/** The establishments served: the spec's, and with `citesScolaires` every establishment of their cités. */
function servedUais(rules: CompiledRules, structures: StructureIndex): ReadonlySet<string> | null {
  if (rules.scope === null || !rules.citesScolaires) return rules.scope;
  const served = new Set(rules.scope);
  for (const uai of rules.scope) {
    const establishment = structures.byUai(uai);
    if (establishment === undefined) continue;
    for (const member of structures.citeOf(establishment)) served.add(member.uai);
  }
  return served;
}

/** All entries → the desired state. */
export function desiredState(
  entries: DirectoryEntries,
  rules: CompiledRules,
  constraints: UserConstraints,
  only?: readonly string[],
): DesiredState {
  const skipped: SkippedEntry[] = [];
  const structures = buildStructureIndex(entries.structures);
  const served = servedUais(rules, structures);
  // A scoped run still evaluates every served establishment (a student whose class is elsewhere is not "without
  // class" because that establishment is out of the run): the plan then keeps what the run's own (plan/scope.ts).
  const scope = only === undefined ? undefined : scopedRun(only, served, structures, rules);
  const base: EvalContext = {
    vars: rules.constants,
    transcodings: rules.transcodings,
    structures,
    scope: served,
  };
  // A data problem met while evaluating for an entity and an entry: listed once per entry and message (a bad
  // class value is read for the person's establishments, the classes field and the class cohorts alike),
  // under the most specific entity that met it: what it keeps from being made.
  const reported = new Map<string, number>();
  const reporter =
    (entity: EntityType, dn: string) =>
    (problem: TemplateProblem): void => {
      const id = `${dn}\u0000${problem.message}`;
      const at = reported.get(id);
      if (at !== undefined) {
        const earlier = skipped[at];
        if (earlier !== undefined && factsOf(entity).problemRank > factsOf(earlier.entity).problemRank)
          skipped[at] = { ...earlier, entity };
        return;
      }
      reported.set(id, skipped.length);
      skipped.push({ entity, dn, reason: problem.message, kind: 'data', ...(problem.absent ? { absent: true } : {}) });
    };

  // Profiles first, for everyone: who is a user, and the rules, may look at other people through `person`
  // (a parent's children), which must know their profiles.
  const matchedProfiles = new Map<LdapEntry, { vars: Record<string, readonly string[]>; matched: CompiledProfile[] }>();
  for (const entry of entries.people) {
    const context: EvalContext = { ...base, report: reporter('user', entry.dn) };
    const vars = evaluateVars(entry, rules.peopleVars, context);
    const matched = rules.profiles.filter((p) => p.enabled && p.when(entry, { ...context, vars }, []));
    matchedProfiles.set(entry, { vars, matched });
  }
  const people = buildPersonIndex(
    entries.people.map((entry) => ({
      entry,
      profiles: rules.single ? [] : (matchedProfiles.get(entry)?.matched ?? []).map((p) => p.name),
    })),
  );

  // Who links to whom (`linked.from` conditions): each source's templates evaluated once over everyone, when a
  // condition first asks. Quietly: the rules that use a link report its problems, with the entry's DN.
  const quietContexts = new Map<LdapEntry, EvalContext>();
  const linked = new Map<LinkSource, Set<string>>();
  const links: LinkIndex = {
    linkedFrom(source, dn) {
      let targets = linked.get(source);
      if (targets === undefined) {
        targets = new Set();
        for (const [other, context] of quietContexts) {
          const self = normalizeDn(other.dn);
          for (const template of source.templates) {
            for (const value of template.evaluate(other, context)) {
              const target = value.includes('=') ? normalizeDn(value) : '';
              if (target !== '' && target !== self) targets.add(target);
            }
          }
        }
        linked.set(source, targets);
      }
      return targets.has(normalizeDn(dn));
    },
  };
  const personContexts = new Map<LdapEntry, { context: EvalContext; profiles: string[] }>();
  for (const entry of entries.people) {
    const { vars, matched } = matchedProfiles.get(entry) ?? { vars: {}, matched: [] };
    const profiles = rules.single ? [] : matched.map((p) => p.name);
    const quiet: EvalContext = { ...base, people, links, vars: { ...vars, profiles, profile: profiles.slice(0, 1) } };
    quietContexts.set(entry, quiet);
    personContexts.set(entry, { context: { ...quiet, report: reporter('user', entry.dn) }, profiles });
  }

  const candidates: UserCandidate[] = [];
  const excluded = new Map<string, string>();
  for (const entry of entries.people) {
    const { matched } = matchedProfiles.get(entry) ?? { matched: [] };
    const person = personContexts.get(entry);
    const primary = matched[0];
    if (primary === undefined || person === undefined) continue;
    const { context: withProfiles, profiles } = person;
    if (!rules.usersWhen(entry, withProfiles, profiles)) {
      const reason = rules.usersWhy(entry, withProfiles, profiles);
      if (reason !== undefined) excluded.set(normalizeDn(entry.dn), reason);
      continue;
    }
    candidates.push({
      entry,
      rules: primary.rules,
      context: withProfiles,
      ...(rules.single ? {} : { profile: primary.name }),
    });
  }
  const collected = collectUsers(candidates, rules.match, constraints);
  // Each user belongs to the establishments `ownership.people` gives their entry.
  const candidateByDn = new Map(candidates.map((c) => [c.entry.dn, c]));
  const users = {
    ...collected,
    users: collected.users.map((u): DesiredUser => {
      const candidate = candidateByDn.get(u.dn);
      if (candidate?.context === undefined) return u;
      return { ...u, ...establishmentsOf(rules.personOwnership, candidate.entry, candidate.context) };
    }),
  };
  const userByDn = new Map<string, DesiredUser>(users.users.map((u) => [u.dn, u]));
  const userKeyByDn = new Map(users.users.map((u) => [normalizeDn(u.dn), u.key]));

  const profileData: DesiredObject[] = [];
  const collector: ObjectCollector = newCollector();
  const collecting = {
    collector,
    reporter,
    users: (ref: string) => (ref.includes('=') ? userKeyByDn.get(normalizeDn(ref)) : ref),
  };
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
    for (const rule of rules.courseRules) {
      if (rule.from !== 'people') continue;
      collectCourseObjects(
        rule,
        entry,
        { ...person, ...(user === undefined ? {} : { userKey: user.key }) },
        collecting,
      );
    }
  }
  for (const entry of entries.structures) {
    const context: EvalContext = { ...base, report: reporter('category', entry.dn) };
    const vars = evaluateVars(entry, rules.structureVars, context);
    for (const rule of rules.objectRules) {
      if (rule.from !== 'structures') continue;
      collectObjects(rule, entry, { ...context, vars }, [], undefined, collector, reporter);
    }
    for (const rule of rules.courseRules) {
      if (rule.from !== 'structures') continue;
      collectCourseObjects(rule, entry, { context: { ...context, vars }, profiles: [] }, collecting);
    }
  }
  const objects = collector.finish(skipped);
  finishCourseObjects(objects, skipped);
  // Values Moodle would clean or could not store: cleaned (reported) or their object left out, one by one.
  const valueWarnings: string[] = [...users.warnings];
  objects.set('profile_data', profileData);
  checkObjectTexts(objects, constraints.tableColumns, skipped, valueWarnings);
  const checkedProfileData = objects.get('profile_data') ?? [];
  const fieldObjects: DesiredObject[] = rules.profileFields.map((f) => ({
    key: f.shortname,
    dn: '',
    values: f.values,
    sourceDigest: digestValues(f.values),
  }));
  const byKey = <T extends { key: string }>(list: T[]): T[] =>
    list.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  for (const entry of users.skipped) skipped.push(entry);
  skipped.sort((a, b) => (a.dn < b.dn ? -1 : a.dn > b.dn ? 1 : a.entity < b.entity ? -1 : a.entity > b.entity ? 1 : 0));
  return {
    objects: new Map<EntityType, readonly DesiredObject[]>(
      ENTITY_ORDER.map((entity) => {
        switch (entity) {
          // In the spec's order, which Moodle's sortorder follows.
          case 'profile_field':
            return [entity, fieldObjects];
          case 'user':
            return [entity, users.users];
          case 'profile_data':
            return [entity, byKey(checkedProfileData)];
          case 'role':
            return [entity, [...rules.roles]];
          default:
            return [entity, objects.get(entity) ?? []];
        }
      }),
    ),
    skipped,
    warnings: [...structures.skipped.map((s) => `structure ${s.dn} is ignored: ${s.reason}`), ...valueWarnings],
    excluded,
    ...(scope === undefined ? {} : { scope: [...scope].sort() }),
  };
}

/** `--establishment`: the UAIs of a scoped run, each one this spec serves; the spec must record ownership. */
function scopedRun(
  only: readonly string[],
  served: ReadonlySet<string> | null,
  structures: StructureIndex,
  rules: CompiledRules,
): ReadonlySet<string> {
  if (rules.personOwnership === undefined) {
    throw new UserError(
      'SPEC_INVALID',
      'a run scoped with --establishment needs `ownership` in the spec (which establishments own what; the SDET preset sets it)',
      [{ message: 'no ownership section', path: '/ownership' }],
    );
  }
  const scope = new Set<string>();
  const problems: { message: string }[] = [];
  for (const given of only) {
    const uai = given.trim().toUpperCase();
    const known = served === null ? structures.byUai(uai) !== undefined : served.has(uai);
    if (known) scope.add(uai);
    else problems.push({ message: `--establishment ${given}: not an establishment this spec serves` });
  }
  if (problems.length > 0) {
    const list = served === null ? "the directory's" : [...served].sort().join(', ');
    throw new UserError('SPEC_INVALID', `this spec serves ${list}; a scoped run can only narrow that`, problems);
  }
  return scope;
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
