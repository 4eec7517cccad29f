/**
 * The Moodle integrity checker (test/helpers/integrity.ts) on every target: nothing on the fresh dump, the
 * exact message for each invariant broken by hand, and nothing after the tool applied the example collège.
 * Each breakage runs in a transaction rolled back afterwards, so the cases share one fresh Moodle per target.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applySpec } from '../../src/index.js';
import { loadSpec } from '../../src/spec/load.js';
import { checkIntegrity, type IntegrityCheck } from '../helpers/integrity.js';
import { COURSE_CHECKS } from '../helpers/integrity-courses.js';
import { createMoodleDatabase, dropStaleTestDatabases } from '../helpers/mariadb.js';
import { createPostgresMoodle } from '../helpers/postgres.js';
import { COLLEGE_LDIF, collegeSpec, workspace } from '../helpers/spec-files.js';
import { createTarget, type SqlParam, TARGETS, type Target, type TargetName } from '../helpers/targets.js';

beforeAll(async () => {
  if (TARGETS.includes('mariadb')) await dropStaleTestDatabases();
});

const MISSING = 999999;
const NOW = 1_800_000_000;

/** Inserts a context whose path is `parentPath/<its id>`; returns its id. */
async function addContext(t: Target, level: number, instanceid: number, parentPath: string, depth: number) {
  const id = await t.insert('context', { contextlevel: level, instanceid, path: null, depth });
  await t.execute('UPDATE {context} SET path = ? WHERE id = ?', [`${parentPath}/${id}`, id]);
  return id;
}

async function addUser(t: Target, username: string, extra: Record<string, SqlParam> = {}, context = true) {
  const id = await t.insert('user', { auth: 'manual', confirmed: 1, mnethostid: 1, username, ...extra });
  if (context) await addContext(t, 30, id, '/1', 2);
  return id;
}

/** A top-level category row, without its context; `path`/`depth` as given, or right. */
async function addCategory(t: Target, row: Record<string, SqlParam> = {}) {
  const id = await t.insert('course_categories', { name: 'C', parent: 0, depth: 1, path: '', ...row });
  if (row.path === undefined) await t.execute('UPDATE {course_categories} SET path = ? WHERE id = ?', [`/${id}`, id]);
  return id;
}

/** A course in Category 1 (context 3), its count kept right. */
async function addCourse(t: Target, shortname: string) {
  const id = await t.insert('course', { category: 1, fullname: shortname, shortname, format: 'topics' });
  await t.execute('UPDATE {course_categories} SET coursecount = coursecount + 1 WHERE id = 1');
  await addContext(t, 50, id, '/1/3', 3);
  return id;
}

const cohort = (t: Target, contextid = 1) =>
  t.insert('cohort', { contextid, name: 'K', descriptionformat: 1, timecreated: NOW, timemodified: NOW });
const cohortEnrol = (t: Target, courseid: number, customint1: number, customint2 = 0) =>
  t.insert('enrol', { enrol: 'cohort', courseid, roleid: 5, customint1, customint2 });
const group = (t: Target, courseid: number) => t.insert('groups', { courseid, name: `G${courseid}` });

interface Breakage {
  readonly name: string;
  /** Breaks the site; returns the exact problems expected. */
  readonly run: (t: Target) => Promise<string[]>;
  /** Also run the 'moodle-values' check (the other breakages build rows with the fewest columns). */
  readonly values?: boolean;
}

/**
 * A row of `table` whose `column` points at nothing in `target` (the rest valid); the other rows it needs are
 * made first.
 */
