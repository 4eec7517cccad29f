/**
 * Writes courses as Moodle 4.5's create_course() / update_course() do (reference-writes §12):
 * - the course row: the caller's values (category, fullname, shortname, idnumber, format, visible =
 *   visibleold), everything else as create_course() leaves it for a caller that gives nothing more (summary '',
 *   showgrades 1, newsitems 1: create_course() does not read moodlecourse/newsitems, only the course form
 *   does), timecreated = timemodified = cacherev = now, showcompletionconditions 1; a weeks course gets its
 *   automatic end date (course-defaults.ts);
 * - sortorder: create_course() inserts 0 and fix_course_sortorder() then makes it first in its category's block
 *   (category sortorder + 1), every other course of the category shifted by one; several new courses of one
 *   category end newest first, as many create_course() calls leave them. The tool inserts 0 and writes what
 *   fix_course_sortorder() would (sortorders.ts), so that Moodle's next run of it changes nothing;
 * - its context (level 50, under the category's context), sections 0…numsections, the format's options, the
 *   default enrolment instances (sortorder 0, 1, …), the category's coursecount + 1, and its Announcements forum
 *   in section 0 unless `courses.announcements` is false (write-announcements.ts).
 * - updates set the changed columns (a visibility change sets visibleold too, as update_course() does),
 *   timemodified, and bump cacherev as increment_revision_number() does (rebuild_course_cache()).
 *
 * Many courses cost the same dozen multi-row statements as one; ids are re-read by idnumber.
 */
import { InternalError, UserError } from '../errors.js';
import type { Change } from '../model/change.js';
import { executeIn, insertMany, selectIn, updateManyById } from './batches.js';
import {
  COURSE_FORMATS,
  defaultEnrolInstances,
  formatOptions,
  newCourseRow,
  unknownDefaultEnrol,
} from './course-defaults.js';
import type { Queryable, SqlValue } from './database.js';
import { typedRows } from './read-categories.js';
import { CONTEXT_COURSE } from './read-courses.js';
import { MAX_COURSES_IN_CATEGORY, writeMoodleSortorders } from './sortorders.js';
import { writeNewsForums } from './write-announcements.js';
import type { WriteContext } from './write-context.js';
import {
  asConflict,
  type ContextInfo,
  categoryContexts,
  changedColumns,
  changesByAction,
  integerOf,
  moodleIdOf,
  requireContext,
  rereadIds,
  textOf,
  updateColumns,
} from './write-helpers.js';

/** increment_revision_number()'s guard: a revision more than an hour ahead is reset to now. */
const RUNAWAY_REVISION = 3600;

const UPDATABLE = ['fullname', 'shortname', 'idnumber', 'visible'] as const;

interface NewCourse {
  readonly change: Change;
  readonly idnumber: string;
  readonly categoryId: number;
  readonly format: string;
  readonly numsections: number;
  readonly visible: number;
  /** Whether it gets its Announcements forum (courses.announcements; newsitems is 1). */
  readonly announcements: boolean;
}

interface CategoryRow {
  readonly id: number;
  readonly sortorder: number;
  readonly coursecount: number;
}

function newCourse(change: Change, ctx: WriteContext): NewCourse {
  const category = change.refs?.category;
  if (category?.entity !== 'category') throw new InternalError(`${change.address}: a course needs a category`);
  const format = textOf(change, 'format');
  if (!COURSE_FORMATS.includes(format)) throw new InternalError(`${change.address}: format ${format}`);
  const numsections = integerOf(change, 'numsections');
  if (numsections < 0) throw new InternalError(`${change.address}: numsections ${numsections}`);
  return {
    change,
    idnumber: textOf(change, 'idnumber'),
    categoryId: ctx.ids.require(category, change.address),
    format,
    numsections,
    visible: integerOf(change, 'visible', 1),
    announcements: integerOf(change, 'announcements', 1) !== 0,
  };
}

/** The categories the courses go to, locked: their coursecount is rewritten below. */
async function lockCategories(
  tx: Queryable,
  ids: readonly number[],
  budget: number,
): Promise<Map<number, CategoryRow>> {
  const rows = typedRows<CategoryRow>(
    'course_categories',
    await selectIn(
      tx,
      (list) => `SELECT id, sortorder, coursecount FROM {course_categories} WHERE id IN (${list}) FOR UPDATE`,
      [],
      ids,
      budget,
    ),
    { id: 'number', sortorder: 'number', coursecount: 'number' },
  );
  return new Map(rows.map((r) => [r.id, r]));
}

