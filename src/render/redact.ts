/**
 * Redaction of the personal data in a plan (pupils' names, e-mails, usernames, DNs) before it leaves the
 * terminal: merge-request comments and CI artefacts (`--format markdown`, `--format json`) get stable
 * pseudonyms instead. Counts, addresses, actions and structure stay, so a redacted plan still reviews.
 *
 * A pseudonym is `u-` + the first 8 hex characters of sha256(salt + value): NOT encryption. Anyone holding the
 * salt and a guess (a username from the directory) can confirm it; the short hash also collides eventually.
 * It is stable across runs on purpose, so two redacted plans can be compared. The salt defaults to a fixed
 * string; `L2M_REDACT_SALT` changes it (then pseudonyms no longer match the default ones).
 */
import { createHash } from 'node:crypto';
import {
  CATALOG,
  containerKeyOf,
  contextUserOf,
  ENTITY_ORDER,
  factsOf,
  USER_CONTEXT,
  userPartOf,
} from '../entities/catalog.js';
import type { Change, EntityType, Fields, FieldValue, ObjectRef } from '../model/change.js';
import { addressOf, pairKey } from '../model/change.js';
import type { Plan } from '../model/plan.js';
import type { SkippedEntry } from '../model/skipped.js';

/** The salt when none is given: public, so pseudonyms are comparable between sites and runs. */
export const DEFAULT_REDACT_SALT = 'ldap2moodle-redact-v1';

/** The environment variable that replaces the default salt. */
export const REDACT_SALT_ENV = 'L2M_REDACT_SALT';

/** The salt asked for in the environment, if any (the CLI's only reading of it: redactPlan stays pure). */
export function redactSaltFrom(env: Readonly<Record<string, string | undefined>>): string | undefined {
  const salt = env[REDACT_SALT_ENV];
  return salt === undefined || salt === '' ? undefined : salt;
}

/** `u-` + the first 8 hex characters of sha256(salt + value). */
export function pseudonym(value: string, salt: string = DEFAULT_REDACT_SALT): string {
  return `u-${createHash('sha256')
    .update(salt + value, 'utf8')
    .digest('hex')
    .slice(0, 8)}`;
}

/** Entities whose keys hold a user key, from the catalogue's personal-data facts: the user's, and the others'. */
const USER_KEYS: readonly EntityType[] = ENTITY_ORDER.filter((e) => factsOf(e).personal.key !== 'none');
const KEYED_WITH_USER: readonly EntityType[] = USER_KEYS.filter((e) => typeof factsOf(e).personal.key === 'object');

/**
 * RDN attribute types that name organisations, never people: a structure keeps its DN (SDET names structures
 * by their SIREN, a public company number). Any other first RDN may name a person and is pseudonymised.
 */
const ORGANISATIONAL_RDNS: ReadonlySet<string> = new Set(['ou', 'o', 'dc', 'c', 'l', 'st', 'entstructuresiren']);

/**
 * A personal value as quoted in a skipped entry's reason: a user field's (`username "Jean Dupont" has
 * characters…`) or a person named by DN or join key (`person "uid=…" is not in the directory`). Reasons quote
 * values as they are, unescaped: the closing quote is the first one followed by a space, `;`, `,`, `)` or the end,
 * so a value holding a quote or a backslash is still taken whole.
 */
const QUOTED_VALUE = new RegExp(
  `\\b(${[...Object.keys(CATALOG.user.personal.fields), 'person', 'user'].join('|')}) "(.*?)"(?=[ ;,)]|$)`,
  'g',
);

/**
 * An object left out for naming something that does not exist (plan/references.ts), by its key:
 * `enrolment "MATHS/f4500111": its course "MATHS" is neither…` (its user, or target user, is a `user "…"` above).
 */
const QUOTED_KEY = new RegExp(`\\b(${KEYED_WITH_USER.join('|')}) "((?:[^"\\\\]|\\\\.)*)":`, 'g');

/** An address whose key holds a user key, anywhere in a text (warnings, reasons). */
const USER_ADDRESS = new RegExp(`\\b(${USER_KEYS.join('|')})\\[("(?:[^"\\\\]|\\\\.)*")\\]`, 'g');

