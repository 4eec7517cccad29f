/**
 * `${env:NAME}` and `${file:PATH}` references in string values of the spec, so that passwords never have
 * to be written in it. `$${` is a literal `${`. Resolved values are returned for redaction; no message
 * here ever contains one.
 */
import { resolve } from 'node:path';
import { type InputFileError, readBoundedText } from '../bounded-read.js';
import type { Diagnostic } from '../errors.js';
import { UserError } from '../errors.js';
import type { SpecPositions } from './positions.js';
import { comparePositions, displayPath } from './positions.js';

type Part =
  | { readonly kind: 'text'; readonly text: string }
  | { readonly kind: 'env'; readonly name: string }
  | { readonly kind: 'file'; readonly path: string }
  | { readonly kind: 'invalid'; readonly reason: string };

const HOW = `write \${env:NAME} or \${file:PATH} (PATH relative to the spec), or $\${ for a literal \${`;

/** Splits a string into literal text and references. */
export function parseReferences(text: string): Part[] {
  const parts: Part[] = [];
  let literal = '';
  let i = 0;
  while (i < text.length) {
    if (text.startsWith('$${', i)) {
      literal += '${';
      i += 3;
    } else if (text.startsWith('${', i)) {
      const end = text.indexOf('}', i + 2);
      if (literal !== '') parts.push({ kind: 'text', text: literal });
      literal = '';
      if (end === -1) {
        parts.push({ kind: 'invalid', reason: `unterminated \${ (no closing }); ${HOW}` });
        break;
      }
      parts.push(referenceOf(text.slice(i + 2, end)));
      i = end + 1;
    } else {
      literal += text[i];
      i += 1;
    }
  }
  if (literal !== '') parts.push({ kind: 'text', text: literal });
  return parts;
}

function referenceOf(inner: string): Part {
  if (inner.startsWith('env:')) {
    const name = inner.slice(4);
    return /^[A-Za-z_][A-Za-z0-9_]*$/.test(name)
      ? { kind: 'env', name }
      : {
          kind: 'invalid',
          reason: `invalid environment variable name in \${env:…}: use letters, digits and _`,
        };
  }
  if (inner.startsWith('file:') && inner.length > 5) return { kind: 'file', path: inner.slice(5) };
  // Not echoed: the string may be a literal password that happens to contain `${`.
  const placeholder = inner.includes(':') ? '' : ' (a template placeholder is written {attribute}, without $)';
  return { kind: 'invalid', reason: `unknown \${…} reference${placeholder}; ${HOW}` };
}

/**
 * Where a secret reference may be written: credentials (the LDAP bind DN and password, the database user and
 * password) and the arguments of postApply commands (a deployment hook's token). Anywhere else, a reference
 * would copy a secret into values that plans, JSON plans and merge-request comments show: a user field, a
 * cohort name, a search filter.
 */
const SECRET_FIELDS: readonly (readonly string[])[] = [
  ['source', 'ldap', 'password'],
  ['source', 'ldap', 'bindDN'],
  ['moodle', 'password'],
  ['moodle', 'user'],
  ['postApply', '*', 'run', '*'],
];

/** The secret fields, as the docs and messages name them. */
export const SECRET_FIELD_NAMES =
  'source.ldap.password, source.ldap.bindDN, moodle.password, moodle.user, postApply[].run[]';

const isSecretField = (segments: readonly string[]): boolean =>
  SECRET_FIELDS.some(
    (field) => field.length === segments.length && field.every((name, i) => name === '*' || name === segments[i]),
  );

/**
 * Malformed references anywhere in the spec, and references outside the secret fields, reported with the schema
 * problems (SPEC_INVALID).
 */
export function checkReferences(data: unknown, positions: SpecPositions): Diagnostic[] {
  const diagnostics: Diagnostic[] = [];
  forEachString(data, [], (text, segments) => {
    if (!text.includes('${')) return;
    let misplaced = false;
    for (const part of parseReferences(text)) {
      if (part.kind === 'text') continue;
      if (part.kind !== 'invalid') {
        misplaced ||= !isSecretField(segments);
        continue;
      }
      diagnostics.push({
        message: part.reason,
        path: displayPath(segments),
        position: positions.report(segments, 'value'),
      });
    }
    if (misplaced) {
      diagnostics.push({
        message:
          `a secret reference (\${env:…} or \${file:…}) is allowed only in ${SECRET_FIELD_NAMES}: anywhere else ` +
          'its value would be copied into Moodle and shown in plans; write $${ for a literal ${',
        path: displayPath(segments),
        position: positions.report(segments, 'value'),
      });
    }
  });
  return diagnostics;
}

export interface ResolveOptions {
  readonly env: NodeJS.ProcessEnv;
  /** Directory that relative `${file:…}` paths are relative to. */
  readonly dir: string;
  readonly positions: SpecPositions;
}

/**
 * Returns a copy of `value` with every reference replaced, and the resolved values. All unresolvable
 * references are reported at once in one `SECRET_UNSET`. Empty values count as unset: an empty bind
 * password would silently turn into an anonymous bind.
 */
