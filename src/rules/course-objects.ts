/**
 * Course rules: courses, their groups (and groupings), cohort-sync methods, manual enrolments and role
 * assignments. A rule is read like a category or cohort rule (`from`, `when`, `each`); its templates give the
 * object's key and values (see the keys in plan/change.ts). Once every entry is read, `finishCourseObjects`
 * derives what Moodle's cohort sync would enrol (the members of each method's cohort) and leaves out, reported,
 * what cannot be made: two courses with one shortname, a method whose cohort no rule produces.
 */

import type { EntityType, FieldValue, ObjectRef } from '../model/change.js';
import { pairKey } from '../model/change.js';
import type { DesiredObject } from '../model/desired.js';
import type { SkippedEntry } from '../model/skipped.js';
import type { LdapEntry } from '../source/entry.js';
import type { CompiledCourseRule } from './compile-course-rules.js';
import { templatePath } from './compile-course-rules.js';
import { digestValues } from './digest.js';
import type { ObjectCollector } from './objects.js';
import { establishmentsOf, forEachCombination } from './objects.js';
import type { CompiledTemplate, EvalContext } from './template.js';

const first = (template: CompiledTemplate | undefined, entry: LdapEntry, context: EvalContext): string | undefined =>
  template === undefined
    ? undefined
    : template
        .evaluate(entry, context)
        .find((v) => v.trim() !== '')
        ?.trim();

interface Built {
  readonly entity: EntityType;
  readonly key: string;
  readonly values: Record<string, FieldValue>;
  readonly refs: Record<string, ObjectRef>;
}

const ref = (entity: EntityType, key: string): ObjectRef => ({ entity, key });

/** A person named by DN, or a user key as it is, → the user key; undefined for a person who is not a user. */
export type UserKeyOf = (ref: string) => string | undefined;

/** The objects one rule makes of one set of values (and the person's membership, if any). */
function build(
  rule: CompiledCourseRule,
  v: Readonly<Record<string, string>>,
  user: string | undefined,
  users: UserKeyOf,
): Built[] {
  const role = String(rule.fixed.role ?? '');
  switch (rule.entity) {
    case 'course':
      return [
        {
          entity: 'course',
          key: v.idnumber as string,
          values: {
            idnumber: v.idnumber as string,
            shortname: v.shortname as string,
            fullname: v.fullname as string,
            ...rule.fixed,
          },
          refs: { category: ref('category', v.category as string) },
        },
      ];
    case 'group': {
      const course = v.course as string;
      const group = pairKey(course, v.idnumber as string);
      const built: Built[] = [
        {
          entity: 'group',
          key: group,
          values: { course, idnumber: v.idnumber as string, name: v.name as string, description: v.description ?? '' },
          refs: { course: ref('course', course) },
        },
      ];
      if (v.groupingIdnumber !== undefined && v.groupingName !== undefined) {
        const grouping = pairKey(course, v.groupingIdnumber);
        built.push(
          {
            entity: 'grouping',
            key: grouping,
            values: { course, idnumber: v.groupingIdnumber, name: v.groupingName, description: '' },
            refs: { course: ref('course', course) },
          },
          {
            entity: 'grouping_group',
            key: pairKey(grouping, v.idnumber as string),
            values: { grouping, group },
            refs: { grouping: ref('grouping', grouping), group: ref('group', group) },
          },
        );
      }
      return built;
    }
    case 'cohort_enrol': {
      const course = v.course as string;
      const cohort = v.cohort as string;
      const group = v.group === undefined ? '' : pairKey(course, v.group);
      return [
        {
          entity: 'cohort_enrol',
          key: `${course}/${cohort}/${role}`,
          values: { course, cohort, role, group },
          refs: {
            course: ref('course', course),
            cohort: ref('cohort', cohort),
            ...(group === '' ? {} : { group: ref('group', group) }),
          },
        },
      ];
    }
    case 'enrolment': {
      if (user === undefined) return [];
      const course = v.course as string;
      return [
        {
          entity: 'enrolment',
          key: pairKey(course, user),
          values: { course, user, role },
          refs: { course: ref('course', course), user: ref('user', user) },
        },
      ];
    }
    case 'role_assignment': {
      if (user === undefined) return [];
      const kind = String(rule.fixed.contextKind);
      // Someone else may hold the role (a parent, named by DN), by default in the entry's person's context.
      const holder = v.user === undefined ? user : users(v.user);
      const target = kind === 'user' ? (v.target === undefined ? user : users(v.target)) : v.target;
      // A person who is not a user here (a child of an establishment this Moodle does not serve): nothing to hold.
      if (holder === undefined || (kind === 'user' && target === undefined)) return [];
      const context = kind === 'system' || target === undefined ? 'system' : `${kind}:${target}`;
      const refs: Record<string, ObjectRef> = { user: ref('user', holder) };
      if (context !== 'system' && target !== undefined) {
        refs[kind === 'user' ? 'target' : kind] = ref(kind as EntityType, target);
      }
      return [
        {
          entity: 'role_assignment',
          key: `${context}/${role}/${holder}`,
          values: { context, role, user: holder },
          refs,
        },
      ];
    }
  }
}

