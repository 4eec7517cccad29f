import { describe, expect, it } from 'vitest';
import type { CourseOptions, CourseRow } from '../../src/entities/course.js';
import { courseEntity, diffCourses } from '../../src/entities/course.js';
import type { DiffInput, Ownership } from '../../src/entities/entity.js';
import type { EntityType, Fields } from '../../src/model/change.js';
import { addressOf } from '../../src/model/change.js';
import type { CurrentIndex } from '../../src/model/current.js';
import type { DesiredObject } from '../../src/model/desired.js';
import type { StateObject } from '../../src/model/state.js';
import type { CourseSite } from '../../src/moodle/course-defaults.js';
import {
  defaultEnrolInstances,
  endDateOf,
  formatOptions,
  randomPassword,
  unknownDefaultEnrol,
} from '../../src/moodle/course-defaults.js';

// ---- builders ---------------------------------------------------------------------------------------------

/** The fresh install's settings (test/fixtures/moodle/4.5 config_plugins). */
const SITE: CourseSite = {
  enabledEnrol: ['manual', 'guest', 'self', 'cohort'],
  pluginConfig: new Map([
    ['enrol_manual/defaultenrol', '1'],
    ['enrol_manual/status', '0'],
    ['enrol_manual/roleid', '5'],
    ['enrol_manual/enrolperiod', '0'],
    ['enrol_manual/expirynotify', '0'],
    ['enrol_manual/expirythreshold', '86400'],
    ['enrol_manual/sendcoursewelcomemessage', '1'],
    ['enrol_guest/defaultenrol', '1'],
    ['enrol_guest/status', '1'],
    ['enrol_guest/requirepassword', '0'],
    ['enrol_self/defaultenrol', '1'],
    ['enrol_self/status', '1'],
    ['enrol_self/roleid', '5'],
    ['enrol_self/requirepassword', '0'],
    ['enrol_self/groupkey', '0'],
    ['enrol_self/newenrols', '1'],
    ['enrol_self/enrolperiod', '0'],
    ['enrol_self/expirynotify', '0'],
    ['enrol_self/expirythreshold', '86400'],
    ['enrol_self/longtimenosee', '0'],
    ['enrol_self/maxenrolled', '0'],
    ['enrol_self/sendcoursewelcomemessage', '1'],
    ['enrol_cohort/roleid', '5'],
    ['moodlecourse/hiddensections', '1'],
    ['moodlecourse/coursedisplay', '0'],
    ['moodlecourse/maxsections', '52'],
  ]),
};

const MATCHING: CourseOptions = { adopt: 'matching', onRemoved: 'keep', site: SITE };
const NEVER: CourseOptions = { adopt: 'never', onRemoved: 'keep', site: SITE };
const HIDE: CourseOptions = { adopt: 'matching', onRemoved: 'hide', site: SITE };

function indexOver(ids: Partial<Record<EntityType, Record<string, number>>>): CurrentIndex {
  return {
    id: (entity, key) => ids[entity]?.[key],
    key: (entity, id) => Object.entries(ids[entity] ?? {}).find(([, v]) => v === id)?.[0],
    ids: (entity) => Object.values(ids[entity] ?? {}),
  };
}

const CATEGORIES = indexOver({ category: { '0750001A-classes': 3, '0750001A': 2 } });
const nobody: Ownership = () => false;

const SITE_COURSE: CourseRow = {
  id: 1,
  category: 0,
  sortorder: 1,
  fullname: 'Test site',
  shortname: 'test',
  idnumber: '',
  format: 'site',
  visible: 1,
};

function course(id: number, idnumber: string, shortname: string, over: Partial<CourseRow> = {}): CourseRow {
  return {
    id,
    category: 3,
    sortorder: 30000 + id,
    fullname: `Course ${shortname}`,
    shortname,
    idnumber,
    format: 'topics',
    visible: 1,
    ...over,
  };
}