type Orphan = readonly [string, string, string, (t: Target) => Promise<Record<string, SqlParam>>];
const ORPHANS: readonly Orphan[] = [
  [
    'cohort',
    'contextid',
    'context',
    async () => ({ name: 'K', descriptionformat: 1, timecreated: NOW, timemodified: NOW }),
  ],
  ['cohort_members', 'cohortid', 'cohort', async () => ({ userid: 2 })],
  ['cohort_members', 'userid', 'user', async (t) => ({ cohortid: await cohort(t) })],
  [
    'user_info_field',
    'categoryid',
    'user_info_category',
    async () => ({ shortname: 'f', name: 'F', datatype: 'text' }),
  ],
  ['user_info_data', 'userid', 'user', async (t) => ({ data: '', fieldid: await profileField(t) })],
  ['user_info_data', 'fieldid', 'user_info_field', async () => ({ data: '', userid: 2 })],
  ['role_assignments', 'roleid', 'role', async () => ({ contextid: 1, userid: 2 })],
  ['role_assignments', 'contextid', 'context', async () => ({ roleid: 5, userid: 2 })],
  ['role_assignments', 'userid', 'user', async () => ({ roleid: 5, contextid: 1 })],
  ['enrol', 'courseid', 'course', async () => ({ enrol: 'manual' })],
  ['user_enrolments', 'enrolid', 'enrol', async () => ({ userid: 2 })],
  [
    'user_enrolments',
    'userid',
    'user',
    async (t) => ({ enrolid: await t.insert('enrol', { enrol: 'manual', courseid: 1 }) }),
  ],
  ['groups', 'courseid', 'course', async () => ({ name: 'G' })],
  ['groups_members', 'groupid', 'groups', async () => ({ userid: 2 })],
  ['groups_members', 'userid', 'user', async (t) => ({ groupid: await group(t, 1) })],
  ['groupings', 'courseid', 'course', async () => ({ name: 'GG' })],
  ['groupings_groups', 'groupingid', 'groupings', async (t) => ({ groupid: await group(t, 1) })],
  [
    'groupings_groups',
    'groupid',
    'groups',
    async (t) => ({ groupingid: await t.insert('groupings', { courseid: 1, name: 'GG' }) }),
  ],
];

async function profileField(t: Target): Promise<number> {
  const categoryid = await t.insert('user_info_category', { name: 'Other fields', sortorder: 1 });
  return t.insert('user_info_field', { shortname: 'uai', name: 'UAI', datatype: 'text', categoryid });
}