/** Applies one course rule to one entry: its objects (and the person's group memberships) go to the collector. */
export interface CourseCollecting {
  readonly collector: ObjectCollector;
  readonly reporter: (
    entity: EntityType,
    dn: string,
  ) => (problem: { severity: 'error' | 'warning'; message: string }) => void;
  /** People named by DN (a parent, a child) → their user keys. */
  readonly users: UserKeyOf;
}

export function collectCourseObjects(
  rule: CompiledCourseRule,
  entry: LdapEntry,
  person: { readonly context: EvalContext; readonly profiles: readonly string[]; readonly userKey?: string },
  { collector, reporter, users }: CourseCollecting,
): void {
  const { context, profiles, userKey } = person;
  // Enrolments and roles are a user's: a person who is not one gets none (a group is made all the same).
  if (rule.personal && userKey === undefined && rule.entity !== 'group') return;
  const report = reporter(rule.entity, entry.dn);
  forEachCombination(rule, entry, context, report, profiles, (itemContext, failed) => {
    const values: Record<string, string> = {};
    for (const [field, template] of rule.templates) {
      const value = first(template, entry, itemContext);
      if (value !== undefined) values[field] = value;
    }
    // A value already reported (a transcoding miss…) explains the empty template: no second report.
    if (failed()) return;
    const missing = rule.required.find((field) => values[field] === undefined);
    if (missing !== undefined) {
      const source = rule.templates.get(missing)?.source ?? '';
      report({
        severity: 'error',
        message: `${rule.path}/${templatePath(missing)}: the template gives no value (${source})`,
      });
      return;
    }
    for (const object of build(rule, values, userKey, users)) {
      collector.add(
        object.entity,
        {
          key: object.key,
          dn: entry.dn,
          values: object.values,
          ...(Object.keys(object.refs).length === 0 ? {} : { refs: object.refs }),
          sourceDigest: digestValues({
            ...object.values,
            ...Object.fromEntries(Object.entries(object.refs).map(([k, r]) => [k, r.key])),
          }),
          ...establishmentsOf(rule.ownership, entry, itemContext),
        },
        rule.name,
      );
      if (object.entity === 'group' && rule.personal && userKey !== undefined) {
        collector.member('group_member', object.key, userKey, entry.dn);
      }
    }
  });
}

/**
 * What the collected objects imply and exclude: two courses sharing a shortname are both left out (Moodle's
 * shortname is unique), a method's cohort must be one the rules produce, and each method enrols the members
 * of its cohort exactly as Moodle's sync would (`cohort_enrolment`).
 */
export function finishCourseObjects(objects: Map<EntityType, DesiredObject[]>, skipped: SkippedEntry[]): void {
  const courses = objects.get('course') ?? [];
  const byShortname = new Map<string, DesiredObject[]>();
  for (const course of courses) {
    const shortname = String(course.values.shortname);
    byShortname.set(shortname, [...(byShortname.get(shortname) ?? []), course]);
  }
  const clashing = new Set<string>();
  for (const [shortname, list] of byShortname) {
    if (list.length < 2) continue;
    const names = list.map((c) => `"${c.key}" (from ${c.dn})`).join(', ');
    for (const course of list) {
      clashing.add(course.key);
      skipped.push({
        entity: 'course',
        dn: course.dn,
        reason: `courses ${names} are given the same shortname "${shortname}" (unique in Moodle); they are left out`,
        kind: 'data',
      });
    }
  }
  if (clashing.size > 0)
    objects.set(
      'course',
      courses.filter((c) => !clashing.has(c.key)),
    );

  const membersOf = new Map<string, DesiredObject[]>();
  for (const member of objects.get('cohort_member') ?? []) {
    const cohort = String(member.values.cohort);
    const list = membersOf.get(cohort);
    if (list === undefined) membersOf.set(cohort, [member]);
    else list.push(member);
  }
  const cohorts = new Set((objects.get('cohort') ?? []).map((c) => c.key));
  const methods: DesiredObject[] = [];
  const enrolments: DesiredObject[] = [];
  for (const method of objects.get('cohort_enrol') ?? []) {
    const cohort = String(method.values.cohort);
    if (!cohorts.has(cohort)) {
      skipped.push({
        entity: 'cohort_enrol',
        dn: method.dn,
        reason: `cohort "${cohort}" of the enrolment method "${method.key}" is not produced by the cohort rules; it is left out`,
        kind: 'data',
      });
      continue;
    }
    methods.push(method);
    for (const member of membersOf.get(cohort) ?? []) {
      const user = String(member.values.user);
      enrolments.push({
        key: pairKey(method.key, user),
        dn: member.dn,
        values: { method: method.key, user, role: method.values.role ?? '', group: method.values.group ?? '' },
        refs: { method: { entity: 'cohort_enrol', key: method.key }, user: { entity: 'user', key: user } },
        sourceDigest: '',
      });
    }
  }
  if (objects.has('cohort_enrol')) objects.set('cohort_enrol', methods);
  objects.set(
    'cohort_enrolment',
    enrolments.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0)),
  );
}
