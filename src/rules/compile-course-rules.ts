/**
 * Compiling the course rules (courses, groups, cohort-sync methods, manual enrolments, role assignments): each
 * rule's templates, `each` and `when`, checked once with every problem at its spec path.
 */
import type { FieldValue } from '../model/change.js';
import type { Spec } from '../spec/schema.js';
import type { Condition, Problems, TemplateCompiler } from './compile.js';
import { compileCondition } from './compile.js';
import type { EachItem } from './objects.js';
import { compileEach } from './objects.js';
import type { CompiledTemplate } from './template.js';

export type CourseRuleEntity = 'course' | 'group' | 'cohort_enrol' | 'enrolment' | 'role_assignment';

export interface CompiledCourseRule {
  readonly entity: CourseRuleEntity;
  readonly name: string;
  readonly path: string;
  readonly from: 'people' | 'structures';
  readonly when: Condition;
  readonly each: readonly EachItem[];
  /** Templates by field; the required ones must give a value. */
  readonly templates: ReadonlyMap<string, CompiledTemplate>;
  readonly required: readonly string[];
  /** Values written as they are (role, format, context kind, …). */
  readonly fixed: Readonly<Record<string, FieldValue>>;
  /** Whether the entry's person gets the object (a membership, an enrolment): skipped for a non-user. */
  readonly personal: boolean;
  /** `ownership.objects`, compiled for the rule's `from`: the establishments its objects belong to. */
  readonly ownership?: CompiledTemplate;
}

type Templates = Readonly<Record<string, string | undefined>>;

interface RuleInput {
  readonly entity: CourseRuleEntity;
  readonly name: string;
  readonly path: string;
  readonly rule: {
    readonly from?: 'people' | 'structures';
    readonly when?: Parameters<typeof compileCondition>[0];
    readonly each?: Parameters<typeof compileEach>[0];
  };
  readonly templates: Templates;
  readonly required: readonly string[];
  readonly fixed: Readonly<Record<string, FieldValue>>;
  readonly personal: boolean;
}

/** The enabled course rules of a spec, each compiled with the compiler of its `from`. */
export function compileCourseRules(
  spec: Spec,
  compilers: { readonly people: TemplateCompiler; readonly structures: TemplateCompiler },
  problems: Problems,
  profileNames: readonly string[],
): CompiledCourseRule[] {
  const inputs: RuleInput[] = [];
  for (const [name, rule] of Object.entries(spec.courses?.rules ?? {})) {
    if (!rule.enabled) continue;
    inputs.push({
      entity: 'course',
      name,
      path: `/courses/rules/${name}`,
      rule,
      templates: {
        idnumber: rule.idnumber,
        shortname: rule.shortname,
        fullname: rule.fullname,
        category: rule.category,
      },
      required: ['idnumber', 'shortname', 'fullname', 'category'],
      // announcements only when off (the default, as Moodle, shows nothing in plans).
      fixed: {
        format: rule.format,
        numsections: rule.numsections,
        visible: 1,
        ...(spec.courses?.announcements === false ? { announcements: 0 } : {}),
      },
      personal: false,
    });
  }
  for (const [name, rule] of Object.entries(spec.groups?.rules ?? {})) {
    if (!rule.enabled) continue;
    inputs.push({
      entity: 'group',
      name,
      path: `/groups/rules/${name}`,
      rule,
      templates: {
        course: rule.course,
        idnumber: rule.idnumber,
        name: rule.name,
        description: rule.description,
        groupingIdnumber: rule.grouping?.idnumber,
        groupingName: rule.grouping?.name,
      },
      required: [
        'course',
        'idnumber',
        'name',
        ...(rule.grouping === undefined ? [] : ['groupingIdnumber', 'groupingName']),
      ],
      fixed: {},
      personal: rule.from === 'people' && rule.members,
    });
  }
  for (const [name, rule] of Object.entries(spec.enrolments?.cohorts?.rules ?? {})) {
    if (!rule.enabled) continue;
    inputs.push({
      entity: 'cohort_enrol',
      name,
      path: `/enrolments/cohorts/rules/${name}`,
      rule,
      templates: { course: rule.course, cohort: rule.cohort, group: rule.group },
      required: ['course', 'cohort'],
      fixed: { role: rule.role },
      personal: false,
    });
  }
  for (const [name, rule] of Object.entries(spec.enrolments?.manual?.rules ?? {})) {
    if (!rule.enabled) continue;
    inputs.push({
      entity: 'enrolment',
      name,
      path: `/enrolments/manual/rules/${name}`,
      rule,
      templates: { course: rule.course },
      required: ['course'],
      fixed: { role: rule.role },
      personal: true,
    });
  }
  for (const [name, rule] of Object.entries(spec.roleAssignments?.rules ?? {})) {
    if (!rule.enabled) continue;
    const path = `/roleAssignments/rules/${name}`;
    // A user context defaults to the entry's person when someone else (`user`) holds the role there: a child's
    // parents in the child's context.
    const targetDefaults = rule.context === 'user' && rule.user !== undefined;
    if (rule.context !== 'system' && rule.target === undefined && !targetDefaults) {
      problems.add(
        `${path}/target`,
        `a ${rule.context} role assignment needs a target (the ${rule.context} it is held in)`,
      );
      continue;
    }
    if (rule.context === 'system' && rule.target !== undefined) {
      problems.add(`${path}/target`, 'a system role assignment has no target (there is one system context)');
      continue;
    }
    inputs.push({
      entity: 'role_assignment',
      name,
      path,
      rule,
      templates: { target: rule.target, user: rule.user },
      required: [...(rule.target === undefined ? [] : ['target']), ...(rule.user === undefined ? [] : ['user'])],
      fixed: { role: rule.role, contextKind: rule.context },
      personal: true,
    });
  }
  const out: CompiledCourseRule[] = [];
  for (const input of inputs) {
    const from = input.rule.from ?? 'people';
    const compiler = from === 'structures' ? compilers.structures : compilers.people;
    const templates = new Map<string, CompiledTemplate>();
    let complete = true;
    for (const [field, source] of Object.entries(input.templates)) {
      if (source === undefined) continue;
      const compiled = compiler.compile(source, `${input.path}/${templatePath(field)}`);
      if (compiled === undefined) complete = false;
      else templates.set(field, compiled);
    }
    const each = compileEach(input.rule.each, input.path, compiler, problems);
    const when = compileCondition(input.rule.when, `${input.path}/when`, compiler, problems, profileNames);
    if (!complete) continue;
    out.push({ ...input, from, when, each, templates });
  }
  return out;
}

export const templatePath = (field: string): string =>
  field === 'groupingIdnumber' ? 'grouping/idnumber' : field === 'groupingName' ? 'grouping/name' : field;