const BREAKAGES: readonly Breakage[] = [
  {
    name: 'a user context whose path is not its parent’s',
    run: async (t) => {
      await t.execute("UPDATE {context} SET path = '/1/9/5' WHERE id = 5");
      return ['context 5 (contextlevel 30, instanceid 2): path "/1/9/5", expected "/1/5"'];
    },
  },
  {
    name: 'a wrong depth',
    run: async (t) => {
      await t.execute('UPDATE {context} SET depth = 3 WHERE id = 4');
      return ['context 4 (contextlevel 30, instanceid 1): depth 3, expected 2'];
    },
  },
  {
    name: 'a sub-category context hung under the system instead of its parent category',
    run: async (t) => {
      const cat = await t.insert('course_categories', { name: 'Sub', parent: 1, depth: 2, path: '' });
      await t.execute('UPDATE {course_categories} SET path = ? WHERE id = ?', [`/1/${cat}`, cat]);
      const ctx = await addContext(t, 40, cat, '/1', 2);
      return [
        `context ${ctx} (contextlevel 40, instanceid ${cat}): path "/1/${ctx}", expected "/1/3/${ctx}"`,
        `context ${ctx} (contextlevel 40, instanceid ${cat}): depth 2, expected 3`,
      ];
    },
  },
  {
    name: 'a course context not under its category’s',
    run: async (t) => {
      const course = await t.insert('course', { category: 1, fullname: 'M', shortname: 'M', format: 'topics' });
      await t.execute('UPDATE {course_categories} SET coursecount = 1 WHERE id = 1');
      const ctx = await addContext(t, 50, course, '/1', 2);
      return [
        `context ${ctx} (contextlevel 50, instanceid ${course}): path "/1/${ctx}", expected "/1/3/${ctx}"`,
        `context ${ctx} (contextlevel 50, instanceid ${course}): depth 2, expected 3`,
      ];
    },
  },
  {
    name: 'a module context whose depth disagrees with the parent its path names',
    run: async (t) => {
      const ctx = await addContext(t, 70, 5, '/1/2', 2);
      return [`context ${ctx} (contextlevel 70, instanceid 5): depth 2, expected 3`];
    },
  },
  ...(
    [
      [30, 'user'],
      [40, 'course_categories'],
      [50, 'course'],
      [80, 'block_instances'],
    ] as const
  ).map(
    ([level, table]): Breakage => ({
      name: `a context of a missing ${table} row`,
      run: async (t) => {
        const ctx = await addContext(t, level, MISSING, '/1', 2);
        return [
          `context ${ctx} (contextlevel ${level}, instanceid ${MISSING}): instanceid ${MISSING} not found in ${table}`,
        ];
      },
    }),
  ),
  {
    name: 'a block whose parent context is missing',
    run: async (t) => {
      const block = await t.insert('block_instances', {
        blockname: 'html',
        parentcontextid: MISSING,
        showinsubcontexts: 0,
        pagetypepattern: 'my-index',
        defaultregion: 'content',
        defaultweight: 0,
        timecreated: NOW,
        timemodified: NOW,
      });
      const ctx = await addContext(t, 80, block, '/1', 2);
      return [`context ${ctx} (contextlevel 80, instanceid ${block}): parentcontextid ${MISSING} not found in context`];
    },
  },
  {
    name: 'users without a user context, deleted ones included; a deleted user keeping it is fine',
    run: async (t) => {
      const live = await addUser(t, 'nocontext', {}, false);
      const gone = await addUser(t, 'gone.1800000000', { deleted: 1 }, false);
      await addUser(t, 'kept.1800000000', { deleted: 1 });
      return [`user ${live} (nocontext): no user context`, `user ${gone} (gone.1800000000): no user context`];
    },
  },
  {
    name: 'a category and a course without their context',
    run: async (t) => {
      const cat = await addCategory(t);
      const course = await t.insert('course', { category: cat, fullname: 'N', shortname: 'N', format: 'topics' });
      await t.execute('UPDATE {course_categories} SET coursecount = 1 WHERE id = ?', [cat]);
      return [`course_categories ${cat}: no category context`, `course ${course}: no course context`];
    },
  },
  {
    name: 'a user of another mnet host',
    run: async (t) => {
      const id = await addUser(t, 'remote', { mnethostid: 3 });
      return [`user ${id} (remote): mnethostid 3, expected 1 (mnet_localhost_id)`];
    },
  },
  {
    name: 'no mnet_localhost_id',
    run: async (t) => {
      await t.execute("DELETE FROM {config} WHERE name = 'mnet_localhost_id'");
      return ['config mnet_localhost_id is not set'];
    },
  },
  {
    name: 'a category path that is not the chain of ids, a depth that is not its length',
    run: async (t) => {
      const a = await addCategory(t, { path: 'set below' });
      await t.execute('UPDATE {course_categories} SET path = ? WHERE id = ?', [`/1/${a}`, a]);
      await addContext(t, 40, a, '/1', 2);
      const b = await addCategory(t, { depth: 2 });
      await addContext(t, 40, b, '/1', 2);
      return [
        `course_categories ${a}: path "/1/${a}", expected "/${a}"`,
        `course_categories ${b}: depth 2, expected 1`,
      ];
    },
  },
  {
    name: 'a category whose parent is missing',
    run: async (t) => {
      const cat = await addCategory(t, { parent: MISSING, depth: 2, path: `/${MISSING}/0` });
      const ctx = await addContext(t, 40, cat, '/1', 2);
      return [
        `context ${ctx} (contextlevel 40, instanceid ${cat}): its parent category ${MISSING} has no context`,
        `course_categories ${cat}: parent ${MISSING} not found in course_categories`,
      ];
    },
  },
  {
    name: 'a course count that is not the number of courses',
    run: async (t) => {
      await t.execute('UPDATE {course_categories} SET coursecount = 2 WHERE id = 1');
      await addCourse(t, 'ONE');
      return ['course_categories 1: coursecount 3, expected 1'];
    },
  },
  {
    name: 'courses in a missing category, or in none',
    run: async (t) => {
      const lost = await t.insert('course', { category: MISSING, fullname: 'L', shortname: 'L', format: 'topics' });
      const ctx = await addContext(t, 50, lost, '/1', 2);
      const none = await t.insert('course', { category: 0, fullname: 'Z', shortname: 'Z', format: 'topics' });
      await addContext(t, 50, none, '/1', 2);
      return [
        `context ${ctx} (contextlevel 50, instanceid ${lost}): its category ${MISSING} has no context`,
        `course ${lost}: category ${MISSING} not found in course_categories`,
        `course ${none}: category 0, but only the site course has none`,
      ];
    },
  },
  {
    name: 'a cohort in a user context',
    run: async (t) => {
      const id = await cohort(t, 4);
      await cohort(t, 3); // a category context is fine
      return [`cohort ${id}: contextid 4 is a contextlevel 30 context, expected 10 or 40`];
    },
  },
  ...ORPHANS.map(
    ([table, column, target, rest]): Breakage => ({
      name: `an orphan ${table} row (${column})`,
      run: async (t) => {
        const id = await t.insert(table, { ...(await rest(t)), [column]: MISSING });
        return [`${table} ${id}: ${column} ${MISSING} not found in ${target}`];
      },
    }),
  ),
  {
    name: 'rows of a deleted user',
    run: async (t) => {
      const u = await addUser(t, 'deleted.1800000000', { deleted: 1 });
      const course = await addCourse(t, 'D');
      const rows = {
        cohort_members: await t.insert('cohort_members', { cohortid: await cohort(t), userid: u }),
        user_info_data: await t.insert('user_info_data', { userid: u, fieldid: await profileField(t), data: 'x' }),
        role_assignments: await t.insert('role_assignments', { roleid: 5, contextid: 1, userid: u }),
        user_enrolments: await t.insert('user_enrolments', {
          enrolid: await t.insert('enrol', { enrol: 'manual', courseid: course }),
          userid: u,
        }),
        groups_members: await t.insert('groups_members', { groupid: await group(t, course), userid: u }),
      };
      return Object.entries(rows).map(([table, id]) => `${table} ${id}: userid ${u} is a deleted user`);
    },
  },
  {
    name: 'duplicate role assignments',
    run: async (t) => {
      const a = await t.insert('role_assignments', { roleid: 5, contextid: 1, userid: 2 });
      const b = await t.insert('role_assignments', { roleid: 5, contextid: 1, userid: 2 });
      await t.insert('role_assignments', { roleid: 5, contextid: 1, userid: 2, component: 'local_ldap2moodle' });
      return [`role_assignments ${a}, ${b}: duplicates of (roleid 5, contextid 1, userid 2, component "", itemid 0)`];
    },
  },
  {
    name: 'cohort enrolment instances naming a missing cohort or group, or another course’s group',
    run: async (t) => {
      const course = await addCourse(t, 'E');
      const k = await cohort(t);
      const noCohort = await cohortEnrol(t, course, MISSING);
      const noGroup = await cohortEnrol(t, course, k, MISSING);
      const elsewhere = await group(t, 1);
      const wrongCourse = await cohortEnrol(t, course, k, elsewhere);
      await cohortEnrol(t, course, k, await group(t, course));
      return [
        `enrol ${noCohort}: customint1 ${MISSING} not found in cohort`,
        `enrol ${noGroup}: customint2 ${MISSING} not found in groups`,
        `enrol ${wrongCourse}: customint2 ${elsewhere} is a group of course 1, not ${course}`,
      ];
    },
  },
  {
    name: 'enrol_cohort rows the cohort sync would delete',
    run: async (t) => {
      const course = await addCourse(t, 'S');
      const g = await group(t, course);
      const manual = await t.insert('enrol', { enrol: 'manual', courseid: course });
      const instance = await cohortEnrol(t, course, await cohort(t), g);
      const owned = { component: 'enrol_cohort', contextid: 1, roleid: 5 };
      const notCohort = await t.insert('role_assignments', { ...owned, userid: 2, itemid: manual });
      const notEnrolled = await t.insert('role_assignments', { ...owned, userid: 2, itemid: instance });
      await t.insert('groups_members', { groupid: g, userid: 1, component: 'enrol_cohort', itemid: instance });
      await t.insert('user_enrolments', { enrolid: instance, userid: 1 });
      await t.insert('role_assignments', { ...owned, userid: 1, itemid: instance });
      const stray = await t.insert('groups_members', {
        groupid: g,
        userid: 2,
        component: 'enrol_cohort',
        itemid: instance,
      });
      return [
        `role_assignments ${notCohort}: component enrol_cohort, itemid ${manual} is not a cohort enrolment instance`,
        `role_assignments ${notEnrolled}: component enrol_cohort, but user 2 is not enrolled through enrol ${instance}`,
        `groups_members ${stray}: component enrol_cohort, but user 2 is not enrolled through enrol ${instance}`,
      ];
    },
  },
];

