/**
 * The collège example end to end on every target: examples/college/ldap2moodle.yaml (`extends: sdet`,
 * establishment 0450001A, parents on, level categories and the three profile fields on) reading
 * examples/college/directory.ldif, its `moodle` section pointed at a fresh test Moodle.
 *
 * The expected Moodle is written out below by reading the LDIF, not computed by the tool:
 * - people of 0450001A (ESCOUAI / ESCOUAICourant / ENTPersonStructRattach / class and function structures):
 *   students F4500111…F4500188 (ENTEleve, National_ELV), teachers F45001mm, F45001nn, F45001tt
 *   (ENTAuxEnseignant, National_ENS; F45001mm teaches in 0450002B too, which is not served), staff F45001uu
 *   (National_DIR) and F45001xx (National_EVS), parents F45001yy, F45001zz (also 0450002B), F4500210,
 *   F4500221 (ENTAuxPersRelEleve, National_TUT). Nobody of 0450002B / 0450003C only.
 * - classes (ENTEleveClasses): 6EME1 111, 122; 6EME2 133, 144; 3EME1 155, 166; 3EME2 177, 188;
 *   groups (ENTEleveGroupes): 6LAT 122, 133; levels (ENTEleveNivFormation): 6EME, 3EME.
 * - department: the teachers' discipline label (5th part of ENTPersonFonctions), the staff's function label
 *   (3rd part); F4500166 has no mail.
 */
import { readFile } from 'node:fs/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { PlanResult } from '../../src/index.js';
import { collegeDesired, keysOf } from '../helpers/college-desired.js';
import { dropStaleTestDatabases } from '../helpers/mariadb.js';
import {
  addLines,
  type CollegeMoodle,
  type CollegeSite,
  changeList,
  classLine,
  collegeSite,
  editEntry,
  personDn,
  removeEntry,
  replaceLine,
} from '../helpers/sdet-college.js';
import type { CliRun } from '../helpers/spec-files.js';
import { TARGETS } from '../helpers/targets.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});
beforeAll(async () => {
  await dropStaleTestDatabases();
});

const byText = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
const sorted = (list: readonly string[]): string[] => [...list].sort(byText);

// ---------------------------------------------------------------------------------------------------------
// The expected collège, from the LDIF

const UAI = '0450001A';
const CLG_NAME = 'CLG-LE GRAND CEDRE-ac-ORLEANS-TOURS';

/** username, idnumber (ENTPersonJointure key), firstname, lastname, email, department. */
const PEOPLE: readonly (readonly [string, string, string, string, string, string])[] = [
  ['f4500111', '7100001', 'Éloïse', 'MARTIN-DUBOIS', 'eloise.martin-dubois@ent.example', ''],
  ['f4500122', '7100002', 'Noé', 'LEFÈVRE', 'noe.lefevre@ent.example', ''],
  ['f4500133', '7100003', 'Inès', "D'ALMEIDA", 'ines.dalmeida@ent.example', ''],
  ['f4500144', '7100004', 'François', 'MOREAU', 'francois.moreau@ent.example', ''],
  ['f4500155', '7100005', 'Zoé', 'BERNARD', 'zoe.bernard@ent.example', ''],
  ['f4500166', '7100006', 'Lucas', 'PETIT', '', ''],
  ['f4500177', '7100007', 'Chloé', 'ROUX', 'chloe.roux@ent.example', ''],
  ['f4500188', '7100008', 'Adam', 'FAURE', 'adam.faure@ent.example', ''],
  ['f45001mm', '45001', 'Hélène', 'ROUSSEAU', 'helene.rousseau@ac-orleans-tours.example', 'MATHEMATIQUES'],
  ['f45001nn', '45002', 'Rémi', 'FONTAINE', 'remi.fontaine@ac-orleans-tours.example', 'LETTRES CLASSIQUES'],
  ['f45001tt', '45008', 'Ahmed', 'KACI', 'ahmed.kaci@ac-orleans-tours.example', 'EDUCATION PHYSIQUE ET SPORTIVE'],
  ['f45001uu', '45101', 'Bernard', 'LECLERC', 'bernard.leclerc@ac-orleans-tours.example', 'DIRECTION'],
  ['f45001xx', '45104', 'Karim', 'BOUZID', 'karim.bouzid@ac-orleans-tours.example', 'EDUCATION'],
  ['f45001yy', '8200001', 'Jérôme', 'MARTIN-DUBOIS', 'jerome.martin-dubois@famille.example', ''],
  ['f45001zz', '8200002', 'Nadia', 'FAURE', 'nadia.faure@famille.example', ''],
  ['f4500210', '8200003', 'Paul', 'FAURE', 'paul.faure@famille.example', ''],
  ['f4500221', '8200004', 'Fatima', "D'ALMEIDA", 'fatima.dalmeida@famille.example', ''],
];
const USERNAMES = sorted(PEOPLE.map((p) => p[0]));

