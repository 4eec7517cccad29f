/**
 * The course rules of the SDET preset as the example collège turns them on, through the pure rules only:
 * courses per class and subject, the school-life course, their groups and groupings, cohort-sync methods and
 * the enrolments they imply, manual teacher enrolments, the headteacher's role; and what the rules leave out,
 * reported (two courses with one shortname, a method whose cohort no rule makes, objects naming nothing).
 */
import { describe, expect, it } from 'vitest';
import { UserError } from '../../src/errors.js';
import type { EntityType } from '../../src/model/change.js';
import type { CurrentIndex } from '../../src/model/current.js';
import type { DesiredObject } from '../../src/model/desired.js';
import { dropDanglingReferences } from '../../src/plan/references.js';
import { collegeDesired, keysOf } from '../helpers/college-desired.js';

const CLASS_SUBJECTS = [
  '0450001A-3EME1-061300',
  '0450001A-3EME1-100100',
  '0450001A-3EME2-061300',
  '0450001A-3EME2-100100',
  '0450001A-6EME1-020700',
  '0450001A-6EME1-100100',
  '0450001A-6EME2-020700',
  '0450001A-6EME2-100100',
];

describe('course rules of the SDET preset (example collège)', () => {
  it('makes one course per class and subject taught, plus the school-life course, named through subjects.csv', async () => {
    const state = await collegeDesired();
    expect(state.skipped).toEqual([]);
    expect(keysOf(state, 'course')).toEqual([...CLASS_SUBJECTS, '0450001A-VIE-SCOLAIRE']);
    const maths = state.objects.get('course')?.find((c) => c.key === '0450001A-3EME1-061300');
    expect(maths?.values).toEqual({
      idnumber: '0450001A-3EME1-061300',
      shortname: '0450001A-3EME1-061300',
      fullname: 'Mathématiques 3EME1',
      format: 'topics',
      numsections: 4,
      visible: 1,
    });
    expect(maths?.refs).toEqual({ category: { entity: 'category', key: '0450001A' } });
  });

  it('enrols each class cohort in its courses into the class group, and the school-life course gets all students', async () => {
    const state = await collegeDesired();
    expect(keysOf(state, 'cohort_enrol')).toEqual([
      ...CLASS_SUBJECTS.map((c) => `${c}/${c.slice(0, -7)}/student`),
      '0450001A-VIE-SCOLAIRE/0450001A-ELV/student',
    ]);
    const method = state.objects.get('cohort_enrol')?.[0];
    expect(method?.values).toEqual({
      course: '0450001A-3EME1-061300',
      cohort: '0450001A-3EME1',
      role: 'student',
      group: '0450001A-3EME1-061300/0450001A-3EME1',
    });
    // What Moodle's sync would enrol: the members of each method's cohort, nobody else.
    const enrolled = keysOf(state, 'cohort_enrolment');
    expect(enrolled.filter((k) => k.startsWith('0450001A-3EME1-061300/'))).toEqual([
      '0450001A-3EME1-061300/0450001A-3EME1/student/f4500155',
      '0450001A-3EME1-061300/0450001A-3EME1/student/f4500166',
    ]);
    const students = keysOf(state, 'cohort_member').filter((k) => k.startsWith('0450001A-ELV/'));
    expect(enrolled.filter((k) => k.startsWith('0450001A-VIE-SCOLAIRE/'))).toHaveLength(students.length);
    expect(enrolled).toHaveLength(8 * 2 + students.length);
  });

  it('enrols teachers by hand in what they teach, and makes the headteacher manager of the category', async () => {
    const state = await collegeDesired();
    const enrolments = state.objects.get('enrolment') ?? [];
    expect(enrolments.map((e) => e.key)).toHaveLength(8);
    expect(enrolments.every((e) => e.values.role === 'editingteacher')).toBe(true);
    expect(enrolments.find((e) => e.key === '0450001A-3EME1-061300/f45001mm')?.refs).toEqual({
      course: { entity: 'course', key: '0450001A-3EME1-061300' },
      user: { entity: 'user', key: 'f45001mm' },
    });
    expect(keysOf(state, 'role_assignment').filter((k) => !k.startsWith('user:'))).toEqual([
      'category:0450001A/manager/f45001uu',
    ]);
  });

  it('groups students of the school-life course by class and group, in two groupings', async () => {
    const state = await collegeDesired();
    const school = keysOf(state, 'group').filter((k) => k.startsWith('0450001A-VIE-SCOLAIRE/'));
    expect(school).toEqual([
      '0450001A-VIE-SCOLAIRE/0450001A-3EME1',
      '0450001A-VIE-SCOLAIRE/0450001A-3EME2',
      '0450001A-VIE-SCOLAIRE/0450001A-6EME1',
      '0450001A-VIE-SCOLAIRE/0450001A-6EME2',
      '0450001A-VIE-SCOLAIRE/0450001A-G-6LAT',
    ]);
    expect(keysOf(state, 'grouping')).toEqual([
      '0450001A-VIE-SCOLAIRE/0450001A-CLASSES',
      '0450001A-VIE-SCOLAIRE/0450001A-GROUPES',
    ]);
    expect(keysOf(state, 'grouping_group')).toContain('0450001A-VIE-SCOLAIRE/0450001A-GROUPES/0450001A-G-6LAT');
    // Class groups of the subject courses have no members of their own: the cohort sync fills them.
    const members = keysOf(state, 'group_member');
    expect(members.every((k) => k.startsWith('0450001A-VIE-SCOLAIRE/'))).toBe(true);
    expect(members.filter((k) => k.includes('/0450001A-G-6LAT/'))).toEqual([
      '0450001A-VIE-SCOLAIRE/0450001A-G-6LAT/f4500122',
      '0450001A-VIE-SCOLAIRE/0450001A-G-6LAT/f4500133',
    ]);
  });

  it('leaves out, reported, two courses given one shortname', async () => {
    const state = await collegeDesired((spec) =>
      spec.replace(
        'classSubject: { enabled: true }\n    schoolLife: { enabled: true }\ngroups:',
        "classSubject: { enabled: true, shortname: '{$uai}-{$class|trim}' }\n    schoolLife: { enabled: true }\ngroups:",
      ),
    );
    expect(keysOf(state, 'course')).toEqual(['0450001A-VIE-SCOLAIRE']);
    const reasons = state.skipped.filter((s) => s.entity === 'course').map((s) => s.reason);
    expect(reasons).toHaveLength(8);
    expect(reasons[0]).toMatch(/are given the same shortname "0450001A-[36]EME[12]" \(unique in Moodle\)/);
  });

  it('leaves out, reported, a method whose cohort no rule produces', async () => {
    const state = await collegeDesired((spec) =>
      spec.replace(
        'schoolLife: { enabled: true }\n  manual:',
        "schoolLife: { enabled: true, cohort: 'NO-SUCH-COHORT' }\n  manual:",
      ),
    );
    expect(keysOf(state, 'cohort_enrol')).not.toContain('0450001A-VIE-SCOLAIRE/NO-SUCH-COHORT/student');
    expect(state.skipped).toEqual([
      expect.objectContaining({
        entity: 'cohort_enrol',
        kind: 'data',
        reason: expect.stringContaining('cohort "NO-SUCH-COHORT" of the enrolment method'),
      }),
    ]);
  });

  it('refuses a course-level role assignment without a target, at its spec path', async () => {
    const error = await collegeDesired((spec) =>
      spec.replace(
        'headteacher: { enabled: true }',
        'headteacher: { enabled: true }\n    boss: { context: course, role: manager }',
      ),
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UserError);
    expect((error as UserError).diagnostics).toEqual([
      expect.objectContaining({
        path: '/roleAssignments/rules/boss/target',
        message: 'a course role assignment needs a target (the course it is held in)',
      }),
    ]);
  });
});

