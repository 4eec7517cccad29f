/**
 * A Moodle integrity checker for tests, meant to run after every apply on every target: the invariants Moodle's
 * own API keeps (test/fixtures/moodle/4.5/README.md, reference-writes.md) that a direct-SQL writer could
 * break — context paths and depths, one context per user/category/course, no orphan or duplicate rows,
 * category paths and course counts, local mnet host, cohort contexts, enrol_cohort ownership.
 *
 * Plain `SELECT <columns> FROM {table} ORDER BY id` only; every join is done here in code, so the same checks
 * mean the same thing on MariaDB, PostgreSQL and the embedded PGlite. Takes a `Target` (test/helpers/targets.ts)
 * or any `Queryable` of src/moodle/database.ts. On the embedded target, `release()` it before the tool runs.
 */
import { COURSE_CHECKS } from './integrity-courses.js';
import type { Row, SqlParam } from './target-sql.js';

/** What the checker reads through: a Target, a MoodleDatabase or a transaction's Queryable. */
export interface IntegrityReader {
  query<T extends Row = Row>(sql: string, params?: readonly SqlParam[]): Promise<T[]>;
}

export interface IntegrityOptions {
  /** Checks to leave out (a test that breaks one invariant on purpose). */
  readonly skip?: readonly IntegrityCheck[];
}

/** The columns read per table. */
const TABLES = {
  context: ['id', 'contextlevel', 'instanceid', 'path', 'depth'],
  user: ['id', 'username', 'deleted', 'mnethostid', 'confirmed', 'auth'],
  course_categories: ['id', 'parent', 'path', 'depth', 'coursecount', 'sortorder', 'visible', 'visibleold'],
  course: ['id', 'category', 'format', 'shortname', 'sortorder', 'cacherev', 'visible', 'visibleold'],
  course_sections: ['id', 'course', 'section'],
  block_instances: ['id', 'parentcontextid'],
  cohort: ['id', 'contextid', 'descriptionformat', 'visible', 'timecreated', 'timemodified'],
  cohort_members: ['id', 'cohortid', 'userid', 'timeadded'],
  user_info_category: ['id', 'sortorder'],
  user_info_field: ['id', 'categoryid', 'datatype', 'sortorder', 'param1', 'param2', 'param3'],
  user_info_data: ['id', 'userid', 'fieldid', 'dataformat'],
  role: ['id'],
  role_context_levels: ['id', 'roleid', 'contextlevel'],
  role_assignments: ['id', 'roleid', 'contextid', 'userid', 'component', 'itemid'],
  enrol: ['id', 'courseid', 'enrol', 'customint1', 'customint2', 'sortorder', 'status'],
  user_enrolments: ['id', 'enrolid', 'userid', 'status', 'timestart', 'timeend'],
  groups: ['id', 'courseid', 'idnumber', 'name'],
  groups_members: ['id', 'groupid', 'userid', 'component', 'itemid'],
  groupings: ['id', 'courseid', 'idnumber', 'name'],
  groupings_groups: ['id', 'groupingid', 'groupid'],
  cache_flags: ['id', 'flagtype', 'name'],
} as const;
export type Table = keyof typeof TABLES;

const TEXT_COLUMNS = new Set([
  'path',
  'username',
  'format',
  'component',
  'enrol',
  'auth',
  'datatype',
  'param1',
  'param2',
  'param3',
  'shortname',
  'idnumber',
  'name',
  'flagtype',
]);

/** A row, ids as numbers (PostgreSQL returns bigints as text), text columns as strings, NULL as null. */
export type Rec = Readonly<Record<string, number | string | null>>;

/** `row → column` (foreign keys): what each row points at. */
const REFERENCES: readonly (readonly [Table, string, Table])[] = [
  ['cohort', 'contextid', 'context'],
  ['cohort_members', 'cohortid', 'cohort'],
  ['cohort_members', 'userid', 'user'],
  ['user_info_field', 'categoryid', 'user_info_category'],
  ['user_info_data', 'userid', 'user'],
  ['user_info_data', 'fieldid', 'user_info_field'],
  ['role_assignments', 'roleid', 'role'],
  ['role_assignments', 'contextid', 'context'],
  ['role_assignments', 'userid', 'user'],
  ['enrol', 'courseid', 'course'],
  ['user_enrolments', 'enrolid', 'enrol'],
  ['user_enrolments', 'userid', 'user'],
  ['groups', 'courseid', 'course'],
  ['groups_members', 'groupid', 'groups'],
  ['groups_members', 'userid', 'user'],
  ['groupings', 'courseid', 'course'],
  ['groupings_groups', 'groupingid', 'groupings'],
  ['groupings_groups', 'groupid', 'groups'],
];

