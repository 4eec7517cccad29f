/**
 * Redacted plans leak nothing: the collège and the cité scolaire examples (course rules on, LDIF source, embedded
 * Moodle) are planned, rendered as the CLI renders `--json` and `--format markdown` (redacted by default; the
 * Markdown with its default limit and in full), and every byte of the output is searched for every personal
 * value of the directory, read from the LDIF with the tool's own reader: each person's uid, givenName, sn, cn,
 * displayName, mail, the idnumbers ENTPersonJointure gives, the person's DN, and the people their entry names
 * (parents, children: DNs and join keys, even of someone the directory lacks). Then the first plan is applied, the
 * directory changed so that the next plan updates, suspends and deletes, and skips entries whose reasons quote
 * values, and that plan is searched the same way, for the values of both directories.
 */

import { afterEach, describe, expect, it } from 'vitest';
import { ENTITY_ORDER } from '../../src/entities/catalog.js';
import type { PlanResult } from '../../src/index.js';
import { renderPlan } from '../../src/render/render-plan.js';
import { type LdapEntry, values } from '../../src/source/entry.js';
import { parseLdif } from '../../src/source/ldif/parse-ldif.js';
import {
  addLines,
  type CollegeSite,
  classLine,
  collegeSite,
  editEntry,
  personDn,
  removeEntry,
  replaceLine,
  type SpecText,
} from '../helpers/sdet-college.js';
import { CITE_SPEC } from '../helpers/spec-files.js';

const PEOPLE_BASE = 'ou=people,dc=ent,dc=example';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A personal value of the directory and every place it was read (`sn of uid=…`), for the failure message. */
interface Personal {
  readonly value: string;
  readonly sources: readonly string[];
}

/** The directory's attributes holding a person's own values. */
const OWN_ATTRIBUTES = ['uid', 'givenName', 'sn', 'cn', 'displayName', 'mail'] as const;
/** Attributes naming other people by DN (a student's parents, a parent's children). */
const PERSON_REFERENCES = ['ENTEleveParents', 'ENTAuxPersRelEleveEleve'] as const;

/** Every personal value of the people in an LDIF text (entries under the people base). */
function personalValues(...ldifs: readonly string[]): Personal[] {
  const people = ldifs.flatMap((ldif) =>
    parseLdif(ldif, 'directory.ldif').filter((e: LdapEntry) => e.dn.toLowerCase().endsWith(`,${PEOPLE_BASE}`)),
  );
  const sources = new Map<string, Set<string>>();
  for (const entry of people) {
    const add = (value: string, attribute: string) => {
      const list = sources.get(value) ?? new Set<string>();
      list.add(`${attribute} of ${entry.dn}`);
      sources.set(value, list);
    };
    add(entry.dn, 'dn');
    for (const attribute of OWN_ATTRIBUTES) for (const value of values(entry, attribute)) add(value, attribute);
    // What the preset makes the idnumber from (`<source>$<key>`): every value, not only the first it takes.
    for (const value of values(entry, 'ENTPersonJointure')) {
      const key = /^[^$]+\$(.+)$/.exec(value)?.[1];
      if (key !== undefined) add(key, 'ENTPersonJointure (idnumber)');
    }
    for (const attribute of PERSON_REFERENCES) for (const value of values(entry, attribute)) add(value, attribute);
    // `<join key>$<relation>$…`: the join key names a relative.
    for (const value of values(entry, 'ENTElevePersRelEleve')) {
      add(value.split('$')[0] ?? '', 'ENTElevePersRelEleve (join key)');
    }
  }
  return [...sources].map(([value, from]) => ({ value, sources: [...from] }));
}

/**
 * The forms a value can take in the output: as written, trimmed (a padded uid is trimmed or refused), NFC (the
 * tool normalises usernames), whitespace runs collapsed (Markdown text does that), JSON-escaped, and
 * Markdown-escaped (src/render/markdown.ts `text` and `cell`).
 */
