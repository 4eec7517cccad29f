/**
 * Bad input to the collège example (examples/college, `extends: sdet`): directory data the rules cannot use,
 * and spec mistakes. Each is reported with the entry's DN or the spec's file:line:column, and nothing is
 * written. Planning cases run on one target (one Moodle shared: plans write nothing, which each test checks);
 * what applies runs on every target.
 *
 * The LDIF variants are text edits of examples/college/directory.ldif (students of 0450001A: F4500111 in
 * 6EME1, F4500144 in 6EME2, F4500155 in 3EME1; F45001xx is the CPE, staff).
 */
import { readFile, writeFile } from 'node:fs/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { SkippedEntry } from '../../src/model/skipped.js';
import { dropStaleTestDatabases } from '../helpers/mariadb.js';
import {
  COLLEGE_LDIF,
  type CollegeSite,
  changeList,
  classLine,
  collegeSite,
  collegeSpecText,
  editEntry,
  personDn,
  positionOf,
  replaceLine,
  type SpecText,
} from '../helpers/sdet-college.js';
import { userErrorParagraph } from '../helpers/spec-files.js';
import { TARGETS } from '../helpers/targets.js';

beforeAll(async () => {
  await dropStaleTestDatabases();
});

const MISSING_DN = 'ENTStructureSIREN=99999999999999,ou=structures,dc=ent,dc=example';

/** F4500111's class names a structure the directory does not have. */
const missingStructure = (ldif: string): string =>
  editEntry(ldif, 'F4500111', (b) => replaceLine(b, classLine('6EME1'), classLine('6EME1', MISSING_DN)));
/** F4500144's class is a bare class name (no `$`, no structure). */
const bareClass = (ldif: string): string =>
  editEntry(ldif, 'F4500144', (b) => replaceLine(b, classLine('6EME2'), 'ENTEleveClasses: 6EME2'));
/** F4500155's class is a UAI alone: a known structure, but no class part. */
const uaiOnlyClass = (ldif: string): string =>
  editEntry(ldif, 'F4500155', (b) => replaceLine(b, classLine('3EME1'), 'ENTEleveClasses: 0450001A'));

/** A second class rule giving the same idnumbers other names. */
const CLASS_LABELS_RULE = `cohorts:
  rules:
    classLabels:
      when:
        profiles: [student]
      each:
        class:
          value: '{ENTEleveClasses|structure|inScope}'
          parts: '^(?<uai>[^$]+)\\$(?<code>.+)$'
      idnumber: '{$uai}-{$code|trim}'
      name: 'Classe {$code|trim}'
      category: '{$uai}'
`;
/** A `guest` profile (not in the preset's profileCodes) for the CPE. */
const GUEST_PROFILE: readonly [string, string] = [
  '    parent:\n      enabled: true\n',
  '    parent:\n      enabled: true\n    guest:\n      when:\n        filter: (uid=F45001xx)\n',
];

const skippedOf = (skipped: readonly SkippedEntry[], uid: string) => skipped.filter((s) => s.dn === personDn(uid));

