/**
 * The course writer and reader, called directly inside `db.transaction` on a fresh Moodle 4.5 of every target.
 * A course creation is compared row by row, column by column, with what create_course() wrote
 * (reference-writes.json §12, every table snapshotted around the write: a row written anywhere else shows),
 * then courses in bulk (sortorders after the category's last course, a weeks course, a category created by the
 * same transaction, the statement count), updates, adoption, hiding, the apply's recheck and a rollback.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { courseEntity } from '../../src/entities/course.js';
import type { Change, Fields } from '../../src/model/change.js';
import type { Queryable } from '../../src/moodle/database.js';
import { readCourses } from '../../src/moodle/read-courses.js';
import { readSite } from '../../src/moodle/site.js';
import { writeCategoryChanges } from '../../src/moodle/write-categories.js';
import type { WriteContext } from '../../src/moodle/write-context.js';
import { ObjectIds } from '../../src/moodle/write-context.js';
import { writeCourseChanges } from '../../src/moodle/write-courses.js';
import { checkIntegrity } from '../helpers/integrity.js';
import { dropStaleTestDatabases } from '../helpers/mariadb.js';
import {
  compareWrites,
  diffSnapshots,
  installSymbols,
  type RefRow,
  type Snapshot,
  type TableWrites,
  type Writes,
  withIds,
} from '../helpers/reference-rows.js';
import { expectMoodleSortorders } from '../helpers/fix-course-sortorder.js';
import { TARGETS } from '../helpers/targets.js';
import { change, referenceRows, symboliseEntities, type WriterSite, writerSite } from '../helpers/writer-site.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});
beforeAll(async () => {
  if (TARGETS.includes('mariadb')) await dropStaleTestDatabases();
});

const T0 = Math.floor(Date.now() / 1000) - 600;
/** What §12 lets a direct-SQL writer skip: logstore rows. */
const SKIPPED = ['logstore_standard_log'];

const category = (key: string) => ({ entity: 'category', key }) as const;
const topCategory = change('category', 'create', '0750001A', { idnumber: '0750001A', name: 'Lycee Test' });
const subCategory = change(
  'category',
  'create',
  '0750001A-classes',
  { idnumber: '0750001A-classes', name: 'Classes' },
  { refs: { parent: category('0750001A') } },
);

function newCourse(key: string, shortname: string, over: Fields = {}, categoryKey = '0750001A-classes'): Change {
  return change(
    'course',
    'create',
    key,
    {
      idnumber: key,
      shortname,
      fullname: `Course ${shortname}`,
      format: 'topics',
      numsections: 4,
      visible: 1,
      ...over,
    },
    { refs: { category: category(categoryKey) } },
  );
}

interface Run {
  readonly w: WriterSite;
  readonly fresh: Snapshot;
  readonly ids: ObjectIds;
  ctx(now: number): Promise<WriteContext>;
  write(now: number, fn: (tx: Queryable, ctx: WriteContext) => Promise<void>): Promise<Writes>;
  /** Statements `fn` ran in one transaction. */
  count(now: number, fn: (tx: Queryable, ctx: WriteContext) => Promise<void>): Promise<number>;
  id(sql: string, params?: readonly (string | number)[]): Promise<number>;
}

async function fresh(target: (typeof TARGETS)[number]): Promise<Run> {
  const w = await writerSite(target);
  cleanups.push(() => w.close());
  const ids = new ObjectIds();
  const ctx = (now: number) => w.context(now, ids);
  const run: Run = {
    w,
    fresh: await w.snapshot(),
    ids,
    ctx,
    async write(now, fn) {
      const context = await ctx(now);
      const before = await w.snapshot();
      await w.db.transaction((tx) => fn(tx, context));
      return diffSnapshots(before, await w.snapshot());
    },
    async count(now, fn) {
      const context = await ctx(now);
      return w.db.transaction(async (tx) => {
        const start = w.db.statementCount;
        await fn(tx, context);
        return w.db.statementCount - start;
      });
    },
    async id(sql, params = []) {
      const rows = await w.rows(sql, params);
      if (rows.length !== 1) throw new Error(`${sql}: ${rows.length} rows`);
      return Number(Object.values(rows[0] as object)[0]);
    },
  };
  await run.write(T0 - 50, (tx, c) => writeCategoryChanges(tx, c, [topCategory, subCategory]));
  return run;
}

