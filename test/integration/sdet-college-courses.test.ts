/**
 * The collège's courses on every target, end to end (spec → LDIF → plan → apply → Moodle): the courses its
 * rules create and everything that fills them, written out in test/golden/college-courses.txt (the same
 * listing on MariaDB, PostgreSQL and the embedded Moodle); idempotency; a student changing class (exactly the
 * rows Moodle's cohort sync would change); a teacher handing a class over, and losing one nobody takes; a
 * course made by hand holding a shortname; bad input (a role that does not exist, a course nobody makes).
 * The integrity checker runs after every apply (collegeSite.apply).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { PlanResult } from '../../src/index.js';
import { courseSideText, readCourseSide } from '../helpers/college-courses.js';
import { dropStaleTestDatabases } from '../helpers/mariadb.js';
import { diffSnapshots, type RefRow, snapshotTables } from '../helpers/reference-rows.js';
import { type CollegeSite, collegeSite, editEntry, personDn, removeEntry } from '../helpers/sdet-college.js';
import { TARGETS } from '../helpers/targets.js';

const GOLDEN = new URL('../golden/college-courses.txt', import.meta.url);

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});
beforeAll(async () => {
  await dropStaleTestDatabases();
});

const changeList = (planned: PlanResult): string[] =>
  planned.plan.changes.map((c) => `${c.action} ${c.address}`).sort();

/** The tables a course-side change writes. */
const COURSE_TABLES = ['user_enrolments', 'role_assignments', 'groups_members', 'groups', 'enrol', 'cache_flags'];

/** An ENTAuxEnsClassesMatieres line of the collège (structure DN form, as the fixture writes it). */
const taught = (klass: string, subject: string): string =>
  `ENTAuxEnsClassesMatieres: ENTStructureSIREN=19450001400015,ou=structures,dc=ent,dc=example$${klass}$${subject}`;

