/**
 * Compiling the parts of a spec's rules: templates (with the spec's named templates and transcodings), and
 * conditions. Every problem is collected with its spec path, so that one run reports all of them.
 */
import type { Diagnostic } from '../errors.js';
import type { LdapEntry } from '../source/entry.js';
import { compileFilter } from '../source/filter.js';
import type { CompiledTemplate, CompileOptions, EvalContext, LinkSource } from './template.js';
import { compileTemplate, TemplateSyntaxError } from './template.js';

export type PositionOf = (path: string) => Diagnostic['position'];

/** Collects compile problems, each at its spec path. */
export class Problems {
  readonly list: Diagnostic[] = [];
  constructor(private readonly positionOf: PositionOf) {}

  add(path: string, message: string): void {
    this.list.push({ message, path, position: this.positionOf(path) });
  }
}

export class TemplateCompiler {
  readonly attributes = new Set<string>();
  constructor(
    private readonly options: CompileOptions,
    private readonly problems: Problems,
  ) {}

  /** A template, or undefined (problem recorded) when it does not compile. */
  compile(source: string, path: string): CompiledTemplate | undefined {
    try {
      const template = compileTemplate(source, this.options);
      for (const a of template.attributes) this.attributes.add(a);
      return template;
    } catch (error) {
      if (!(error instanceof TemplateSyntaxError)) throw error;
      this.problems.add(path, `invalid template "${source}": ${error.message} (at character ${error.offset + 1})`);
      return undefined;
    }
  }
}

export interface ConditionSpec {
  readonly filter?: string;
  readonly profiles?: readonly string[];
  readonly value?: string;
  readonly matches?: string;
  /** Linked to another person, from this entry's side (`to`) or another entry's (`from`). */
  readonly linked?: { readonly to?: readonly string[]; readonly from?: readonly string[] };
  /** Why a person the condition rules out is not a user (users.when). */
  readonly reason?: string;
  /** Tests that must not all hold. */
  readonly not?: ConditionSpec;
}

export type Condition = (entry: LdapEntry, context: EvalContext, profiles: readonly string[]) => boolean;

const ALWAYS: Condition = () => true;

/** A condition that can tell why it rules a person out (the `reason` of its block or of its `not`). */
export interface ExplainedCondition {
  readonly holds: Condition;
  /** Called for a person `holds` rules out: the reason the spec gives, if any. */
  readonly why: (entry: LdapEntry, context: EvalContext, profiles: readonly string[]) => string | undefined;
}

/** A condition: all of its tests must hold. `knownProfiles` checks `profiles` names. */
export function compileCondition(
  spec: ConditionSpec | undefined,
  path: string,
  templates: TemplateCompiler,
  problems: Problems,
  knownProfiles: readonly string[],
): Condition {
  return compileExplainedCondition(spec, path, templates, problems, knownProfiles).holds;
}

/**
 * A condition and why it rules a person out: the `not` block's reason when its tests all hold and the others
 * pass, the block's own reason otherwise.
 */
export function compileExplainedCondition(
  spec: ConditionSpec | undefined,
  path: string,
  templates: TemplateCompiler,
  problems: Problems,
  knownProfiles: readonly string[],
): ExplainedCondition {
  if (spec === undefined) return { holds: ALWAYS, why: () => undefined };
  const { tests, negated } = compileTests(spec, path, templates, problems, knownProfiles);
  const own: Condition = (entry, context, profiles) => tests.every((test) => test(entry, context, profiles));
  const holds: Condition =
    negated === undefined
      ? tests.length === 0
        ? ALWAYS
        : own
      : (entry, context, profiles) => own(entry, context, profiles) && !negated(entry, context, profiles);
  return {
    holds,
    why: (entry, context, profiles) => {
      if (negated !== undefined && own(entry, context, profiles) && negated(entry, context, profiles)) {
        return spec.not?.reason ?? spec.reason;
      }
      return spec.reason;
    },
  };
}

function compileTests(
  spec: ConditionSpec,
  path: string,
  templates: TemplateCompiler,
  problems: Problems,
  knownProfiles: readonly string[],
): { tests: Condition[]; negated?: Condition } {
  const tests: Condition[] = [];
  if (spec.filter !== undefined) {
    try {
      const matches = compileFilter(spec.filter);
      tests.push((entry) => matches(entry));
      for (const name of attributesOfFilter(spec.filter)) templates.attributes.add(name);
    } catch (error) {
      problems.add(`${path}/filter`, `invalid LDAP filter "${spec.filter}": ${(error as Error).message}`);
    }
  }
  if (spec.profiles !== undefined) {
    const unknown = spec.profiles.filter((p) => !knownProfiles.includes(p));
    if (unknown.length > 0) {
      problems.add(
        `${path}/profiles/${spec.profiles.indexOf(unknown[0] as string)}`,
        `unknown profile${unknown.length > 1 ? 's' : ''} ${unknown.map((p) => `"${p}"`).join(', ')} (users.profiles has ${knownProfiles.map((p) => `"${p}"`).join(', ') || 'none'})`,
      );
    }
    const wanted = new Set(spec.profiles);
    tests.push((_entry, _context, profiles) => profiles.some((p) => wanted.has(p)));
  }
  if (spec.value !== undefined) {
    const template = templates.compile(spec.value, `${path}/value`);
    let pattern: RegExp | undefined;
    if (spec.matches !== undefined) {
      try {
        pattern = new RegExp(spec.matches, 'u');
      } catch (error) {
        problems.add(`${path}/matches`, `invalid regex "${spec.matches}": ${(error as Error).message}`);
      }
    }
    if (template !== undefined) {
      tests.push((entry, context) => {
        const found = template.evaluate(entry, context).filter((v) => v !== '');
        return pattern === undefined ? found.length > 0 : found.some((v) => pattern.test(v));
      });
    }
  } else if (spec.matches !== undefined) {
    problems.add(`${path}/matches`, '`matches` needs a `value` to test');
  }
  if (spec.linked !== undefined) tests.push(compileLinked(spec.linked, `${path}/linked`, templates));
  if (spec.not === undefined) return { tests };
  return { tests, negated: compileCondition(spec.not, `${path}/not`, templates, problems, knownProfiles) };
}

/** `linked`: a `to` template gives a value on this entry, or a `from` template on another entry gives its DN. */
function compileLinked(
  linked: NonNullable<ConditionSpec['linked']>,
  path: string,
  templates: TemplateCompiler,
): Condition {
  const to = (linked.to ?? []).flatMap((source, i) => templates.compile(source, `${path}/to/${i}`) ?? []);
  const from: LinkSource = {
    templates: (linked.from ?? []).flatMap((source, i) => templates.compile(source, `${path}/from/${i}`) ?? []),
  };
  return (entry, context) =>
    to.some((t) => t.evaluate(entry, context).some((v) => v !== '')) ||
    (from.templates.length > 0 && context.links?.linkedFrom(from, entry.dn) === true);
}

/** Attribute names a filter mentions (what to ask the directory for). */
export function attributesOfFilter(filter: string): string[] {
  const names = new Set<string>();
  for (const match of filter.matchAll(/\(\s*([A-Za-z][A-Za-z0-9-]*)(?:;[A-Za-z0-9-]+)*\s*(?:[~<>:]?=)/g)) {
    names.add((match[1] as string).toLowerCase());
  }
  return [...names];
}
