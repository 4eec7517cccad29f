/**
 * Category and cohort rules: each entry a rule applies to gives one object per combination of its `each`
 * values (a student's classes, a person's establishments × profiles), computed by the rule's templates.
 * Objects with the same key coming from many entries are one object (a class cohort from its 30 students);
 * the same key with different values is a data error reported with both origins, and that object is left out.
 */

import type { EntityType, FieldValue, ObjectRef } from '../model/change.js';
import { pairKey } from '../model/change.js';
import type { DesiredObject } from '../model/desired.js';
import type { SkippedEntry } from '../model/skipped.js';
import type { LdapEntry } from '../source/entry.js';
import type { Condition, ConditionSpec, Problems, TemplateCompiler } from './compile.js';
import { compileCondition } from './compile.js';
import { digestValues } from './digest.js';
import type { CompiledTemplate, EvalContext } from './template.js';

export interface ObjectRuleSpec {
  readonly from: 'people' | 'structures';
  readonly when?: ConditionSpec;
  readonly each?: Readonly<
    Record<
      string,
      string | { readonly value: string; readonly parts?: string; readonly where?: Readonly<Record<string, string>> }
    >
  >;
  readonly idnumber: string;
  readonly name: string;
  readonly description?: string;
  readonly parent?: string;
  readonly category?: string;
  readonly members?: boolean;
}

export interface EachItem {
  readonly name: string;
  readonly template: CompiledTemplate;
  readonly parts?: RegExp;
  /** Named parts → the regex each must match, or the value is left out. */
  readonly where?: ReadonlyMap<string, RegExp>;
}

export interface CompiledObjectRule {
  readonly entity: 'category' | 'cohort';
  readonly name: string;
  readonly path: string;
  readonly from: 'people' | 'structures';
  readonly when: Condition;
  readonly each: readonly EachItem[];
  readonly idnumber: CompiledTemplate;
  readonly title: CompiledTemplate;
  readonly description?: CompiledTemplate;
  /** Category: the parent's idnumber. Cohort: the idnumber of the category whose context holds it. */
  readonly container?: CompiledTemplate;
  readonly members: boolean;
  readonly fixed: Readonly<Record<string, FieldValue>>;
  /** `ownership.objects`, compiled for the rule's `from`: the establishments its objects belong to. */
  readonly ownership?: CompiledTemplate;
}

/** A rule's `each`: one template per variable, optionally split by a regex's named groups. */
export function compileEach(
  spec: ObjectRuleSpec['each'],
  path: string,
  compiler: TemplateCompiler,
  problems: Problems,
): EachItem[] {
  const each: EachItem[] = [];
  for (const [item, itemSpec] of Object.entries(spec ?? {})) {
    const source = typeof itemSpec === 'string' ? itemSpec : itemSpec.value;
    const template = compiler.compile(source, `${path}/each/${item}${typeof itemSpec === 'string' ? '' : '/value'}`);
    let parts: RegExp | undefined;
    const where = new Map<string, RegExp>();
    if (typeof itemSpec !== 'string') {
      const regex = (source: string, at: string): RegExp | undefined => {
        try {
          return new RegExp(source, 'u');
        } catch (error) {
          problems.add(at, `invalid regex "${source}": ${(error as Error).message}`);
          return undefined;
        }
      };
      if (itemSpec.parts !== undefined) parts = regex(itemSpec.parts, `${path}/each/${item}/parts`);
      for (const [group, source] of Object.entries(itemSpec.where ?? {})) {
        const at = `${path}/each/${item}/where/${group}`;
        if (itemSpec.parts === undefined)
          problems.add(at, '`where` tests the named parts of `parts`: give `parts` too');
        else if (parts !== undefined && !new RegExp(`\\(\\?<${group}>`).test(parts.source)) {
          problems.add(at, `\`parts\` has no group named "${group}"`);
        }
        const compiled = regex(source, at);
        if (compiled !== undefined) where.set(group, compiled);
      }
    }
    if (template !== undefined) {
      each.push({
        name: item,
        template,
        ...(parts === undefined ? {} : { parts }),
        ...(where.size === 0 ? {} : { where }),
      });
    }
  }
  return each;
}

export function compileObjectRule(
  entity: 'category' | 'cohort',
  name: string,
  rule: ObjectRuleSpec,
  path: string,
  compiler: TemplateCompiler,
  problems: Problems,
  profileNames: readonly string[],
  fixed: Readonly<Record<string, FieldValue>>,
): CompiledObjectRule | undefined {
  const each = compileEach(rule.each, path, compiler, problems);
  const when = compileCondition(rule.when, `${path}/when`, compiler, problems, profileNames);
  const idnumber = compiler.compile(rule.idnumber, `${path}/idnumber`);
  const title = compiler.compile(rule.name, `${path}/name`);
  const description =
    rule.description === undefined ? undefined : compiler.compile(rule.description, `${path}/description`);
  const containerSource = entity === 'category' ? rule.parent : rule.category;
  const container =
    containerSource === undefined
      ? undefined
      : compiler.compile(containerSource, `${path}/${entity === 'category' ? 'parent' : 'category'}`);
  if (idnumber === undefined || title === undefined) return undefined;
  return {
    entity,
    name,
    path,
    from: rule.from,
    when,
    each,
    idnumber,
    title,
    ...(description === undefined ? {} : { description }),
    ...(container === undefined ? {} : { container }),
    members: entity === 'cohort' && rule.from === 'people' && rule.members !== false,
    fixed,
  };
}