/** Columns of the course tables that hold ids, and the table they point into (writer-site knows the others). */
const COURSE_ID_COLUMNS: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  course: { id: 'course', category: 'course_categories' },
  course_sections: { id: 'course_sections', course: 'course' },
  course_format_options: { id: 'course_format_options', courseid: 'course' },
  enrol: { id: 'enrol', courseid: 'course', roleid: 'role' },
  forum: { id: 'forum', course: 'course' },
  course_modules: {
    id: 'course_modules',
    course: 'course',
    module: 'modules',
    instance: 'forum',
    section: 'course_sections',
  },
};
/** Columns holding a comma list of ids (a section's sequence of course modules). */
const COURSE_LIST_COLUMNS: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  course_sections: { sequence: 'course_modules' },
};

/** The reference's symbols in the course tables' id columns; symboliseEntities does the rest. */
function symboliseCourses(writes: Writes, ids: Readonly<Record<string, ReadonlyMap<string, string>>>, now: number[]) {
  const out: Record<string, TableWrites> = {};
  for (const [table, w] of Object.entries(writes)) {
    const columns = COURSE_ID_COLUMNS[table];
    const row = (r: RefRow): RefRow =>
      Object.fromEntries(
        Object.entries(r).map(([c, v]) => {
          const target = columns?.[c];
          const list = COURSE_LIST_COLUMNS[table]?.[c];
          if (list !== undefined && v !== null) {
            return [
              c,
              v === ''
                ? v
                : v
                    .split(',')
                    .map((id) => ids[list]?.get(id) ?? id)
                    .join(','),
            ];
          }
          return [c, target === undefined || v === null ? v : (ids[target]?.get(v) ?? v)];
        }),
      );
    out[table] = { ...w, ...(w.inserted && { inserted: w.inserted.map(row) }) };
  }
  return symboliseEntities(out, { ids, now });
}

/** Ids of the rows of `table` a write inserted, in id order. */
const insertedIds = (writes: Writes, table: string): string[] =>
  (writes[table]?.inserted ?? []).map((r) => String(r.id)).sort((a, b) => Number(a) - Number(b));

