/**
 * Reads the courses of the site. The site course (category 0, format `site`) is read too, but only as the
 * holder of a shortname: Moodle's shortnames are unique across every course, the front page included, so the
 * planner must see it to refuse a course that would take its shortname; it has no key and is never matched.
 * Nothing is compared in SQL (MariaDB's collation ignores case and accents): matching is the planner's job.
 */
import { selectIn } from './batches.js';
import type { Queryable } from './database.js';
import { typedRows } from './read-categories.js';

export const CONTEXT_COURSE = 50;

export interface MoodleCourseRow {
  readonly id: number;
  /** 0 for the site course only. */
  readonly category: number;
  readonly sortorder: number;
  readonly fullname: string;
  /** Unique in Moodle (its API checks it; the schema does not). */
  readonly shortname: string;
  /** '' on courses made without one. */
  readonly idnumber: string;
  readonly format: string;
  readonly visible: number;
}

const COURSE_KINDS = {
  id: 'number',
  category: 'number',
  sortorder: 'number',
  fullname: 'string',
  shortname: 'string',
  idnumber: 'string',
  format: 'string',
  visible: 'number',
} as const;

/** Whether a row is Moodle's front page course (never managed). */
export const isSiteCourse = (row: Pick<MoodleCourseRow, 'category'>): boolean => row.category === 0;

export async function readCourses(db: Queryable): Promise<MoodleCourseRow[]> {
  return typedRows<MoodleCourseRow>(
    'course',
    await db.query(`SELECT ${Object.keys(COURSE_KINDS).join(', ')} FROM {course} ORDER BY id`),
    COURSE_KINDS,
  );
}

/**
 * The courses holding any of these shortnames, compared without case (Moodle's check runs under the
 * database's collation, case-insensitive on MariaDB): inside the apply, the shortnames a plan writes must
 * still be free.
 */
export async function coursesByShortname(
  db: Queryable,
  shortnames: readonly string[],
  budget: number,
): Promise<{ id: number; shortname: string }[]> {
  const wanted = [...new Set(shortnames.map((s) => s.toLowerCase()))];
  // LOWER() means the same on every target; the match is made again in code, exactly on lower case.
  const rows = typedRows<{ id: number; shortname: string }>(
    'course',
    await selectIn(
      db,
      (list) => `SELECT id, shortname FROM {course} WHERE LOWER(shortname) IN (${list})`,
      [],
      wanted,
      budget,
    ),
    { id: 'number', shortname: 'string' },
  );
  const lower = new Set(wanted);
  return rows.filter((r) => lower.has(r.shortname.toLowerCase()));
}