describe('objects naming objects that exist nowhere', () => {
  const object = (key: string, refs: DesiredObject['refs']): DesiredObject => ({
    key,
    dn: `uid=${key},ou=people`,
    values: {},
    refs,
    sourceDigest: '',
  });
  const index = (present: Partial<Record<EntityType, string[]>>): CurrentIndex => ({
    id: (entity, key) => ((present[entity] ?? []).includes(key) ? 1 : undefined),
    key: () => undefined,
    ids: () => [],
  });

  it('are left out with their DN and reason, and take along what names them', () => {
    const desired = new Map<EntityType, DesiredObject[]>([
      ['user', [object('u1', undefined)]],
      ['course', []],
      ['group', [object('MISSING/G', { course: { entity: 'course', key: 'MISSING' } })]],
      [
        'group_member',
        [object('MISSING/G/u1', { group: { entity: 'group', key: 'MISSING/G' }, user: { entity: 'user', key: 'u1' } })],
      ],
      [
        'enrolment',
        [
          object('HAND/u1', { course: { entity: 'course', key: 'HAND' }, user: { entity: 'user', key: 'u1' } }),
          object('HAND/ghost', { course: { entity: 'course', key: 'HAND' }, user: { entity: 'user', key: 'ghost' } }),
        ],
      ],
    ]);
    const { desired: kept, skipped } = dropDanglingReferences(desired, index({ course: ['HAND'] }));
    expect(kept.get('group')).toEqual([]);
    expect(kept.get('group_member')).toEqual([]);
    expect(kept.get('enrolment')?.map((o) => o.key)).toEqual(['HAND/u1']);
    expect(skipped.map((s) => [s.entity, s.dn])).toEqual([
      ['group', 'uid=MISSING/G,ou=people'],
      ['enrolment', 'uid=HAND/ghost,ou=people'],
      ['group_member', 'uid=MISSING/G/u1,ou=people'],
    ]);
    expect(skipped[0]?.reason).toBe(
      'group "MISSING/G": its course "MISSING" is neither produced by the rules nor in Moodle; it is left out',
    );
  });
});
