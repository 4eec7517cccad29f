/**
 * The sortorders Moodle 4.5 leaves on categories and courses. core_course_category::create() inserts a category
 * with sortorder 0 and create_course() a course with sortorder 0, then both call fix_course_sortorder()
 * (lib/datalib.php), which rewrites them, and others, in its own order:
 *
 * - categories: those at 0 are moved to the end (max × MAX_COURSE_CATEGORIES); then the tree is walked depth
 *   first, siblings in (sortorder, id) order, and the n-th category gets n × max (_fix_course_cats). A new
 *   category thus comes after its siblings, and every category after it in the walk moves down one block;
 * - the front page course (category 0) gets 1;
 * - courses outside their category's block [S, S + max] get sortorder % max + S (a new course: S);
 * - a category whose courses share a sortorder with another course, or are not exactly S+1 … S+count, is
 *   renumbered: all + 1 when they are S … S+count−1 (one new course, the others in order), otherwise
 *   S+1, S+2… ordered by sortorder then id descending — a new course comes first, the newest first.
 *
 * The writers insert as Moodle does (0) and then write what fix_course_sortorder() would, so that Moodle's own
 * run afterwards changes nothing. Rows the tool does not own move as Moodle would move them (categories after a
 * new one, courses of a moved category, the courses of a category that gets a new course). Paths, depths and
 * course counts, which the function also repairs, are the writers' own business (always written right).
 * `max` is get_max_courses_in_category(): `maxcoursesincategory` from the config table, else 10000 (a value set
 * only in config.php cannot be seen).
 */
import { InternalError } from '../errors.js';
import { updateManyById } from './batches.js';
import type { Queryable } from './database.js';
import { typedRows } from './read-categories.js';

/** Moodle's MAX_COURSES_IN_CATEGORY: the default block of sortorders of a category. */
export const MAX_COURSES_IN_CATEGORY = 10_000;
/** Moodle's MAX_COURSE_CATEGORIES. */
const MAX_COURSE_CATEGORIES = 10_000;
/** Moodle's SITEID: the front page course. */
const SITEID = 1;

export interface SortedCategory {
  readonly id: number;
  readonly parent: number;
  readonly sortorder: number;
}

export interface SortedCourse {
  readonly id: number;
  readonly category: number;
  readonly sortorder: number;
}

export interface Sortorders {
  readonly categories: ReadonlyMap<number, number>;
  readonly courses: ReadonlyMap<number, number>;
}

/** Category id → sortorder: the depth-first walk of fix_course_sortorder(). */
function categoryOrder(categories: readonly SortedCategory[], max: number): Map<number, number> {
  const start = (c: SortedCategory) => (c.sortorder === 0 ? max * MAX_COURSE_CATEGORIES : c.sortorder);
  const sorted = [...categories].sort((a, b) => start(a) - start(b) || a.id - b.id);
  const known = new Set(categories.map((c) => c.id));
  const children = new Map<number, SortedCategory[]>();
  const broken: SortedCategory[] = [];
  for (const c of sorted) {
    if (c.parent !== 0 && !known.has(c.parent)) broken.push(c);
    else children.set(c.parent, [...(children.get(c.parent) ?? []), c]);
  }
  const out = new Map<number, number>();
  const pending = [...broken].reverse().concat([...(children.get(0) ?? [])].reverse());
  // Iterative pre-order (a stack holds the rest of each level, next first).
  while (pending.length > 0) {
    const c = pending.pop() as SortedCategory;
    if (out.has(c.id)) throw new InternalError(`course_categories ${c.id}: the category tree has a cycle`);
    out.set(c.id, (out.size + 1) * max);
    pending.push(...[...(children.get(c.id) ?? [])].reverse());
  }
  // Categories in a cycle of parents reach no walk: Moodle leaves them too.
  return out;
}

