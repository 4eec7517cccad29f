/**
 * The integrity checks of courses and what fills them (see integrity.ts, which runs them with the others):
 * sections, sortorders, unique shortnames and group names, one enrolment per method and user, group members
 * owned as Moodle's cohort sync expects, roles assignable where they are held, one dirty-user mark per user.
 */
import type { Data, Rec } from './integrity.js';

const CONTEXT_SYSTEM = 10;
/** Moodle's user_enrolments.timeend column default: the API writes 0 (no end) instead. */
const DB_DEFAULT_TIMEEND = 2147483647;

function repeated<T>(items: readonly T[], keyOf: (item: T) => string): [string, T[]][] {
  const byKey = new Map<string, T[]>();
  for (const item of items) byKey.set(keyOf(item), [...(byKey.get(keyOf(item)) ?? []), item]);
  return [...byKey].filter(([, list]) => list.length > 1);
}

const ids = (rows: readonly Rec[]): string => rows.map((r) => r.id).join(', ');

/** A course has section 0 and consecutive sections, a sortorder, a non-zero cacherev, a unique shortname. */
function courseRows(d: Data): string[] {
  const out: string[] = [];
  const sections = new Map<number, number[]>();
  for (const s of d.rows.course_sections) {
    sections.set(Number(s.course), [...(sections.get(Number(s.course)) ?? []), Number(s.section)]);
  }
  for (const c of d.rows.course.filter((row) => row.format !== 'site')) {
    const numbers = (sections.get(Number(c.id)) ?? []).sort((a, b) => a - b);
    if (numbers[0] !== 0) out.push(`course ${c.id}: no section 0 in course_sections`);
    if (numbers.some((n, i) => n !== i)) out.push(`course ${c.id}: sections ${numbers.join(',')} are not 0..n`);
    if (Number(c.sortorder) <= 0) out.push(`course ${c.id}: sortorder ${c.sortorder}, expected > 0`);
    if (Number(c.cacherev) <= 0) out.push(`course ${c.id}: cacherev ${c.cacherev}: Moodle's modinfo cache needs one`);
    if (c.visible !== 0 && c.visible !== 1) out.push(`course ${c.id}: visible ${c.visible}, expected 0 or 1`);
  }
  for (const [shortname, list] of repeated(d.rows.course, (c) => String(c.shortname))) {
    out.push(`course ${ids(list)}: shortname ${JSON.stringify(shortname)} is not unique`);
  }
  for (const [key, list] of repeated(d.rows.course_sections, (s) => `${s.course}:${s.section}`)) {
    out.push(`course_sections ${ids(list)}: section (course:section ${key}) repeated`);
  }
  return out;
}

/** Group idnumbers and names are unique in their course, as groups_create_group enforces; groupings alike. */
function groupRows(d: Data): string[] {
  const out: string[] = [];
  for (const table of ['groups', 'groupings'] as const) {
    for (const column of ['idnumber', 'name'] as const) {
      const rows = d.rows[table].filter((g) => g[column] !== null && g[column] !== '');
      for (const [key, list] of repeated(rows, (g) => `${g.courseid}:${g[column]}`)) {
        out.push(`${table} ${ids(list)}: ${column} repeated in a course (courseid:${column} ${key})`);
      }
    }
  }
  for (const gg of d.rows.groupings_groups) {
    const grouping = d.get('groupings', gg.groupingid);
    const group = d.get('groups', gg.groupid);
    if (grouping !== undefined && group !== undefined && grouping.courseid !== group.courseid) {
      out.push(`groupings_groups ${gg.id}: grouping of course ${grouping.courseid}, group of course ${group.courseid}`);
    }
  }
  for (const [key, list] of repeated(d.rows.groupings_groups, (gg) => `${gg.groupingid}:${gg.groupid}`)) {
    out.push(`groupings_groups ${ids(list)}: repeated (groupingid:groupid ${key})`);
  }
  for (const m of d.rows.groups_members) {
    if ((m.component === '' || m.component === null) && m.itemid !== 0) {
      out.push(`groups_members ${m.id}: itemid ${m.itemid} without a component`);
    }
    if (m.component === 'enrol_cohort') {
      const instance = d.get('enrol', m.itemid);
      if (instance !== undefined && instance.customint2 !== m.groupid) {
        out.push(
          `groups_members ${m.id}: owned by enrol ${m.itemid} whose group is ${instance.customint2}, not ${m.groupid}`,
        );
      }
    }
  }
  return out;
}

/** Enrol instances: sortorders distinct in a course; enrolments as the API writes them, one per method and user. */
function enrolmentRows(d: Data): string[] {
  const out: string[] = [];
  for (const [key, list] of repeated(d.rows.enrol, (e) => `${e.courseid}:${e.sortorder}`)) {
    out.push(`enrol ${ids(list)}: sortorder repeated in a course (courseid:sortorder ${key})`);
  }
  for (const ue of d.rows.user_enrolments) {
    if (ue.timeend === DB_DEFAULT_TIMEEND) out.push(`user_enrolments ${ue.id}: timeend ${ue.timeend}, Moodle writes 0`);
    if (ue.status !== 0 && ue.status !== 1) out.push(`user_enrolments ${ue.id}: status ${ue.status}`);
  }
  for (const [key, list] of repeated(d.rows.user_enrolments, (ue) => `${ue.enrolid}:${ue.userid}`)) {
    out.push(`user_enrolments ${ids(list)}: repeated (enrolid:userid ${key})`);
  }
  return out;
}

/** A role is held only where it is assignable (role_context_levels): elsewhere the UI can neither show nor remove it. */
function roleContexts(d: Data): string[] {
  const out: string[] = [];
  const assignable = new Set(d.rows.role_context_levels.map((l) => `${l.roleid}:${l.contextlevel}`));
  for (const ra of d.rows.role_assignments) {
    const level = d.get('context', ra.contextid)?.contextlevel;
    if (level === undefined || level === CONTEXT_SYSTEM) continue;
    if (!assignable.has(`${ra.roleid}:${level}`)) {
      out.push(`role_assignments ${ra.id}: role ${ra.roleid} is not assignable at contextlevel ${level}`);
    }
  }
  return out;
}

/** One accesslib/dirtyusers mark per user: markers are refreshed, never duplicated. */
function dirtyUsers(d: Data): string[] {
  const marks = d.rows.cache_flags.filter((f) => f.flagtype === 'accesslib/dirtyusers');
  return repeated(marks, (f) => String(f.name)).map(
    ([name, list]) => `cache_flags ${ids(list)}: accesslib/dirtyusers marked ${list.length} times for user ${name}`,
  );
}

export const COURSE_CHECKS = {
  'course-rows': courseRows,
  'group-rows': groupRows,
  'enrolment-rows': enrolmentRows,
  'role-contexts': roleContexts,
  'dirty-users': dirtyUsers,
} satisfies Record<string, (d: Data) => string[]>;
