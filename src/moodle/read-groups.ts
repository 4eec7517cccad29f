/**
 * Reads the groups and groupings of chosen courses (those with a key: only their groups can be the tool's),
 * the groups each grouping holds, and the members of chosen groups. Plain SELECTs by id lists, no comparison
 * in SQL (MariaDB's collation ignores case and accents): matching is the planner's job.
 *
 * Also what differs between Moodle releases and installs for these tables (`readGroupSchema`): the group
 * columns that appeared in 4.2, and the tables outside a directory sync's core that a group or grouping
 * deletion must look at (calendar events, activity overrides, messaging).
 */
import { selectIn } from './batches.js';
import type { MoodleDatabase, Queryable } from './database.js';
import { type ColumnKinds, typedRows } from './read-categories.js';

export interface MoodleGroupRow {
  readonly id: number;
  readonly courseid: number;
  /** NOT NULL DEFAULT '': '' for a group made without one. */
  readonly idnumber: string;
  readonly name: string;
  readonly description: string | null;
}

/** A grouping has the same shape as a group (its own table). */
export type MoodleGroupingRow = MoodleGroupRow;

export interface MoodleGroupingGroupRow {
  readonly id: number;
  readonly groupingid: number;
  readonly groupid: number;
  /** The grouping's course. */
  readonly groupingcourse: number;
  /** The group's course and idnumber; null when the group row is gone (an orphan link). */
  readonly groupcourse: number | null;
  readonly groupidnumber: string | null;
}

export interface MoodleGroupMemberRow {
  readonly id: number;
  readonly groupid: number;
  readonly userid: number;
  /** '' for members added by hand (or by the tool); a plugin name for members a plugin owns (`enrol_cohort`). */
  readonly component: string;
  readonly itemid: number;
}

const GROUP_KINDS: ColumnKinds = {
  id: 'number',
  courseid: 'number',
  idnumber: 'string',
  name: 'string',
  description: 'string?',
};

async function readCourseRows(
  db: Queryable,
  table: 'groups' | 'groupings',
  courseIds: readonly number[],
  budget: number,
): Promise<MoodleGroupRow[]> {
  const rows = await selectIn(
    db,
    (list) => `SELECT ${Object.keys(GROUP_KINDS).join(', ')} FROM {${table}} WHERE courseid IN (${list})`,
    [],
    [...new Set(courseIds)],
    budget,
  );
  return typedRows<MoodleGroupRow>(table, rows, GROUP_KINDS).sort((a, b) => a.id - b.id);
}

/** The groups of these courses, in id order. */
export function readGroups(db: Queryable, courseIds: readonly number[], budget: number): Promise<MoodleGroupRow[]> {
  return readCourseRows(db, 'groups', courseIds, budget);
}

/** The groupings of these courses, in id order. */
export function readGroupings(
  db: Queryable,
  courseIds: readonly number[],
  budget: number,
): Promise<MoodleGroupingRow[]> {
  return readCourseRows(db, 'groupings', courseIds, budget);
}

/** The groups of these groupings (with the courses of both sides and the group's idnumber), in id order. */
export async function readGroupingGroups(
  db: Queryable,
  groupingIds: readonly number[],
  budget: number,
): Promise<MoodleGroupingGroupRow[]> {
  const rows = await selectIn(
    db,
    (list) =>
      'SELECT gg.id, gg.groupingid, gg.groupid, gr.courseid AS groupingcourse, g.courseid AS groupcourse, ' +
      'g.idnumber AS groupidnumber FROM {groupings_groups} gg JOIN {groupings} gr ON gr.id = gg.groupingid ' +
      `LEFT JOIN {groups} g ON g.id = gg.groupid WHERE gg.groupingid IN (${list})`,
    [],
    [...new Set(groupingIds)],
    budget,
  );
  return typedRows<MoodleGroupingGroupRow>('groupings_groups', rows, {
    id: 'number',
    groupingid: 'number',
    groupid: 'number',
    groupingcourse: 'number',
    groupcourse: 'number?',
    groupidnumber: 'string?',
  }).sort((a, b) => a.id - b.id);
}

/** The members of these groups, whoever owns them, in id order. */
export async function readGroupMembers(
  db: Queryable,
  groupIds: readonly number[],
  budget: number,
): Promise<MoodleGroupMemberRow[]> {
  const rows = await selectIn(
    db,
    (list) => `SELECT id, groupid, userid, component, itemid FROM {groups_members} WHERE groupid IN (${list})`,
    [],
    [...new Set(groupIds)],
    budget,
  );
  return typedRows<MoodleGroupMemberRow>('groups_members', rows, {
    id: 'number',
    groupid: 'number',
    userid: 'number',
    component: 'string',
    itemid: 'number',
  }).sort((a, b) => a.id - b.id);
}

// ---- schema -----------------------------------------------------------------------------------------------

/**
 * Tables a group or grouping deletion looks at when the install has them (a full Moodle does; the embedded
 * one and the tests' core schema do not): calendar events of a group, activities restricted to a grouping,
 * the overrides and conversations Moodle's group_deleted observers and messaging API remove.
 */
export const GROUP_SIDE_TABLES = [
  'event',
  'course_modules',
  'message_conversations',
  'assign_overrides',
  'lesson_overrides',
  'quiz_overrides',
] as const;
export type GroupSideTable = (typeof GROUP_SIDE_TABLES)[number];

export interface GroupSchema {
  /** `groups.visibility` and `groups.participation` exist (Moodle 4.2 and later). */
  readonly visibility: boolean;
  readonly participation: boolean;
  /** Which of GROUP_SIDE_TABLES this install has. */
  readonly tables: ReadonlySet<GroupSideTable>;
}

/** The schema of Moodle 4.5 with every table (what a real install has). */
export const FULL_GROUP_SCHEMA: GroupSchema = {
  visibility: true,
  participation: true,
  tables: new Set(GROUP_SIDE_TABLES),
};

/** What this Moodle's catalogue says about the group tables. */
export async function readGroupSchema(db: MoodleDatabase): Promise<GroupSchema> {
  const columns = new Set((await db.describeColumns(`${db.prefix}groups`)).map((c) => c.name));
  const found = await db.describeTables(GROUP_SIDE_TABLES.map((t) => `${db.prefix}${t}`));
  return {
    visibility: columns.has('visibility'),
    participation: columns.has('participation'),
    tables: new Set(GROUP_SIDE_TABLES.filter((t) => found.has(`${db.prefix}${t}`))),
  };
}
