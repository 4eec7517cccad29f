/**
 * RFC 4515 search filters, evaluated against entries in memory (for the LDIF source: a real server
 * evaluates filters itself). The parser is ours rather than ldapts's FilterParser because that one decodes
 * `\xx` escapes byte by byte (breaking UTF-8 such as `\c3\a9`) and accepts a missing closing parenthesis.
 *
 * Matching follows the case-ignore rules of the SDET/inetOrgPerson attributes: values compared after NFC,
 * lower-casing and space folding; `>=`/`<=` compare numerically when both sides are numbers.
 */
import { UserError } from '../errors.js';
import { type LdapEntry, normalizeDn } from './entry.js';

type Node =
  | { readonly kind: 'and' | 'or'; readonly children: readonly Node[] }
  | { readonly kind: 'not'; readonly child: Node }
  | { readonly kind: 'present'; readonly attribute: string }
  | { readonly kind: 'equal' | 'approx' | 'gte' | 'lte'; readonly attribute: string; readonly value: string }
  | {
      readonly kind: 'substring';
      readonly attribute: string;
      readonly initial: string;
      readonly any: readonly string[];
      readonly final: string;
    };

const ATTRIBUTE = /^(?:[A-Za-z][A-Za-z0-9-]*|\d+(?:\.\d+)*)(?:;[A-Za-z0-9-]+)*/;
const NUMBER = /^-?\d+(?:\.\d+)?$/;

class FilterSyntaxError extends Error {
  constructor(
    message: string,
    readonly index: number,
  ) {
    super(message);
  }
}

/** A well-formed filter that this evaluator cannot run (extensible match). */
class UnsupportedFilterError extends FilterSyntaxError {}

const EXTENSIBLE = 'an extensible match (":=")';

/** Recursive-descent parser over the filter string; `pos` is the index of the next character. */
class Parser {
  pos = 0;
  constructor(readonly text: string) {}

  fail(message: string, index = this.pos): never {
    throw new FilterSyntaxError(message, index);
  }

  expect(ch: string): void {
    if (this.text[this.pos] !== ch) {
      const found = this.pos < this.text.length ? `"${this.text[this.pos]}"` : 'the end of the filter';
      this.fail(`expected "${ch}" but found ${found}`);
    }
    this.pos += 1;
  }

  filter(): Node {
    this.expect('(');
    const ch = this.text[this.pos];
    let node: Node;
    if (ch === '&' || ch === '|') {
      this.pos += 1;
      const children: Node[] = [];
      // RFC 4526 allows the empty (&) and (|): absolute true and false.
      while (this.text[this.pos] === '(') children.push(this.filter());
      node = { kind: ch === '&' ? 'and' : 'or', children };
    } else if (ch === '!') {
      this.pos += 1;
      node = { kind: 'not', child: this.filter() };
    } else {
      node = this.item();
    }
    this.expect(')');
    return node;
  }

  item(): Node {
    const start = this.pos;
    const match = ATTRIBUTE.exec(this.text.slice(start));
    if (!match) {
      if (this.text[start] === ':') throw new UnsupportedFilterError(EXTENSIBLE, start);
      this.fail('expected an attribute name');
    }
    const attribute = match[0].toLowerCase();
    this.pos += match[0].length;
    const op = this.text.slice(this.pos, this.pos + 2);
    if (op.startsWith(':')) throw new UnsupportedFilterError(EXTENSIBLE, start);
    if (op === '>=' || op === '<=' || op === '~=') {
      this.pos += 2;
      const kind = op === '>=' ? 'gte' : op === '<=' ? 'lte' : 'approx';
      const value = this.value();
      if (this.text[this.pos] === '*') this.fail(`"*" is not allowed in a "${op}" value (escape it as \\2a)`);
      return { kind, attribute, value };
    }
    this.expect('=');
    const parts = [this.value()];
    while (this.text[this.pos] === '*') {
      this.pos += 1;
      parts.push(this.value());
    }
    if (parts.length === 1) return { kind: 'equal', attribute, value: parts[0] as string };
    if (parts.length === 2 && parts[0] === '' && parts[1] === '') return { kind: 'present', attribute };
    const initial = parts.shift() as string;
    const final = parts.pop() as string;
    return { kind: 'substring', attribute, initial, any: parts.filter((p) => p !== ''), final };
  }

  /** An assertion value up to the next `*`, `(` or `)`, with `\xx` escapes decoded as UTF-8 bytes. */
  value(): string {
    const bytes: number[] = [];
    while (this.pos < this.text.length) {
      const ch = this.text[this.pos] as string;
      if (ch === '*' || ch === ')') break;
      if (ch === '(') this.fail('unescaped "(" in a value (write it as \\28)');
      if (ch === '\\') {
        const hex = this.text.slice(this.pos + 1, this.pos + 3);
        if (!/^[0-9A-Fa-f]{2}$/.test(hex)) this.fail('"\\" must be followed by two hex digits (\\5c for a backslash)');
        bytes.push(Number.parseInt(hex, 16));
        this.pos += 3;
      } else {
        const codePoint = this.text.codePointAt(this.pos) as number;
        const text = String.fromCodePoint(codePoint);
        bytes.push(...Buffer.from(text, 'utf8'));
        this.pos += text.length;
      }
    }
    try {
      return new TextDecoder('utf-8', { fatal: true }).decode(Uint8Array.from(bytes));
    } catch {
      return this.fail('escaped bytes in a value are not valid UTF-8');
    }
  }
}

