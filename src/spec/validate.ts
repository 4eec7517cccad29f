/**
 * Validates the parsed spec against the schema literal and turns ajv's errors into one readable diagnostic
 * per real problem, each at the YAML node it is about. Messages never echo string values (they may be
 * passwords); only numbers and booleans that should have been quoted are shown, and not in secret fields.
 */
import type { ErrorObject, ValidateFunction } from 'ajv/dist/2020.js';
import { Ajv2020 } from 'ajv/dist/2020.js';
import type { Diagnostic } from '../errors.js';
import type { SpecBases } from './extends.js';
import type { SpecPositions } from './positions.js';
import { displayPath, pointerSegments } from './positions.js';
import { specSchema } from './schema.js';
import { UAI_PATTERN } from './schema-parts.js';

type Json = Record<string, unknown>;

let compiled: ValidateFunction | undefined;

/** Compiled once per process. No useDefaults/removeAdditional (defaults are a separate pass), no verbose. */
function validator(): ValidateFunction {
  compiled ??= new Ajv2020({ strict: true, allErrors: true }).compile(specSchema);
  return compiled;
}

/**
 * Validates `data` (the parsed file, its bases merged in) and returns its problems, unsorted; empty when valid.
 * `bases` (what the spec extends) turns the missing keys of a rule the spec names but no base defines into
 * one "did you mean" when a base defines a rule of a close name (a typo in an inherited rule's name).
 */
export function validateSpec(data: unknown, positions: SpecPositions, bases?: SpecBases): Diagnostic[] {
  const validate = validator();
  if (validate(data)) return [];
  const diagnostics = new Map<string, Diagnostic>();
  for (const problem of explain(validate.errors ?? [], data, positions, bases)) {
    const path = displayPath(problem.segments);
    // allErrors can report the same problem twice (e.g. through several schema paths).
    diagnostics.set(`${path}\u0000${problem.message}`, {
      message: problem.message,
      path,
      position: positions.report(problem.segments, problem.at),
    });
  }
  return [...diagnostics.values()];
}

interface Problem {
  readonly message: string;
  readonly segments: readonly string[];
  /** Report at the key (problems with a whole object, unknown keys) or at the value. */
  readonly at: 'key' | 'value';
}

function explain(
  errors: readonly ErrorObject[],
  data: unknown,
  positions: SpecPositions,
  bases: SpecBases | undefined,
): Problem[] {
  const kept = errors.filter((e) => !isNoise(e, errors, data));
  const suggestedFor = new Set<string>();
  const problems: Problem[] = [];
  const misnamed = bases === undefined ? new Set<string>() : misnamedEntries(kept, bases, problems);
  for (const e of kept) {
    if (e.keyword !== 'additionalProperties') continue;
    const segments = pointerSegments(e.instancePath);
    const key = String(e.params.additionalProperty);
    const allowed = Object.keys(asObject(schemaAt(parentSchemaPath(e.schemaPath)).properties));
    const missing = kept
      .filter((r) => r.keyword === 'required' && r.instancePath === e.instancePath)
      .map((r) => String(r.params.missingProperty));
    const present = Object.keys(asObject(valueAt(data, segments)));
    const suggestion =
      closest(key, missing) ??
      closest(
        key,
        allowed.filter((k) => !present.includes(k)),
      );
    if (suggestion !== undefined && missing.includes(suggestion)) suggestedFor.add(`${e.instancePath}/${suggestion}`);
    const hint = suggestion === undefined ? '' : `; did you mean ${JSON.stringify(suggestion)}?`;
    problems.push({
      message: `unknown key ${JSON.stringify(key)}${hint} (allowed: ${allowed.join(', ')})`,
      segments: [...segments, key],
      at: 'key',
    });
  }
  for (const e of kept) {
    if (e.keyword === 'additionalProperties') continue;
    if (e.keyword === 'required' && suggestedFor.has(`${e.instancePath}/${String(e.params.missingProperty)}`)) {
      continue; // the misspelt key's "did you mean" already says it
    }
    if (e.keyword === 'required' && misnamed.has(e.instancePath)) continue; // said once, by misnamedEntries
    const segments = pointerSegments(e.instancePath);
    const message = describeError(e, segments, valueAt(data, segments), positions);
    problems.push({ message, segments, at: atFor(e) });
  }
  return problems;
}

/** What an entry of a named collection is called in messages, by the collection's key. */
const ENTRY_NOUNS: Readonly<Record<string, string>> = {
  rules: 'rule',
  fields: 'profile field',
  declare: 'role',
  profiles: 'profile',
};

