/**
 * Reads the cohort-sync enrolment methods of the site (enrol rows with enrol = 'cohort') and, for chosen ones,
 * what Moodle's cohort sync looks at per user: the user_enrolments row, whether the method's role is assigned
 * in the course context (owned by the method: component 'enrol_cohort', itemid = the method), the user's
 * groups of the course, and the rows the method owns (role assignments, group memberships) — those of a user
 * it no longer enrols are what the sync deletes.
 */
import { selectIn } from './batches.js';
import type { Queryable } from './database.js';
import { typedRows } from './read-categories.js';

/** Moodle's CONTEXT_COURSE. */
export const CONTEXT_COURSE = 50;

/** The component Moodle's cohort sync writes into the rows it owns. */
export const COHORT_COMPONENT = 'enrol_cohort';

export interface MoodleCohortEnrolRow {
  readonly id: number;
  readonly courseid: number;
  /** The cohort synced (nullable in the schema). */
  readonly customint1: number | null;
  /** The group the method adds its users to: 0 (or NULL) for none. */
  readonly customint2: number | null;
  readonly roleid: number;
  /** 0 enabled, 1 disabled. */
  readonly status: number;
  readonly sortorder: number;
}

/** One user of one method: enrolled, or holding rows the method owns. */
export interface MoodleCohortEnrolmentRow {
  /** user_enrolments id; null when the user has only rows owned by the method and no enrolment. */
  readonly id: number | null;
  readonly enrolid: number;
  readonly userid: number;
  /** user_enrolments.status (0 active, 1 suspended); null without enrolment. */
  readonly status: number | null;
  /** The method's role of the method's course context, owned by the method, is assigned. */
  readonly roleAssigned: boolean;
  /** Role assignments owned by the method (any role, any context). */
  readonly ownedRoles: number;
  /** Groups of the method's course the user is a member of (any component). */
  readonly groups: readonly number[];
  /** Groups whose membership the method owns. */
  readonly ownedGroups: readonly number[];
}

const ENROL_KINDS = {
  id: 'number',
  courseid: 'number',
  customint1: 'number?',
  customint2: 'number?',
  roleid: 'number',
  status: 'number',
  sortorder: 'number',
} as const;

/** Every cohort-sync instance of the site, in id order. */
export async function readCohortEnrols(db: Queryable): Promise<MoodleCohortEnrolRow[]> {
  return typedRows<MoodleCohortEnrolRow>(
    'enrol',
    await db.query(`SELECT ${Object.keys(ENROL_KINDS).join(', ')} FROM {enrol} WHERE enrol = 'cohort' ORDER BY id`),
    ENROL_KINDS,
  );
}

/** The cohort-sync instances among `ids` (read again inside an apply: an earlier writer may have changed them). */
export async function cohortEnrolsById(
  db: Queryable,
  ids: readonly number[],
  budget: number,
): Promise<Map<number, MoodleCohortEnrolRow>> {
  const rows = typedRows<MoodleCohortEnrolRow>(
    'enrol',
    await selectIn(
      db,
      (list) => `SELECT ${Object.keys(ENROL_KINDS).join(', ')} FROM {enrol} WHERE enrol = 'cohort' AND id IN (${list})`,
      [],
      [...new Set(ids)],
      budget,
    ),
    ENROL_KINDS,
  );
  return new Map(rows.map((r) => [r.id, r]));
}

export interface CourseContext {
  readonly id: number;
  /** '' when Moodle has not set it. */
  readonly path: string;
}

/** Contexts (level 50) of these courses, by course id. */
export async function courseContexts(
  db: Queryable,
  courseIds: readonly number[],
  budget: number,
): Promise<Map<number, CourseContext>> {
  const rows = typedRows<{ id: number; instanceid: number; path: string | null }>(
    'context',
    await selectIn(
      db,
      (list) => `SELECT id, instanceid, path FROM {context} WHERE contextlevel = ? AND instanceid IN (${list})`,
      [CONTEXT_COURSE],
      [...new Set(courseIds)],
      budget,
    ),
    { id: 'number', instanceid: 'number', path: 'string?' },
  );
  return new Map(rows.map((r) => [r.instanceid, { id: r.id, path: r.path ?? '' }]));
}

const pair = (a: number, b: number): string => `${a}:${b}`;