function want(key: string, shortname: string, over: Partial<Record<string, string | number>> = {}): DesiredObject {
  return {
    key,
    dn: `cn=${key},ou=courses,dc=ent,dc=example`,
    values: {
      idnumber: key,
      shortname,
      fullname: `Course ${shortname}`,
      format: 'topics',
      numsections: 4,
      visible: 1,
      ...over,
    },
    refs: { category: { entity: 'category', key: String(over.category ?? '0750001A-classes') } },
    sourceDigest: `sha256:${key}`,
  };
}

function managed(id: number, key: string): StateObject {
  return { address: addressOf('course', key), type: 'course', id, key, source_digest: 'sha256:old', values: {} };
}

function input(over: Partial<DiffInput<CourseRow>>): DiffInput<CourseRow> {
  return {
    desired: [],
    current: [SITE_COURSE],
    managed: [],
    index: CATEGORIES,
    owned: nobody,
    wanted: () => true,
    products: {},
    ...over,
  };
}

const summary = (changes: readonly { action: string; key: string; moodleId: number | null; after: Fields }[]) =>
  changes.map((c) => [c.action, c.key, c.moodleId, c.after]);

// ---- diff -------------------------------------------------------------------------------------------------

describe('course diff', () => {
  it('creates a course missing from Moodle with its values and category ref', () => {
    const maths = want('0750001A-MATHS-2A', 'MATHS-2A');
    const result = diffCourses(input({ desired: [maths] }), MATCHING);
    expect(result.conflicts).toEqual([]);
    expect(result.warnings).toEqual([]);
    expect(result.changes).toEqual([
      {
        entity: 'course',
        address: 'course["0750001A-MATHS-2A"]',
        action: 'create',
        key: '0750001A-MATHS-2A',
        moodleId: null,
        dn: maths.dn,
        before: null,
        after: maths.values,
        refs: { category: { entity: 'category', key: '0750001A-classes' } },
        sourceDigest: 'sha256:0750001A-MATHS-2A',
        reason: 'in the directory, not in Moodle',
      },
    ]);
  });

  it('creates into a category the same plan creates; refuses one nobody produces', () => {
    const owned: Ownership = (entity, key) => entity === 'category' && key === 'NEW';
    const ok = diffCourses(input({ desired: [want('A', 'A', { category: 'NEW' })], owned }), MATCHING);
    expect(summary(ok.changes)).toEqual([['create', 'A', null, expect.any(Object)]]);
    const ko = diffCourses(input({ desired: [want('A', 'A', { category: 'NOWHERE' })] }), MATCHING);
    expect(ko.changes).toEqual([]);
    expect(ko.conflicts).toEqual([
      {
        dn: 'cn=A,ou=courses,dc=ent,dc=example',
        message: 'the category of course "A", "NOWHERE", is neither produced by the rules nor in Moodle',
      },
    ]);
  });

  it('refuses formats other than topics and weeks, and section counts Moodle does not offer', () => {
    const result = diffCourses(
      input({
        desired: [
          want('A', 'A', { format: 'singleactivity' }),
          want('B', 'B', { format: 'weeks', numsections: 10 }),
          want('C', 'C', { numsections: 53 }),
          want('D', 'D', { numsections: -1 }),
        ],
      }),
      MATCHING,
    );
    expect(summary(result.changes).map((c) => c[1])).toEqual(['B']);
    expect(result.conflicts.map((c) => c.message)).toEqual([
      'format singleactivity: ldap2moodle creates topics and weeks courses only',
      'numsections 53 of course "C" is not a number of sections from 0 to 52 (moodlecourse/maxsections)',
      'numsections -1 of course "D" is not a number of sections from 0 to 52 (moodlecourse/maxsections)',
    ]);
  });

  it('updates a managed course whose fullname or shortname differs, nothing else', () => {
    const row = course(7, 'K', 'OLD', { fullname: 'Old name', format: 'weeks', visible: 0 });
    const result = diffCourses(
      input({ desired: [want('K', 'NEW')], current: [SITE_COURSE, row], managed: [managed(7, 'K')] }),
      MATCHING,
    );
    expect(result.conflicts).toEqual([]);
    expect(result.changes.map((c) => [c.action, c.moodleId, c.before, c.after])).toEqual([
      ['update', 7, { fullname: 'Old name', shortname: 'OLD' }, { fullname: 'Course NEW', shortname: 'NEW' }],
    ]);
    const same = diffCourses(
      input({ desired: [want('K', 'NEW')], current: [course(7, 'K', 'NEW')], managed: [managed(7, 'K')] }),
      MATCHING,
    );
    expect(same.changes).toEqual([]);
  });

  it('adopts an unmanaged course by idnumber (adopt: matching), refuses it otherwise', () => {
    const current = [SITE_COURSE, course(7, 'K', 'K')];
    const adopted = diffCourses(input({ desired: [want('K', 'K')], current }), MATCHING);
    expect(adopted.changes.map((c) => [c.action, c.moodleId, c.after, c.reason])).toEqual([
      ['adopt', 7, {}, 'existing unmanaged course taken over by idnumber (courses.adopt: matching)'],
    ]);
    const refused = diffCourses(input({ desired: [want('K', 'K')], current }), NEVER);
    expect(refused.changes).toEqual([]);
    expect(refused.conflicts.map((c) => c.message)).toEqual([
      'Moodle course id 7 "K" (idnumber K) exists and is not managed by ldap2moodle; set courses.adopt: matching to take it over',
    ]);
  });

  it('adopts a course without idnumber holding the shortname and writes its idnumber', () => {
    const current = [SITE_COURSE, course(9, '', 'MATHS-2A', { fullname: 'Maths' })];
    const result = diffCourses(input({ desired: [want('0750001A-MATHS-2A', 'MATHS-2A')], current }), MATCHING);
    expect(result.conflicts).toEqual([]);
    expect(result.changes.map((c) => [c.action, c.moodleId, c.before, c.after, c.reason])).toEqual([
      [
        'adopt',
        9,
        { fullname: 'Maths', idnumber: '' },
        { fullname: 'Course MATHS-2A', idnumber: '0750001A-MATHS-2A' },
        'existing unmanaged course taken over by shortname, idnumber written (courses.adopt: matching)',
      ],
    ]);
    // adopt: never → the shortname is taken.
    const never = diffCourses(input({ desired: [want('0750001A-MATHS-2A', 'MATHS-2A')], current }), NEVER);
    expect(never.changes).toEqual([]);
    expect(never.conflicts.map((c) => c.message)).toEqual([
      'course "0750001A-MATHS-2A": shortname "MATHS-2A" is held by Moodle course id 9 "MATHS-2A" (no idnumber); Moodle\'s shortnames are unique',
    ]);
  });

  it('a shortname held by another course (another idnumber, the site course, another case) is a conflict naming both', () => {
    const current = [SITE_COURSE, course(7, 'K', 'K'), course(8, 'OTHER', 'maths-2a')];
    const result = diffCourses(
      input({
        desired: [want('NEW', 'MATHS-2A'), want('SITE', 'TEST'), want('K', 'MATHS-2A')],
        current,
        managed: [managed(7, 'K')],
      }),
      MATCHING,
    );
    expect(result.changes).toEqual([]);
    expect(result.conflicts.map((c) => c.message)).toEqual([
      'course "NEW": shortname "MATHS-2A" is held by Moodle course id 8 "maths-2a" (idnumber OTHER); Moodle\'s shortnames are unique',
      'course "SITE": shortname "TEST" is held by Moodle course id 1 "test" (no idnumber); Moodle\'s shortnames are unique',
      'courses "NEW" and "K" both ask for shortname "MATHS-2A"; Moodle\'s shortnames are unique',
    ]);
    // A managed course renamed onto another's shortname.
    const rename = diffCourses(
      input({ desired: [want('K', 'MATHS-2A')], current, managed: [managed(7, 'K')] }),
      MATCHING,
    );
    expect(rename.conflicts.map((c) => c.message)).toEqual([
      'Moodle course id 7 "K" (idnumber K) cannot take shortname "MATHS-2A": it is held by Moodle course id 8 "maths-2a" (idnumber OTHER)',
    ]);
  });

  it('an idnumber held by several courses is a conflict', () => {
    const current = [course(7, 'K', 'A'), course(8, 'K', 'B')];
    const result = diffCourses(input({ desired: [want('K', 'A')], current, managed: [managed(7, 'K')] }), HIDE);
    expect(result.changes).toEqual([]);
    expect(result.conflicts.map((c) => c.message)).toEqual([
      'idnumber "K" is held by several Moodle courses (Moodle course id 7 "A" (idnumber K), Moodle course id 8 "B" (idnumber K)); make it unique in Moodle first',
    ]);
  });

  it('a course in another category than the rules say: a warning, no change', () => {
    const row = course(7, 'K', 'K', { category: 2 });
    const result = diffCourses(
      input({ desired: [want('K', 'K')], current: [row], managed: [managed(7, 'K')] }),
      MATCHING,
    );
    expect(result.changes).toEqual([]);
    expect(result.conflicts).toEqual([]);
    expect(result.warnings).toEqual([
      'course["K"]: Moodle course id 7 "K" (idnumber K) is in category "0750001A", the rules put it in category "0750001A-classes"; courses are not moved',
    ]);
  });

  it('a managed course no longer desired: kept, or hidden (once); never deleted', () => {
    const current = [course(7, 'K', 'K'), course(8, 'H', 'H', { visible: 0 })];
    const state = [managed(7, 'K'), managed(8, 'H'), managed(9, 'GONE')];
    const kept = diffCourses(input({ current, managed: state }), MATCHING);
    expect(kept.changes).toEqual([]);
    expect(kept.warnings).toEqual([
      'course["GONE"]: Moodle course id 9 was deleted outside ldap2moodle; it will be forgotten',
    ]);
    const hidden = diffCourses(input({ current, managed: state }), HIDE);
    expect(hidden.changes).toEqual([
      {
        entity: 'course',
        address: 'course["K"]',
        key: 'K',
        action: 'suspend',
        moodleId: 7,
        dn: null,
        sourceDigest: null,
        before: { visible: 1 },
        after: { visible: 0 },
        reason: 'no longer in the directory (courses.onRemoved: hide)',
      },
    ]);
  });

  it('a course the tool hid is shown again when the directory gives it back; one a teacher hid stays hidden', () => {
    const hiddenRow = course(7, 'K', 'K', { visible: 0 });
    const state = [managed(7, 'K')];
    const byTool = state.map((o) => ({ ...o, suspended_by_tool: true }));
    const back = diffCourses(input({ desired: [want('K', 'K')], current: [hiddenRow], managed: byTool }), HIDE);
    expect(back.changes.map((c) => [c.action, c.before, c.after])).toEqual([
      ['unsuspend', { visible: 0 }, { visible: 1 }],
    ]);
    const byTeacher = diffCourses(input({ desired: [want('K', 'K')], current: [hiddenRow], managed: state }), HIDE);
    expect(byTeacher.changes).toEqual([]);
  });

  it('a default-enrol plugin it cannot write is a conflict, only when courses are created', () => {
    const site: CourseSite = {
      enabledEnrol: [...SITE.enabledEnrol, 'fee'],
      pluginConfig: new Map([...SITE.pluginConfig, ['enrol_fee/defaultenrol', '1']]),
    };
    const options = { ...MATCHING, site };
    const result = diffCourses(input({ desired: [want('A', 'A'), want('B', 'B')] }), options);
    expect(result.conflicts.map((c) => c.message)).toEqual([
      'course["A"] (and 1 more): enrol_fee/defaultenrol is set, so Moodle adds a fee enrolment method to every new course, which ldap2moodle cannot write (it knows manual, guest and self); set it to 0 or disable the plugin',
    ]);
    const noCreate = diffCourses(
      input({ desired: [want('K', 'K')], current: [course(7, 'K', 'K')], managed: [managed(7, 'K')] }),
      options,
    );
    expect(noCreate.conflicts).toEqual([]);
  });

  it('changes are sorted by key; the site course has no key', () => {
    const entity = courseEntity(MATCHING);
    expect(entity.identify(SITE_COURSE, { facts: undefined, index: indexOver({}) })).toBeNull();
    expect(entity.identify(course(7, '', 'X'), { facts: undefined, index: indexOver({}) })).toBeNull();
    expect(entity.identify(course(7, 'K', 'X'), { facts: undefined, index: indexOver({}) })).toEqual({
      id: 7,
      key: 'K',
    });
    const result = diffCourses(input({ desired: [want('B', 'B'), want('A', 'A')] }), MATCHING);
    expect(result.changes.map((c) => c.key)).toEqual(['A', 'B']);
  });
});