/**
 * An entry of a named collection (`courses.rules.classSubjet`) that lacks required keys, is not in the bases,
 * and is close to the name of one that is: a typo in the name of an inherited rule. Adds one problem for each
 * (at the entry's key) and returns their instance paths, whose "missing required key" errors it replaces.
 */
function misnamedEntries(errors: readonly ErrorObject[], bases: SpecBases, problems: Problem[]): Set<string> {
  const done = new Set<string>();
  for (const e of errors) {
    if (e.keyword !== 'required' || !e.schemaPath.endsWith('/additionalProperties/required')) continue;
    if (done.has(e.instancePath)) continue;
    const segments = pointerSegments(e.instancePath);
    const name = segments[segments.length - 1];
    const collection = segments.slice(0, -1);
    const known = Object.keys(asObject(valueAt(bases.data, collection)));
    if (name === undefined || known.includes(name)) continue;
    const suggestion = closest(name, known);
    if (suggestion === undefined) continue;
    done.add(e.instancePath);
    const noun = ENTRY_NOUNS[collection[collection.length - 1] ?? ''] ?? 'entry';
    const where = bases.names.map((n) => (n === 'sdet' ? 'the preset sdet' : n)).join(', ');
    const needed = errors
      .filter((r) => r.keyword === 'required' && r.instancePath === e.instancePath)
      .map((r) => String(r.params.missingProperty));
    problems.push({
      message:
        `no ${noun} ${JSON.stringify(name)} in ${where}; did you mean ${JSON.stringify(suggestion)}? ` +
        `(a new ${noun} must give ${needed.join(', ')})`,
      segments,
      at: 'key',
    });
  }
  return done;
}

/** ajv reports wrapper keywords and counts that another error already explains; users need neither. */
function isNoise(e: ErrorObject, all: readonly ErrorObject[], data: unknown): boolean {
  if (e.keyword === 'if') return true;
  if (e.keyword === 'oneOf' || e.keyword === 'anyOf') {
    // Keep the wrapper only when none of its branches said anything more precise.
    return all.some((other) => other.schemaPath.startsWith(`${e.schemaPath}/`));
  }
  if (e.keyword === 'maxProperties') {
    // `{ldif: x, lidf: y}` is one unknown key, not also "too many keys".
    const known = Object.keys(asObject(schemaAt(parentSchemaPath(e.schemaPath)).properties));
    const present = Object.keys(asObject(valueAt(data, pointerSegments(e.instancePath))));
    return present.filter((k) => known.includes(k)).length <= Number(e.params.limit);
  }
  return false;
}

function atFor(e: ErrorObject): 'key' | 'value' {
  return e.keyword === 'required' || e.keyword === 'minProperties' || e.keyword === 'maxProperties' ? 'key' : 'value';
}

function describeError(e: ErrorObject, segments: readonly string[], value: unknown, positions: SpecPositions): string {
  const p = e.params as Json;
  switch (e.keyword) {
    case 'required':
      return `missing required key ${JSON.stringify(p.missingProperty)}`;
    case 'type':
      return typeMessage(
        String(p.type).split(','),
        value,
        isSensitive(segments) ? undefined : positions.quotedSource(segments),
      );
    case 'enum':
      return `must be one of: ${asArray(p.allowedValues).map(String).join(', ')}`;
    case 'const': {
      const other = typeof value !== typeof p.allowedValue ? `, not ${kindOf(value)}` : '';
      return `must be ${JSON.stringify(p.allowedValue)}${other}`;
    }
    case 'minLength':
      return p.limit === 1 ? 'must not be empty' : `must be at least ${String(p.limit)} characters long`;
    case 'maxLength':
      return `must be at most ${String(p.limit)} characters long`;
    case 'pattern':
      return PATTERN_MEANINGS[String(p.pattern)] ?? `must match the regular expression ${String(p.pattern)}`;
    case 'minimum':
      return `must be at least ${String(p.limit)}`;
    case 'maximum':
      return `must be at most ${String(p.limit)}`;
    case 'exclusiveMinimum':
      return `must be greater than ${String(p.limit)}`;
    case 'exclusiveMaximum':
      return `must be less than ${String(p.limit)}`;
    case 'minProperties':
    case 'maxProperties':
      return propertyCountMessage(e, segments, value);
    case 'oneOf':
    case 'anyOf':
      return 'does not match any of the allowed forms';
    default:
      return e.message ?? `fails the "${e.keyword}" rule`;
  }
}