function forms(value: string): string[] {
  const base = new Set([value, value.trim(), value.normalize('NFC'), value.trim().replace(/\s+/g, ' ')]);
  const all = new Set<string>();
  for (const v of base) {
    all.add(v);
    all.add(JSON.stringify(v).slice(1, -1));
    all.add(v.replace(/[\\`*_[\]<>&|~#]/g, '\\$&'));
    all.add(v.replace(/\|/g, '\\|'));
  }
  return [...all].filter((v) => v.trim().length >= 2);
}

const escapeRegExp = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * One search per value. Case-insensitive always: the tool lower-cases uids into usernames and a template may
 * change the case of any value (`|lower`, `|upper`), so a leak need not keep the directory's case.
 * Short values (3 characters or fewer: "Li", "ROY", "Noé") must stand as whole words, not touching a letter or
 * digit, or they would be found inside any word; so must values made only of hex digits (uids such as
 * F4500111, idnumbers such as 45001), which a pseudonym `u-1a45001f`, a row id or a digest could hold by
 * chance. Longer values are searched as plain substrings: a name glued to other text still counts.
 * Values shorter than 2 characters are not searched (a single letter is in every text).
 */
function searchOf(value: string): RegExp | null {
  const list = forms(value);
  if (list.length === 0) return null;
  const trimmed = value.trim();
  const whole = [...trimmed].length <= 3 || /^[0-9a-f]+$/i.test(trimmed);
  const alternatives = list.map(escapeRegExp).join('|');
  return new RegExp(whole ? `(?<![\\p{L}\\p{N}])(?:${alternatives})(?![\\p{L}\\p{N}])` : alternatives, 'giu');
}

/**
 * Every hit of a personal value in an output, with the value, where it was read and what surrounds it. A hit
 * inside a longer one (the uid inside its DN) is left out: the longer one says it.
 */
function scan(output: string, label: string, personal: readonly Personal[]): string[] {
  const hits: { start: number; end: number; value: Personal }[] = [];
  for (const p of personal) {
    const search = searchOf(p.value);
    if (search === null) continue;
    for (const match of output.matchAll(search)) {
      hits.push({ start: match.index, end: match.index + match[0].length, value: p });
    }
  }
  return hits
    .filter(
      (h) => !hits.some((o) => o !== h && o.start <= h.start && o.end >= h.end && o.end - o.start > h.end - h.start),
    )
    .sort((a, b) => a.start - b.start)
    .map(({ start, end, value }) => {
      const around = `${output.slice(Math.max(0, start - 60), start)}[[${output.slice(start, end)}]]${output.slice(end, end + 60)}`;
      return `${label}: ${JSON.stringify(value.value)} (${value.sources.join('; ')})\n    …${around.replace(/\n/g, '⏎')}…`;
    });
}

/** The plan as the CLI prints `--json`, `--format markdown` and `--format markdown --full` (redacted: the default). */
function outputs(planned: PlanResult, noRedact = false): Record<string, string> {
  const request = { limit: undefined, noRedact, full: false, color: false };
  return {
    json: renderPlan(planned.plan, planned.header, { ...request, format: 'json' }),
    markdown: renderPlan(planned.plan, planned.header, { ...request, format: 'markdown' }),
    'markdown --full': renderPlan(planned.plan, planned.header, { ...request, format: 'markdown', full: true }),
  };
}

function hitsIn(planned: PlanResult, label: string, personal: readonly Personal[]): string[] {
  return Object.entries(outputs(planned)).flatMap(([format, text]) => scan(text, `${label}, ${format}`, personal));
}

/** A served student of the collège (class 3EME2), written the way the fixture writes one. */
function student(over: {
  uid: string;
  dn?: string;
  uidLine?: string;
  givenName?: string;
  sn: string;
  mail: string;
  jointure: string;
}): string {
  const given = over.givenName;
  return [
    `dn: ${over.dn ?? personDn(over.uid)}`,
    'objectClass: inetOrgPerson',
    'objectClass: ENTPerson',
    'objectClass: ENTEleve',
    `cn: ${over.sn}${given === undefined ? '' : ` ${given.toUpperCase()}`}`,
    `sn: ${over.sn}`,
    ...(given === undefined ? [] : [`givenName: ${given}`, `displayName: ${given} ${over.sn}`]),
    over.uidLine ?? `uid: ${over.uid}`,
    'ENTPersonStructRattach: ENTStructureSIREN=19450001400015,ou=structures,dc=ent,dc=example',
    `ENTPersonJointure: AC-ORLEANS-TOURS$${over.jointure}`,
    'ENTPersonProfils: National_ELV',
    'ENTEleveNivFormation: 3EME',
    classLine('3EME2'),
    'ESCOUAI: 0450001A',
    'ESCOUAICourant: 0450001A',
    `mail: ${over.mail}`,
    '',
  ].join('\n');
}

/**
 * The example's directory a year on: updates (a surname, a class, an e-mail no longer valid), removals (a
 * student, a teacher), links to someone not in the directory or not a student, and new entries that cannot
 * become users, each quoting a value in its reason (a uid with a trailing space, uids with characters Moodle
 * refuses: an accent, a backslash, a double quote; no givenName, two uids giving one username); and a valid
 * student with two-letter names.
 */
function nextYear(ldif: string): string {
  let text = ldif;
  text = editEntry(text, 'F4500111', (b) =>
    replaceLine(
      replaceLine(b, 'sn: MARTIN-DUBOIS', 'sn: MARTIN-DUBOIS-SAUVAGE'),
      classLine('6EME1'),
      classLine('6EME2'),
    ),
  );
  text = editEntry(text, 'F4500122', (b) =>
    replaceLine(b, 'mail: noe.lefevre@ent.example', 'mail: noe.lefevre.at.ent.example'),
  );
  text = removeEntry(text, 'F4500144');
  text = removeEntry(text, 'F45001nn');
  text = editEntry(text, 'F4500155', (b) =>
    addLines(b, [`ENTEleveParents: ${personDn('F4500990')}`, 'ENTElevePersRelEleve: 8200990$1$1$1$1$1']),
  );
  // A parent naming a teacher as their child.
  text = editEntry(text, 'F4500221', (b) => addLines(b, [`ENTAuxPersRelEleveEleve: ${personDn('F45001mm')}`]));
  const added = [
    student({
      uid: 'F4500901',
      uidLine: `uid:: ${Buffer.from('F4500901 ').toString('base64')}`,
      givenName: 'Ambre',
      sn: 'TESSIER',
      mail: 'ambre.tessier@ent.example',
      jointure: '7100901',
    }),
    student({
      uid: 'Léo.Marchal',
      givenName: 'Léopold',
      sn: 'MARCHAL',
      mail: 'leopold.marchal@ent.example',
      jointure: '7100902',
    }),
    // Characters that end or escape a quoted value: a backslash (a DOMAIN\\user pasted in) and a double quote.
    student({
      uid: 'ENT\\lmoulin',
      dn: 'uid=ENT\\\\lmoulin,ou=people,dc=ent,dc=example',
      givenName: 'Lina',
      sn: 'MOULIN',
      mail: 'lina.moulin@ent.example',
      jointure: '7100907',
    }),
    student({
      uid: 'o"brien',
      dn: 'uid=o\\"brien,ou=people,dc=ent,dc=example',
      givenName: 'Kelly',
      sn: "O'BRIEN",
      mail: 'kelly.obrien@ent.example',
      jointure: '7100908',
    }),
    student({ uid: 'F4500903', sn: 'SANSPRENOM', mail: 'x.sansprenom@ent.example', jointure: '7100903' }),
    student({
      uid: 'F4500904',
      givenName: 'Manon',
      sn: 'JUMEAU',
      mail: 'manon.jumeau@ent.example',
      jointure: '7100904',
    }),
    student({
      uid: 'f4500904',
      // Not a uid RDN: a person's cn names them just as well.
      dn: 'cn=JUMELLE Marius,ou=people,dc=ent,dc=example',
      givenName: 'Marius',
      sn: 'JUMELLE',
      mail: 'marius.jumelle@ent.example',
      jointure: '7100905',
    }),
    student({ uid: 'F4500906', givenName: 'Li', sn: 'WU', mail: 'li.wu@ent.example', jointure: '7100906' }),
  ];
  return `${text.replace(/\n*$/, '\n\n')}${added.join('\n')}`;
}

const byText = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

describe('redacted JSON and Markdown plans hold no personal value of the directory (embedded Moodle)', () => {
  // The collège's spec is the helper's default (`example` names another one reading ../college/directory.ldif).
  it.each<[string, SpecText]>([
    ['the collège', {}],
    ['the cité scolaire', { example: CITE_SPEC }],
  ])('%s: a first plan, and the next year’s updates, removals and skipped entries', async (name, spec) => {
    const site: CollegeSite = await collegeSite('embedded', { spec });
    cleanups.push(() => site.remove());
    const firstLdif = await site.ldif();
    const firstValues = personalValues(firstLdif);

    const first = await site.plan();
    // The scan can see: without redaction, the same outputs are full of the values it looks for.
    const attributesSeen = new Set(
      Object.values(outputs(first, true)).flatMap((text) =>
        firstValues
          .filter((p) => searchOf(p.value)?.test(text) === true)
          .flatMap((p) => p.sources.map((source) => source.slice(0, source.indexOf(' of ')))),
      ),
    );
    expect([...attributesSeen].sort(byText)).toEqual(
      expect.arrayContaining(['ENTPersonJointure (idnumber)', 'dn', 'givenName', 'mail', 'sn', 'uid']),
    );
    const hits = hitsIn(first, `${name}, first plan`, firstValues);

    expect((await site.apply()).applied).toBe(true);
    await site.writeLdif(nextYear(firstLdif));
    // A student and a teacher leave, with what they had: over the removal guards, which are not what is tested.
    const next = await site.plan({ allowRemovals: 1000 });
    // What the next plan was meant to hold, checked on the plan itself (not redacted).
    const actions = new Set(next.plan.changes.map((c) => c.action));
    expect([...actions]).toEqual(expect.arrayContaining(['create', 'update', 'suspend', 'delete']));
    const reasons = next.plan.skipped.map((s) => s.reason).join('\n');
    for (const reason of [
      'username "f4500901 " has characters Moodle refuses',
      'username "léo.marchal" has characters Moodle refuses',
      'username "ent\\lmoulin" has characters Moodle refuses',
      'username "o"brien" has characters Moodle refuses',
      'firstname is empty',
      'username "f4500904" is also produced by',
      `person "${personDn('F4500990')}" is not in the directory`,
      'person "8200990" is not in the directory',
      `person "${personDn('F45001mm')}" is not a student`,
    ]) {
      expect(reasons).toContain(reason);
    }
    hits.push(...hitsIn(next, `${name}, next plan`, personalValues(firstLdif, await site.ldif())));

    // Generated from the entity catalogue: every entity it lists has changes in the scanned plans, so a new
    // entity whose personal data the catalogue forgot is scanned as soon as the examples produce it.
    const seen = new Set([...first.plan.changes, ...next.plan.changes].map((c) => c.entity));
    expect(ENTITY_ORDER.filter((entity) => !seen.has(entity))).toEqual([]);

    if (hits.length > 0) expect.fail(`${hits.length} personal values in redacted output:\n${hits.join('\n')}`);
  });
});