/** Moodle sorts at most MAX_COURSES_IN_CATEGORY courses in a category's block: refused beyond. */
function checkRoom(courses: readonly NewCourse[], categories: ReadonlyMap<number, CategoryRow>): void {
  const added = new Map<number, number>();
  for (const course of courses) {
    const category = categories.get(course.categoryId);
    if (category === undefined) {
      throw new InternalError(`${course.change.address}: category ${course.categoryId} not found`);
    }
    const n = (added.get(category.id) ?? 0) + 1;
    added.set(category.id, n);
    if (category.coursecount + n > MAX_COURSES_IN_CATEGORY) {
      throw new UserError(
        'MOODLE_UNSUPPORTED',
        `${course.change.address}: course category ${category.id} already holds ${category.coursecount} courses ` +
          `(Moodle's MAX_COURSES_IN_CATEGORY is ${MAX_COURSES_IN_CATEGORY}); nothing was written`,
      );
    }
  }
}

/** Multi-row INSERT of rows given as records of the same columns. */
async function insertRecords(
  tx: Queryable,
  table: string,
  records: readonly Readonly<Record<string, SqlValue>>[],
  budget: number,
): Promise<void> {
  const [first] = records;
  if (first === undefined) return;
  const columns = Object.keys(first);
  await insertMany(
    tx,
    table,
    columns,
    records.map((r) => columns.map((c) => r[c] ?? null)),
    budget,
  );
}

/** Course contexts (level 50) under their categories' contexts: insert, re-read, then the paths. */
async function createContexts(
  tx: Queryable,
  ctx: WriteContext,
  courses: readonly NewCourse[],
  idOf: (course: NewCourse) => number,
  parents: ReadonlyMap<number, ContextInfo>,
): Promise<void> {
  const parentOf = (course: NewCourse) => requireContext(parents, course.categoryId, course.change.address);
  await insertMany(
    tx,
    'context',
    ['contextlevel', 'instanceid', 'depth', 'locked'],
    courses.map((course) => [CONTEXT_COURSE, idOf(course), parentOf(course).depth + 1, 0]),
    ctx.budget,
  ).catch(asConflict(tx, 'a course context'));
  const rows = typedRows<{ id: number; instanceid: number }>(
    'context',
    await selectIn(
      tx,
      (list) => `SELECT id, instanceid FROM {context} WHERE contextlevel = ? AND instanceid IN (${list})`,
      [CONTEXT_COURSE],
      courses.map(idOf),
      ctx.budget,
    ),
    { id: 'number', instanceid: 'number' },
  );
  const contextIds = new Map(rows.map((r) => [r.instanceid, r.id]));
  await updateManyById(
    tx,
    'context',
    ['path'],
    courses.map((course) => {
      const id = contextIds.get(idOf(course));
      if (id === undefined) throw new InternalError(`${course.change.address}: inserted context not found again`);
      return { id, values: [`${parentOf(course).path}/${id}`] };
    }),
    {},
    ctx.budget,
  );
}

/** Sections, format options and default enrolment instances of the new courses. */
async function createCourseParts(
  tx: Queryable,
  ctx: WriteContext,
  courses: readonly NewCourse[],
  idOf: (course: NewCourse) => number,
): Promise<void> {
  const { now, budget, site } = ctx;
  const sections = courses.flatMap((course) =>
    Array.from({ length: course.numsections + 1 }, (_, n) => [idOf(course), n, '', 1, '', 1, now]),
  );
  await insertMany(
    tx,
    'course_sections',
    ['course', 'section', 'summary', 'summaryformat', 'sequence', 'visible', 'timemodified'],
    sections,
    budget,
  ).catch(asConflict(tx, 'a course section'));
  const options = courses.flatMap((course) =>
    formatOptions(course.format, site).map(([name, value]) => [idOf(course), course.format, 0, name, value]),
  );
  await insertMany(
    tx,
    'course_format_options',
    ['courseid', 'format', 'sectionid', 'name', 'value'],
    options,
    budget,
  ).catch(asConflict(tx, 'a course format option'));
  // Per course: a required guest or self password is drawn for each instance.
  const instances = courses.flatMap((course) =>
    defaultEnrolInstances(site).map((fields, sortorder) => ({
      ...fields,
      courseid: idOf(course),
      sortorder,
      enrolstartdate: 0,
      enrolenddate: 0,
      timecreated: now,
      timemodified: now,
    })),
  );
  await insertRecords(tx, 'enrol', instances, budget);
}

