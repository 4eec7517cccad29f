/**
 * The template language of the spec: how a Moodle value is computed from directory attributes.
 *
 *     "{givenName} {sn|upper}"                         text with placeholders
 *     "{uid|lower}"                                     one attribute through filters
 *     '{ENTPersonJointure|match("^[^$]+\$(?<key>.+)$", "key")}'   regex extraction with a named group
 *     "{mail|first|default(\"\")}"                      a default when the attribute is absent
 *
 * A placeholder evaluates to a list of values (LDAP attributes are multi-valued); filters map or reduce that
 * list. A template made of a single placeholder yields the whole list; a template with text yields one value
 * built from the first value of each placeholder, and **no value at all** when one of its placeholders has
 * none (so that "{givenName} {sn}" never silently becomes " DUPONT"). Write `{{` and `}}` for literal braces.
 *
 * Pure: compile once per spec, evaluate per entry.
 */
import type { LdapEntry } from '../source/entry.js';
import { values } from '../source/entry.js';

type Values = readonly string[];
type FilterArg = string | number;

interface FilterSpec {
  /** Argument kinds; the ones after `required` are optional. */
  readonly params: readonly ('string' | 'int' | 'string-or-int')[];
  readonly required?: number;
  readonly apply: (input: Values, args: readonly FilterArg[]) => Values;
}

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

// Argument kinds are checked when the template is compiled; these only narrow the types.
const str = (arg: FilterArg | undefined): string => String(arg);
const int = (arg: FilterArg | undefined): number => Number(arg);
/** 1-based index, negative from the end, as users count. */
const pick = <T>(list: readonly T[], n: number): T | undefined => (n > 0 ? list[n - 1] : list[list.length + n]);

const compiledRegexps = new Map<string, RegExp>();
const regexp = (source: string, flags: string): RegExp => {
  const cacheKey = `${flags}/${source}`;
  let re = compiledRegexps.get(cacheKey);
  if (re === undefined) {
    re = new RegExp(source, flags);
    compiledRegexps.set(cacheKey, re);
  }
  return re;
};

const FILTERS: Readonly<Record<string, FilterSpec>> = {
  lower: { params: [], apply: (v) => v.map((s) => s.toLowerCase()) },
  upper: { params: [], apply: (v) => v.map((s) => s.toUpperCase()) },
  trim: { params: [], apply: (v) => v.map((s) => s.trim()).filter((s) => s !== '') },
  /** Accents removed: "Éloïse" → "Eloise" (useful for usernames). */
  ascii: { params: [], apply: (v) => v.map((s) => s.normalize('NFD').replace(/\p{M}/gu, '')) },
  first: { params: [], apply: (v) => v.slice(0, 1) },
  last: { params: [], apply: (v) => v.slice(-1) },
  nth: {
    params: ['int'],
    apply: (v, a) => {
      const item = pick(v, int(a[0]));
      return item === undefined ? [] : [item];
    },
  },
  join: { params: ['string'], apply: (v, a) => (v.length === 0 ? [] : [v.join(str(a[0]))]) },
  split: {
    params: ['string', 'int'],
    apply: (v, a) => {
      const sep = str(a[0]);
      const n = int(a[1]);
      return v.flatMap((s) => {
        const part = pick(s.split(sep), n);
        return part === undefined ? [] : [part];
      });
    },
  },
  match: {
    params: ['string', 'string-or-int'],
    required: 1,
    apply: (v, a) => {
      const re = regexp(str(a[0]), 'u');
      const group = a[1];
      return v.flatMap((s) => {
        const m = re.exec(s);
        if (m === null) return [];
        let out: string | undefined;
        if (group === undefined) out = m[1] ?? m[0];
        else if (typeof group === 'number') out = m[group];
        else out = m.groups?.[group];
        return out === undefined ? [] : [out];
      });
    },
  },
  replace: {
    params: ['string', 'string'],
    apply: (v, a) => {
      const re = regexp(str(a[0]), 'gu');
      const by = str(a[1]);
      return v.map((s) => s.replace(re, by));
    },
  },
  default: { params: ['string'], apply: (v, a) => (v.length > 0 ? v : [String(a[0])]) },
};

