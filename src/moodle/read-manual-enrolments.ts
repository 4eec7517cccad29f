/**
 * Reads the manual enrolment instances of chosen courses, the enrolments made through them, and each
 * enrolment's roles: the assignments in the course context with component '' and itemid 0 (manual enrolment
 * roles are not owned by the instance, reference-writes §18). Plain SELECTs joined here in code (as
 * read-categories.ts does); text is compared in code too, since MariaDB's collation ignores case.
 */
import { selectIn } from './batches.js';
import type { Queryable } from './database.js';
import { typedRows } from './read-categories.js';

export const CONTEXT_COURSE = 50;

export interface MoodleManualInstanceRow {
  readonly id: number;
  readonly courseid: number;
  /** 0 enabled, 1 disabled (its enrolments then give no access). */
  readonly status: number;
  readonly sortorder: number;
}

export interface MoodleManualEnrolmentRow {
  /** user_enrolments.id */
  readonly id: number;
  readonly enrolid: number;
  readonly courseid: number;
  readonly userid: number;
  /** 0 active, 1 suspended. */
  readonly status: number;
  readonly timestart: number;
  readonly timeend: number;
  /** Roles of the user in the course context with component '' and itemid 0, ascending ids. */
  readonly roleids: readonly number[];
}

/** The manual instances of these courses, in the order Moodle lists instances (sortorder, id). */
export async function readManualInstances(
  db: Queryable,
  courseIds: readonly number[],
  budget: number,
): Promise<MoodleManualInstanceRow[]> {
  const rows = typedRows<MoodleManualInstanceRow & { enrol: string }>(
    'enrol',
    await selectIn(
      db,
      (list) => `SELECT id, courseid, status, sortorder, enrol FROM {enrol} WHERE courseid IN (${list})`,
      [],
      [...new Set(courseIds)],
      budget,
    ),
    { id: 'number', courseid: 'number', status: 'number', sortorder: 'number', enrol: 'string' },
  );
  return rows
    .filter((r) => r.enrol === 'manual')
    .map(({ id, courseid, status, sortorder }) => ({ id, courseid, status, sortorder }))
    .sort((a, b) => a.sortorder - b.sortorder || a.id - b.id);
}

/** Course context id by course id. */
export async function readCourseContexts(
  db: Queryable,
  courseIds: readonly number[],
  budget: number,
): Promise<Map<number, number>> {
  const rows = typedRows<{ id: number; instanceid: number }>(
    'context',
    await selectIn(
      db,
      (list) => `SELECT id, instanceid FROM {context} WHERE contextlevel = ? AND instanceid IN (${list})`,
      [CONTEXT_COURSE],
      [...new Set(courseIds)],
      budget,
    ),
    { id: 'number', instanceid: 'number' },
  );
  return new Map(rows.map((r) => [r.instanceid, r.id]));
}

/** The enrolments of these manual instances, with their roles, in id order. */
export async function readManualEnrolments(
  db: Queryable,
  instances: readonly MoodleManualInstanceRow[],
  budget: number,
): Promise<MoodleManualEnrolmentRow[]> {
  if (instances.length === 0) return [];
  const courseOf = new Map(instances.map((i) => [i.id, i.courseid]));
  const enrolments = typedRows<Omit<MoodleManualEnrolmentRow, 'courseid' | 'roleids'>>(
    'user_enrolments',
    await selectIn(
      db,
      (list) =>
        `SELECT id, enrolid, userid, status, timestart, timeend FROM {user_enrolments} WHERE enrolid IN (${list})`,
      [],
      [...courseOf.keys()],
      budget,
    ),
    { id: 'number', enrolid: 'number', userid: 'number', status: 'number', timestart: 'number', timeend: 'number' },
  );
  if (enrolments.length === 0) return [];
  const contexts = await readCourseContexts(db, [...new Set(courseOf.values())], budget);
  const courseOfContext = new Map([...contexts].map(([course, context]) => [context, course]));
  const roles = typedRows<{ id: number; roleid: number; contextid: number; userid: number; component: string }>(
    'role_assignments',
    await selectIn(
      db,
      (list) =>
        `SELECT id, roleid, contextid, userid, component FROM {role_assignments} WHERE itemid = 0 AND contextid IN (${list})`,
      [],
      [...contexts.values()],
      budget,
    ),
    { id: 'number', roleid: 'number', contextid: 'number', userid: 'number', component: 'string' },
  );
  const rolesOf = new Map<string, { id: number; roleid: number }[]>();
  for (const ra of roles) {
    if (ra.component !== '') continue;
    const key = `${courseOfContext.get(ra.contextid)}:${ra.userid}`;
    rolesOf.set(key, [...(rolesOf.get(key) ?? []), ra]);
  }
  return enrolments
    .map((ue) => {
      const courseid = courseOf.get(ue.enrolid) as number;
      const held = (rolesOf.get(`${courseid}:${ue.userid}`) ?? []).sort((a, b) => a.id - b.id);
      return { ...ue, courseid, roleids: [...new Set(held.map((r) => r.roleid))] };
    })
    .sort((a, b) => a.id - b.id);
}