async function createCourses(tx: Queryable, ctx: WriteContext, creates: readonly Change[]): Promise<void> {
  if (creates.length === 0) return;
  const unknown = unknownDefaultEnrol(ctx.site);
  if (unknown.length > 0) {
    throw new UserError(
      'MOODLE_CONFLICT',
      `enrol plugin(s) ${unknown.join(', ')} add an instance to every new course (defaultenrol), which ldap2moodle ` +
        'cannot write; nothing was written — plan again',
    );
  }
  const courses = creates.map((change) => newCourse(change, ctx));
  const categoryIds = [...new Set(courses.map((c) => c.categoryId))];
  const categories = await lockCategories(tx, categoryIds, ctx.budget);
  const parents = await categoryContexts(tx, categoryIds, ctx.budget);
  checkRoom(courses, categories);
  // Checked before the first insert, so that a missing context writes nothing.
  for (const course of courses) requireContext(parents, course.categoryId, course.change.address);

  const rows = courses.map((course) =>
    newCourseRow({
      ...course,
      category: course.categoryId,
      sortorder: 0, // as create_course() inserts it; numbered below as fix_course_sortorder() numbers it
      fullname: textOf(course.change, 'fullname'),
      shortname: textOf(course.change, 'shortname'),
      now: ctx.now,
    }),
  );
  await insertRecords(tx, 'course', rows, ctx.budget);
  const keys = courses.map((c) => c.idnumber);
  const ids = await rereadIds(tx, 'course', 'idnumber', keys, ctx.budget, 'course idnumber');
  const idOf = (course: NewCourse) => ids.get(course.idnumber) as number;

  await createContexts(tx, ctx, courses, idOf, parents);
  await createCourseParts(tx, ctx, courses, idOf);
  await writeNewsForums(tx, courses.filter((course) => course.announcements).map(idOf), ctx.now, ctx.budget);

  const added = new Map<number, number>();
  for (const course of courses) added.set(course.categoryId, (added.get(course.categoryId) ?? 0) + 1);
  await updateManyById(
    tx,
    'course_categories',
    ['coursecount'],
    [...added].map(([id, n]) => ({ id, values: [(categories.get(id)?.coursecount ?? 0) + n] })),
    {},
    ctx.budget,
  );
  await writeMoodleSortorders(tx, ctx.budget);
  for (const course of courses) ctx.ids.set('course', course.change.key, idOf(course));
}

/**
 * Applies the course changes of a plan (create, update, adopt; hiding and showing again are updates of `visible`).
 * Created ids go to `ctx.ids`: groups and enrolments written next hang under them.
 */
export async function writeCourseChanges(tx: Queryable, ctx: WriteContext, changes: readonly Change[]): Promise<void> {
  const byAction = changesByAction(changes, 'course', ['create', 'update', 'adopt', 'suspend', 'unsuspend']);
  await createCourses(tx, ctx, byAction.get('create') ?? []);

  // Hiding (suspend) and showing again (unsuspend) are updates of `visible`.
  const updates = ['update', 'adopt', 'suspend', 'unsuspend'].flatMap(
    (action) => byAction.get(action as Change['action']) ?? [],
  );
  // A course adopted by shortname had no idnumber when the plan read it: register it under its key now.
  for (const change of updates) ctx.ids.set('course', change.key, moodleIdOf(change));
  const rows = updates
    .map((change) => {
      const values: Record<string, SqlValue> = changedColumns(change, UPDATABLE);
      if (values.visible !== undefined) values.visibleold = values.visible;
      return { id: moodleIdOf(change), values };
    })
    .filter((row) => Object.keys(row.values).length > 0);
  await updateColumns(tx, 'course', rows, { timemodified: ctx.now }, ctx.budget);
  const now = ctx.now;
  await executeIn(
    tx,
    (list) =>
      'UPDATE {course} SET cacherev = CASE WHEN cacherev IS NULL OR cacherev < ? OR cacherev > ? THEN ? ' +
      `ELSE cacherev + 1 END WHERE id IN (${list})`,
    [now, now + RUNAWAY_REVISION, now],
    rows.map((r) => r.id),
    ctx.budget,
  );
}