/** Rows Moodle's delete_user() removes: none may belong to a deleted user. */
const USER_ROWS: readonly Table[] = [
  'cohort_members',
  'user_info_data',
  'role_assignments',
  'user_enrolments',
  'groups_members',
];

const CONTEXT_SYSTEM = 10;
const CONTEXT_USER = 30;
const CONTEXT_CATEGORY = 40;
const CONTEXT_COURSE = 50;
const CONTEXT_BLOCK = 80;

export class Data {
  readonly byId = new Map<Table, Map<number, Rec>>();
  private readonly contextsByKey = new Map<string, Rec[]>();

  constructor(
    readonly rows: Readonly<Record<Table, readonly Rec[]>>,
    readonly localHostId: number | null,
  ) {
    for (const table of Object.keys(rows) as Table[]) {
      this.byId.set(table, new Map(rows[table].map((r) => [Number(r.id), r])));
    }
    for (const c of rows.context) {
      const key = `${c.contextlevel}:${c.instanceid}`;
      this.contextsByKey.set(key, [...(this.contextsByKey.get(key) ?? []), c]);
    }
  }

  get(table: Table, id: unknown): Rec | undefined {
    return this.byId.get(table)?.get(Number(id));
  }

  contextOf(level: number, instance: unknown): Rec | undefined {
    return this.contextsByKey.get(`${level}:${Number(instance)}`)?.[0];
  }

  duplicateContexts(): [string, Rec[]][] {
    return [...this.contextsByKey].filter(([, list]) => list.length > 1);
  }
}

async function load(db: IntegrityReader): Promise<Data> {
  const rows = {} as Record<Table, Rec[]>;
  for (const [table, columns] of Object.entries(TABLES) as [Table, readonly string[]][]) {
    const raw = await db.query(`SELECT ${columns.join(', ')} FROM {${table}} ORDER BY id`);
    rows[table] = raw.map((r) =>
      Object.fromEntries(
        columns.map((c) => {
          const v = r[c];
          return [c, v === null || v === undefined ? null : TEXT_COLUMNS.has(c) ? String(v) : Number(v)];
        }),
      ),
    );
  }
  const [config] = await db.query("SELECT value FROM {config} WHERE name = 'mnet_localhost_id'");
  return new Data(rows, config === undefined ? null : Number(config.value));
}

const contextLabel = (c: Rec) => `context ${c.id} (contextlevel ${c.contextlevel}, instanceid ${c.instanceid})`;
const userLabel = (u: Rec) => `user ${u.id} (${u.username})`;

/** The context a context must hang under (null for the system one), or why it cannot be known. */
function expectedParent(d: Data, c: Rec, system: Rec | undefined): Rec | null | string {
  const level = Number(c.contextlevel);
  if (level === CONTEXT_SYSTEM) return null;
  const missing = (table: Table) => `instanceid ${c.instanceid} not found in ${table}`;
  const underSystem = system ?? 'no system context to hang under';
  switch (level) {
    case CONTEXT_USER:
      return d.get('user', c.instanceid) === undefined ? missing('user') : underSystem;
    case CONTEXT_CATEGORY: {
      const category = d.get('course_categories', c.instanceid);
      if (category === undefined) return missing('course_categories');
      if (category.parent === 0) return underSystem;
      return d.contextOf(CONTEXT_CATEGORY, category.parent) ?? `its parent category ${category.parent} has no context`;
    }
    case CONTEXT_COURSE: {
      const course = d.get('course', c.instanceid);
      if (course === undefined) return missing('course');
      if (course.category === 0) return underSystem;
      return d.contextOf(CONTEXT_CATEGORY, course.category) ?? `its category ${course.category} has no context`;
    }
    case CONTEXT_BLOCK: {
      const block = d.get('block_instances', c.instanceid);
      if (block === undefined) return missing('block_instances');
      return d.get('context', block.parentcontextid) ?? `parentcontextid ${block.parentcontextid} not found in context`;
    }
    default: {
      // Modules and other levels: trust the parent the path names, and check the path agrees with it.
      const parentId = String(c.path ?? '')
        .split('/')
        .at(-2);
      if (parentId === undefined || parentId === '') return `path ${JSON.stringify(c.path)} names no parent`;
      return d.get('context', parentId) ?? `parent context ${parentId} of its path not found in context`;
    }
  }
}