// ---- what a new course gets -------------------------------------------------------------------------------

describe('course defaults', () => {
  it('format options: topics and weeks, values from moodlecourse or the reference install', () => {
    expect(formatOptions('topics', SITE)).toEqual([
      ['hiddensections', '1'],
      ['coursedisplay', '0'],
    ]);
    const other: CourseSite = { ...SITE, pluginConfig: new Map([['moodlecourse/hiddensections', '0']]) };
    expect(formatOptions('weeks', other)).toEqual([
      ['hiddensections', '0'],
      ['coursedisplay', '0'],
      ['automaticenddate', '1'],
    ]);
    expect([endDateOf('topics', 4), endDateOf('weeks', 4), endDateOf('weeks', 0)]).toEqual([0, 4 * 604800, 604800]);
  });

  it('default enrolment instances: manual, guest, self as Moodle adds them (reference §12)', () => {
    expect(defaultEnrolInstances(SITE)).toEqual([
      {
        enrol: 'manual',
        status: 0,
        enrolperiod: 0,
        expirynotify: 0,
        notifyall: 0,
        expirythreshold: 86400,
        password: null,
        roleid: 5,
        customint1: 1,
        customint2: null,
        customint3: null,
        customint4: null,
        customint5: null,
        customint6: null,
      },
      {
        enrol: 'guest',
        status: 1,
        enrolperiod: 0,
        expirynotify: 0,
        notifyall: 0,
        expirythreshold: 0,
        password: '',
        roleid: 0,
        customint1: null,
        customint2: null,
        customint3: null,
        customint4: null,
        customint5: null,
        customint6: null,
      },
      {
        enrol: 'self',
        status: 1,
        enrolperiod: 0,
        expirynotify: 0,
        notifyall: 0,
        expirythreshold: 86400,
        password: null,
        roleid: 5,
        customint1: 0,
        customint2: 0,
        customint3: 0,
        customint4: 1,
        customint5: 0,
        customint6: 1,
      },
    ]);
  });

  it('default enrolment follows the settings: order, defaultenrol, expirynotify 2, required passwords', () => {
    const site: CourseSite = {
      enabledEnrol: ['self', 'cohort', 'manual', 'guest'],
      pluginConfig: new Map([
        ...SITE.pluginConfig,
        ['enrol_guest/defaultenrol', '0'],
        ['enrol_self/expirynotify', '2'],
        ['enrol_self/requirepassword', '1'],
        ['enrol_cohort/defaultenrol', ''],
      ]),
    };
    const instances = defaultEnrolInstances(site, () => 'secret');
    expect(instances.map((i) => [i.enrol, i.expirynotify, i.notifyall, i.password])).toEqual([
      ['self', 1, 1, 'secret'],
      ['manual', 0, 0, null],
    ]);
    expect(unknownDefaultEnrol(site)).toEqual([]);
    expect(unknownDefaultEnrol({ ...site, pluginConfig: new Map([['enrol_cohort/defaultenrol', '1']]) })).toEqual([
      'cohort',
    ]);
    const password = randomPassword();
    expect(password).toHaveLength(20);
    expect(password).toMatch(/[a-z]/);
    expect(password).toMatch(/[A-Z]/);
    expect(password).toMatch(/[0-9]/);
    expect(randomPassword()).not.toBe(password);
  });
});
