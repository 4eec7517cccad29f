/**
 * Rules for users: spec + directory entries → the desired Moodle users. Pure: no I/O, deterministic.
 *
 * Every entry either becomes one desired user or is rejected with a reason (missing value, value longer
 * than its Moodle column, username Moodle would refuse, two entries claiming the same account). What happens
 * to rejected entries is the spec's choice (`users.onInvalidEntry`): listed as skipped, or a failed run.
 */
import { createHash } from 'node:crypto';
import type { Diagnostic } from '../errors.js';
import { UserError } from '../errors.js';
import type { SkippedEntry } from '../model/skipped.js';
import type { LdapEntry } from '../source/entry.js';
import { values } from '../source/entry.js';
import type { Spec, UserFieldName } from '../spec/schema.js';
import { USER_FIELD_NAMES } from '../spec/schema.js';
import type { CompiledTemplate, EvalContext } from './template.js';
import { compileTemplate, TemplateSyntaxError } from './template.js';
import type { TextCleaning } from './clean-values.js';
import { characters, cleanText, isEmailAddress } from './clean-values.js';

/** Moodle user columns the tool can manage: the spec's fields plus the auth plugin. */
export type ManagedUserField = UserFieldName | 'auth';

export interface DesiredUser {
  /** The match key (username or idnumber, per `users.match`), normalised for joins. */
  readonly key: string;
  readonly dn: string;
  /** Values of the managed columns, exactly as they should be in Moodle. */
  readonly values: Readonly<Partial<Record<ManagedUserField, string>>>;
  /** Digest of the directory values the user was computed from (for the state file and drift checks). */
  readonly sourceDigest: string;
  /** The profile whose rules produced it (specs with users.profiles). */
  readonly profile?: string;
}

/** One person to turn into a user: the entry, the rules of its profile, the variables of its evaluation. */
export interface UserCandidate {
  readonly entry: LdapEntry;
  readonly rules: CompiledUserRules;
  readonly context?: EvalContext;
  readonly profile?: string;
}

export type { SkippedEntry } from '../model/skipped.js';

/** What the target site imposes on values (read from Moodle, passed in so that rules stay pure). */
export interface UserConstraints {
  /** Maximum length in characters of each user column (null = unbounded). */
  readonly columnMaxLength: ReadonlyMap<string, number | null>;
  /** Moodle's `extendedusernamechars`: when false, usernames are limited to [a-z0-9_.@-]. */
  readonly extendedUsernameChars: boolean;
  /**
   * Maximum length in characters of the columns of the other tables the rules fill, by table then column
   * (`cohort` → `name` → 254). Absent: not checked (unit tests of the user rules alone).
   */
  readonly tableColumns?: ReadonlyMap<string, ReadonlyMap<string, number | null>>;
}

export interface CompiledUserRules {
  readonly match: 'username' | 'idnumber';
  readonly auth: string;
  readonly fields: ReadonlyMap<UserFieldName, CompiledTemplate>;
  /** Every attribute the templates read (what to ask the directory for). */
  readonly attributes: readonly string[];
}

/** Compiles the templates of `users.fields`; every syntax error at once, each at its spec position. */
export function compileUserRules(spec: Spec, positionOf: (path: string) => Diagnostic['position']): CompiledUserRules {
  const fields = new Map<UserFieldName, CompiledTemplate>();
  const problems: Diagnostic[] = [];
  for (const name of USER_FIELD_NAMES) {
    const source = spec.users.fields[name];
    if (source === undefined) continue;
    const path = `/users/fields/${name}`;
    try {
      fields.set(name, compileTemplate(source));
    } catch (error) {
      if (!(error instanceof TemplateSyntaxError)) throw error;
      problems.push({
        message: `invalid template "${source}": ${error.message} (at character ${error.offset + 1})`,
        path,
        position: positionOf(path),
      });
    }
  }
  if (spec.users.match === 'idnumber' && spec.users.fields.idnumber === undefined) {
    const path = '/users/match';
    problems.push({
      message: 'match is "idnumber" but users.fields has no idnumber template',
      path,
      position: positionOf(path),
    });
  }
  if (problems.length > 0) {
    throw new UserError('SPEC_INVALID', `${problems.length} problem(s) in the users rules`, problems);
  }
  const attributes = [...new Set([...fields.values()].flatMap((t) => t.attributes))].sort();
  return { match: spec.users.match, auth: spec.users.auth, fields, attributes };
}