function contexts(d: Data): string[] {
  const out: string[] = [];
  for (const [, list] of d.duplicateContexts()) {
    const [first] = list as [Rec];
    out.push(
      `context (contextlevel ${first.contextlevel}, instanceid ${first.instanceid}): ${list.length} rows (ids ${list.map((c) => c.id).join(', ')})`,
    );
  }
  const system = d.contextOf(CONTEXT_SYSTEM, 0);
  if (system === undefined) out.push('no system context (contextlevel 10, instanceid 0)');
  for (const c of d.rows.context) {
    const parent = expectedParent(d, c, system);
    if (typeof parent === 'string') {
      out.push(`${contextLabel(c)}: ${parent}`);
      continue;
    }
    const path = parent === null ? `/${c.id}` : `${parent.path}/${c.id}`;
    const depth = parent === null ? 1 : Number(parent.depth) + 1;
    if (c.path !== path) out.push(`${contextLabel(c)}: path ${JSON.stringify(c.path)}, expected "${path}"`);
    if (c.depth !== depth) out.push(`${contextLabel(c)}: depth ${c.depth}, expected ${depth}`);
  }
  return out;
}

/** Moodle creates a context with every user (and keeps it when the user is deleted), category and course. */
function instances(d: Data): string[] {
  const out: string[] = [];
  for (const u of d.rows.user) if (!d.contextOf(CONTEXT_USER, u.id)) out.push(`${userLabel(u)}: no user context`);
  for (const c of d.rows.course_categories) {
    if (!d.contextOf(CONTEXT_CATEGORY, c.id)) out.push(`course_categories ${c.id}: no category context`);
  }
  for (const c of d.rows.course) if (!d.contextOf(CONTEXT_COURSE, c.id)) out.push(`course ${c.id}: no course context`);
  return out;
}

function mnet(d: Data): string[] {
  if (d.localHostId === null) return ['config mnet_localhost_id is not set'];
  return d.rows.user
    .filter((u) => u.mnethostid !== d.localHostId)
    .map((u) => `${userLabel(u)}: mnethostid ${u.mnethostid}, expected ${d.localHostId} (mnet_localhost_id)`);
}

function categories(d: Data): string[] {
  const out: string[] = [];
  const counts = new Map<unknown, number>();
  for (const c of d.rows.course) counts.set(c.category, (counts.get(c.category) ?? 0) + 1);
  for (const cat of d.rows.course_categories) {
    const label = `course_categories ${cat.id}`;
    const parent = cat.parent === 0 ? null : d.get('course_categories', cat.parent);
    if (parent === undefined) {
      out.push(`${label}: parent ${cat.parent} not found in course_categories`);
    } else {
      const path = parent === null ? `/${cat.id}` : `${parent.path}/${cat.id}`;
      const depth = parent === null ? 1 : Number(parent.depth) + 1;
      if (cat.path !== path) out.push(`${label}: path ${JSON.stringify(cat.path)}, expected "${path}"`);
      if (cat.depth !== depth) out.push(`${label}: depth ${cat.depth}, expected ${depth}`);
    }
    const courses = counts.get(cat.id) ?? 0;
    if (cat.coursecount !== courses) out.push(`${label}: coursecount ${cat.coursecount}, expected ${courses}`);
  }
  return out;
}

function courses(d: Data): string[] {
  const out: string[] = [];
  for (const c of d.rows.course) {
    if (c.category === 0) {
      if (c.format !== 'site') out.push(`course ${c.id}: category 0, but only the site course has none`);
    } else if (d.get('course_categories', c.category) === undefined) {
      out.push(`course ${c.id}: category ${c.category} not found in course_categories`);
    }
  }
  return out;
}