/** Rows with a value Moodle's own API never writes (the 'moodle-values' check). */
/** A course as create_course writes it (sortorder, cacherev, section 0, context), in Category 1. */
async function addWholeCourse(t: Target, shortname: string) {
  const id = await t.insert('course', {
    category: 1,
    fullname: shortname,
    shortname,
    format: 'topics',
    sortorder: 10001,
    cacherev: NOW,
  });
  await t.execute('UPDATE {course_categories} SET coursecount = coursecount + 1 WHERE id = 1');
  await addContext(t, 50, id, '/1/3', 3);
  await t.insert('course_sections', { course: id, section: 0, summaryformat: 1, sequence: '', visible: 1 });
  return id;
}

const COURSE_BREAKAGES: readonly Breakage[] = [
  {
    name: 'a course without section 0 or cacherev, and a repeated shortname',
    run: async (t) => {
      const a = await addWholeCourse(t, 'A');
      await t.execute('DELETE FROM {course_sections} WHERE course = ?', [a]);
      await t.execute('UPDATE {course} SET cacherev = 0 WHERE id = ?', [a]);
      const b = await addWholeCourse(t, 'B');
      await t.execute("UPDATE {course} SET shortname = 'A' WHERE id = ?", [b]);
      return [
        `course ${a}: no section 0 in course_sections`,
        `course ${a}: cacherev 0: Moodle's modinfo cache needs one`,
        `course ${a}, ${b}: shortname "A" is not unique`,
      ];
    },
  },
  {
    name: 'two groups with one name in a course, and a cohort-owned member outside the method’s group',
    run: async (t) => {
      const course = await addWholeCourse(t, 'G');
      const g1 = await t.insert('groups', { courseid: course, name: 'Same', idnumber: 'g1' });
      const g2 = await t.insert('groups', { courseid: course, name: 'Same', idnumber: 'g2' });
      const user = await addUser(t, 'member');
      const k = await cohort(t);
      const method = await t.insert('enrol', {
        enrol: 'cohort',
        courseid: course,
        roleid: 5,
        customint1: k,
        customint2: g1,
        sortorder: 3,
      });
      await t.insert('user_enrolments', { enrolid: method, userid: user, timeend: 0 });
      const m = await t.insert('groups_members', {
        groupid: g2,
        userid: user,
        component: 'enrol_cohort',
        itemid: method,
      });
      return [
        `groups ${g1}, ${g2}: name repeated in a course (courseid:name ${course}:Same)`,
        `groups_members ${m}: owned by enrol ${method} whose group is ${g1}, not ${g2}`,
      ];
    },
  },
  {
    name: "an enrolment with the column's default timeend, twice the same dirty mark, a role where it is not assignable",
    run: async (t) => {
      const course = await addWholeCourse(t, 'E');
      const manual = await t.insert('enrol', { enrol: 'manual', courseid: course, roleid: 5, sortorder: 0 });
      const user = await addUser(t, 'enrolled');
      const ue = await t.insert('user_enrolments', { enrolid: manual, userid: user, timeend: 2147483647 });
      const marks = [0, 1].map(() => ({
        flagtype: 'accesslib/dirtyusers',
        name: String(user),
        value: '1',
        expiry: NOW,
      }));
      const f1 = await t.insert('cache_flags', marks[0] ?? {});
      const f2 = await t.insert('cache_flags', marks[1] ?? {});
      // student (5) is assignable in courses and modules, not categories.
      const ra = await t.insert('role_assignments', { roleid: 5, contextid: 3, userid: user, modifierid: 2 });
      return [
        `user_enrolments ${ue}: timeend 2147483647, Moodle writes 0`,
        `role_assignments ${ra}: role 5 is not assignable at contextlevel 40`,
        `cache_flags ${f1}, ${f2}: accesslib/dirtyusers marked 2 times for user ${user}`,
      ];
    },
  },
];

