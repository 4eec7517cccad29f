/**
 * Moodle 4.5's fix_course_sortorder() (lib/datalib.php), re-stated statement by statement on rows in memory, for
 * the sortorder columns only (the tool writes paths, depths and course counts right; other checks cover them):
 * it returns every `sortorder` Moodle would rewrite, so that "running it afterwards changes nothing" is a test.
 *
 * 1. categories with sortorder 0 go to the end (get_max_courses_in_category() * MAX_COURSE_CATEGORIES);
 * 2. categories read ORDER BY sortorder, id; top ones and each parent's children kept in that (insertion) order;
 *    a category whose parent is missing goes after the top ones; the tree walked depth first, each category
 *    numbered max, 2·max, 3·max… (_fix_course_cats);
 * 3. the front page course (category 0; SITEID, id 1) gets sortorder 1;
 * 4. courses outside their category's range [S, S + max] become sortorder % max + S (per category);
 * 5. categories with a sortorder shared by two courses, or whose courses are not S+1 … S+count: the "easy" case
 *    (min = S, max = S + count − 1) shifts them all by one, the others are renumbered S+1… ORDER BY sortorder, id DESC.
 */
import { expect } from 'vitest';

export interface SortorderCategory {
  readonly id: number;
  readonly parent: number;
  readonly sortorder: number;
}
export interface SortorderCourse {
  readonly id: number;
  readonly category: number;
  readonly sortorder: number;
}
export interface SortorderFix {
  readonly table: 'course_categories' | 'course';
  readonly id: number;
  readonly from: number;
  readonly to: number;
}

const MAX_COURSES_IN_CATEGORY = 10_000;
const MAX_COURSE_CATEGORIES = 10_000;
const SITEID = 1;

/** The sortorder changes fix_course_sortorder() would make on these rows (empty: it leaves them as they are). */
export function fixCourseSortorder(
  categories: readonly SortorderCategory[],
  courses: readonly SortorderCourse[],
  max = MAX_COURSES_IN_CATEGORY,
): SortorderFix[] {
  const cat = new Map(categories.map((c) => [c.id, { ...c }]));
  const course = new Map(courses.map((c) => [c.id, { ...c }]));
  for (const c of cat.values()) if (c.sortorder === 0) c.sortorder = max * MAX_COURSE_CATEGORIES;

  // The tree, siblings in the order of ORDER BY sortorder, id (PHP arrays keep insertion order).
  const all = [...cat.values()].sort((a, b) => a.sortorder - b.sortorder || a.id - b.id);
  const top: number[] = [];
  const broken: number[] = [];
  const children = new Map<number, number[]>();
  for (const c of all) {
    if (c.parent === 0) top.push(c.id);
    else if (!cat.has(c.parent)) broken.push(c.id);
    else children.set(c.parent, [...(children.get(c.parent) ?? []), c.id]);
  }
  let n = 0;
  const walk = (ids: readonly number[]): void => {
    for (const id of ids) {
      n += max;
      const c = cat.get(id);
      if (c !== undefined) c.sortorder = n;
      walk(children.get(id) ?? []);
    }
  };
  walk([...top, ...broken]);

  const front = [...course.values()].filter((c) => c.category === 0).sort((a, b) => a.id - b.id);
  const frontCourse = front.find((c) => c.id === SITEID) ?? front[0];
  if (frontCourse !== undefined) frontCourse.sortorder = 1;

  const inCategory = (id: number) => [...course.values()].filter((c) => c.category === id);
  for (const c of cat.values()) {
    const list = inCategory(c.id);
    if (list.some((x) => x.sortorder < c.sortorder || x.sortorder > c.sortorder + max)) {
      for (const x of list) x.sortorder = (x.sortorder % max) + c.sortorder;
    }
  }
  const counts = new Map<number, number>();
  for (const x of course.values()) counts.set(x.sortorder, (counts.get(x.sortorder) ?? 0) + 1);
  const toResort = new Set<number>();
  for (const x of course.values())
    if ((counts.get(x.sortorder) ?? 0) > 1 && cat.has(x.category)) toResort.add(x.category);
  for (const c of cat.values()) {
    const list = inCategory(c.id);
    if (list.length === 0) continue;
    const low = Math.min(...list.map((x) => x.sortorder));
    const high = Math.max(...list.map((x) => x.sortorder));
    if (high === c.sortorder + list.length && low === c.sortorder + 1) continue;
    if (toResort.has(c.id)) continue;
    if (low === c.sortorder && high === c.sortorder + list.length - 1) for (const x of list) x.sortorder += 1;
    else toResort.add(c.id);
  }
  for (const id of toResort) {
    const base = cat.get(id)?.sortorder ?? 0;
    inCategory(id)
      .sort((a, b) => a.sortorder - b.sortorder || b.id - a.id)
      .forEach((x, i) => {
        x.sortorder = base + i + 1;
      });
  }

  const fixes: SortorderFix[] = [];
  for (const c of categories) {
    const to = cat.get(c.id)?.sortorder ?? c.sortorder;
    if (to !== c.sortorder) fixes.push({ table: 'course_categories', id: c.id, from: c.sortorder, to });
  }
  for (const c of courses) {
    const to = course.get(c.id)?.sortorder ?? c.sortorder;
    if (to !== c.sortorder) fixes.push({ table: 'course', id: c.id, from: c.sortorder, to });
  }
  return fixes;
}

interface RowReader {
  query(sql: string, params?: readonly unknown[]): Promise<readonly Readonly<Record<string, unknown>>[]>;
}

/** The sortorder rows of a Moodle, read through any query interface (ids as numbers on every target). */
export async function readSortorders(
  db: RowReader,
): Promise<{ categories: SortorderCategory[]; courses: SortorderCourse[] }> {
  const categories = (await db.query('SELECT id, parent, sortorder FROM {course_categories} ORDER BY id')).map((r) => ({
    id: Number(r.id),
    parent: Number(r.parent),
    sortorder: Number(r.sortorder),
  }));
  const courses = (await db.query('SELECT id, category, sortorder FROM {course} ORDER BY id')).map((r) => ({
    id: Number(r.id),
    category: Number(r.category),
    sortorder: Number(r.sortorder),
  }));
  return { categories, courses };
}

/** Asserts that fix_course_sortorder() would rewrite no sortorder of this Moodle. */
export async function expectMoodleSortorders(db: RowReader): Promise<void> {
  const { categories, courses } = await readSortorders(db);
  expect(fixCourseSortorder(categories, courses)).toEqual([]);
}