describe.each(TARGETS)('the collège’s courses on %s', (target) => {
  async function site(options: Parameters<typeof collegeSite>[1] = {}): Promise<CollegeSite> {
    const s = await collegeSite(target, options);
    cleanups.push(() => s.remove());
    return s;
  }
  async function applied(s: CollegeSite): Promise<void> {
    const result = await s.apply();
    expect(result.applied).toBe(true);
  }
  const ids = async (s: CollegeSite, sql: string): Promise<Map<string, number>> =>
    new Map((await s.t.query(sql)).map((r) => [String(r.k), Number(r.id)]));

  describe('applied once', () => {
    let shared: CollegeSite;
    beforeAll(async () => {
      shared = await collegeSite(target);
      const result = await shared.apply();
      expect(result.applied).toBe(true);
    });
    afterAll(async () => {
      await shared?.remove();
    });

    it('Moodle holds exactly the courses, methods, enrolments, roles, groups and members written out', async () => {
      const text = courseSideText(await readCourseSide(shared.t));
      if (process.env.UPDATE_GOLDEN === '1' && target === TARGETS[0]) writeFileSync(GOLDEN, text);
      expect(text).toBe(readFileSync(GOLDEN, 'utf8'));
    });

    it('a course is as create_course leaves it: context under its category, sections 0..4, default methods', async () => {
      const [course] = await shared.t.query(
        "SELECT id, category, cacherev, sortorder FROM {course} WHERE shortname = '0450001A-3EME1-061300'",
      );
      const [category] = await shared.t.query(
        "SELECT id, sortorder FROM {course_categories} WHERE idnumber = '0450001A'",
      );
      expect(Number(course?.category)).toBe(Number(category?.id));
      expect(Number(course?.cacherev)).toBeGreaterThan(0);
      expect(Number(course?.sortorder)).toBeGreaterThan(Number(category?.sortorder));
      const [ctx] = await shared.t.query(
        'SELECT path, depth FROM {context} WHERE contextlevel = 50 AND instanceid = ?',
        [Number(course?.id)],
      );
      const [catCtx] = await shared.t.query(
        'SELECT id, path FROM {context} WHERE contextlevel = 40 AND instanceid = ?',
        [Number(category?.id)],
      );
      expect(String(ctx?.path)).toMatch(new RegExp(`^${String(catCtx?.path)}/\\d+$`));
      expect(Number(ctx?.depth)).toBe(3);
      // Every enrolled user's access is reloaded: one dirty mark each, none twice.
      const marks = await shared.t.query("SELECT name FROM {cache_flags} WHERE flagtype = 'accesslib/dirtyusers'");
      const enrolled = await shared.t.query('SELECT DISTINCT userid FROM {user_enrolments}');
      expect(marks.map((m) => Number(m.name)).sort()).toEqual(
        expect.arrayContaining(enrolled.map((u) => Number(u.userid)).sort()),
      );
    });

    it('a second plan has no changes: Moodle’s own cohort sync would have nothing to do either', async () => {
      const again = await shared.plan();
      expect(changeList(again)).toEqual([]);
      // What enrol_cohort_sync checks: every member of a method's cohort enrolled with the method's role,
      // nobody else; the role owned by the method; in the method's group when it has one.
      const problems = await shared.t.query(
        `SELECT e.id, cm.userid FROM {enrol} e
           JOIN {cohort_members} cm ON cm.cohortid = e.customint1
           LEFT JOIN {user_enrolments} ue ON ue.enrolid = e.id AND ue.userid = cm.userid
          WHERE e.enrol = 'cohort' AND ue.id IS NULL`,
      );
      expect(problems).toEqual([]);
      const extra = await shared.t.query(
        `SELECT ue.id FROM {user_enrolments} ue
           JOIN {enrol} e ON e.id = ue.enrolid AND e.enrol = 'cohort'
           LEFT JOIN {cohort_members} cm ON cm.cohortid = e.customint1 AND cm.userid = ue.userid
          WHERE cm.id IS NULL`,
      );
      expect(extra).toEqual([]);
    });
  });

  it('a student changing class: exactly the rows Moodle’s cohort sync would change, and the school-life group', async () => {
    const s = await site();
    await applied(s);
    const before = await snapshotTables(s.t, COURSE_TABLES);
    await s.writeLdif(
      editEntry(await s.ldif(), 'F4500111', (b) =>
        b.replace(
          'ENTEleveClasses: ENTStructureSIREN=19450001400015,ou=structures,dc=ent,dc=example$6EME1',
          'ENTEleveClasses: ENTStructureSIREN=19450001400015,ou=structures,dc=ent,dc=example$6EME2',
        ),
      ),
    );
    await applied(s);
    const writes = diffSnapshots(before, await snapshotTables(s.t, COURSE_TABLES));
    const user = (await ids(s, "SELECT username AS k, id FROM {user} WHERE username = 'f4500111'")).get('f4500111');
    const methods = await ids(
      s,
      "SELECT c.shortname AS k, e.id FROM {enrol} e JOIN {course} c ON c.id = e.courseid WHERE e.enrol = 'cohort'",
    );
    const method = (course: string): string => String(methods.get(course));
    const rowsOf = (rows: readonly RefRow[] | undefined, ...columns: string[]) =>
      (rows ?? []).map((r) => columns.map((c) => r[c]).join(' ')).sort();
    // Unenrolled from the two 6EME1 courses, enrolled in the two 6EME2 ones: enrolment, role, group.
    expect(rowsOf(writes.user_enrolments?.deleted, 'enrolid', 'userid')).toEqual(
      [`${method('0450001A-6EME1-020700')} ${user}`, `${method('0450001A-6EME1-100100')} ${user}`].sort(),
    );
    expect(rowsOf(writes.user_enrolments?.inserted, 'enrolid', 'userid', 'status', 'timestart', 'timeend')).toEqual(
      [`${method('0450001A-6EME2-020700')} ${user} 0 0 0`, `${method('0450001A-6EME2-100100')} ${user} 0 0 0`].sort(),
    );
    expect(rowsOf(writes.role_assignments?.deleted, 'component', 'itemid', 'userid')).toEqual(
      [
        `enrol_cohort ${method('0450001A-6EME1-020700')} ${user}`,
        `enrol_cohort ${method('0450001A-6EME1-100100')} ${user}`,
      ].sort(),
    );
    expect(rowsOf(writes.role_assignments?.inserted, 'component', 'itemid', 'userid')).toEqual(
      [
        `enrol_cohort ${method('0450001A-6EME2-020700')} ${user}`,
        `enrol_cohort ${method('0450001A-6EME2-100100')} ${user}`,
      ].sort(),
    );
    // Group memberships: the two class groups of the courses (the cohort sync's), and the school-life class group.
    expect(rowsOf(writes.groups_members?.deleted, 'component', 'userid')).toEqual(
      ['', 'enrol_cohort', 'enrol_cohort'].map((c) => `${c} ${user}`),
    );
    expect(rowsOf(writes.groups_members?.inserted, 'component', 'userid')).toEqual(
      ['', 'enrol_cohort', 'enrol_cohort'].map((c) => `${c} ${user}`),
    );
    // Nothing else: no method changed, and the groups only had their timemodified touched.
    expect(writes.enrol).toBeUndefined();
    expect((writes.groups?.updated ?? []).every((u) => Object.keys(u.changed).join() === 'timemodified')).toBe(true);
    expect(writes.groups?.inserted ?? []).toEqual([]);
    expect(changeList(await s.plan())).toEqual([]);
  });

  it('a teacher handing a class over: only the two manual enrolments change, the course stays', async () => {
    const s = await site();
    await applied(s);
    // f45001mm taught maths in 3EME1 and 3EME2; f45001tt takes 3EME1 over.
    let ldif = editEntry(await s.ldif(), 'F45001mm', (b) =>
      b
        .split('\n')
        .filter((l) => l !== taught('3EME1', '061300'))
        .join('\n'),
    );
    ldif = editEntry(ldif, 'F45001tt', (b) =>
      b.replace(`${taught('3EME1', '100100')}\n`, `${taught('3EME1', '100100')}\n${taught('3EME1', '061300')}\n`),
    );
    await s.writeLdif(ldif);
    const plan = await s.plan();
    expect(changeList(plan)).toEqual([
      'create enrolment["0450001A-3EME1-061300/f45001tt"]',
      'suspend enrolment["0450001A-3EME1-061300/f45001mm"]',
    ]);
    await applied(s);
    const side = await readCourseSide(s.t);
    expect(side.enrolments.filter((l) => l.startsWith('0450001A-3EME1-061300 manual'))).toEqual([
      '0450001A-3EME1-061300 manual f45001mm suspended',
      '0450001A-3EME1-061300 manual f45001tt active',
    ]);
    // Suspended, not unenrolled: the teacher keeps the role (and their work) in the course.
    expect(side.roles).toContain('course 0450001A-3EME1-061300 editingteacher f45001mm');
    expect(changeList(await s.plan())).toEqual([]);
  });

  it('people a teacher adds by hand stay: in a cohort-synced class group; out of the school-life groups the rules fill', async () => {
    const s = await site();
    await applied(s);
    const [user] = await s.t.query("SELECT id FROM {user} WHERE username = 'f4500177'");
    const groupOf = async (course: string, idnumber: string): Promise<number> => {
      const [row] = await s.t.query(
        'SELECT g.id FROM {groups} g JOIN {course} c ON c.id = g.courseid WHERE c.shortname = ? AND g.idnumber = ?',
        [course, idnumber],
      );
      return Number(row?.id);
    };
    // f4500177 (3EME2) joins the 3EME1 maths group for a project, and the 6LAT group of the school-life course.
    for (const group of [
      await groupOf('0450001A-3EME1-061300', '0450001A-3EME1'),
      await groupOf('0450001A-VIE-SCOLAIRE', '0450001A-G-6LAT'),
    ]) {
      await s.t.insert('groups_members', {
        groupid: group,
        userid: Number(user?.id),
        timeadded: 1,
        component: '',
        itemid: 0,
      });
    }
    expect(changeList(await s.plan())).toEqual([
      'delete group_member["0450001A-VIE-SCOLAIRE/0450001A-G-6LAT/f4500177"]',
    ]);
  });

  it('a class nobody teaches any more: the course is kept, its cohort sync disabled, its class group removed', async () => {
    const s = await site();
    await applied(s);
    await s.writeLdif(
      editEntry(await s.ldif(), 'F45001mm', (b) =>
        b
          .split('\n')
          .filter((l) => l !== taught('3EME1', '061300'))
          .join('\n'),
      ),
    );
    const plan = await s.plan();
    expect(changeList(plan)).toEqual([
      'delete group["0450001A-3EME1-061300/0450001A-3EME1"]',
      'suspend cohort_enrol["0450001A-3EME1-061300/0450001A-3EME1/student"]',
      'suspend enrolment["0450001A-3EME1-061300/f45001mm"]',
      // The sync right after update_status() removes the roles of a disabled method: listed, user by user.
      'update cohort_enrolment["0450001A-3EME1-061300/0450001A-3EME1/student/f4500155"]',
      'update cohort_enrolment["0450001A-3EME1-061300/0450001A-3EME1/student/f4500166"]',
    ]);
    await applied(s);
    const side = await readCourseSide(s.t);
    expect(side.roles.filter((l) => l.startsWith('course 0450001A-3EME1-061300 student'))).toEqual([]);
    expect(side.courses.filter((l) => l.startsWith('0450001A-3EME1-061300 '))).toHaveLength(1);
    expect(side.methods).toContain('0450001A-3EME1-061300 #3 cohort disabled student cohort 0450001A-3EME1 group -');
    // The students stay enrolled (inactive with the method), their grades with them.
    expect(side.enrolments.filter((l) => l.startsWith('0450001A-3EME1-061300 cohort:'))).toEqual([
      '0450001A-3EME1-061300 cohort:0450001A-3EME1 f4500155 active',
      '0450001A-3EME1-061300 cohort:0450001A-3EME1 f4500166 active',
    ]);
    expect(changeList(await s.plan())).toEqual([]);
  });

  it('a student leaving the cohort of a disabled method: unenrolled from it too, as Moodle’s enrol_cohort sync would', async () => {
    const s = await site();
    await applied(s);
    const DISABLED = '0450001A-3EME1-061300/0450001A-3EME1/student';
    // Nobody teaches maths in 3EME1 any more: that method is disabled; the sync right after update_status()
    // removes the roles of a disabled method (unenrolaction 0), which the plan lists, student by student.
    await s.writeLdif(
      editEntry(await s.ldif(), 'F45001mm', (b) =>
        b
          .split('\n')
          .filter((l) => l !== taught('3EME1', '061300'))
          .join('\n'),
      ),
    );
    const disabling = (await s.plan()).plan.changes.filter((c) => c.entity === 'cohort_enrolment');
    expect(disabling.map((c) => [c.action, c.key, c.before?.role, c.after.role])).toEqual([
      ['update', `${DISABLED}/f4500155`, 'student', ''],
      ['update', `${DISABLED}/f4500166`, 'student', ''],
    ]);
    await applied(s);
    // The sync's "remove unwanted roles" query: nothing left for it (a disabled method keeps no role).
    const unwantedRoles = `SELECT ra.id FROM {role_assignments} ra
           JOIN {context} c ON (c.id = ra.contextid AND c.contextlevel = 50)
           JOIN {enrol} e ON (e.id = ra.itemid AND e.enrol = 'cohort')
      LEFT JOIN {user_enrolments} ue ON (ue.enrolid = e.id AND ue.userid = ra.userid AND ue.status = 0)
          WHERE ra.component = 'enrol_cohort' AND (ue.id IS NULL OR e.status <> 0)`;
    expect(await s.t.query(unwantedRoles)).toEqual([]);

    // f4500155 moves to 3EME2: Moodle's member_removed handler (and its sync) unenrol from every method of the
    // cohort, enabled or not.
    await s.writeLdif(
      editEntry(await s.ldif(), 'F4500155', (b) =>
        b.replace(
          'ENTEleveClasses: ENTStructureSIREN=19450001400015,ou=structures,dc=ent,dc=example$3EME1',
          'ENTEleveClasses: ENTStructureSIREN=19450001400015,ou=structures,dc=ent,dc=example$3EME2',
        ),
      ),
    );
    const leaving = (await s.plan()).plan.changes.filter(
      (c) => c.entity === 'cohort_enrolment' && c.key.startsWith('0450001A-3EME1-'),
    );
    expect(leaving.map((c) => [c.action, c.key])).toEqual([
      ['delete', `${DISABLED}/f4500155`],
      ['delete', '0450001A-3EME1-100100/0450001A-3EME1/student/f4500155'],
    ]);
    await applied(s);
    // enrol_cohort_sync's "unenrol as necessary" query, as Moodle 4.5 writes it: what the hourly task would
    // unenrol (unenrolaction 0). Nothing left.
    const toUnenrol = `SELECT ue.*, e.courseid
           FROM {user_enrolments} ue
           JOIN {enrol} e ON (e.id = ue.enrolid AND e.enrol = 'cohort')
      LEFT JOIN {cohort_members} cm ON (cm.cohortid = e.customint1 AND cm.userid = ue.userid)
          WHERE cm.id IS NULL`;
    expect(await s.t.query(toUnenrol)).toEqual([]);
    expect(await s.t.query(unwantedRoles)).toEqual([]);
    const side = await readCourseSide(s.t);
    expect(side.enrolments.filter((l) => l.startsWith('0450001A-3EME1-061300 cohort:'))).toEqual([
      '0450001A-3EME1-061300 cohort:0450001A-3EME1 f4500166 active',
    ]);
    expect(changeList(await s.plan())).toEqual([]);
  });

  it('Moodle set to suspend leavers (enrol_cohort unenrolaction 3): the plan suspends; a "keep" it would undo is refused', async () => {
    const s = await site();
    await applied(s);
    await s.t.execute(
      "UPDATE {config_plugins} SET value = '3' WHERE plugin = 'enrol_cohort' AND name = 'unenrolaction'",
    );
    await s.writeLdif(removeEntry(await s.ldif(), 'F4500144'));
    const plan = await s.plan();
    const enrolments = plan.plan.changes.filter((c) => c.entity === 'cohort_enrolment');
    expect(enrolments.map((c) => `${c.action} ${c.key}`)).toEqual([
      'suspend 0450001A-6EME2-020700/0450001A-6EME2/student/f4500144',
      'suspend 0450001A-6EME2-100100/0450001A-6EME2/student/f4500144',
      'suspend 0450001A-VIE-SCOLAIRE/0450001A-ELV/student/f4500144',
    ]);
    expect(enrolments[0]?.reason).toBe(
      'no longer in the cohort (enrol_cohort unenrolaction 3: suspend and remove roles)',
    );
    await applied(s);
    const side = await readCourseSide(s.t);
    expect(side.enrolments.filter((l) => l.includes(' f4500144 '))).toEqual([
      '0450001A-6EME2-020700 cohort:0450001A-6EME2 f4500144 suspended',
      '0450001A-6EME2-100100 cohort:0450001A-6EME2 f4500144 suspended',
      '0450001A-VIE-SCOLAIRE cohort:0450001A-ELV f4500144 suspended',
    ]);
    expect(side.roles.filter((l) => l.includes(' f4500144'))).toEqual([]);
    expect(changeList(await s.plan())).toEqual([]);

    // The same site's spec, asking to keep leavers' enrolments.
    const spec = await readFile(s.specPath, 'utf8');
    const edited = spec.replace(
      '      schoolLife: { enabled: true }\n  manual:',
      '      schoolLife: { enabled: true }\n    onMemberRemoved: keep\n  manual:',
    );
    expect(edited).not.toBe(spec);
    await writeFile(s.specPath, edited);
    await s.writeLdif(removeEntry(await s.ldif(), 'F4500133'));
    const refused = await s.applyError();
    expect(refused.code).toBe('MOODLE_CONFLICT');
    expect(refused.diagnostics.map((d) => d.message).join('\n')).toContain('would undo it');
  });

  it('a course made by hand with a shortname the rules give: a conflict naming it; without idnumber, adopted', async () => {
    const s = await site();
    // As Moodle would have it: in Category 1 (context 3), with its context and section 0.
    const hand = await s.t.insert('course', {
      category: 1,
      sortorder: 10001,
      fullname: 'Maths (hand)',
      shortname: '0450001A-3EME1-061300',
      idnumber: 'HAND-1',
      format: 'topics',
      cacherev: 1,
    });
    await s.t.execute('UPDATE {course_categories} SET coursecount = coursecount + 1 WHERE id = 1');
    await s.t.insert('course_sections', { course: hand, section: 0, summaryformat: 1, sequence: '', visible: 1 });
    const ctx = await s.t.insert('context', { contextlevel: 50, instanceid: hand, path: '', depth: 3 });
    await s.t.execute('UPDATE {context} SET path = ? WHERE id = ?', [`/1/3/${ctx}`, ctx]);
    await s.t.insert('enrol', { enrol: 'manual', courseid: hand, roleid: 5, sortorder: 0, status: 0 });
    const conflict = await s.applyError();
    expect(conflict.code).toBe('MOODLE_CONFLICT');
    expect(conflict.diagnostics.map((d) => d.message)).toEqual([
      expect.stringMatching(
        /^course "0450001A-3EME1-061300": shortname "0450001A-3EME1-061300" is held by Moodle course id \d+ "0450001A-3EME1-061300" \(idnumber HAND-1\)/,
      ),
    ]);
    await s.t.execute("UPDATE {course} SET idnumber = '' WHERE idnumber = 'HAND-1'");
    const plan = await s.plan();
    const adopt = plan.plan.changes.find((c) => c.entity === 'course' && c.action === 'adopt');
    expect(adopt).toMatchObject({
      key: '0450001A-3EME1-061300',
      before: { fullname: 'Maths (hand)', idnumber: '' },
      after: { fullname: 'Mathématiques 3EME1', idnumber: '0450001A-3EME1-061300' },
    });
    await applied(s);
    const courses = await s.t.query("SELECT id FROM {course} WHERE shortname = '0450001A-3EME1-061300'");
    expect(courses).toHaveLength(1);
    expect(changeList(await s.plan())).toEqual([]);
  });

  it('a hand-made group holding a group idnumber of the rules: a conflict naming it; nothing written', async () => {
    const s = await site();
    await applied(s);
    // A teacher renames the tool's class group away and makes their own with its idnumber… in another course.
    const [course] = await s.t.query("SELECT id FROM {course} WHERE shortname = '0450001A-VIE-SCOLAIRE'");
    await s.t.execute("UPDATE {groups} SET idnumber = 'OLD' WHERE idnumber = '0450001A-6EME1' AND courseid = ?", [
      Number(course?.id),
    ]);
    await s.t.execute(
      "INSERT INTO {groups} (courseid, idnumber, name, timecreated, timemodified) VALUES (?, '0450001A-6EME1', 'Hand 6EME1', 1, 1)",
      [Number(course?.id)],
    );
    const before = await s.written();
    const error = await s.applyError();
    expect(error.code).toBe('MOODLE_CONFLICT');
    expect(error.diagnostics.map((d) => d.message).join('\n')).toMatch(/idnumber 0450001A-6EME1.*not managed/);
    expect(await s.written()).toEqual(before);
  });

  it('bad input: a role that does not exist is an error naming it; a course nobody makes is skipped with the DN', async () => {
    const s = await site({
      spec: {
        edits: [['classSubjectTeacher: { enabled: true }', 'classSubjectTeacher: { enabled: true, role: professeur }']],
      },
    });
    const error = await s.applyError();
    expect(error.code).toBe('MOODLE_CONFLICT');
    expect(error.diagnostics.map((d) => d.message).join('\n')).toContain('"professeur"');
    expect(error.diagnostics[0]?.dn).toBe(personDn('F45001mm'));

    const missing = await s.writeVariant('missing-course', undefined, {
      edits: [
        [
          'classSubject: { enabled: true }\n    schoolLife: { enabled: true }',
          'classSubject: { enabled: false }\n    schoolLife: { enabled: true }',
        ],
      ],
    });
    const planned = await s.plan({}, missing);
    const skipped = planned.plan.skipped.filter((x) => x.entity === 'enrolment');
    expect(skipped).toHaveLength(8);
    expect(skipped[0]?.reason).toMatch(
      /^enrolment "0450001A-[36]EME[12]-\d+\/f45001\w+": its course "0450001A-[36]EME[12]-\d+" is neither produced by the rules nor in Moodle; it is left out$/,
    );
    expect(skipped.every((x) => x.dn.startsWith('uid=F45001'))).toBe(true);
    expect(changeList(planned).some((c) => c.includes('0450001A-3EME1-061300'))).toBe(false);
  });
});