/** The sortorders fix_course_sortorder() would leave on these rows. */
export function moodleSortorders(
  categories: readonly SortedCategory[],
  courses: readonly SortedCourse[],
  max: number = MAX_COURSES_IN_CATEGORY,
): Sortorders {
  const categoryOrders = categoryOrder(categories, max);
  const given = new Map(categories.map((c) => [c.id, c.sortorder]));
  const base = (id: number) => categoryOrders.get(id) ?? given.get(id) ?? 0;
  const now = new Map(courses.map((c) => [c.id, c.sortorder]));
  const byCategory = new Map<number, SortedCourse[]>();
  for (const c of courses) byCategory.set(c.category, [...(byCategory.get(c.category) ?? []), c]);

  const front = [...(byCategory.get(0) ?? [])].sort((a, b) => a.id - b.id);
  const frontCourse = front.find((c) => c.id === SITEID) ?? front[0];
  if (frontCourse !== undefined) now.set(frontCourse.id, 1);

  const inCategories = [...byCategory].filter(([id]) => id !== 0 && given.has(id));
  for (const [id, list] of inCategories) {
    const s = base(id);
    const value = (c: SortedCourse) => now.get(c.id) ?? c.sortorder;
    if (list.some((c) => value(c) < s || value(c) > s + max)) {
      for (const c of list) now.set(c.id, (value(c) % max) + s);
    }
  }
  const uses = new Map<number, number>();
  for (const v of now.values()) uses.set(v, (uses.get(v) ?? 0) + 1);
  for (const [id, list] of inCategories) {
    const s = base(id);
    const values = list.map((c) => now.get(c.id) ?? c.sortorder);
    const low = Math.min(...values);
    const high = Math.max(...values);
    const repeated = values.some((v) => (uses.get(v) ?? 0) > 1);
    if (!repeated && low === s + 1 && high === s + list.length) continue;
    if (!repeated && low === s && high === s + list.length - 1) {
      for (const c of list) now.set(c.id, (now.get(c.id) ?? 0) + 1);
      continue;
    }
    [...list]
      .sort((a, b) => (now.get(a.id) ?? 0) - (now.get(b.id) ?? 0) || b.id - a.id)
      .forEach((c, i) => {
        now.set(c.id, s + i + 1);
      });
  }
  return { categories: categoryOrders, courses: now };
}

async function maxCoursesInCategory(tx: Queryable): Promise<number> {
  const rows = await tx.query<{ name: string; value: string | null }>(
    "SELECT name, value FROM {config} WHERE name = 'maxcoursesincategory'",
  );
  const value = Number.parseInt(rows.find((r) => r.name === 'maxcoursesincategory')?.value ?? '', 10);
  return Number.isSafeInteger(value) && value > 0 ? value : MAX_COURSES_IN_CATEGORY;
}

/**
 * Rewrites, inside the apply's transaction, every category and course sortorder that Moodle's
 * fix_course_sortorder() would rewrite (the categories are locked first: Moodle's own writers of them wait).
 */
export async function writeMoodleSortorders(tx: Queryable, budget: number): Promise<void> {
  const max = await maxCoursesInCategory(tx);
  const categories = typedRows<SortedCategory>(
    'course_categories',
    await tx.query('SELECT id, parent, sortorder FROM {course_categories} ORDER BY id FOR UPDATE'),
    { id: 'number', parent: 'number', sortorder: 'number' },
  );
  const courses = typedRows<SortedCourse>(
    'course',
    await tx.query('SELECT id, category, sortorder FROM {course} ORDER BY id'),
    { id: 'number', category: 'number', sortorder: 'number' },
  );
  const wanted = moodleSortorders(categories, courses, max);
  const changed = <T extends { id: number; sortorder: number }>(rows: readonly T[], to: ReadonlyMap<number, number>) =>
    rows.flatMap((r) => {
      const sortorder = to.get(r.id);
      return sortorder === undefined || sortorder === r.sortorder ? [] : [{ id: r.id, values: [sortorder] }];
    });
  await updateManyById(tx, 'course_categories', ['sortorder'], changed(categories, wanted.categories), {}, budget);
  await updateManyById(tx, 'course', ['sortorder'], changed(courses, wanted.courses), {}, budget);
}