const REQUIRED: readonly UserFieldName[] = ['username', 'firstname', 'lastname'];
const STRICT_USERNAME = /^[a-z0-9_.@-]+$/;

/** Normalised join key: NFC, and lower-case for usernames (Moodle stores them lower-cased). */
export function userKey(match: 'username' | 'idnumber', value: string): string {
  const nfc = value.normalize('NFC');
  return match === 'username' ? nfc.toLowerCase() : nfc;
}

function digestEntry(entry: LdapEntry, attributes: readonly string[]): string {
  const hash = createHash('sha256');
  for (const attribute of attributes) {
    hash.update(attribute);
    for (const value of values(entry, attribute)) hash.update(`\0${value}`);
    hash.update('\n');
  }
  return `sha256:${hash.digest('hex')}`;
}

/**
 * How Moodle cleans each user column (core_user's field definitions): names are PARAM_NOTAGS, institution,
 * department and city PARAM_TEXT (tags stripped too); idnumber is PARAM_RAW and e-mail PARAM_RAW_TRIMMED, so
 * only their control characters go.
 */
const USER_CLEANING: Readonly<Partial<Record<UserFieldName, TextCleaning>>> = {
  firstname: 'notags',
  lastname: 'notags',
  middlename: 'notags',
  alternatename: 'notags',
  institution: 'notags',
  department: 'notags',
  city: 'notags',
};

/** One entry → one desired user, or the reason it cannot be one; what was cleaned goes to `warn`. */
function desiredUser(
  candidate: UserCandidate,
  constraints: UserConstraints,
  warn: (message: string) => void,
): DesiredUser | string {
  const { entry, rules } = candidate;
  const out: Partial<Record<ManagedUserField, string>> = { auth: rules.auth };
  for (const [name, template] of rules.fields) {
    const errors: string[] = [];
    const context: EvalContext = {
      ...candidate.context,
      report: (problem) => {
        // An error makes the entry invalid (listed once, as such); a warning is a value left out.
        if (problem.severity === 'error') errors.push(problem.message);
        else candidate.context?.report?.(problem);
      },
    };
    let value = template.evaluate(entry, context)[0];
    if (errors.length > 0) return `${name}: ${errors.join('; ')}`;
    if (value === undefined || value === '') {
      if (REQUIRED.includes(name) || (name === 'idnumber' && rules.match === 'idnumber')) {
        const used = template.attributes.join(', ') || 'no attribute';
        return `${name} is empty (template "${template.source}", from ${used})`;
      }
      value = '';
    }
    const cleaned = cleanText(value, USER_CLEANING[name] ?? 'raw');
    if (cleaned.changes.length > 0) {
      // A username is the login: never guessed at, refused whole.
      if (name === 'username') return `username has characters Moodle refuses (${cleaned.changes.join('; ')})`;
      if (cleaned.value === '' && (REQUIRED.includes(name) || (name === 'idnumber' && rules.match === 'idnumber'))) {
        return `${name} is empty once cleaned as Moodle would (${cleaned.changes.join('; ')})`;
      }
      warn(`${entry.dn}: ${name} cleaned as Moodle's API would (${cleaned.changes.join('; ')})`);
      value = cleaned.value;
    }
    if (name === 'email' && value !== '' && !isEmailAddress(value)) {
      warn(`${entry.dn}: email is not an address Moodle would accept; it is left empty`);
      value = '';
    }
    if (name === 'username') {
      value = value.toLowerCase();
      if (!constraints.extendedUsernameChars && !STRICT_USERNAME.test(value)) {
        return `username "${value}" has characters Moodle refuses (allowed: a-z 0-9 _ - @ . while extendedusernamechars is off)`;
      }
    }
    const max = constraints.columnMaxLength.get(name);
    if (max != null && characters(value) > max) {
      return `${name} is ${characters(value)} characters long, more than the ${max} of Moodle's user.${name} column`;
    }
    out[name] = value;
  }
  const keyValue = out[rules.match] ?? '';
  return {
    key: userKey(rules.match, keyValue),
    dn: entry.dn,
    values: out,
    sourceDigest: digestEntry(entry, rules.attributes),
    ...(candidate.profile === undefined ? {} : { profile: candidate.profile }),
  };
}