describe.each(TARGETS)('course writer on %s', (target) => {
  it('creates a course as create_course() does (§12), column by column, nothing else written', async () => {
    const run = await fresh(target);
    const maths = newCourse('0750001A-MATHS-2A', 'MATHS-2A', { fullname: 'Maths 2nde A' });
    const writes = await run.write(T0, (tx, ctx) => writeCourseChanges(tx, ctx, [maths]));
    const courseId = run.ids.get('course', '0750001A-MATHS-2A') as number;
    const courseContext = await run.id('SELECT id FROM {context} WHERE contextlevel = 50 AND instanceid = ?', [
      courseId,
    ]);
    const catId = (key: string) => run.ids.get('category', key) as number;
    const catContext = (key: string) =>
      run.id('SELECT id FROM {context} WHERE contextlevel = 40 AND instanceid = ?', [catId(key)]);

    let ids = withIds(installSymbols(run.fresh), 'course', [[courseId, '<course:MATHS-2A>']]);
    ids = withIds(ids, 'course_categories', [
      [catId('0750001A'), '<cat:0750001A>'],
      [catId('0750001A-classes'), '<cat:0750001A-classes>'],
    ]);
    ids = withIds(ids, 'context', [
      [await catContext('0750001A'), '<ctx:cat:0750001A>'],
      [await catContext('0750001A-classes'), '<ctx:cat:0750001A-classes>'],
      [courseContext, '<ctx:course:MATHS-2A>'],
    ]);
    ids = withIds(
      ids,
      'course_sections',
      insertedIds(writes, 'course_sections').map((id, i) => [id, `<course_sections#${i + 1}>`]),
    );
    ids = withIds(
      ids,
      'course_format_options',
      insertedIds(writes, 'course_format_options').map((id, i) => [id, `<course_format_options#${i + 1}>`]),
    );
    const enrols = writes.enrol?.inserted ?? [];
    ids = withIds(
      ids,
      'enrol',
      enrols.map((r) => [r.id, `<enrol:${r.enrol}@course:MATHS-2A>`]),
    );
    // The Announcements forum mod_forum's course_created observer adds (forum_get_course_forum(): forum, course
    // module, section 0's sequence; no module context, which Moodle creates lazily).
    ids = withIds(
      ids,
      'forum',
      insertedIds(writes, 'forum').map((id, i) => [id, `<forum#${i + 1}>`]),
    );
    ids = withIds(
      ids,
      'course_modules',
      insertedIds(writes, 'course_modules').map((id, i) => [id, `<course_modules#${i + 1}>`]),
    );
    ids = withIds(ids, 'modules', [[await run.id("SELECT id FROM {modules} WHERE name = 'forum'"), '<module:forum>']]);
    const ours = symboliseCourses(writes, ids, [T0]);
    expect(compareWrites(ours, referenceRows('course_create'), { skipped: SKIPPED })).toEqual([]);
    expect(await checkIntegrity(run.w.reader)).toEqual([]);

    expect((await readCourses(run.w.db)).map((c) => [c.id, c.category, c.shortname, c.idnumber, c.sortorder])).toEqual([
      [1, 0, expect.any(String), '', expect.any(Number)],
      [courseId, catId('0750001A-classes'), 'MATHS-2A', '0750001A-MATHS-2A', 30001],
    ]);
  });

  it('courses in bulk: first in their category as Moodle orders them, weeks, a category of the same transaction, few statements', async () => {
    const run = await fresh(target);
    await run.write(T0, (tx, ctx) => writeCourseChanges(tx, ctx, [newCourse('A', 'A')]));
    const writes = await run.write(T0 + 1, async (tx, ctx) => {
      await writeCategoryChanges(tx, ctx, [change('category', 'create', 'NEW', { idnumber: 'NEW', name: 'New' })]);
      await writeCourseChanges(tx, ctx, [
        newCourse('B', 'B', { format: 'weeks', numsections: 2 }),
        newCourse('C', 'C', { numsections: 0, visible: 0, announcements: 0 }),
        newCourse('D', 'D', {}, 'NEW'),
      ]);
    });
    expect(await checkIntegrity(run.w.reader)).toEqual([]);
    const courses = new Map((await readCourses(run.w.db)).map((c) => [c.idnumber, c]));
    const classes = run.ids.get('category', '0750001A-classes') as number;
    const created = run.ids.get('category', 'NEW') as number;
    // Moodle's order: create_course() puts each new course first in its category (B then C: C first), and
    // fix_course_sortorder() would change nothing.
    expect(['A', 'B', 'C', 'D'].map((k) => [courses.get(k)?.category, courses.get(k)?.sortorder])).toEqual([
      [classes, 30003],
      [classes, 30002],
      [classes, 30001],
      [created, 40001],
    ]);
    await expectMoodleSortorders(run.w.reader);
    for (const k of ['A', 'B', 'C', 'D']) expect(run.ids.get('course', k)).toBe(courses.get(k)?.id);
    const counts = await run.w.rows('SELECT id, coursecount FROM {course_categories} WHERE id IN (?, ?)', [
      classes,
      created,
    ]);
    expect(new Map(counts.map((r) => [Number(r.id), Number(r.coursecount)]))).toEqual(
      new Map([
        [classes, 3],
        [created, 1],
      ]),
    );
    const b = String(run.ids.get('course', 'B'));
    const c = String(run.ids.get('course', 'C'));
    const inserted = writes.course?.inserted ?? [];
    expect(inserted.find((r) => r.id === b)).toMatchObject({ format: 'weeks', enddate: String(2 * 604800) });
    expect(inserted.find((r) => r.id === c)).toMatchObject({ visible: '0', visibleold: '0', enddate: '0' });
    const options = (writes.course_format_options?.inserted ?? []).filter((r) => r.courseid === b);
    expect(options.map((r) => [r.format, r.sectionid, r.name, r.value])).toEqual([
      ['weeks', '0', 'hiddensections', '1'],
      ['weeks', '0', 'coursedisplay', '0'],
      ['weeks', '0', 'automaticenddate', '1'],
    ]);
    const sections = writes.course_sections?.inserted ?? [];
    expect(
      sections
        .filter((r) => r.course === b)
        .map((r) => r.section)
        .sort(),
    ).toEqual(['0', '1', '2']);
    expect(sections.filter((r) => r.course === c).map((r) => r.section)).toEqual(['0']);
    // An Announcements forum in section 0 of B and D; none in C (courses.announcements: false).
    const forums = writes.forum?.inserted ?? [];
    const d = String(run.ids.get('course', 'D'));
    expect(forums.map((r) => [r.course, r.type, r.name]).sort()).toEqual(
      [
        [b, 'news', 'Announcements'],
        [d, 'news', 'Announcements'],
      ].sort(),
    );
    const modules = writes.course_modules?.inserted ?? [];
    expect(modules.map((r) => r.course).sort()).toEqual([b, d].sort());
    for (const m of modules) {
      const zero = sections.find((r) => r.course === m.course && r.section === '0');
      expect(zero?.sequence).toBe(m.id);
      expect(m.section).toBe(zero?.id);
      expect(m.instance).toBe(forums.find((f) => f.course === m.course)?.id);
    }
    expect(sections.find((r) => r.course === c && r.section === '0')?.sequence).toBe('');
    const enrols = (writes.enrol?.inserted ?? []).filter((r) => r.courseid === c);
    expect(enrols.map((r) => [r.enrol, r.sortorder])).toEqual([
      ['manual', '0'],
      ['guest', '1'],
      ['self', '2'],
    ]);

    // Forty courses cost the statements of one.
    const one = await run.count(T0 + 2, (tx, ctx) => writeCourseChanges(tx, ctx, [newCourse('E', 'E')]));
    const many = Array.from({ length: 40 }, (_, i) => newCourse(`M${i}`, `M${i}`, {}, i % 2 ? 'NEW' : '0750001A'));
    const forty = await run.count(T0 + 3, (tx, ctx) => writeCourseChanges(tx, ctx, many));
    expect({ one, forty }).toEqual({ one: 23, forty: 23 });
    expect(await checkIntegrity(run.w.reader)).toEqual([]);
  });

  it('updates, adoption by shortname, hiding: the changed columns, timemodified and cacherev', async () => {
    const run = await fresh(target);
    await run.write(T0, (tx, ctx) => writeCourseChanges(tx, ctx, [newCourse('A', 'A'), newCourse('B', 'B')]));
    const a = run.ids.get('course', 'A') as number;
    const b = run.ids.get('course', 'B') as number;
    // A course made in Moodle without idnumber, with a revision ahead of now (cacherev + 1, not now).
    await run.w.db.transaction((tx) =>
      tx.execute('UPDATE {course} SET idnumber = ?, cacherev = ? WHERE id = ?', ['', T0 + 100, b]),
    );
    const updates = [
      change('course', 'update', 'A', { fullname: 'Renamed', shortname: 'A2' }, { moodleId: a }),
      change('course', 'adopt', 'B-KEY', { idnumber: 'B-KEY' }, { moodleId: b }),
    ];
    const writes = await run.write(T0 + 60, (tx, ctx) => writeCourseChanges(tx, ctx, updates));
    expect(Object.keys(writes)).toEqual(['course']);
    const changed = (id: number) => writes.course?.updated?.find((u) => u.id === String(id))?.changed;
    expect(changed(a)).toEqual({
      fullname: { old: 'Course A', new: 'Renamed' },
      shortname: { old: 'A', new: 'A2' },
      timemodified: { old: String(T0), new: String(T0 + 60) },
      cacherev: { old: String(T0), new: String(T0 + 60) },
    });
    expect(changed(b)).toEqual({
      idnumber: { old: '', new: 'B-KEY' },
      timemodified: { old: String(T0), new: String(T0 + 60) },
      cacherev: { old: String(T0 + 100), new: String(T0 + 101) },
    });

    const hide = change('course', 'suspend', 'A', { visible: 0 }, { moodleId: a });
    const hidden = await run.write(T0 + 70, (tx, ctx) => writeCourseChanges(tx, ctx, [hide]));
    expect(hidden.course?.updated?.map((u) => u.changed)).toEqual([
      {
        visible: { old: '1', new: '0' },
        visibleold: { old: '1', new: '0' },
        timemodified: { old: String(T0 + 60), new: String(T0 + 70) },
        cacherev: { old: String(T0 + 60), new: String(T0 + 70) },
      },
    ]);
    // An adoption without changes writes nothing.
    const quiet = change('course', 'adopt', 'B-KEY', {}, { moodleId: b });
    expect(await run.write(T0 + 80, (tx, ctx) => writeCourseChanges(tx, ctx, [quiet]))).toEqual({});
    expect(await checkIntegrity(run.w.reader)).toEqual([]);
  });

  it('the recheck finds a shortname or idnumber taken, or a category gone, since the plan', async () => {
    const run = await fresh(target);
    const ctx = await run.ctx(T0);
    const site = await readSite(run.w.db);
    const entity = courseEntity({ adopt: 'matching', onRemoved: 'keep', site });
    const classes = run.ids.get('category', '0750001A-classes') as number;
    const index = {
      id: (e: string, key: string) => (e === 'category' ? run.ids.get('category', key) : undefined),
      key: () => undefined,
      ids: () => [],
    };
    await run.write(T0, (tx, c) =>
      writeCategoryChanges(tx, c, [change('category', 'create', 'GONE', { idnumber: 'GONE', name: 'Gone' })]),
    );
    const { rows: planned } = await entity.read(run.w.db, { site, budget: ctx.budget, index });
    const creates = [newCourse('X', 'X-SHORT'), newCourse('Y', 'Y'), newCourse('Z', 'Z', {}, 'GONE')];
    expect(
      await run.w.db.transaction((tx) =>
        entity.recheck(tx, planned, creates, ctx.budget, { facts: undefined, index, site }),
      ),
    ).toEqual([]);
    await run.w.db.transaction(async (tx) => {
      await tx.execute(
        "INSERT INTO {course} (category, shortname, idnumber, fullname) VALUES (?, 'x-short', 'W', 'W')",
        [classes],
      );
      await tx.execute("INSERT INTO {course} (category, shortname, idnumber, fullname) VALUES (?, 'YY', 'Y', 'Y')", [
        classes,
      ]);
      await tx.execute("DELETE FROM {course_categories} WHERE idnumber = 'GONE'");
    });
    const problems = await run.w.db.transaction((tx) =>
      entity.recheck(tx, planned, creates, ctx.budget, { facts: undefined, index, site }),
    );
    expect(problems.map((p) => p.message.replace(/id \d+/, 'id N'))).toEqual([
      'course["Y"]: idnumber "Y" was taken by Moodle course id N after the plan',
      'course["Z"]: its category (category "GONE", course_categories id N) no longer exists',
      'course["X"]: shortname "x-short" was taken by Moodle course id N after the plan',
    ]);
  });

  it('a rollback leaves nothing of a course creation', async () => {
    const run = await fresh(target);
    const before = await run.w.snapshot();
    const ctx = await run.ctx(T0);
    const failure = new Error('stop after the writes');
    const sections = async (tx: Queryable) => (await tx.query('SELECT COUNT(id) AS n FROM {course_sections}'))[0]?.n;
    const attempt = run.w.db.transaction(async (tx) => {
      const start = Number(await sections(tx));
      await writeCourseChanges(tx, ctx, [newCourse('A', 'A'), newCourse('B', 'B', { format: 'weeks' })]);
      // Everything was written inside the transaction.
      expect(Number(await sections(tx)) - start).toBe(10);
      throw failure;
    });
    await expect(attempt).rejects.toBe(failure);
    expect(diffSnapshots(before, await run.w.snapshot())).toEqual({});
  });
});