/** A cohort lives in the system context or in a category's. */
function cohorts(d: Data): string[] {
  const out: string[] = [];
  for (const cohort of d.rows.cohort) {
    const context = d.get('context', cohort.contextid);
    const level = Number(context?.contextlevel);
    if (context !== undefined && level !== CONTEXT_SYSTEM && level !== CONTEXT_CATEGORY) {
      out.push(
        `cohort ${cohort.id}: contextid ${cohort.contextid} is a contextlevel ${level} context, expected 10 or 40`,
      );
    }
  }
  return out;
}

function references(d: Data): string[] {
  const out: string[] = [];
  for (const [table, column, target] of REFERENCES) {
    for (const row of d.rows[table]) {
      if (d.get(target, row[column]) === undefined) {
        out.push(`${table} ${row.id}: ${column} ${row[column]} not found in ${target}`);
      }
    }
  }
  return out;
}

function deletedUsers(d: Data): string[] {
  const out: string[] = [];
  for (const table of USER_ROWS) {
    for (const row of d.rows[table]) {
      if (d.get('user', row.userid)?.deleted === 1) {
        out.push(`${table} ${row.id}: userid ${row.userid} is a deleted user`);
      }
    }
  }
  return out;
}

/** role_assignments has no unique index: Moodle's API avoids duplicates itself. */
function duplicates(d: Data): string[] {
  const seen = new Map<string, Rec[]>();
  for (const ra of d.rows.role_assignments) {
    const key = `roleid ${ra.roleid}, contextid ${ra.contextid}, userid ${ra.userid}, component ${JSON.stringify(ra.component)}, itemid ${ra.itemid}`;
    seen.set(key, [...(seen.get(key) ?? []), ra]);
  }
  return [...seen]
    .filter(([, list]) => list.length > 1)
    .map(([key, list]) => `role_assignments ${list.map((r) => r.id).join(', ')}: duplicates of (${key})`);
}

/**
 * Cohort enrolment instances name an existing cohort (and group of their course); rows owned by enrol_cohort
 * belong to a cohort instance the user is enrolled through, or Moodle's cohort sync deletes them.
 */
function cohortEnrolments(d: Data): string[] {
  const out: string[] = [];
  for (const e of d.rows.enrol.filter((row) => row.enrol === 'cohort')) {
    if (d.get('cohort', e.customint1) === undefined) {
      out.push(`enrol ${e.id}: customint1 ${e.customint1} not found in cohort`);
    }
    if (e.customint2 !== null && e.customint2 !== 0) {
      const group = d.get('groups', e.customint2);
      if (group === undefined) out.push(`enrol ${e.id}: customint2 ${e.customint2} not found in groups`);
      else if (group.courseid !== e.courseid) {
        out.push(`enrol ${e.id}: customint2 ${e.customint2} is a group of course ${group.courseid}, not ${e.courseid}`);
      }
    }
  }
  const enrolled = new Set(d.rows.user_enrolments.map((ue) => `${ue.enrolid}:${ue.userid}`));
  for (const table of ['role_assignments', 'groups_members'] as const) {
    for (const row of d.rows[table].filter((r) => r.component === 'enrol_cohort')) {
      const label = `${table} ${row.id}: component enrol_cohort`;
      if (d.get('enrol', row.itemid)?.enrol !== 'cohort') {
        out.push(`${label}, itemid ${row.itemid} is not a cohort enrolment instance`);
      } else if (!enrolled.has(`${row.itemid}:${row.userid}`)) {
        out.push(`${label}, but user ${row.userid} is not enrolled through enrol ${row.itemid}`);
      }
    }
  }
  return out;
}

/**
 * Values Moodle's own API always writes (reference-writes.md §2, §6–15), which a direct-SQL writer could get
 * wrong without any reference breaking: flags in range, timestamps set, text-field parameters, sortorders.
 */