const VALUE_BREAKAGES: readonly Breakage[] = [
  {
    name: 'a cohort with descriptionformat 0 and no timecreated',
    values: true,
    run: async (t) => {
      const id = await t.insert('cohort', {
        contextid: 1,
        name: 'K',
        descriptionformat: 0,
        timecreated: 0,
        timemodified: 0,
      });
      return [`cohort ${id}: descriptionformat 0, expected 1`, `cohort ${id}: timecreated 0 / timemodified 0`];
    },
  },
  {
    name: 'a cohort member without timeadded',
    values: true,
    run: async (t) => {
      const id = await t.insert('cohort_members', { cohortid: await cohort(t), userid: 2, timeadded: 0 });
      return [`cohort_members ${id}: timeadded 0, expected a time`];
    },
  },
  {
    name: 'a category with sortorder 0 and an unconfirmed user',
    values: true,
    run: async (t) => {
      const category = await addCategory(t, { sortorder: 0 });
      await addContext(t, 40, category, '/1', 2);
      const user = await addUser(t, 'unconfirmed', { confirmed: 0 });
      return [
        `user ${user}: confirmed 0, Moodle's API writes 1`,
        `course_categories ${category}: sortorder 0, expected > 0`,
      ];
    },
  },
  {
    name: 'a text profile field without its size parameters, and a value with dataformat 1',
    values: true,
    run: async (t) => {
      const categoryid = await t.insert('user_info_category', { name: 'ENT', sortorder: 1 });
      const field = await t.insert('user_info_field', {
        shortname: 'uai',
        name: 'UAI',
        datatype: 'text',
        categoryid,
        sortorder: 1,
      });
      const value = await t.insert('user_info_data', { userid: 2, fieldid: field, data: 'x', dataformat: 1 });
      return [
        `user_info_field ${field}: a text field needs param1 (size) and param2 (max length), got null, null`,
        `user_info_data ${value}: dataformat 1 for a text field, expected 0`,
      ];
    },
  },
];