interface Entry {
  id: number | null;
  enrolid: number;
  userid: number;
  status: number | null;
  roleAssigned: boolean;
  ownedRoles: number;
  groups: number[];
  ownedGroups: number[];
}

/** Per (method, user): the enrolment and the rows around it, for the methods `enrolIds`; in (method, user) order. */
export async function readCohortEnrolments(
  db: Queryable,
  enrolIds: readonly number[],
  budget: number,
): Promise<MoodleCohortEnrolmentRow[]> {
  if (enrolIds.length === 0) return [];
  const methods = await cohortEnrolsById(db, enrolIds, budget);
  const ids = [...methods.keys()];
  const courses = [...new Set([...methods.values()].map((m) => m.courseid))];
  const contexts = await courseContexts(db, courses, budget);

  const byPair = new Map<string, Entry>();
  const entry = (enrolid: number, userid: number): Entry => {
    const key = pair(enrolid, userid);
    let found = byPair.get(key);
    if (found === undefined) {
      found = {
        id: null,
        enrolid,
        userid,
        status: null,
        roleAssigned: false,
        ownedRoles: 0,
        groups: [],
        ownedGroups: [],
      };
      byPair.set(key, found);
    }
    return found;
  };

  const enrolments = typedRows<{ id: number; enrolid: number; userid: number; status: number }>(
    'user_enrolments',
    await selectIn(
      db,
      (list) => `SELECT id, enrolid, userid, status FROM {user_enrolments} WHERE enrolid IN (${list})`,
      [],
      ids,
      budget,
    ),
    { id: 'number', enrolid: 'number', userid: 'number', status: 'number' },
  );
  for (const ue of enrolments) Object.assign(entry(ue.enrolid, ue.userid), { id: ue.id, status: ue.status });

  const roles = typedRows<{ roleid: number; contextid: number; userid: number; itemid: number }>(
    'role_assignments',
    await selectIn(
      db,
      (list) =>
        `SELECT roleid, contextid, userid, itemid FROM {role_assignments} WHERE component = ? AND itemid IN (${list})`,
      [COHORT_COMPONENT],
      ids,
      budget,
    ),
    { roleid: 'number', contextid: 'number', userid: 'number', itemid: 'number' },
  );
  for (const ra of roles) {
    const method = methods.get(ra.itemid);
    if (method === undefined) continue;
    const e = entry(ra.itemid, ra.userid);
    e.ownedRoles += 1;
    if (ra.roleid === method.roleid && ra.contextid === contexts.get(method.courseid)?.id) e.roleAssigned = true;
  }

  // Memberships of the courses' groups: whether a user is already in the method's group (any component), and
  // the memberships the method owns.
  const members = typedRows<{ groupid: number; userid: number; component: string; itemid: number; courseid: number }>(
    'groups_members',
    await selectIn(
      db,
      (list) =>
        `SELECT gm.groupid, gm.userid, gm.component, gm.itemid, g.courseid FROM {groups_members} gm JOIN {groups} g ON g.id = gm.groupid WHERE g.courseid IN (${list})`,
      [],
      courses,
      budget,
    ),
    { groupid: 'number', userid: 'number', component: 'string', itemid: 'number', courseid: 'number' },
  );
  const methodsOfCourse = new Map<number, number[]>();
  for (const m of methods.values()) methodsOfCourse.set(m.courseid, [...(methodsOfCourse.get(m.courseid) ?? []), m.id]);
  for (const gm of members) {
    if (gm.component === COHORT_COMPONENT && methods.has(gm.itemid)) {
      entry(gm.itemid, gm.userid).ownedGroups.push(gm.groupid);
    }
  }
  // Then, for the users each method knows (not every member of a group is a user of every method):
  for (const gm of members) {
    for (const enrolid of methodsOfCourse.get(gm.courseid) ?? [])
      byPair.get(pair(enrolid, gm.userid))?.groups.push(gm.groupid);
  }

  return [...byPair.values()]
    .map((e) => ({
      ...e,
      groups: [...e.groups].sort((a, b) => a - b),
      ownedGroups: [...e.ownedGroups].sort((a, b) => a - b),
    }))
    .sort((a, b) => a.enrolid - b.enrolid || a.userid - b.userid);
}