/**
 * The map of personal values seen in a plan → their pseudonyms, and the text replacer built from it. One map
 * for the whole plan, so the same person has the same pseudonym in a key, a DN, a field and a warning.
 */
class Redactor {
  private readonly values = new Map<string, string>();
  private pattern: RegExp | null = null;

  constructor(private readonly salt: string) {}

  /** The pseudonym of a personal value, remembered for the text replacer. Empty values stay empty. */
  value(value: string): string {
    if (value === '') return value;
    let out = this.values.get(value);
    if (out === undefined) {
      out = pseudonym(value, this.salt);
      this.values.set(value, out);
      this.pattern = null;
    }
    return out;
  }

  /** An e-mail keeps its domain (which school, which provider): `u-3f9a2c1d@ent.example`. */
  email(value: string): string {
    const at = value.lastIndexOf('@');
    if (at < 0) return this.value(value);
    const out = `${pseudonym(value, this.salt)}${value.slice(at)}`;
    if (!this.values.has(value)) {
      this.values.set(value, out);
      this.pattern = null;
    }
    return out;
  }

  /** A value of a change, pseudonymised as the entity's catalogue facts say (`personal.fields`). */
  field(entity: EntityType, name: string, value: FieldValue): FieldValue {
    const kind = factsOf(entity).personal.fields[name];
    if (typeof value !== 'string' || kind === undefined) return value;
    if (kind === 'email') return this.email(value);
    return kind === 'context' ? this.context(value) : this.value(value);
  }

  /**
   * `uid=f4500111,ou=people,dc=ent,dc=example` → `uid=u-…,ou=people,dc=ent,dc=example`: only the first RDN's
   * value names the person; where the entry sits in the tree is kept. The whole DN is remembered too. The same
   * rule for every DN, whatever it is the DN of: an object made `from: people` (a class cohort, a course) carries
   * the DN of the person it was first seen on. A first RDN naming an organisation is kept.
   */
  dn(dn: string): string {
    const known = this.values.get(dn);
    if (known !== undefined) return known;
    const end = firstRdnEnd(dn);
    const rdn = dn.slice(0, end);
    const eq = rdn.indexOf('=');
    if (eq < 0) return dn;
    const type = rdn.slice(0, eq).trim().toLowerCase();
    if (ORGANISATIONAL_RDNS.has(type)) return dn;
    const out = `${rdn.slice(0, eq + 1)}${this.value(rdn.slice(eq + 1))}${dn.slice(end)}`;
    this.values.set(dn, out);
    this.pattern = null;
    return out;
  }

  /** Every known personal value in a text, replaced (longest first, as whole words), plus user addresses. */
  text(text: string): string {
    const addressed = text.replace(USER_ADDRESS, (whole, entity: string, quoted: string) => {
      const key = parseQuoted(quoted);
      if (key === undefined) return whole;
      return addressOf(entity as EntityType, this.addressKey(entity as EntityType, key));
    });
    const pattern = this.replacer();
    if (pattern === null) return addressed;
    // Pseudonyms already in the text (from addresses) are never personal values, so one pass is enough.
    return addressed.replace(pattern, (found) => this.values.get(found) ?? found);
  }

  /**
   * Skipped entries' reasons: values quoted after a user field name, the people a reason names and the user part
   * of the keys it quotes are personal even if no change has them (someone not in the directory, or a person this
   * plan does not change).
   */
  reason(reason: string): string {
    for (const match of reason.matchAll(QUOTED_VALUE)) {
      const [, name, value = ''] = match;
      if (name !== undefined && CATALOG.user.personal.fields[name] === 'email') this.email(value);
      else if (name === 'person' && value.includes('=')) this.dn(value);
      else this.value(value);
    }
    const keyed = reason.replace(
      QUOTED_KEY,
      (_whole, entity: string, key: string) => `${entity} "${this.addressKey(entity as EntityType, key)}":`,
    );
    return this.text(keyed);
  }

  /** A key holding a user key (the catalogue's `personal.key`), pseudonymised in its user part only. */
  addressKey(entity: EntityType, key: string, container?: string): string {
    const part = userPartOf(entity, key, container);
    if (part === null) return key;
    if (part.head === '' && factsOf(entity).personal.key === 'user') return this.value(key);
    const { key: personal } = factsOf(entity).personal;
    const head = typeof personal === 'object' && personal.head === 'context' ? this.context(part.head) : part.head;
    return pairKey(head, this.value(part.user));
  }