/** The SQL that drops the unique index on (contextlevel, instanceid), which Moodle relies on. */
const DROP_CONTEXT_INDEX = (name: TargetName) =>
  name === 'mariadb' ? 'ALTER TABLE {context} DROP INDEX mdl_cont_conins_uix' : 'DROP INDEX mdl_cont_conins_uix';

describe.each(TARGETS)('checkIntegrity on %s', (name) => {
  let t: Target;
  beforeAll(async () => {
    t = await createTarget(name);
  });
  afterAll(async () => {
    await t?.drop();
  });

  it('finds nothing on the fresh dump', async () => {
    expect(await checkIntegrity(t)).toEqual([]);
  });

  it.each(BREAKAGES.filter((b) => b.values !== true))('finds $name', async ({ run }) => {
    await t.execute('BEGIN');
    try {
      const expected = await run(t);
      // Courses made here are bare rows (no sections, sortorder, cacherev): the course checks have their own cases.
      const skip = ['moodle-values', ...Object.keys(COURSE_CHECKS)] as IntegrityCheck[];
      expect(await checkIntegrity(t, { skip })).toEqual(expected);
    } finally {
      await t.execute('ROLLBACK');
    }
    expect(await checkIntegrity(t)).toEqual([]);
  });

  it.each(COURSE_BREAKAGES)('finds $name', async ({ run }) => {
    await t.execute('BEGIN');
    try {
      const expected = await run(t);
      expect(await checkIntegrity(t, { skip: ['moodle-values'] })).toEqual(expected);
    } finally {
      await t.execute('ROLLBACK');
    }
    expect(await checkIntegrity(t)).toEqual([]);
  });

  it.each(VALUE_BREAKAGES)('finds $name', async ({ run }) => {
    await t.execute('BEGIN');
    try {
      const expected = await run(t);
      expect(await checkIntegrity(t)).toEqual(expected);
    } finally {
      await t.execute('ROLLBACK');
    }
    expect(await checkIntegrity(t)).toEqual([]);
  });

  it('can skip a check', async () => {
    await t.execute('BEGIN');
    try {
      await t.execute('UPDATE {context} SET depth = 3 WHERE id = 4');
      expect(await checkIntegrity(t, { skip: ['contexts'] })).toEqual([]);
    } finally {
      await t.execute('ROLLBACK');
    }
  });

  it('finds duplicate contexts once the unique index is gone', async () => {
    // DDL commits on MariaDB: a Moodle of its own.
    const own = await createTarget(name);
    try {
      await own.execute(DROP_CONTEXT_INDEX(name));
      const dup = await addContext(own, 30, 2, '/1', 2);
      expect(await checkIntegrity(own)).toEqual([`context (contextlevel 30, instanceid 2): 2 rows (ids 5, ${dup})`]);
    } finally {
      await own.drop();
    }
  });

  it('finds nothing after the tool applied the example collège, then suspended a student', async () => {
    const ws = await workspace();
    const site = await createTarget(name);
    try {
      const first = await applySpec(await loadSpec(await collegeSpec(ws, site)));
      expect(first.applied).toBe(true);
      expect(await checkIntegrity(site)).toEqual([]);
      const users = await site.query<{ n: number }>('SELECT COUNT(*) AS n FROM {user} WHERE id > 2');
      expect(Number(users[0]?.n)).toBeGreaterThan(10);

      const ldif = ws.path('directory.ldif');
      const text = await readFile(COLLEGE_LDIF, 'utf8');
      await writeFile(ldif, text.replace(/\ndn: uid=F4500111,ou=people,[\s\S]*?\n\n/, '\n'));
      await site.release();
      const second = await applySpec(await loadSpec(await collegeSpec(ws, site, { ldif })));
      expect(second.applied).toBe(true);
      const suspended = await site.query('SELECT username FROM {user} WHERE suspended = 1');
      expect(suspended).toEqual([{ username: 'f4500111' }]);
      expect(await checkIntegrity(site)).toEqual([]);
    } finally {
      await site.drop();
      await ws.remove();
    }
  });
});

describe('checkIntegrity through the tool’s own Queryable', () => {
  it.runIf(TARGETS.includes('mariadb'))('MariaDB, another prefix: nothing on the fresh dump', async () => {
    const m = await createMoodleDatabase({ prefix: 'm2_' });
    try {
      expect(await checkIntegrity(m.db)).toEqual([]);
      await m.admin.query('UPDATE m2_context SET depth = 5 WHERE id = 3');
      expect(await checkIntegrity(m.db)).toEqual(['context 3 (contextlevel 40, instanceid 1): depth 5, expected 2']);
    } finally {
      await m.drop();
    }
  });

  it.runIf(TARGETS.includes('postgres'))('PostgreSQL: nothing on the fresh dump', async () => {
    const m = await createPostgresMoodle();
    try {
      expect(await checkIntegrity(m.db)).toEqual([]);
      await m.admin.query('UPDATE mdl_user SET mnethostid = 2 WHERE id = 1');
      expect(await checkIntegrity(m.db)).toEqual(['user 1 (guest): mnethostid 2, expected 1 (mnet_localhost_id)']);
    } finally {
      await m.drop();
    }
  });
});