function moodleValues(d: Data): string[] {
  const out: string[] = [];
  const flag = (v: unknown) => v === 0 || v === 1;
  for (const u of d.rows.user.filter((row) => row.deleted === 0)) {
    if (u.confirmed !== 1) out.push(`user ${u.id}: confirmed ${u.confirmed}, Moodle's API writes 1`);
    if (u.auth === '' || u.auth === null) out.push(`user ${u.id}: no auth plugin`);
  }
  for (const c of d.rows.course_categories) {
    if (Number(c.sortorder) <= 0) out.push(`course_categories ${c.id}: sortorder ${c.sortorder}, expected > 0`);
    if (!flag(c.visible) || !flag(c.visibleold)) out.push(`course_categories ${c.id}: visible/visibleold not 0 or 1`);
  }
  for (const c of d.rows.cohort) {
    if (c.descriptionformat !== 1) out.push(`cohort ${c.id}: descriptionformat ${c.descriptionformat}, expected 1`);
    if (!flag(c.visible)) out.push(`cohort ${c.id}: visible ${c.visible}, expected 0 or 1`);
    if (Number(c.timecreated) <= 0 || Number(c.timemodified) < Number(c.timecreated)) {
      out.push(`cohort ${c.id}: timecreated ${c.timecreated} / timemodified ${c.timemodified}`);
    }
  }
  for (const m of d.rows.cohort_members) {
    if (Number(m.timeadded) <= 0) out.push(`cohort_members ${m.id}: timeadded ${m.timeadded}, expected a time`);
  }
  for (const c of d.rows.user_info_category) {
    if (Number(c.sortorder) < 1) out.push(`user_info_category ${c.id}: sortorder ${c.sortorder}, expected ≥ 1`);
  }
  const fields = new Map<number, Rec>(d.rows.user_info_field.map((f) => [Number(f.id), f]));
  for (const f of fields.values()) {
    if (Number(f.sortorder) < 1) out.push(`user_info_field ${f.id}: sortorder ${f.sortorder}, expected ≥ 1`);
    if (f.datatype === 'text' && !(/^\d+$/.test(String(f.param1)) && /^\d+$/.test(String(f.param2)))) {
      out.push(
        `user_info_field ${f.id}: a text field needs param1 (size) and param2 (max length), got ${f.param1}, ${f.param2}`,
      );
    }
  }
  for (const v of d.rows.user_info_data) {
    if (fields.get(Number(v.fieldid))?.datatype === 'text' && v.dataformat !== 0) {
      out.push(`user_info_data ${v.id}: dataformat ${v.dataformat} for a text field, expected 0`);
    }
  }
  const pairs = new Map<string, number[]>();
  for (const m of d.rows.cohort_members) {
    const key = `${m.cohortid}:${m.userid}`;
    pairs.set(key, [...(pairs.get(key) ?? []), Number(m.id)]);
  }
  for (const [key, ids] of pairs) {
    if (ids.length > 1) out.push(`cohort_members ${ids.join(', ')}: duplicate membership (cohortid:userid ${key})`);
  }
  return out;
}

/** The checks, in the order they run and report. */
const CHECKS = {
  contexts,
  instances,
  mnet,
  categories,
  courses,
  cohorts,
  references,
  'deleted-users': deletedUsers,
  duplicates,
  'cohort-enrolments': cohortEnrolments,
  'moodle-values': moodleValues,
  ...COURSE_CHECKS,
} satisfies Record<string, (d: Data) => string[]>;
export type IntegrityCheck = keyof typeof CHECKS;
export const INTEGRITY_CHECKS = Object.keys(CHECKS) as IntegrityCheck[];

/** Every integrity problem of the Moodle behind `db`, one message each; empty when it is consistent. */
export async function checkIntegrity(db: IntegrityReader, options: IntegrityOptions = {}): Promise<string[]> {
  const data = await load(db);
  const skip = new Set(options.skip ?? []);
  return INTEGRITY_CHECKS.filter((name) => !skip.has(name)).flatMap((name) => CHECKS[name](data));
}

/** Throws, listing every problem, unless the Moodle behind `db` is consistent. */
export async function assertIntegrity(db: IntegrityReader, options: IntegrityOptions = {}): Promise<void> {
  const problems = await checkIntegrity(db, options);
  if (problems.length > 0) throw new Error(`Moodle integrity: ${problems.length} problems\n  ${problems.join('\n  ')}`);
}
