/**
 * What a Moodle holds of courses and what fills them, as readable lines naming objects by their keys
 * (course shortname, cohort and group idnumbers, usernames, role shortnames), never by ids: the same on every
 * target, so one expected listing (test/golden/college-courses.txt) describes the collège on all three.
 */
import type { SqlReader } from './target-sql.js';

type Rows = Record<string, unknown>[];

const CONTEXT_LEVELS: Readonly<Record<number, string>> = { 10: 'system', 30: 'user', 40: 'category', 50: 'course' };

export interface CourseSide {
  readonly courses: string[];
  readonly methods: string[];
  readonly enrolments: string[];
  readonly roles: string[];
  readonly groups: string[];
  readonly members: string[];
  readonly groupings: string[];
}

const byId = (rows: Rows): Map<number, Record<string, unknown>> => new Map(rows.map((r) => [Number(r.id), r]));
const sorted = (lines: string[]): string[] => lines.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));

export async function readCourseSide(t: SqlReader): Promise<CourseSide> {
  const q = (sql: string): Promise<Rows> => t.query(sql);
  const courses = byId(
    await q("SELECT id, category, shortname, fullname, format, visible FROM {course} WHERE format <> 'site'"),
  );
  const categories = byId(await q('SELECT id, idnumber FROM {course_categories}'));
  const sections = await q('SELECT course, section FROM {course_sections}');
  const options = await q('SELECT courseid, format, sectionid, name, value FROM {course_format_options}');
  const enrol = byId(
    await q('SELECT id, courseid, enrol, status, roleid, customint1, customint2, sortorder FROM {enrol}'),
  );
  const roles = byId(await q('SELECT id, shortname FROM {role}'));
  const users = byId(await q('SELECT id, username FROM {user}'));
  const cohorts = byId(await q('SELECT id, idnumber FROM {cohort}'));
  const groups = byId(await q('SELECT id, courseid, idnumber, name FROM {groups}'));
  const contexts = byId(await q('SELECT id, contextlevel, instanceid FROM {context}'));
  const course = (id: unknown): string => String(courses.get(Number(id))?.shortname ?? `site/#${id}`);
  const user = (id: unknown): string => String(users.get(Number(id))?.username ?? `#${id}`);
  const role = (id: unknown): string => String(roles.get(Number(id))?.shortname ?? `#${id}`);
  const group = (id: unknown): string => {
    const g = groups.get(Number(id));
    return g === undefined ? `#${id}` : `${course(g.courseid)}/${g.idnumber}`;
  };
  const method = (id: unknown): string => {
    const e = enrol.get(Number(id));
    if (e === undefined) return `#${id}`;
    return e.enrol === 'cohort'
      ? `cohort:${cohorts.get(Number(e.customint1))?.idnumber ?? e.customint1}`
      : String(e.enrol);
  };
  const owner = (component: unknown, itemid: unknown): string =>
    component === '' || component === null ? '' : ` [${component} ${method(itemid)}]`;

  const courseLines = [...courses.values()].map((c) => {
    const count = sections.filter((s) => Number(s.course) === Number(c.id)).length;
    const formatOptions = options
      .filter((o) => Number(o.courseid) === Number(c.id))
      .map((o) => `${o.name}=${o.value}`)
      .sort()
      .join(',');
    const category = categories.get(Number(c.category))?.idnumber;
    return `${c.shortname} "${c.fullname}" in ${category}: ${c.format} (${formatOptions}), ${count} sections${Number(c.visible) === 1 ? '' : ', hidden'}`;
  });
  const methodLines = [...enrol.values()].map((e) => {
    const status = Number(e.status) === 0 ? 'enabled' : 'disabled';
    const detail =
      e.enrol === 'cohort'
        ? ` cohort ${cohorts.get(Number(e.customint1))?.idnumber} group ${Number(e.customint2) === 0 ? '-' : group(e.customint2)}`
        : '';
    return `${course(e.courseid)} #${e.sortorder} ${e.enrol} ${status} ${Number(e.roleid) === 0 ? '-' : role(e.roleid)}${detail}`;
  });
  const enrolmentLines = (await q('SELECT enrolid, userid, status, timestart, timeend FROM {user_enrolments}')).map(
    (ue) => {
      const e = enrol.get(Number(ue.enrolid));
      const times = Number(ue.timestart) === 0 && Number(ue.timeend) === 0 ? '' : ` ${ue.timestart}-${ue.timeend}`;
      return `${course(e?.courseid)} ${method(ue.enrolid)} ${user(ue.userid)} ${Number(ue.status) === 0 ? 'active' : 'suspended'}${times}`;
    },
  );
  const roleLines = (await q('SELECT roleid, contextid, userid, component, itemid FROM {role_assignments}')).map(
    (ra) => {
      const c = contexts.get(Number(ra.contextid));
      const level = CONTEXT_LEVELS[Number(c?.contextlevel)] ?? `level ${c?.contextlevel}`;
      const where =
        level === 'course'
          ? course(c?.instanceid)
          : level === 'category'
            ? String(categories.get(Number(c?.instanceid))?.idnumber)
            : level === 'user'
              ? user(c?.instanceid)
              : '';
      return `${level}${where === '' ? '' : ` ${where}`} ${role(ra.roleid)} ${user(ra.userid)}${owner(ra.component, ra.itemid)}`;
    },
  );
  const groupLines = [...groups.values()].map((g) => `${group(g.id)} "${g.name}"`);
  const memberLines = (await q('SELECT groupid, userid, component, itemid FROM {groups_members}')).map(
    (m) => `${group(m.groupid)} ${user(m.userid)}${owner(m.component, m.itemid)}`,
  );
  const groupings = await q('SELECT id, courseid, idnumber, name FROM {groupings}');
  const links = await q('SELECT groupingid, groupid FROM {groupings_groups}');
  const groupingLines = groupings.map((gg) => {
    const members = links
      .filter((l) => Number(l.groupingid) === Number(gg.id))
      .map((l) => String(groups.get(Number(l.groupid))?.idnumber))
      .sort();
    return `${course(gg.courseid)}/${gg.idnumber} "${gg.name}": ${members.join(', ')}`;
  });
  return {
    courses: sorted(courseLines),
    methods: sorted(methodLines),
    enrolments: sorted(enrolmentLines),
    roles: sorted(roleLines),
    groups: sorted(groupLines),
    members: sorted(memberLines),
    groupings: sorted(groupingLines),
  };
}

/** The listing as text, one section per kind of row. */
export function courseSideText(side: CourseSide): string {
  return `${Object.entries(side)
    .map(([name, lines]) => `## ${name} (${lines.length})\n${lines.join('\n')}`)
    .join('\n\n')}\n`;
}
