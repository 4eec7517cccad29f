/**
 * The template language of the spec: how a Moodle value is computed from directory attributes.
 *
 *     "{givenName} {sn|upper}"                         text with placeholders
 *     "{uid|lower}"                                     one attribute through filters
 *     '{ENTPersonJointure|match("^[^$]+\$(?<key>.+)$", "key")}'   regex extraction with a named group
 *     "{mail|first|default(\"\")}"                      a default when the attribute is absent
 *     "{$uai}-{$code|trim}"                             variables of the evaluation context (`{$name|…}`)
 *     "{@cohortPrefix}{$uai}"                           a named template, inserted when compiling
 *
 * A placeholder evaluates to a list of values (LDAP attributes are multi-valued); filters map or reduce that
 * list. A template made of a single placeholder yields the whole list; a template with text yields one value
 * built from the first value of each placeholder, and **no value at all** when one of its placeholders has
 * none (so that "{givenName} {sn}" never silently becomes " DUPONT"). Write `{{` and `}}` for literal braces.
 *
 * `{$name}` reads a variable (rules' `vars`, the spec's constants) instead of an attribute; an unset variable
 * has no value. `{@name}` is replaced by the source of the named template `name` (spec `templates`), itself
 * expanded the same way; an unknown name or a cycle is a compile error.
 *
 * Filters beyond text and position: `map("table")` transcodes through a table (a value the table lacks is
 * handled by the table's `onUnknown`); `structure` replaces the structure reference that starts an SDET value
 * (a DN, a UAI or a structure id, up to the first `$`) by its establishment's UAI, dropping values whose
 * structure is unknown; `inScope` keeps values whose UAI (the part before the first `$`) is served;
 * `mapPart(N, "table")` transcodes the N-th `$`-part only; `person("profile")` turns a person DN or join key
 * into that person's DN, reporting people not in the directory (or without the profile);
 * `unique` drops repeats; `sort` sorts by code point; `part(N)` is `split("$", N)`.
 *
 * Pure: compile once per spec, evaluate per entry. Data problems are reported through the context, never thrown.
 */

import type { LdapEntry } from '../source/entry.js';
import { values } from '../source/entry.js';
import type { CompileOptions, EvalContext, FilterArg, FilterSpec, Values } from './template-filters.js';
import { FILTERS, TEMPLATE_FILTERS } from './template-filters.js';

export type { CompileOptions, EvalContext, LinkIndex, LinkSource, TemplateProblem } from './template-filters.js';
export { TEMPLATE_FILTERS } from './template-filters.js';

/** A template that failed to parse; `offset` is the 0-based character where the problem is. */
export class TemplateSyntaxError extends Error {
  override readonly name = 'TemplateSyntaxError';
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(message);
  }
}

interface Placeholder {
  /** Lower-cased attribute name, or a variable name as written. */
  readonly name: string;
  readonly variable: boolean;
  readonly filters: readonly { readonly name: string; readonly args: readonly FilterArg[] }[];
}
type Part = string | Placeholder;

export interface CompiledTemplate {
  readonly source: string;
  /** Attributes the template reads, lower-cased (what to ask the directory for). Variables are not listed. */
  readonly attributes: readonly string[];
  /** Variables the template reads (`{$name}`), as written. */
  readonly variables: readonly string[];
  /** The values for one entry, NFC-normalised; empty when the entry has none. */
  evaluate(entry: LdapEntry, context?: EvalContext): Values;
}

const VARIABLE_START = /[A-Za-z_]/;
const VARIABLE_REST = /[A-Za-z0-9_]/;
const NAMED_START = /[A-Za-z_]/;
const NAMED_REST = /[A-Za-z0-9_-]/;

/** Errors already placed at the outermost `{@…}`: they are passed on as they are. */
const relocated = new WeakSet<TemplateSyntaxError>();

class Parser {
  private pos = 0;
  constructor(
    private readonly text: string,
    private readonly options: CompileOptions,
    /** Named templates being expanded, outermost first (to detect cycles). */
    private readonly expanding: readonly string[] = [],
  ) {}