/** Appends to a list in a map (never copying it: this runs once per entry). */
function pushTo<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list === undefined) map.set(key, [value]);
  else list.push(value);
}

export interface DesiredUsers {
  readonly users: readonly DesiredUser[];
  readonly skipped: readonly SkippedEntry[];
  /** Values changed to what Moodle would store (tags, control characters, an e-mail that is no address), by DN. */
  readonly warnings: readonly string[];
}

/**
 * All entries → desired users, sorted by key. Two entries claiming the same key (or, when matching by
 * idnumber, the same username) are both rejected: neither may silently win the account.
 */
export function desiredUsers(
  entries: Iterable<LdapEntry>,
  rules: CompiledUserRules,
  constraints: UserConstraints,
): DesiredUsers {
  return collectUsers(
    [...entries].map((entry) => ({ entry, rules })),
    rules.match,
    constraints,
  );
}

/** Candidates (each with its profile's rules) → desired users; same rejections as `desiredUsers`. */
export function collectUsers(
  candidates: readonly UserCandidate[],
  match: 'username' | 'idnumber',
  constraints: UserConstraints,
): DesiredUsers {
  const skipped: SkippedEntry[] = [];
  const warnings: string[] = [];
  const byKey = new Map<string, DesiredUser[]>();
  const byUsername = new Map<string, DesiredUser[]>();
  const warn = (message: string): void => {
    warnings.push(message);
  };
  for (const candidate of candidates) {
    const result = desiredUser(candidate, constraints, warn);
    if (typeof result === 'string') {
      skipped.push({ entity: 'user', dn: candidate.entry.dn, reason: result });
      continue;
    }
    pushTo(byKey, result.key, result);
    const username = result.values.username ?? '';
    pushTo(byUsername, username, result);
  }
  const rejected = new Set<DesiredUser>();
  const rejectClaims = (groups: Map<string, DesiredUser[]>, what: string): void => {
    for (const [value, claimants] of groups) {
      if (claimants.length < 2) continue;
      for (const user of claimants) {
        if (rejected.has(user)) continue;
        rejected.add(user);
        const others = claimants.filter((u) => u !== user).map((u) => u.dn);
        skipped.push({
          entity: 'user',
          dn: user.dn,
          reason: `${what} "${value}" is also produced by ${others.join('; ')}`,
        });
      }
    }
  };
  rejectClaims(byKey, match);
  if (match !== 'username') rejectClaims(byUsername, 'username');
  const users = [...byKey.values()]
    .flat()
    .filter((u) => !rejected.has(u))
    .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  skipped.sort((a, b) => (a.dn < b.dn ? -1 : a.dn > b.dn ? 1 : 0));
  return { users, skipped, warnings };
}

/** `users.onInvalidEntry: fail` turns the skipped entries into one error listing them all. */
export function failOnSkipped(skipped: readonly SkippedEntry[]): void {
  if (skipped.length === 0) return;
  const what =
    skipped.length === 1
      ? '1 directory entry cannot become a Moodle user'
      : `${skipped.length} directory entries cannot become Moodle users`;
  throw new UserError(
    'ENTRY_INVALID',
    `${what} (users.onInvalidEntry is "fail"; set it to "skip" to plan without them)`,
    skipped.map((s) => ({ dn: s.dn, message: s.reason })),
  );
}