export async function resolveSecrets<T>(value: T, options: ResolveOptions): Promise<{ value: T; secrets: string[] }> {
  const files = new Map<string, Promise<string | Error>>();
  const secrets = new Set<string>();
  const problems: { reference: string; diagnostic: Diagnostic }[] = [];
  /** Files that must not be read as secrets (a device, a FIFO, a directory, too big): the spec is wrong. */
  const wrongFiles: Diagnostic[] = [];

  const resolveString = async (text: string, segments: readonly string[]): Promise<string> => {
    if (!text.includes('${')) return text;
    let out = '';
    for (const part of parseReferences(text)) {
      if (part.kind === 'text') {
        out += part.text;
        continue;
      }
      if (part.kind === 'invalid') continue; // reported by checkReferences before we get here
      const lookup =
        part.kind === 'env' ? fromEnv(part.name, options.env) : await fromFile(part.path, options.dir, files);
      if ('resolved' in lookup) {
        secrets.add(lookup.resolved);
        out += lookup.resolved;
      } else if ('wrongFile' in lookup) {
        const position = options.positions.report(segments, 'value');
        wrongFiles.push({ message: lookup.wrongFile, path: displayPath(segments), position });
      } else {
        const position = options.positions.report(segments, 'value');
        const diagnostic = { message: lookup.problem, path: displayPath(segments), position };
        problems.push({ reference: lookup.reference, diagnostic });
      }
    }
    return out;
  };

  const resolved = (await mapStrings(value, [], resolveString)) as T;
  if (wrongFiles.length > 0) {
    const count = wrongFiles.length === 1 ? '1 secret file' : `${wrongFiles.length} secret files`;
    throw new UserError(
      'SPEC_INVALID',
      `${options.positions.file}: ${count} cannot be read: a \${file:} secret must name a regular file of at most 10 MiB`,
      wrongFiles.sort(comparePositions),
    );
  }
  if (problems.length > 0) {
    // Strings resolve concurrently; report in file order.
    problems.sort((a, b) => comparePositions(a.diagnostic, b.diagnostic));
    const file = options.positions.file;
    const list = problems
      .map(({ reference, diagnostic: { position: p } }) => `${reference} at ${file}:${p?.line}:${p?.column}`)
      .join(', ');
    const count = problems.length === 1 ? '1 secret reference' : `${problems.length} secret references`;
    throw new UserError(
      'SECRET_UNSET',
      `${file}: ${count} could not be resolved: ${list}. Set the environment variables or create the files, then run again.`,
      problems.map((p) => p.diagnostic),
    );
  }
  return { value: resolved, secrets: [...secrets] };
}

type Lookup =
  | { readonly reference: string; readonly resolved: string }
  | { readonly reference: string; readonly problem: string }
  | { readonly reference: string; readonly wrongFile: string };

function fromEnv(name: string, env: NodeJS.ProcessEnv): Lookup {
  const value = env[name];
  const reference = `\${env:${name}}`;
  if (value !== undefined && value !== '') return { reference, resolved: value };
  return {
    reference,
    problem: `environment variable ${name} is ${value === undefined ? 'not set' : 'empty'}`,
  };
}

async function fromFile(path: string, dir: string, cache: Map<string, Promise<string | Error>>): Promise<Lookup> {
  const absolute = resolve(dir, path);
  let pending = cache.get(absolute);
  if (pending === undefined) {
    pending = readBoundedText(absolute).then(
      (text) => text.replace(/(\r?\n)+$/, ''),
      (error: unknown) => (error instanceof Error ? error : new Error(String(error))),
    );
    cache.set(absolute, pending);
  }
  const content = await pending;
  const reference = `\${file:${path}}`;
  if (content instanceof Error) {
    const kind = (content as InputFileError).code;
    if (kind === 'ENOTREG' || kind === 'EFBIG') return { reference, wrongFile: content.message };
    const code = (content as NodeJS.ErrnoException).code ?? content.message;
    return { reference, problem: `cannot read secret file ${absolute} (${code})` };
  }
  if (content === '') return { reference, problem: `secret file ${absolute} is empty` };
  return { reference, resolved: content };
}

function forEachString(
  value: unknown,
  segments: readonly string[],
  visit: (text: string, segments: readonly string[]) => void,
): void {
  if (typeof value === 'string') visit(value, segments);
  else if (value !== null && typeof value === 'object') {
    for (const [key, item] of Object.entries(value)) forEachString(item, [...segments, key], visit);
  }
}

async function mapStrings(
  value: unknown,
  segments: readonly string[],
  map: (text: string, segments: readonly string[]) => Promise<string>,
): Promise<unknown> {
  if (typeof value === 'string') return map(value, segments);
  if (Array.isArray(value)) {
    return Promise.all(value.map((item, i) => mapStrings(item, [...segments, String(i)], map)));
  }
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value);
    const mapped = await Promise.all(entries.map(([key, item]) => mapStrings(item, [...segments, key], map)));
    return Object.fromEntries(entries.map(([key], i) => [key, mapped[i]]));
  }
  return value;
}