/** The combinations of `each` values for one entry, as variables; values in no known form are reported. */
export function combinations(
  rule: { readonly path: string; readonly each: readonly EachItem[] },
  entry: LdapEntry,
  context: EvalContext,
  report: (message: string) => void,
): Record<string, readonly string[]>[] {
  let combos: Record<string, readonly string[]>[] = [{}];
  for (const item of rule.each) {
    const options: Record<string, readonly string[]>[] = [];
    for (const value of item.template.evaluate(entry, context)) {
      if (value === '') continue;
      if (item.parts === undefined) {
        options.push({ [item.name]: [value] });
        continue;
      }
      const match = item.parts.exec(value);
      if (match === null) {
        report(`${rule.path}/each/${item.name}: value "${value}" is in no known form (expected ${item.parts.source})`);
        continue;
      }
      const groups: Record<string, readonly string[]> = { [item.name]: [value] };
      for (const [group, part] of Object.entries(match.groups ?? {})) groups[group] = part === undefined ? [] : [part];
      const kept = [...(item.where ?? new Map<string, RegExp>())].every(([group, re]) =>
        re.test(match.groups?.[group] ?? ''),
      );
      if (kept) options.push(groups);
    }
    const next: Record<string, readonly string[]>[] = [];
    for (const combo of combos) for (const option of options) next.push({ ...combo, ...option });
    combos = next;
  }
  return combos;
}

interface Collected {
  object: DesiredObject;
  readonly rule: string;
  readonly dns: string[];
  conflict?: string;
}

/** The objects of every rule, by entity and key; memberships (cohort and group members) on their own. */
export interface ObjectCollector {
  add(entity: EntityType, object: DesiredObject, rule: string): void;
  /** A person's membership of a container (cohort or group) the rules produce; dropped with the container. */
  member(entity: 'cohort_member' | 'group_member', containerKey: string, userKey: string, dn: string): void;
  /** Objects per entity, sorted by key; the ones produced with different values are left out, reported. */
  finish(skipped: SkippedEntry[]): Map<EntityType, DesiredObject[]>;
}

const sameObject = (a: DesiredObject, b: DesiredObject): boolean =>
  JSON.stringify(a.values) === JSON.stringify(b.values) &&
  JSON.stringify(a.refs ?? {}) === JSON.stringify(b.refs ?? {});

function describe(object: DesiredObject): string {
  if (object.values.name !== undefined) {
    const refs = Object.entries(object.refs ?? {}).map(([k, r]) => `${k} "${r?.key}"`);
    return [`name "${String(object.values.name)}"`, ...refs].join(', ');
  }
  return Object.entries(object.values)
    .map(([k, v]) => `${k} "${String(v)}"`)
    .join(', ');
}

const CONTAINERS = { cohort_member: 'cohort', group_member: 'group' } as const;

const sortedByKey = (list: DesiredObject[]): DesiredObject[] =>
  list.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));

export function newCollector(): ObjectCollector {
  const objects = new Map<EntityType, Map<string, Collected>>();
  const members = new Map<'cohort_member' | 'group_member', Map<string, DesiredObject>>([
    ['cohort_member', new Map()],
    ['group_member', new Map()],
  ]);
  return {
    add(entity, object, rule) {
      let byKey = objects.get(entity);
      if (byKey === undefined) {
        byKey = new Map();
        objects.set(entity, byKey);
      }
      const found = byKey.get(object.key);
      if (found === undefined) {
        byKey.set(object.key, { object, rule, dns: [object.dn] });
        return;
      }
      if (found.dns.length < 3 && !found.dns.includes(object.dn)) found.dns.push(object.dn);
      // The same object from several entries belongs to every establishment any of them gives it.
      const more = (object.establishments ?? []).filter((u) => !(found.object.establishments ?? []).includes(u));
      if (more.length > 0) {
        const establishments = [...(found.object.establishments ?? []), ...more].sort();
        found.object = { ...found.object, establishments };
      }
      if (found.conflict === undefined && !sameObject(found.object, object)) {
        found.conflict =
          `${entity}${entity === 'category' || entity === 'cohort' ? ' idnumber' : ''} "${object.key}" is produced with different values: ${describe(found.object)} ` +
          `(rule ${found.rule}, from ${found.object.dn}) and ${describe(object)} (rule ${rule}, from ${object.dn}); it is left out`;
      }
    },
    member(entity, containerKey, userKey, dn) {
      const byKey = members.get(entity) as Map<string, DesiredObject>;
      const key = pairKey(containerKey, userKey);
      if (byKey.has(key)) return;
      const container = CONTAINERS[entity];
      byKey.set(key, {
        key,
        dn,
        values: { [container]: containerKey, user: userKey },
        refs: { [container]: { entity: container, key: containerKey }, user: { entity: 'user', key: userKey } },
        sourceDigest: '',
      });
    },
    finish(skipped) {
      const out = new Map<EntityType, DesiredObject[]>();
      for (const [entity, byKey] of objects) {
        const kept: DesiredObject[] = [];
        for (const collected of byKey.values()) {
          if (collected.conflict !== undefined) {
            skipped.push({ entity, dn: collected.object.dn, reason: collected.conflict, kind: 'data' });
            continue;
          }
          kept.push(collected.object);
        }
        out.set(entity, sortedByKey(kept));
      }
      for (const [entity, byKey] of members) {
        const containers = new Set((out.get(CONTAINERS[entity]) ?? []).map((c) => c.key));
        const kept = [...byKey.values()].filter((m) => containers.has(String(m.values[CONTAINERS[entity]])));
        out.set(entity, sortedByKey(kept));
      }
      return out;
    },
  };
}

