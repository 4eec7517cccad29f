/**
 * Compiling the parts of a spec's rules: templates (with the spec's named templates and transcodings), and
 * conditions. Every problem is collected with its spec path, so that one run reports all of them.
 */
import type { Diagnostic } from '../errors.js';
import type { LdapEntry } from '../source/entry.js';
import { compileFilter } from '../source/filter.js';
import type { CompiledTemplate, CompileOptions, EvalContext } from './template.js';
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
  /** Tests that must not all hold. */
  readonly not?: ConditionSpec;
}

export type Condition = (entry: LdapEntry, context: EvalContext, profiles: readonly string[]) => boolean;

const ALWAYS: Condition = () => true;

/** A condition: all of its tests must hold. `knownProfiles` checks `profiles` names. */
export function compileCondition(
  spec: ConditionSpec | undefined,
  path: string,
  templates: TemplateCompiler,
  problems: Problems,
  knownProfiles: readonly string[],
): Condition {
  if (spec === undefined) return ALWAYS;
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
  if (spec.not !== undefined) {
    const negated = compileCondition(spec.not, `${path}/not`, templates, problems, knownProfiles);
    tests.push((entry, context, profiles) => !negated(entry, context, profiles));
  }
  if (tests.length === 0) return ALWAYS;
  return (entry, context, profiles) => tests.every((test) => test(entry, context, profiles));
}

/** Attribute names a filter mentions (what to ask the directory for). */
export function attributesOfFilter(filter: string): string[] {
  const names = new Set<string>();
  for (const match of filter.matchAll(/\(\s*([A-Za-z][A-Za-z0-9-]*)(?:;[A-Za-z0-9-]+)*\s*(?:[~<>:]?=)/g)) {
    names.add((match[1] as string).toLowerCase());
  }
  return [...names];
}