  /** A role assignment's context, its user pseudonymised when it is a user's (`user:<key>/<role>`). */
  context(context: string): string {
    const user = contextUserOf(context);
    if (user === undefined) return context;
    return `${USER_CONTEXT}${this.value(user)}${context.slice(USER_CONTEXT.length + user.length)}`;
  }

  private replacer(): RegExp | null {
    if (this.pattern !== null) return this.pattern;
    const values = [...this.values.keys()].filter((v) => v.length >= 2).sort((a, b) => b.length - a.length);
    if (values.length === 0) return null;
    // Whole words only: a two-letter first name must not eat letters out of the rest of a warning.
    this.pattern = new RegExp(`(?<![\\p{L}\\p{N}_])(?:${values.map(escapeRegExp).join('|')})(?![\\p{L}\\p{N}_])`, 'gu');
    return this.pattern;
  }
}

/**
 * The plan with every personal value replaced by its pseudonym (see the module comment); pure. Cohort,
 * category and profile field names and idnumbers are not personal and stay.
 */
export function redactPlan(plan: Plan, secretSalt?: string): Plan {
  const r = new Redactor(secretSalt ?? DEFAULT_REDACT_SALT);
  // Values first (fields, keys, DNs), so that the texts (reasons, warnings) see the whole map.
  const changes = plan.changes.map((change) => redactValues(r, change));
  const skipped: SkippedEntry[] = plan.skipped.map((s) => ({ ...s, dn: r.dn(s.dn) }));
  const quoted = plan.skipped.map((s) => r.reason(s.reason));
  return {
    ...plan,
    changes: changes.map((change) => ({ ...change, reason: r.text(change.reason) })),
    skipped: skipped.map((s, i) => ({ ...s, reason: quoted[i] ?? s.reason })),
    warnings: plan.warnings.map((w) => r.text(w)),
  };
}

/** Redaction of the texts of a run report (DNs, addresses, reasons, messages), outside any plan. */
export interface TextRedactor {
  /** A DN with its first RDN's value pseudonymised, unless it names an organisation. */
  dn(dn: string): string;
  /** A skipped or held entry's reason: the values it quotes, then every known one. */
  reason(reason: string): string;
  /** Every personal value met so far, and every user address, pseudonymised in a text. */
  text(text: string): string;
}

/**
 * A redactor for texts read back from run reports (the monitoring page): the same pseudonyms as the Markdown
 * plan. One redactor for a whole page, DNs before texts, so a person has one pseudonym everywhere on it.
 */
export function textRedactor(secretSalt?: string): TextRedactor {
  return new Redactor(secretSalt ?? DEFAULT_REDACT_SALT);
}

function redactValues(r: Redactor, change: Change): Change {
  const { entity } = change;
  const key = r.addressKey(entity, change.key, containerKeyOf(change));
  const fields = (values: Fields): Fields => {
    const out: Record<string, FieldValue> = {};
    for (const [name, value] of Object.entries(values)) out[name] = r.field(entity, name, value);
    return out;
  };
  const refs =
    change.refs === undefined
      ? undefined
      : Object.fromEntries(
          Object.entries(change.refs).map(([name, ref]): [string, ObjectRef | undefined] => [
            name,
            ref?.entity === 'user' ? { entity: 'user', key: r.value(ref.key) } : ref,
          ]),
        );
  return {
    ...change,
    key,
    address: key === change.key ? change.address : addressOf(entity, key),
    dn: change.dn === null ? null : r.dn(change.dn),
    before: change.before === null ? null : fields(change.before),
    after: fields(change.after),
    ...(refs === undefined ? {} : { refs }),
  };
}

/** End of the first RDN: the first comma not escaped by a backslash (RFC 4514). */
function firstRdnEnd(dn: string): number {
  for (let i = 0; i < dn.length; i += 1) {
    if (dn[i] === '\\') i += 1;
    else if (dn[i] === ',') return i;
  }
  return dn.length;
}

function parseQuoted(quoted: string): string | undefined {
  try {
    const value: unknown = JSON.parse(quoted);
    return typeof value === 'string' ? value : undefined;
  } catch {
    return undefined;
  }
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