const STUDENTS = ['f4500111', 'f4500122', 'f4500133', 'f4500144', 'f4500155', 'f4500166', 'f4500177', 'f4500188'];
const PROFILES: Readonly<Record<string, readonly string[]>> = {
  student: STUDENTS,
  teacher: ['f45001mm', 'f45001nn', 'f45001tt'],
  staff: ['f45001uu', 'f45001xx'],
  parent: ['f45001yy', 'f45001zz', 'f4500210', 'f4500221'],
};
const CLASS_OF: Readonly<Record<string, string>> = {
  f4500111: '6EME1',
  f4500122: '6EME1',
  f4500133: '6EME2',
  f4500144: '6EME2',
  f4500155: '3EME1',
  f4500166: '3EME1',
  f4500177: '3EME2',
  f4500188: '3EME2',
};

const MEMBERS: Readonly<Record<string, readonly string[]>> = {
  '0450001A-6EME1': ['f4500111', 'f4500122'],
  '0450001A-6EME2': ['f4500133', 'f4500144'],
  '0450001A-3EME1': ['f4500155', 'f4500166'],
  '0450001A-3EME2': ['f4500177', 'f4500188'],
  '0450001A-G-6LAT': ['f4500122', 'f4500133'],
  '0450001A-ELV': STUDENTS,
  '0450001A-ENS': PROFILES.teacher as readonly string[],
  '0450001A-PERS': PROFILES.staff as readonly string[],
  '0450001A-TUT': PROFILES.parent as readonly string[],
};
const COHORT_NAMES: Readonly<Record<string, string>> = {
  '0450001A-3EME1': '0450001A 3EME1',
  '0450001A-3EME2': '0450001A 3EME2',
  '0450001A-6EME1': '0450001A 6EME1',
  '0450001A-6EME2': '0450001A 6EME2',
  '0450001A-ELV': 'Élèves 0450001A',
  '0450001A-ENS': 'Enseignants 0450001A',
  '0450001A-G-6LAT': '0450001A groupe 6LAT',
  '0450001A-PERS': 'Personnels 0450001A',
  '0450001A-TUT': 'Parents 0450001A',
};

const FIELDS: readonly (readonly [string, string])[] = [
  ['ent_classes', 'Classes'],
  ['ent_profiles', 'Profils ENT'],
  ['ent_uai', 'Établissements (UAI)'],
];

function expectedProfileData(): Record<string, Record<string, string>> {
  const profiles: Record<string, string> = {};
  for (const [profile, list] of Object.entries(PROFILES)) for (const u of list) profiles[u] = profile;
  return {
    ent_classes: { ...CLASS_OF },
    ent_profiles: profiles,
    ent_uai: Object.fromEntries(USERNAMES.map((u) => [u, UAI])),
  };
}

function expectedMembers(): Record<string, string[]> {
  return Object.fromEntries(Object.entries(MEMBERS).map(([cohort, list]) => [cohort, sorted(list)]));
}

