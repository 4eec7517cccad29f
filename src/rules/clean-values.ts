/**
 * Directory values made into what Moodle's own API would store (Moodle 4.5, lib/moodlelib.php and
 * lib/classes/user.php), and the checks that leave an entry out when its value cannot be stored at all. Pure.
 *
 * Facts from Moodle: names of people (`firstname`, `lastname`, `middlename`, `alternatename`) are declared
 * PARAM_NOTAGS by `core_user`; cohort, category, course, group names are PARAM_TEXT in their forms and web
 * services. Both first run `fix_utf8`, which removes NUL bytes, then strip HTML tags (PARAM_TEXT keeps only the
 * multilang `<lang>`/`<span>` tags, which the tool never needs in a name taken from a directory, so every tag
 * is stripped). Control characters are removed from every stored text too: a directory value is one line, and
 * PostgreSQL refuses a NUL byte outright ("invalid byte sequence for encoding UTF8: 0x00").
 */

import type { TextCleaning } from '../entities/catalog.js';
import { ENTITY_ORDER, factsOf } from '../entities/catalog.js';
import type { EntityType, FieldValue } from '../model/change.js';
import { addressOf } from '../model/change.js';
import type { DesiredObject } from '../model/desired.js';
import type { SkippedEntry } from '../model/skipped.js';

export type { TextCleaning } from '../entities/catalog.js';

/** C0 controls (tab and newlines included: a name is one line), DEL and the C1 controls. */
const CONTROL = /\p{Cc}/gu;
/**
 * A tag as PHP's strip_tags sees it: `<` then a letter, `/`, `!` or `?`, up to the next `>` (or the end of the
 * value when none closes it). A `<` followed by anything else (`a < b`) is text.
 */
const TAG = /<!--[\s\S]*?(?:-->|$)|<[a-zA-Z/!?][^>]*(?:>|$)/gu;

export interface Cleaned {
  readonly value: string;
  /** What was changed, for a warning: "control characters removed", "HTML tags removed". */
  readonly changes: readonly string[];
}

export function cleanText(value: string, cleaning: TextCleaning): Cleaned {
  const changes: string[] = [];
  let out = value;
  if (out.includes('\uFFFD')) changes.push('it holds U+FFFD replacement characters (invalid UTF-8 in the directory?)');
  const controls = out.replace(CONTROL, '');
  if (controls !== out) {
    changes.push('control characters removed');
    out = controls;
  }
  if (cleaning === 'notags') {
    const stripped = out.replace(TAG, '');
    if (stripped !== out) {
      changes.push('HTML tags removed');
      out = stripped.trim();
    }
  }
  return { value: out, changes };
}

/**
 * An e-mail address as Moodle's `validate_email` accepts it: a dot-atom local part, `@`, a domain of dot-separated
 * labels of letters, digits and hyphens with at least one dot. Anything else is not an address Moodle would
 * send to.
 */
const ATOM = "[-!#$%&'*+/0-9=?A-Z^_`a-z{|}~]+";
const EMAIL = new RegExp(
  `^${ATOM}(\\.${ATOM})*@[A-Za-z0-9](?:[-A-Za-z0-9]*[A-Za-z0-9])?(?:\\.[A-Za-z0-9](?:[-A-Za-z0-9]*[A-Za-z0-9])?)+$`,
  'u',
);

export function isEmailAddress(value: string): boolean {
  return EMAIL.test(value);
}

/** Characters counted as the databases count them (code points, not UTF-16 units). */
export const characters = (s: string): number => [...s].length;

/**
 * Every object's directory values (the catalogue's `texts`) cleaned as Moodle would and checked against the
 * sizes of their columns (`columns`: by table, then column). An object with a value too long for its column,
 * or an identifier that would need cleaning, is left out and listed as a data error with the DN it came from;
 * its members go with it, as for any container left out. Cleaned names are
 * reported in `warnings`. Changes `objects` in place.
 */
export function checkObjectTexts(
  objects: Map<EntityType, DesiredObject[]>,
  columns: ReadonlyMap<string, ReadonlyMap<string, number | null>> | undefined,
  skipped: SkippedEntry[],
  warnings: string[],
): void {
  const leftOut = new Set<string>();
  for (const entity of ENTITY_ORDER) {
    const list = objects.get(entity);
    if (list === undefined) continue;
    const facts = factsOf(entity);
    const sizes = columns?.get(facts.table);
    const kept: DesiredObject[] = [];
    for (const object of list) {
      // Members go with their container, as with any container left out (rules/objects.ts). Other objects
      // naming one left out are the plan's to judge (plan/references.ts, the diffs), against what Moodle has:
      // an existing course whose new name does not fit keeps its groups.
      const naming =
        facts.refsInValues &&
        Object.values(object.refs ?? {}).some(
          (ref) => ref !== undefined && leftOut.has(addressOf(ref.entity, ref.key)),
        );
      if (naming) {
        leftOut.add(addressOf(entity, object.key));
        continue;
      }
      const checked = checkTexts(entity, object, facts.texts, sizes);
      if (typeof checked === 'string') {
        leftOut.add(addressOf(entity, object.key));
        skipped.push({ entity, dn: object.dn, reason: checked, kind: 'data' });
        continue;
      }
      for (const warning of checked.warnings) warnings.push(warning);
      kept.push(checked.object);
    }
    objects.set(entity, kept);
  }
}

function checkTexts(
  entity: EntityType,
  object: DesiredObject,
  texts: Readonly<Record<string, TextCleaning>>,
  sizes: ReadonlyMap<string, number | null> | undefined,
): { readonly object: DesiredObject; readonly warnings: string[] } | string {
  const { table, noun } = factsOf(entity);
  const what = `${noun} "${describeKey(object.key)}"`;
  const warnings: string[] = [];
  let values: Record<string, FieldValue> | undefined;
  for (const [field, cleaning] of Object.entries(texts)) {
    const raw = object.values[field];
    if (typeof raw !== 'string') continue;
    const cleaned = cleanText(raw, cleaning);
    if (cleaned.changes.length > 0) {
      if (cleaning === 'id') {
        return `${what}: its ${field} has characters Moodle cannot store in an identifier (${cleaned.changes.join('; ')}); it is left out`;
      }
      values ??= { ...object.values };
      values[field] = cleaned.value;
      warnings.push(`${object.dn}: ${what}: ${field} cleaned as Moodle's API would (${cleaned.changes.join('; ')})`);
    }
    const max = sizes?.get(field);
    if (max != null && characters(cleaned.value) > max) {
      return `${what}: its ${field} is ${characters(cleaned.value)} characters long, more than the ${max} of Moodle's ${table}.${field} column; it is left out`;
    }
  }
  return { object: values === undefined ? object : { ...object, values }, warnings };
}

/** A key in a message: at most 80 characters (a 10 kB class name must not make a 10 kB line). */
export function describeKey(key: string): string {
  const chars = [...key];
  const printable = (s: string): string => s.replace(CONTROL, '?');
  return chars.length <= 80
    ? printable(key)
    : `${printable(chars.slice(0, 60).join(''))}… (${chars.length} characters)`;
}