/** Case-ignore form of a value: NFC, lower case, runs of spaces folded to one (RFC 4518, simplified). */
function fold(value: string): string {
  return value.normalize('NFC').toLowerCase().replace(/ {2,}/g, ' ');
}

/** Values of an attribute description; a bare type also matches its subtypes with options (cn → cn;lang-fr). */
function valuesOf(entry: LdapEntry, attribute: string): string[] {
  const result: string[] = [];
  for (const [name, list] of Object.entries(entry.attributes)) {
    if (name === attribute || (!attribute.includes(';') && name.startsWith(`${attribute};`))) result.push(...list);
  }
  return result;
}

function compare(a: string, b: string): number {
  if (NUMBER.test(a) && NUMBER.test(b)) return Number(a) - Number(b);
  return a < b ? -1 : a > b ? 1 : 0;
}

function substringMatches(value: string, initial: string, any: readonly string[], final: string): boolean {
  if (!value.startsWith(initial)) return false;
  let from = initial.length;
  for (const part of any) {
    const at = value.indexOf(part, from);
    if (at < 0) return false;
    from = at + part.length;
  }
  return value.length - final.length >= from && value.endsWith(final);
}

function toMatcher(node: Node): (entry: LdapEntry) => boolean {
  switch (node.kind) {
    case 'and': {
      const children = node.children.map(toMatcher);
      return (entry) => children.every((m) => m(entry));
    }
    case 'or': {
      const children = node.children.map(toMatcher);
      return (entry) => children.some((m) => m(entry));
    }
    case 'not': {
      const child = toMatcher(node.child);
      return (entry) => !child(entry);
    }
    case 'present':
      // Every directory entry has an objectClass, whether or not the LDIF spelled it out.
      if (node.attribute === 'objectclass') return () => true;
      return (entry) => valuesOf(entry, node.attribute).length > 0;
    case 'equal':
    case 'approx': {
      // No soundex: approximate match is equality, which is what it returns for exact values anyway.
      const wanted = fold(node.value.trim());
      // DN-valued attributes (member, ENTPersonStructRattach…) compare as DNs, whatever their spacing.
      const wantedDn = node.value.includes('=') ? normalizeDn(node.value) : undefined;
      return (entry) =>
        valuesOf(entry, node.attribute).some(
          (v) => fold(v.trim()) === wanted || (wantedDn !== undefined && normalizeDn(v) === wantedDn),
        );
    }
    case 'gte':
    case 'lte': {
      const wanted = fold(node.value.trim());
      const sign = node.kind === 'gte' ? 1 : -1;
      return (entry) => valuesOf(entry, node.attribute).some((v) => sign * compare(fold(v.trim()), wanted) >= 0);
    }
    case 'substring': {
      const initial = fold(node.initial);
      const any = node.any.map(fold);
      const final = fold(node.final);
      return (entry) =>
        valuesOf(entry, node.attribute).some((v) => substringMatches(fold(v.trim()), initial, any, final));
    }
  }
}

/**
 * Compiles an RFC 4515 filter (outer parentheses optional) into a predicate over entries. Throws
 * `SPEC_INVALID` on a malformed filter or an extensible match, naming the character where it went wrong.
 */
export function compileFilter(filter: string): (entry: LdapEntry) => boolean {
  const trimmed = filter.trim();
  const text = trimmed.startsWith('(') ? trimmed : `(${trimmed})`;
  const parser = new Parser(text);
  try {
    const node = parser.filter();
    if (parser.pos < text.length) parser.fail('unexpected text after the end of the filter');
    return toMatcher(node);
  } catch (error) {
    if (!(error instanceof FilterSyntaxError)) throw error;
    const offset = text === trimmed ? 0 : -1;
    const column = Math.max(1, error.index + 1 + offset);
    if (error instanceof UnsupportedFilterError) {
      throw new UserError(
        'SPEC_INVALID',
        `LDAP filter "${trimmed}" uses ${error.message} at character ${column}, which the LDIF source cannot ` +
          'evaluate: rewrite it with =, >=, <=, ~=, substrings (*), &, | and !, or read from an LDAP server instead.',
        [{ message: `${error.message} is not supported at character ${column}` }],
      );
    }
    throw new UserError(
      'SPEC_INVALID',
      `invalid LDAP filter "${trimmed}": ${error.message} at character ${column}. ` +
        'Write an RFC 4515 filter such as (&(objectClass=ENTEleve)(ESCOUAI=0450001A)); escape *, (, ) and \\ in values as \\2a, \\28, \\29, \\5c.',
      [{ message: `${error.message} at character ${column}` }],
      { cause: error },
    );
  }
}