export const TEMPLATE_FILTERS = Object.keys(FILTERS);

interface Placeholder {
  readonly attribute: string;
  readonly filters: readonly { readonly name: string; readonly args: readonly FilterArg[] }[];
}
type Part = string | Placeholder;

export interface CompiledTemplate {
  readonly source: string;
  /** Attributes the template reads, lower-cased (what to ask the directory for). */
  readonly attributes: readonly string[];
  /** The values for one entry, NFC-normalised; empty when the entry has none. */
  evaluate(entry: LdapEntry): Values;
}

class Parser {
  private pos = 0;
  constructor(private readonly text: string) {}

  parse(): Part[] {
    const parts: Part[] = [];
    let literal = '';
    while (this.pos < this.text.length) {
      const ch = this.text[this.pos];
      if (ch === '{' && this.text[this.pos + 1] === '{') {
        literal += '{';
        this.pos += 2;
      } else if (ch === '}' && this.text[this.pos + 1] === '}') {
        literal += '}';
        this.pos += 2;
      } else if (ch === '{') {
        if (literal !== '') parts.push(literal);
        literal = '';
        this.pos += 1;
        parts.push(this.placeholder());
      } else if (ch === '}') {
        throw new TemplateSyntaxError('unmatched "}" (write "}}" for a literal brace)', this.pos);
      } else {
        literal += ch;
        this.pos += 1;
      }
    }
    if (literal !== '') parts.push(literal);
    return parts;
  }

  private placeholder(): Placeholder {
    this.spaces();
    const attribute = this.identifier(/[A-Za-z0-9;-]/, 'an attribute name');
    const filters: { name: string; args: FilterArg[] }[] = [];
    this.spaces();
    while (this.text[this.pos] === '|') {
      this.pos += 1;
      this.spaces();
      const start = this.pos;
      const name = this.identifier(/[a-z]/, 'a filter name');
      const spec = FILTERS[name];
      if (spec === undefined) {
        throw new TemplateSyntaxError(`unknown filter "${name}" (known: ${TEMPLATE_FILTERS.join(', ')})`, start);
      }
      const args = this.text[this.pos] === '(' ? this.args() : [];
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
      filters.push({ name, args });
      this.spaces();
    }
    if (this.text[this.pos] !== '}') {
      throw new TemplateSyntaxError('expected "|" or "}" in placeholder', this.pos);
    }
    this.pos += 1;
    return { attribute: attribute.toLowerCase(), filters };
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

  private identifier(charset: RegExp, what: string): string {
    const start = this.pos;
    while (this.pos < this.text.length && charset.test(this.text[this.pos] as string)) this.pos += 1;
    if (this.pos === start) throw new TemplateSyntaxError(`expected ${what}`, start);
    return this.text.slice(start, this.pos);
  }

  private spaces(): void {
    while (this.text[this.pos] === ' ') this.pos += 1;
  }
}

function evaluatePlaceholder(p: Placeholder, entry: LdapEntry): Values {
  let current: Values = values(entry, p.attribute);
  for (const f of p.filters) current = (FILTERS[f.name] as FilterSpec).apply(current, f.args);
  return current;
}

/** Parses a template; throws `TemplateSyntaxError` with the offending offset. */
export function compileTemplate(source: string): CompiledTemplate {
  const parts = new Parser(source).parse();
  const placeholders = parts.filter((p): p is Placeholder => typeof p !== 'string');
  const attributes = [...new Set(placeholders.map((p) => p.attribute))];
  const single = parts.length === 1 && typeof parts[0] !== 'string' ? parts[0] : undefined;
  const evaluate = (entry: LdapEntry): Values => {
    if (single !== undefined) return evaluatePlaceholder(single, entry).map((s) => s.normalize('NFC'));
    let out = '';
    for (const part of parts) {
      if (typeof part === 'string') {
        out += part;
        continue;
      }
      const first = evaluatePlaceholder(part, entry)[0];
      if (first === undefined) return [];
      out += first;
    }
    return [out.normalize('NFC')];
  };
  return { source, attributes, evaluate };
}