/** Regular expressions of the schema, said in words. */
const PATTERN_MEANINGS: Readonly<Record<string, string>> = {
  [UAI_PATTERN]: 'a UAI is 7 digits and a letter (e.g. 0450001A)',
  '^ldaps?://': 'must start with ldap:// or ldaps://',
  '^[a-z0-9_]*$': 'may contain only lowercase letters, digits and _',
  '^[a-z0-9_]+$': 'must be lowercase letters, digits and _ only',
};

const EXPECTED: Readonly<Record<string, string>> = {
  string: 'a string',
  integer: 'a whole number',
  number: 'a number',
  boolean: 'true or false',
  object: 'a mapping of keys',
  array: 'a list',
  null: 'an empty value',
};

/** `written` is the value as written in the file, quoted, when it may be shown (absent for secrets). */
function typeMessage(types: readonly string[], value: unknown, written: string | undefined): string {
  const expected = `expected ${types.map((t) => EXPECTED[t] ?? t).join(' or ')}`;
  const got = kindOf(value);
  if (types.includes('string') && (typeof value === 'number' || typeof value === 'boolean')) {
    // YAML reads unquoted 061300 as the number 61300: the user meant the text.
    return written === undefined ? `${expected}; put the value in quotes` : `${expected}; quote the value: ${written}`;
  }
  if ((types.includes('integer') || types.includes('number')) && typeof value === 'string') {
    return /^\s*-?[0-9]+(\.[0-9]+)?\s*$/.test(value)
      ? `${expected}, got a string; remove the quotes`
      : `${expected}, got ${got}`;
  }
  if (types.includes('boolean') && typeof value === 'string' && /^(yes|no|on|off|y|n)$/i.test(value)) {
    return `${expected}, got a string (YAML 1.2 reads yes/no/on/off as text)`;
  }
  return `${expected}, got ${got}`;
}

function propertyCountMessage(e: ErrorObject, segments: readonly string[], value: unknown): string {
  const schema = schemaAt(parentSchemaPath(e.schemaPath));
  const known = Object.keys(asObject(schema.properties));
  const name = segments[segments.length - 1] ?? 'the spec';
  if (schema.minProperties === 1 && schema.maxProperties === 1 && schema.additionalProperties === false) {
    const present = Object.keys(asObject(value)).filter((k) => known.includes(k));
    const found = present.length === 0 ? 'none' : present.join(' and ');
    return `${name} must have exactly one of: ${known.join(', ')} (found ${found})`;
  }
  const bound = e.keyword === 'minProperties' ? 'at least' : 'at most';
  return `${name} must have ${bound} ${String(e.params.limit)} keys`;
}

function kindOf(value: unknown): string {
  if (value === null || value === undefined) return 'an empty value';
  if (Array.isArray(value)) return 'a list';
  if (value instanceof Uint8Array) return 'binary data';
  if (typeof value === 'object') return 'a mapping';
  if (typeof value === 'number') return Number.isInteger(value) ? 'a number' : 'a decimal number';
  if (typeof value === 'boolean') return 'true/false';
  return 'a string';
}

function isSensitive(segments: readonly string[]): boolean {
  return /password|secret|token/i.test(segments[segments.length - 1] ?? '');
}

/** The closest candidate within a small edit distance, for "did you mean". */
function closest(word: string, candidates: readonly string[]): string | undefined {
  const limit = Math.max(1, Math.floor(word.length / 3));
  let best: { candidate: string; distance: number } | undefined;
  for (const candidate of candidates) {
    const distance = editDistance(word.toLowerCase(), candidate.toLowerCase());
    if (distance <= limit && (best === undefined || distance < best.distance)) best = { candidate, distance };
  }
  return best?.candidate;
}

/** Edits (insert, delete, replace, swap two neighbours) turning `a` into `b`. */
function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  const at = (i: number, j: number) => d[i]?.[j] ?? Number.POSITIVE_INFINITY;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, at(i - 2, j - 2) + 1);
      const row = d[i];
      if (row !== undefined) row[j] = best;
    }
  }
  return at(a.length, b.length);
}

/** `#/properties/users/required` → `#/properties/users`. */
function parentSchemaPath(schemaPath: string): string {
  return schemaPath.slice(0, schemaPath.lastIndexOf('/'));
}

function schemaAt(schemaPath: string): Json {
  return asObject(valueAt(specSchema, pointerSegments(schemaPath.replace(/^#/, ''))));
}

function valueAt(root: unknown, segments: readonly string[]): unknown {
  let node = root;
  for (const segment of segments) {
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Json)[segment];
  }
  return node;
}

function asObject(value: unknown): Json {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Json) : {};
}

function asArray(value: unknown): readonly unknown[] {
  return Array.isArray(value) ? value : [];
}