/** Compares everything read back from Moodle with the collège written out above. */
async function expectCollege(site: CollegeSite, moodle: CollegeMoodle): Promise<void> {
  expect(moodle.users).toEqual(
    sorted(USERNAMES).map((username) => {
      const [, idnumber, firstname, lastname, email, department] = PEOPLE.find((p) => p[0] === username) ?? [];
      return {
        username,
        idnumber,
        firstname,
        lastname,
        email,
        auth: 'cas',
        institution: UAI,
        department,
        suspended: 0,
        deleted: 0,
      };
    }),
  );

  expect(moodle.profileCategories).toEqual(['ENT']);
  expect(moodle.profileFields.map(({ sortorder: _, ...f }) => f)).toEqual(
    FIELDS.map(([shortname, name]) => ({
      shortname,
      name,
      datatype: 'text',
      category: 'ENT',
      required: 0,
      locked: 1,
      visible: 1,
      forceunique: 0,
      signup: 0,
      defaultdata: '',
      param1: '30',
      param2: '2048',
      param3: '0',
    })),
  );
  // Moodle numbers the fields of a category 1, 2, 3 in the order they are created: the preset's order.
  const order = Object.fromEntries(moodle.profileFields.map((f) => [f.shortname, String(f.sortorder)]));
  expect(order).toEqual({ ent_uai: '1', ent_profiles: '2', ent_classes: '3' });
  expect(moodle.profileData).toEqual(expectedProfileData());

  const [system] = await site.t.query<{ id: number; path: string }>(
    'SELECT id, path FROM {context} WHERE contextlevel = 10',
  );
  const top = moodle.categories.find((c) => c.idnumber === UAI);
  expect(top).toBeDefined();
  if (top === undefined || system === undefined) return;
  const sub = (idnumber: string, name: string) => {
    const row = moodle.categories.find((c) => c.idnumber === idnumber);
    return {
      id: expect.any(Number),
      idnumber,
      name,
      parent: UAI,
      depth: 2,
      path: `/${top.id}/${row?.id}`,
      visible: 1,
      coursecount: 0,
      context: { id: expect.any(Number), contextlevel: 40, path: `${top.context.path}/${row?.context.id}`, depth: 3 },
    };
  };
  expect(moodle.categories).toEqual([
    {
      id: top.id,
      idnumber: UAI,
      name: CLG_NAME,
      parent: '',
      depth: 1,
      path: `/${top.id}`,
      visible: 1,
      // The eight class-subject courses and the school-life course.
      coursecount: 9,
      context: { id: expect.any(Number), contextlevel: 40, path: `${system.path}/${top.context.id}`, depth: 2 },
    },
    // Named through examples/college/levels.csv.
    sub('0450001A-3EME', 'Troisième'),
    sub('0450001A-6EME', 'Sixième'),
  ]);
  expect(system.path).toBe(`/${Number(system.id)}`);

  expect(moodle.cohorts).toEqual(
    sorted(Object.keys(COHORT_NAMES)).map((idnumber) => ({
      idnumber,
      name: COHORT_NAMES[idnumber],
      component: 'local_ldap2moodle',
      visible: 1,
      contextid: top.context.id,
    })),
  );
  expect(moodle.members).toEqual(expectedMembers());
}