describe(`bad directory data and bad specs, planned on ${TARGETS[0]}`, () => {
  let site: CollegeSite;
  let example: string;
  let before: Awaited<ReturnType<CollegeSite['written']>>;
  beforeAll(async () => {
    site = await collegeSite(TARGETS[0] ?? 'embedded');
    example = await readFile(COLLEGE_LDIF, 'utf8');
    before = await site.written();
  });
  afterAll(async () => {
    await site?.remove();
  });
  afterEach(async () => {
    expect(await site.written()).toEqual(before);
  });

  it('a class naming a structure not in the directory: the cohort left out for that person, named; the rest planned', async () => {
    const spec = await site.writeVariant('missing-structure', missingStructure(example));
    const planned = await site.plan({}, spec);
    const { plan } = planned;
    const mine = skippedOf(plan.skipped, 'F4500111');
    expect(mine).toContainEqual({
      entity: 'cohort',
      dn: personDn('F4500111'),
      reason: `structure "${MISSING_DN}" is not in the directory`,
      kind: 'data',
    });
    for (const s of mine) expect(s.reason).toContain(MISSING_DN);
    expect(plan.skipped.filter((s) => s.dn !== personDn('F4500111'))).toEqual([]);
    const changes = changeList(planned);
    // The person is still a user and a student of the establishment; only the class membership and field go.
    expect(changes).toContain('create user["f4500111"]');
    expect(changes).toContain('create cohort_member["0450001A-ELV/f4500111"]');
    expect(changes).toContain('create cohort_member["0450001A-6EME1/f4500122"]');
    expect(changes).not.toContain('create cohort_member["0450001A-6EME1/f4500111"]');
    expect(changes).not.toContain('create profile_data["ent_classes/f4500111"]');
    // Exactly what the class value made for that person is left out: membership, field, enrolments, group.
    const left = [
      'create cohort_member["0450001A-6EME1/f4500111"]',
      'create profile_data["ent_classes/f4500111"]',
      'create cohort_enrolment["0450001A-6EME1-020700/0450001A-6EME1/student/f4500111"]',
      'create cohort_enrolment["0450001A-6EME1-100100/0450001A-6EME1/student/f4500111"]',
      'create group_member["0450001A-VIE-SCOLAIRE/0450001A-6EME1/f4500111"]',
    ];
    const full = changeList(await site.plan());
    expect(changes).toEqual(full.filter((c) => !left.includes(c)));
  });

  it('a class value in no known form: left out, the reason naming the value', async () => {
    const spec = await site.writeVariant('no-known-form', uaiOnlyClass(bareClass(example)));
    const planned = await site.plan({}, spec);
    const { plan } = planned;
    // "6EME2" alone names no structure (no DN, UAI or id before a `$`): a value in no known form.
    expect(skippedOf(plan.skipped, 'F4500144')).toContainEqual({
      entity: 'cohort',
      dn: personDn('F4500144'),
      reason: 'value "6EME2" is in no known form (expected a structure DN, UAI or id, then $…)',
      kind: 'data',
    });
    // "0450001A" is the collège, but with no class after a `$`.
    // Each rule that reads the value says so: the class cohort, and the school-life course's class group.
    expect(skippedOf(plan.skipped, 'F4500155')).toEqual([
      {
        entity: 'cohort',
        dn: personDn('F4500155'),
        reason: expect.stringMatching(/^\/cohorts\/rules\/classes\/each\/class: value "0450001A" is in no known form/),
        kind: 'data',
      },
      {
        entity: 'group',
        dn: personDn('F4500155'),
        reason: expect.stringMatching(
          /^\/groups\/rules\/schoolLifeClasses\/each\/class: value "0450001A" is in no known form/,
        ),
        kind: 'data',
      },
    ]);
    const changes = changeList(planned);
    expect(changes).not.toContain('create cohort_member["0450001A-6EME2/f4500144"]');
    expect(changes).not.toContain('create cohort_member["0450001A-3EME1/f4500155"]');
    expect(changes).toContain('create cohort_member["0450001A-6EME2/f4500133"]');
    expect(changes).toContain('create cohort_member["0450001A-3EME1/f4500166"]');
    expect(changes.filter((c) => c.startsWith('create cohort['))).toHaveLength(9);
  });

  it('two rules giving one cohort idnumber different names: the cohort left out, both rules named', async () => {
    const spec = await site.writeVariant('two-rules', undefined, { append: CLASS_LABELS_RULE });
    const planned = await site.plan({}, spec);
    const { plan } = planned;
    const classes = ['0450001A-3EME1', '0450001A-3EME2', '0450001A-6EME1', '0450001A-6EME2'];
    expect(plan.skipped.filter((s) => s.entity === 'cohort')).toHaveLength(4);
    // The cohort sync of each class's two subject courses goes with the cohort, each method listed.
    const methods = plan.skipped.filter((s) => s.entity === 'cohort_enrol');
    expect(methods).toHaveLength(8);
    for (const m of methods) expect(m.reason).toMatch(/^cohort "0450001A-[36]EME[12]" of the enrolment method/);
    expect(plan.skipped).toHaveLength(12);
    // Reported at the first student of each class, in directory order.
    const first: Record<string, string> = {
      '0450001A-3EME1': 'F4500155',
      '0450001A-3EME2': 'F4500177',
      '0450001A-6EME1': 'F4500111',
      '0450001A-6EME2': 'F4500133',
    };
    for (const idnumber of classes) {
      const entry = plan.skipped.find((s) => s.reason.includes(`"${idnumber}"`));
      expect(entry, idnumber).toMatchObject({ entity: 'cohort', dn: personDn(first[idnumber] ?? '') });
      expect(entry?.reason).toContain(`name "${idnumber.replace('-', ' ')}"`);
      expect(entry?.reason).toContain(`name "Classe ${idnumber.slice(9)}"`);
      expect(entry?.reason).toContain('(rule classes,');
      expect(entry?.reason).toContain('(rule classLabels,');
    }
    const changes = changeList(planned);
    for (const idnumber of classes) {
      expect(
        changes.filter(
          (c) => /\b(cohort|cohort_member|cohort_enrol|cohort_enrolment)\[/.test(c) && c.includes(`"${idnumber}`),
        ),
      ).toEqual([]);
    }
    expect(changes.filter((c) => c.startsWith('create cohort['))).toEqual([
      'create cohort["0450001A-ELV"]',
      'create cohort["0450001A-ENS"]',
      'create cohort["0450001A-G-6LAT"]',
      'create cohort["0450001A-PERS"]',
      'create cohort["0450001A-TUT"]',
    ]);
  });

  it('a profile the transcoding lacks: its cohort left out with the reason, the person planned otherwise', async () => {
    const spec = await site.writeVariant('guest', undefined, { edits: [GUEST_PROFILE] });
    const planned = await site.plan({}, spec);
    const { plan } = planned;
    expect(skippedOf(plan.skipped, 'F45001xx')).toContainEqual({
      entity: 'cohort',
      dn: personDn('F45001xx'),
      reason: '"guest" is not in transcoding "profileCodes"',
      kind: 'data',
    });
    expect(plan.skipped.filter((s) => s.dn !== personDn('F45001xx'))).toEqual([]);
    const changes = changeList(planned);
    expect(changes).toContain('create user["f45001xx"]');
    expect(changes).toContain('create cohort_member["0450001A-PERS/f45001xx"]');
    expect(plan.changes.find((c) => c.key === 'ent_profiles/f45001xx')?.after).toEqual({ data: 'staff,guest' });
  });

  describe('spec errors: SPEC_INVALID at file:line:column, before any connection', () => {
    async function specError(name: string, options: SpecText, code = 'SPEC_INVALID') {
      const path = site.ws.path(`${name}.yaml`);
      const text = await collegeSpecText(site.t, site.ws, site.ldifPath, options);
      await writeFile(path, text);
      const run = await site.cli(['plan', '--spec', path, '--no-color']);
      return { path, text, run, headline: userErrorParagraph(run, code) };
    }

    it('an unknown profile name in when.profiles', async () => {
      const bad = `cohorts:\n  rules:\n    classes:\n      when:\n        profiles: [pupil]\n`;
      const { path, text, run } = await specError('unknown-profile', { append: bad });
      // The position of the unknown name itself, inside the list.
      const at = positionOf(text, 'pupil]');
      expect(run.stderr).toContain(
        `  ${path}:${at.line}:${at.column}: unknown profile "pupil" (users.profiles has "student", "teacher", "staff", "parent") (at /cohorts/rules/classes/when/profiles/0)`,
      );
    });

    it('an invalid template in a cohort rule', async () => {
      const bad = `cohorts:\n  rules:\n    groups:\n      name: '{$uai} groupe {$code|nosuch}'\n`;
      const { path, text, run } = await specError('bad-template', { append: bad });
      const at = positionOf(text, "'{$uai} groupe {$code|nosuch}'");
      expect(run.stderr).toContain(
        `  ${path}:${at.line}:${at.column}: invalid template "{$uai} groupe {$code|nosuch}": unknown filter "nosuch"`,
      );
      expect(run.stderr).toContain('/cohorts/rules/groups/name');
      expect(run.stderr.split('\n').filter((l) => l.startsWith('  '))).toHaveLength(1);
    });

    it('an unquoted numeric UAI in establishments', async () => {
      const { path, text, run, headline } = await specError('numeric-uai', {
        edits: [["establishments: ['0450001A']", 'establishments: [0450001]']],
      });
      const at = positionOf(text, '0450001]');
      expect(headline).toBe(`${path}: 1 problem in the spec`);
      expect(run.stderr).toContain(`  ${path}:${at.line}:${at.column}: expected a string; quote the value: '0450001'`);
    });

    it('a numeric mapping key in a transcoding', async () => {
      const bad = 'transcodings:\n  subjects:\n    values: {061300: MATHS}\n';
      const { path, text, run } = await specError('numeric-key', { append: bad });
      const at = positionOf(text, '061300:');
      expect(run.stderr).toContain(
        `  ${path}:${at.line}:${at.column}: key 061300 must be a string: write it in quotes ("061300") so that leading zeros are kept`,
      );
    });

    it('extends naming a missing file: SPEC_READ naming it', async () => {
      const { headline } = await specError(
        'missing-base',
        { edits: [['extends: sdet', 'extends: [sdet, shared/missing.yaml]']] },
        'SPEC_READ',
      );
      expect(headline).toContain('extends "shared/missing.yaml"');
      expect(headline).toContain(`cannot read ${site.ws.path('shared/missing.yaml')}`);
    });

    it('a transcoding CSV file that is missing: SPEC_READ naming it, at its csv: key (validate too)', async () => {
      const { path, text, run, headline } = await specError(
        'missing-csv',
        { edits: [['csv: levels.csv', 'csv: levels-2026.csv']] },
        'SPEC_READ',
      );
      const csv = site.ws.path('levels-2026.csv');
      expect(headline).toBe(
        `${path}: cannot read the transcoding file ${csv}. A relative csv path is relative to the spec's directory (${site.ws.dir}).`,
      );
      const at = positionOf(text, 'csv: levels-2026.csv');
      expect(run.stderr).toContain(
        `  ${path}:${at.line}:${at.column}: cannot read the transcoding file ${csv}: no such file (at /transcodings/levelNames/csv)`,
      );
      expect(await site.cli(['validate', '--spec', path, '--no-color'])).toEqual(run);
    });

    it('a transcoding CSV file with a syntax error: SPEC_INVALID naming the file and the line (validate too)', async () => {
      const csv = site.ws.path('bad-levels.csv');
      await writeFile(csv, 'from,to\n6EME,Sixième\n5EME,"Cinquième\n');
      const { path, text, run } = await specError('bad-csv', { edits: [['csv: levels.csv', 'csv: bad-levels.csv']] });
      // Where the table is written (its mapping), as for every other problem of a transcoding.
      const at = positionOf(text, 'csv: bad-levels.csv');
      expect(run.stderr).toContain(
        `  ${path}:${at.line}:${at.column}: ${csv} line 3: unterminated quote: a quoted cell needs its closing " (at /transcodings/levelNames)`,
      );
      expect(await site.cli(['validate', '--spec', path, '--no-color'])).toEqual(run);
    });

    it('an extends cycle: SPEC_INVALID naming the chain', async () => {
      await writeFile(site.ws.path('cycle-base.yaml'), 'extends: cycle.yaml\n');
      const { path, headline } = await specError('cycle', {
        edits: [['extends: sdet', 'extends: [sdet, cycle-base.yaml]']],
      });
      const base = site.ws.path('cycle-base.yaml');
      expect(headline).toBe(`${base}: extends "cycle.yaml" makes a cycle (${path} → ${base} → ${path})`);
    });
  });
});

describe.each(TARGETS)('bad directory data applied on %s', (target) => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });
  /** All the data errors above at once. */
  async function badSite(extra: SpecText = {}): Promise<CollegeSite> {
    const ldif = missingStructure(uaiOnlyClass(bareClass(await readFile(COLLEGE_LDIF, 'utf8'))));
    const s = await collegeSite(target, {
      ldif,
      spec: { edits: [GUEST_PROFILE, ...(extra.edits ?? [])], append: `${CLASS_LABELS_RULE}${extra.append ?? ''}` },
    });
    cleanups.push(() => s.remove());
    return s;
  }

  it('onDataError: fail turns them into one ENTRY_INVALID listing each with its DN; nothing written', async () => {
    const s = await badSite({ append: 'onDataError: fail\n' });
    const before = await s.written();
    const error = await s.applyError();
    expect(error.code).toBe('ENTRY_INVALID');
    expect(error.message).toContain('onDataError is "fail"');
    const listed = error.diagnostics.map((d) => `${d.dn} ${d.message}`);
    const has = (uid: string, text: string) =>
      expect(
        listed.some((l) => l.startsWith(`${personDn(uid)} cohort: `) && l.includes(text)),
        `${uid}: ${text}\n${listed.join('\n')}`,
      ).toBe(true);
    has('F4500111', `structure "${MISSING_DN}" is not in the directory`);
    has('F4500144', 'value "6EME2" is in no known form');
    has('F4500155', 'value "0450001A" is in no known form');
    has('F45001xx', '"guest" is not in transcoding "profileCodes"');
    for (const idnumber of ['0450001A-3EME2', '0450001A-6EME2']) {
      expect(listed.some((l) => l.includes(`cohort idnumber "${idnumber}"`) && l.includes('rule classLabels'))).toBe(
        true,
      );
    }
    expect(await s.written()).toEqual(before);
    expect(before.stateFiles).toEqual([]);
  });

  it('onDataError: skip applies all but the left-out objects; the next plan has the same skips and no changes', async () => {
    const s = await badSite();
    const result = await s.apply();
    expect(result.applied).toBe(true);
    await s.expectIntegrity();
    const moodle = await s.read();
    expect(moodle.users).toHaveLength(17);
    // The class cohorts both rules give are left out; the others are there.
    expect(moodle.cohorts.map((c) => c.idnumber)).toEqual([
      '0450001A-ELV',
      '0450001A-ENS',
      '0450001A-G-6LAT',
      '0450001A-PERS',
      '0450001A-TUT',
    ]);
    expect(moodle.members['0450001A-ELV']).toEqual([
      'f4500111',
      'f4500122',
      'f4500133',
      'f4500144',
      'f4500155',
      'f4500166',
      'f4500177',
      'f4500188',
    ]);
    expect(moodle.members['0450001A-PERS']).toEqual(['f45001uu', 'f45001xx']);
    expect(moodle.profileData.ent_classes).toEqual({
      f4500122: '6EME1',
      f4500133: '6EME2',
      f4500166: '3EME1',
      f4500177: '3EME2',
      f4500188: '3EME2',
    });
    const again = await s.plan();
    expect(changeList(again)).toEqual([]);
    expect(again.plan.skipped).toEqual(result.planned.plan.skipped);
  });
});