const first = (template: CompiledTemplate | undefined, entry: LdapEntry, context: EvalContext): string | undefined =>
  template === undefined ? undefined : (template.evaluate(entry, context).find((v) => v !== '') ?? undefined);

/** Applies one rule to one entry: its objects (and the person's memberships) go to the collector. */
export function collectObjects(
  rule: CompiledObjectRule,
  entry: LdapEntry,
  context: EvalContext,
  profiles: readonly string[],
  userKey: string | undefined,
  collector: ObjectCollector,
  reporter: (entity: EntityType, dn: string) => (problem: { severity: 'error' | 'warning'; message: string }) => void,
): void {
  const report = reporter(rule.entity, entry.dn);
  forEachCombination(rule, entry, context, report, profiles, (itemContext, failed) => {
    const idnumber = first(rule.idnumber, entry, itemContext)?.trim();
    const name = first(rule.title, entry, itemContext)?.trim();
    // A value already reported (a transcoding miss…) explains the empty template: no second report.
    if (failed()) return;
    if (idnumber === undefined || idnumber === '' || name === undefined || name === '') {
      report({
        severity: 'error',
        message: `${rule.path}: the ${idnumber ? 'name' : 'idnumber'} template gives no value (${(idnumber ? rule.title : rule.idnumber).source})`,
      });
      return;
    }
    const values: Record<string, FieldValue> = { idnumber, name };
    if (rule.entity === 'cohort') values.description = '';
    const description = first(rule.description, entry, itemContext);
    if (description !== undefined) values.description = description;
    Object.assign(values, rule.fixed);
    const refs: Record<string, ObjectRef> = {};
    const container = first(rule.container, entry, itemContext)?.trim();
    if (container !== undefined && container !== '') {
      refs[rule.entity === 'category' ? 'parent' : 'category'] = { entity: 'category', key: container };
    }
    collector.add(
      rule.entity,
      {
        key: idnumber,
        dn: entry.dn,
        values,
        ...(Object.keys(refs).length === 0 ? {} : { refs }),
        sourceDigest: digestValues({
          ...values,
          ...Object.fromEntries(Object.entries(refs).map(([k, r]) => [k, r.key])),
        }),
        ...establishmentsOf(rule.ownership, entry, itemContext),
      },
      rule.name,
    );
    if (rule.members && userKey !== undefined) collector.member('cohort_member', idnumber, userKey, entry.dn);
  });
}

/**
 * Runs `make` once per `each` combination of an entry the rule applies to, with the combination's variables
 * in `itemContext`; `failed()` says whether a template reported an error for it (then the object is left out,
 * already explained).
 */
export function forEachCombination(
  rule: { readonly path: string; readonly each: readonly EachItem[]; readonly when: Condition },
  entry: LdapEntry,
  context: EvalContext,
  report: (problem: { severity: 'error' | 'warning'; message: string }) => void,
  profiles: readonly string[],
  make: (itemContext: EvalContext, failed: () => boolean) => void,
): void {
  const ruleContext: EvalContext = { ...context, report };
  if (!rule.when(entry, ruleContext, profiles)) return;
  for (const vars of combinations(rule, entry, ruleContext, (message) => report({ severity: 'error', message }))) {
    let failed = false;
    const itemContext: EvalContext = {
      ...ruleContext,
      vars: { ...ruleContext.vars, ...vars },
      report: (problem) => {
        if (problem.severity === 'error') failed = true;
        report(problem);
      },
    };
    make(itemContext, () => failed);
  }
}

/** The establishments `ownership` gives an object (UAIs upper-cased, sorted, no repeats), as object fields. */
export function establishmentsOf(
  ownership: CompiledTemplate | undefined,
  entry: LdapEntry,
  context: EvalContext,
): { establishments?: readonly string[] } {
  if (ownership === undefined) return {};
  const uais = [...new Set(ownership.evaluate(entry, context).map((u) => u.trim().toUpperCase()))].filter(Boolean);
  return uais.length === 0 ? {} : { establishments: uais.sort() };
}