describe.each(TARGETS)('the collège on %s', (target) => {
  async function site(options: Parameters<typeof collegeSite>[1] = {}): Promise<CollegeSite> {
    const s = await collegeSite(target, options);
    cleanups.push(() => s.remove());
    return s;
  }
  /** Applies the spec and checks Moodle's integrity, as after every apply. */
  async function applied(s: CollegeSite, specPath?: string): Promise<PlanResult> {
    const result = await s.apply({}, specPath);
    expect(result.applied).toBe(true);
    await s.expectIntegrity();
    return result.planned;
  }
  async function expectNoChanges(s: CollegeSite): Promise<void> {
    const again = await s.plan();
    expect(changeList(again)).toEqual([]);
  }

  describe('applied once (read-only assertions on one site)', () => {
    let shared: CollegeSite;
    let first: CliRun;
    beforeAll(async () => {
      shared = await collegeSite(target);
      first = await shared.cli(['apply', '--spec', shared.specPath, '--auto-approve', '--no-color']);
    });
    afterAll(async () => {
      await shared?.remove();
    });

    it('Moodle holds exactly the users, profile fields and data, categories, cohorts and members the LDIF gives', async () => {
      expect(first.code, first.stderr).toBe(0);
      expect(first.stdout).toContain('Apply complete: 187 changes written in one transaction.');
      await shared.expectIntegrity();
      await expectCollege(shared, await shared.read());
    });

    it('the state file lists exactly the users, categories, cohorts, profile fields and course-side objects', async () => {
      const state = await shared.state();
      expect(state.serial).toBe(1);
      // Courses, groups, enrolment methods, manual enrolments and role assignments are owned through the state
      // (what their rules give: test/unit/course-rules.test.ts); members and cohort enrolments through their parent.
      const desired = await collegeDesired();
      const courseSide = (
        ['role', 'course', 'group', 'grouping', 'cohort_enrol', 'enrolment', 'role_assignment'] as const
      ).flatMap((type) => keysOf(desired, type).map((k) => `${type} ${k}`));
      // The parent role; the headteacher's role and four parents' roles in their children's contexts.
      expect(courseSide).toHaveLength(1 + 9 + 13 + 2 + 9 + 8 + 5);
      expect(sorted(state.objects.map((o) => `${o.type} ${o.key}`))).toEqual(
        sorted([
          ...USERNAMES.map((u) => `user ${u}`),
          ...['0450001A', '0450001A-3EME', '0450001A-6EME'].map((c) => `category ${c}`),
          ...Object.keys(COHORT_NAMES).map((c) => `cohort ${c}`),
          ...FIELDS.map(([f]) => `profile_field ${f}`),
          ...courseSide,
        ]),
      );
      // The ids it records are Moodle's.
      const ids = new Map(
        (await shared.t.query("SELECT id, username FROM {user} WHERE auth = 'cas'")).map((r) => [
          String(r.username),
          Number(r.id),
        ]),
      );
      for (const o of state.objects.filter((x) => x.type === 'user')) expect(o.id).toBe(ids.get(o.key));
    });

    it('without postApply, the CLI warns on stderr that the categories need a cache purge', () => {
      expect(first.stderr).toMatch(
        /^Warning: this apply wrote course categories, courses or groups.*purge_caches\.php/m,
      );
    });

    it('a second plan has no changes, a second apply writes nothing', async () => {
      const before = { sums: await shared.checksums(), files: await shared.stateFiles() };
      const plan = await shared.plan();
      expect(changeList(plan)).toEqual([]);
      expect(plan.plan.skipped).toEqual([]);
      const again = await shared.apply();
      expect(again.applied).toBe(false);
      expect(again.state.serial).toBe(1);
      await shared.expectIntegrity();
      expect(await shared.checksums()).toEqual(before.sums);
      expect(await shared.stateFiles()).toEqual(before.files);
    });
  });

  it('a student changing class: one membership moves, ent_classes follows; then no changes', async () => {
    const s = await site();
    await applied(s);
    await s.writeLdif(
      editEntry(await s.ldif(), 'F4500111', (b) => replaceLine(b, classLine('6EME1'), classLine('6EME2'))),
    );
    const plan = await s.plan();
    // The class's courses follow (Moodle's cohort sync, written at once) and the school-life class group.
    expect(changeList(plan)).toEqual([
      'create cohort_enrolment["0450001A-6EME2-020700/0450001A-6EME2/student/f4500111"]',
      'create cohort_enrolment["0450001A-6EME2-100100/0450001A-6EME2/student/f4500111"]',
      'create cohort_member["0450001A-6EME2/f4500111"]',
      'create group_member["0450001A-VIE-SCOLAIRE/0450001A-6EME2/f4500111"]',
      'delete cohort_enrolment["0450001A-6EME1-020700/0450001A-6EME1/student/f4500111"]',
      'delete cohort_enrolment["0450001A-6EME1-100100/0450001A-6EME1/student/f4500111"]',
      'delete cohort_member["0450001A-6EME1/f4500111"]',
      'delete group_member["0450001A-VIE-SCOLAIRE/0450001A-6EME1/f4500111"]',
      'update profile_data["ent_classes/f4500111"]',
    ]);
    expect(plan.plan.changes.find((c) => c.entity === 'profile_data')).toMatchObject({
      before: { data: '6EME1' },
      after: { data: '6EME2' },
    });
    await applied(s);
    const moodle = await s.read();
    expect(moodle.members['0450001A-6EME1']).toEqual(['f4500122']);
    expect(moodle.members['0450001A-6EME2']).toEqual(['f4500111', 'f4500133', 'f4500144']);
    expect(moodle.profileData.ent_classes?.f4500111).toBe('6EME2');
    expect(moodle.members).toEqual({
      ...expectedMembers(),
      '0450001A-6EME1': ['f4500122'],
      '0450001A-6EME2': ['f4500111', 'f4500133', 'f4500144'],
    });
    await expectNoChanges(s);
  });

  it('a teacher gaining then losing the parent profile: the parents cohort, ent_profiles and the parent role change', async () => {
    const s = await site();
    await applied(s);
    const original = await s.ldif();
    await s.writeLdif(
      editEntry(original, 'F45001nn', (b) =>
        addLines(b, [
          'objectClass: ENTAuxPersRelEleve',
          'ENTPersonProfils: National_TUT',
          `ENTAuxPersRelEleveEleve: ${personDn('F4500144')}`,
        ]),
      ),
    );
    const gained = await s.plan();
    expect(changeList(gained)).toEqual([
      'create cohort_member["0450001A-TUT/f45001nn"]',
      // The parent role in the child's user context (the role itself exists since the first apply).
      'create role_assignment["user:f4500144/parent/f45001nn"]',
      'update profile_data["ent_profiles/f45001nn"]',
    ]);
    await applied(s);
    let moodle = await s.read();
    expect(moodle.profileData.ent_profiles?.f45001nn).toBe('teacher,parent');
    expect(moodle.members['0450001A-TUT']).toEqual(sorted([...(PROFILES.parent ?? []), 'f45001nn']));
    // Still synced as a teacher first: the department is the discipline.
    expect(moodle.users.find((u) => u.username === 'f45001nn')?.department).toBe('LETTRES CLASSIQUES');

    await s.writeLdif(original);
    const lost = await s.plan();
    expect(changeList(lost)).toEqual([
      'delete cohort_member["0450001A-TUT/f45001nn"]',
      'delete role_assignment["user:f4500144/parent/f45001nn"]',
      'update profile_data["ent_profiles/f45001nn"]',
    ]);
    expect(lost.plan.changes.find((c) => c.entity === 'profile_data')).toMatchObject({
      before: { data: 'teacher,parent' },
      after: { data: 'teacher' },
    });
    await applied(s);
    moodle = await s.read();
    await expectCollege(s, moodle);
    await expectNoChanges(s);
  });

  it('a student leaving the directory: suspended, removed from the cohorts the tool owns; then no changes', async () => {
    const s = await site();
    await applied(s);
    await s.writeLdif(removeEntry(await s.ldif(), 'F4500144'));
    const plan = await s.plan();
    // The account stays (suspended) with its profile data; only its memberships go.
    // Leaving the cohorts unenrols them from the courses synced from those cohorts (Moodle's default
    // enrol_cohort/unenrolaction); their school-life class group goes too.
    expect(changeList(plan)).toEqual([
      'delete cohort_enrolment["0450001A-6EME2-020700/0450001A-6EME2/student/f4500144"]',
      'delete cohort_enrolment["0450001A-6EME2-100100/0450001A-6EME2/student/f4500144"]',
      'delete cohort_enrolment["0450001A-VIE-SCOLAIRE/0450001A-ELV/student/f4500144"]',
      'delete cohort_member["0450001A-6EME2/f4500144"]',
      'delete cohort_member["0450001A-ELV/f4500144"]',
      'delete group_member["0450001A-VIE-SCOLAIRE/0450001A-6EME2/f4500144"]',
      'suspend user["f4500144"]',
    ]);
    await applied(s);
    const moodle = await s.read();
    expect(moodle.users.find((u) => u.username === 'f4500144')).toMatchObject({ suspended: 1, deleted: 0 });
    expect(moodle.users.filter((u) => u.suspended === 1).map((u) => u.username)).toEqual(['f4500144']);
    expect(moodle.members).toEqual({
      ...expectedMembers(),
      '0450001A-6EME2': ['f4500133'],
      '0450001A-ELV': STUDENTS.filter((u) => u !== 'f4500144'),
    });
    expect(moodle.profileData).toEqual(expectedProfileData());
    await expectNoChanges(s);
  });

  it('drift repaired: a member deleted and a category renamed by hand are planned back, applied, then clean', async () => {
    const s = await site();
    await applied(s);
    const deleted = await s.t.execute(
      `DELETE FROM {cohort_members} WHERE cohortid = (SELECT id FROM {cohort} WHERE idnumber = '0450001A-G-6LAT')
         AND userid = (SELECT id FROM {user} WHERE username = 'f4500122')`,
    );
    expect(deleted).toBe(1);
    const renamed = await s.t.execute(
      "UPDATE {course_categories} SET name = 'Sixième (renommée)' WHERE idnumber = '0450001A-6EME'",
    );
    expect(renamed).toBe(1);
    const plan = await s.plan();
    expect(changeList(plan)).toEqual([
      'create cohort_member["0450001A-G-6LAT/f4500122"]',
      'update category["0450001A-6EME"]',
    ]);
    expect(plan.plan.changes.find((c) => c.entity === 'category')).toMatchObject({
      before: { name: 'Sixième (renommée)' },
      after: { name: 'Sixième' },
    });
    await applied(s);
    await expectCollege(s, await s.read());
    await expectNoChanges(s);
  });

  describe('postApply', () => {
    it('runs after the commit; its result is in the CLI report', async () => {
      // The command records what it sees: the state file is promoted only once Moodle has committed.
      const script =
        "const fs = require('fs'); const s = JSON.parse(fs.readFileSync('ldap2moodle.state.json', 'utf8'));" +
        " fs.writeFileSync('post-apply-marker.json', JSON.stringify({ serial: s.serial," +
        " pending: fs.existsSync('ldap2moodle.state.json.pending') })); console.log('marker written')";
      const s = await site({
        spec: {
          append: `postApply:\n  - run: ${JSON.stringify([process.execPath, '-e', script])}\n    when: always\n`,
        },
      });
      const run = await s.cli(['apply', '--spec', s.specPath, '--auto-approve', '--no-color']);
      expect(run.code, run.stderr).toBe(0);
      await s.expectIntegrity();
      expect(JSON.parse(await readFile(s.ws.path('post-apply-marker.json'), 'utf8'))).toEqual({
        serial: 1,
        pending: false,
      });
      const report = run.stdout.slice(run.stdout.indexOf('Post-apply commands:'));
      expect(report).toMatch(/^Post-apply commands:\n\$ .+ -e /);
      expect(report).toMatch(/\n {2}ok: exit code 0 \(/);
      expect(report).toContain('\n  | marker written\n');
      // A command ran: no warning about the cache purge.
      expect(run.stderr).not.toContain('purge');
      await expectCollege(s, await s.read());
    });

    it('a failing command (exit 3) gives exit code 3 (applied, postApply failed) and the report; the data stays committed', async () => {
      const s = await site({
        spec: {
          append: `postApply:\n  - run: ${JSON.stringify([process.execPath, '-e', "console.error('purge failed'); process.exit(3)"])}\n    when: always\n`,
        },
      });
      const run = await s.cli(['apply', '--spec', s.specPath, '--auto-approve', '--no-color']);
      expect(run.code).toBe(3);
      expect(run.stdout).toContain('Apply complete: 187 changes written in one transaction.');
      expect(run.stdout).toMatch(/\n {2}failed: exit code 3 \(/);
      expect(run.stdout).toContain('\n  | purge failed\n');
      await s.expectIntegrity();
      expect((await s.state()).serial).toBe(1);
      expect((await s.stateFiles()).pending).toBe(false);
      await expectCollege(s, await s.read());
      await expectNoChanges(s);
    });
  });
});