  parse(): Part[] {
    const parts: Part[] = [];
    let literal = '';
    const flush = () => {
      if (literal !== '') parts.push(literal);
      literal = '';
    };
    while (this.pos < this.text.length) {
      const ch = this.text[this.pos];
      if (ch === '{' && this.text[this.pos + 1] === '{') {
        literal += '{';
        this.pos += 2;
      } else if (ch === '}' && this.text[this.pos + 1] === '}') {
        literal += '}';
        this.pos += 2;
      } else if (ch === '{') {
        const start = this.pos;
        this.pos += 1;
        this.spaces();
        if (this.text[this.pos] === '@') {
          for (const part of this.named(start)) {
            if (typeof part === 'string') literal += part;
            else {
              flush();
              parts.push(part);
            }
          }
        } else {
          flush();
          parts.push(this.placeholder());
        }
      } else if (ch === '}') {
        throw new TemplateSyntaxError('unmatched "}" (write "}}" for a literal brace)', this.pos);
      } else {
        literal += ch;
        this.pos += 1;
      }
    }
    flush();
    return parts;
  }

  /** `{@name}`: the parts of the named template, parsed in its turn. `start` is the offset of the `{`. */
  private named(start: number): Part[] {
    this.pos += 1; // "@"
    const name = this.identifier(NAMED_START, NAMED_REST, 'a template name');
    this.spaces();
    if (this.text[this.pos] === '|') {
      throw new TemplateSyntaxError('a named template takes no filters: write {@name} alone', this.pos);
    }
    if (this.text[this.pos] !== '}') throw new TemplateSyntaxError('expected "}" after a template name', this.pos);
    this.pos += 1;
    const templates = this.options.templates ?? {};
    if (!Object.hasOwn(templates, name)) {
      const known = Object.keys(templates);
      throw new TemplateSyntaxError(
        `unknown named template "${name}" (${known.length === 0 ? 'no templates are defined' : `known: ${known.join(', ')}`})`,
        start,
      );
    }
    if (this.expanding.includes(name)) {
      const chain = [...this.expanding.slice(this.expanding.indexOf(name)), name].join(' → ');
      throw new TemplateSyntaxError(`named template "${name}" includes itself (${chain})`, start);
    }
    const source = templates[name] as string;
    try {
      return new Parser(source, this.options, [...this.expanding, name]).parse();
    } catch (error) {
      if (!(error instanceof TemplateSyntaxError)) throw error;
      if (relocated.has(error)) throw new TemplateSyntaxError(error.message, start);
      const moved = new TemplateSyntaxError(
        `in named template "${name}" ("${source}"): ${error.message} (at character ${error.offset + 1})`,
        start,
      );
      relocated.add(moved);
      throw moved;
    }
  }

  private placeholder(): Placeholder {
    const variable = this.text[this.pos] === '$';
    let name: string;
    if (variable) {
      this.pos += 1;
      name = this.identifier(VARIABLE_START, VARIABLE_REST, 'a variable name ([A-Za-z_][A-Za-z0-9_]*)');
    } else {
      name = this.identifier(/[A-Za-z0-9;-]/, /[A-Za-z0-9;-]/, 'an attribute name').toLowerCase();
    }
    const filters: { name: string; args: FilterArg[] }[] = [];
    this.spaces();
    while (this.text[this.pos] === '|') {
      this.pos += 1;
      this.spaces();
      const start = this.pos;
      const filter = this.identifier(/[a-z]/, /[A-Za-z]/, 'a filter name');
      const spec = Object.hasOwn(FILTERS, filter) ? FILTERS[filter] : undefined;
      if (spec === undefined) {
        throw new TemplateSyntaxError(`unknown filter "${filter}" (known: ${TEMPLATE_FILTERS.join(', ')})`, start);
      }
      const args = this.text[this.pos] === '(' ? this.args() : [];
      this.checkArgs(filter, spec, args, start);
      filters.push({ name: filter, args });
      this.spaces();
    }
    if (this.text[this.pos] !== '}') {
      throw new TemplateSyntaxError('expected "|" or "}" in placeholder', this.pos);
    }
    this.pos += 1;
    return { name, variable, filters };
  }

  private checkArgs(name: string, spec: FilterSpec, args: readonly FilterArg[], start: number): void {
    const max = spec.params.length;
    const min = spec.required ?? max;
    if (args.length < min || args.length > max) {
      const want = min === max ? `${min}` : `${min} to ${max}`;
      throw new TemplateSyntaxError(`filter "${name}" takes ${want} argument(s), got ${args.length}`, start);
    }
    args.forEach((arg, i) => {
      const kind = spec.params[i];
      const ok =
        kind === 'string-or-int' ||
        (kind === 'string' && typeof arg === 'string') ||
        (kind === 'int' && typeof arg === 'number' && arg !== 0);
      if (!ok) {
        const want = kind === 'int' ? 'a non-zero integer (1 = first, -1 = last)' : 'a quoted string';
        throw new TemplateSyntaxError(`filter "${name}": argument ${i + 1} must be ${want}`, start);
      }
    });
    if (name === 'match' || name === 'replace') {
      try {
        new RegExp(String(args[0]), 'u');
      } catch (error) {
        throw new TemplateSyntaxError(`invalid regular expression: ${(error as Error).message}`, start);
      }
    }
    const known = this.options.transcodings;
    const table = name === 'map' ? args[0] : name === 'mapPart' ? args[1] : undefined;
    if (table !== undefined && known !== undefined && !known.has(String(table))) {
      const list = [...known];
      throw new TemplateSyntaxError(
        `unknown transcoding "${String(table)}" (${list.length === 0 ? 'the spec defines none' : `known: ${list.join(', ')}`})`,
        start,
      );
    }
  }

  private args(): FilterArg[] {
    this.pos += 1; // "("
    const args: FilterArg[] = [];
    this.spaces();
    if (this.text[this.pos] === ')') {
      this.pos += 1;
      return args;
    }
    for (;;) {
      this.spaces();
      args.push(this.text[this.pos] === '"' ? this.quoted() : this.number());
      this.spaces();
      const ch = this.text[this.pos];
      this.pos += 1;
      if (ch === ')') return args;
      if (ch !== ',') throw new TemplateSyntaxError('expected "," or ")" after a filter argument', this.pos - 1);
    }
  }

  /** Double-quoted; `\"` and `\\` are escapes, any other backslash is kept (regexes stay readable). */
  private quoted(): string {
    const start = this.pos;
    this.pos += 1;
    let out = '';
    while (this.pos < this.text.length) {
      const ch = this.text[this.pos] as string;
      const next = this.text[this.pos + 1];
      if (ch === '\\' && (next === '"' || next === '\\')) {
        out += next;
        this.pos += 2;
      } else if (ch === '"') {
        this.pos += 1;
        return out;
      } else {
        out += ch;
        this.pos += 1;
      }
    }
    throw new TemplateSyntaxError('unterminated string', start);
  }

  private number(): number {
    const m = /^-?\d+/.exec(this.text.slice(this.pos));
    if (m === null) throw new TemplateSyntaxError('expected a quoted string or an integer', this.pos);
    this.pos += m[0].length;
    return Number(m[0]);
  }

  private identifier(first: RegExp, rest: RegExp, what: string): string {
    const start = this.pos;
    if (this.pos < this.text.length && first.test(this.text[this.pos] as string)) {
      this.pos += 1;
      while (this.pos < this.text.length && rest.test(this.text[this.pos] as string)) this.pos += 1;
    }
    if (this.pos === start) throw new TemplateSyntaxError(`expected ${what}`, start);
    return this.text.slice(start, this.pos);
  }

  private spaces(): void {
    while (this.text[this.pos] === ' ') this.pos += 1;
  }
}

const NO_VALUES: Values = [];

function evaluatePlaceholder(p: Placeholder, entry: LdapEntry, context: EvalContext): Values {
  let current: Values;
  if (p.variable) {
    const vars = context.vars;
    current = vars !== undefined && Object.hasOwn(vars, p.name) ? (vars[p.name] ?? NO_VALUES) : NO_VALUES;
  } else current = values(entry, p.name);
  for (const f of p.filters) current = (FILTERS[f.name] as FilterSpec).apply(current, f.args, context);
  return current;
}

const EMPTY_CONTEXT: EvalContext = {};

/** Parses a template; throws `TemplateSyntaxError` with the offending offset (in `source`). */
export function compileTemplate(source: string, options: CompileOptions = {}): CompiledTemplate {
  const parts = new Parser(source, options).parse();
  const placeholders = parts.filter((p): p is Placeholder => typeof p !== 'string');
  const attributes = [...new Set(placeholders.filter((p) => !p.variable).map((p) => p.name))];
  const variables = [...new Set(placeholders.filter((p) => p.variable).map((p) => p.name))];
  const single = parts.length === 1 && typeof parts[0] !== 'string' ? parts[0] : undefined;
  const evaluate = (entry: LdapEntry, context: EvalContext = EMPTY_CONTEXT): Values => {
    if (single !== undefined) return evaluatePlaceholder(single, entry, context).map((s) => s.normalize('NFC'));
    let out = '';
    for (const part of parts) {
      if (typeof part === 'string') {
        out += part;
        continue;
      }
      const first = evaluatePlaceholder(part, entry, context)[0];
      if (first === undefined) return [];
      out += first;
    }
    return [out.normalize('NFC')];
  };
  return { source, attributes, variables, evaluate };
}
