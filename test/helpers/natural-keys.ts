/**
 * Moodle rows named by natural keys instead of ids, so that two sites written by the same applies compare
 * equal whatever ids each database handed out: every row is filed under its natural key (a user by username, a
 * group by `<course shortname>/<idnumber>`, a context by `<level>:<instance key>`…), its `id` is dropped, and
 * every column holding an id of another row (or a path of ids) holds that row's key instead.
 *
 * NATURAL_KEYS says, per table, which columns name a row and which hold ids: adding a table is one line.
 * `rowDifferences` then lists, column by column, what two keyed sites hold differently.
 */
import type { RefRow, RefValue, Snapshot } from './reference-rows.js';

/** Where an id column points: a table, or per row a table or `undefined` (the value is not an id there). */
type Pointer = string | ((row: RefRow) => string | undefined);

interface TableKeys {
  /** What names a row: its columns (ids as keys) joined with `/`, or made from them by a function. */
  readonly key: readonly string[] | ((column: (name: string) => string) => string);
  /** Columns holding the id of another row. */
  readonly ids?: Readonly<Record<string, Pointer>>;
  /** Columns holding a Moodle path (`/1/3/17`), each segment an id. */
  readonly paths?: Readonly<Record<string, Pointer>>;
}

const LEVELS: Readonly<Record<string, readonly [name: string, table: string]>> = {
  '10': ['system', 'system'],
  '30': ['user', 'user'],
  '40': ['category', 'course_categories'],
  '50': ['course', 'course'],
  '70': ['module', 'course_modules'],
  '80': ['block', 'block_instances'],
};

/** `itemid` of a row owned by an enrolment plugin (`enrol_cohort`…) is the enrol instance's id. */
const enrolItem = (row: RefRow): string | undefined => (row.component?.startsWith('enrol_') ? 'enrol' : undefined);
/** customint1/2 of cohort (and meta) methods: the cohort (course) and the group they fill. */
const methodInt = (tables: Readonly<Record<string, string>>) => (row: RefRow) => tables[String(row.enrol)];

export const NATURAL_KEYS: Readonly<Record<string, TableKeys>> = {
  user: { key: ['username'] },
  context: {
    key: (c) => {
      const level = LEVELS[c('contextlevel')]?.[0] ?? `level ${c('contextlevel')}`;
      return level === 'system' ? level : `${level}:${c('instanceid')}`;
    },
    ids: { instanceid: (r) => LEVELS[String(r.contextlevel)]?.[1] },
    paths: { path: 'context' },
  },
  config: { key: ['name'] },
  config_plugins: { key: ['plugin', 'name'] },
  sessions: { key: ['sid'], ids: { userid: 'user' } },
  course_categories: { key: ['idnumber'], ids: { parent: 'course_categories' }, paths: { path: 'course_categories' } },
  cohort: { key: ['idnumber'], ids: { contextid: 'context' } },
  cohort_members: { key: ['cohortid', 'userid'], ids: { cohortid: 'cohort', userid: 'user' } },
  user_info_category: { key: ['name'] },
  user_info_field: { key: ['shortname'], ids: { categoryid: 'user_info_category' } },
  user_info_data: { key: ['fieldid', 'userid'], ids: { fieldid: 'user_info_field', userid: 'user' } },
  course: {
    key: ['shortname'],
    ids: { category: 'course_categories', defaultgroupingid: 'groupings', originalcourseid: 'course' },
  },
  course_sections: { key: ['course', 'section'], ids: { course: 'course' } },
  course_format_options: {
    key: ['courseid', 'format', 'sectionid', 'name'],
    ids: { courseid: 'course', sectionid: 'course_sections' },
  },
  // customint1 tells a course's cohort methods apart (their cohort); other methods are one of a kind per course.
  enrol: {
    key: ['courseid', 'enrol', 'customint1'],
    ids: {
      courseid: 'course',
      roleid: 'role',
      customint1: methodInt({ cohort: 'cohort', meta: 'course' }),
      customint2: methodInt({ cohort: 'groups', meta: 'groups' }),
    },
  },
  user_enrolments: { key: ['enrolid', 'userid'], ids: { enrolid: 'enrol', userid: 'user', modifierid: 'user' } },
  role_assignments: {
    key: ['roleid', 'contextid', 'userid', 'component', 'itemid'],
    ids: { roleid: 'role', contextid: 'context', userid: 'user', modifierid: 'user', itemid: enrolItem },
  },
  groups: { key: ['courseid', 'idnumber'], ids: { courseid: 'course' } },
  groups_members: { key: ['groupid', 'userid'], ids: { groupid: 'groups', userid: 'user', itemid: enrolItem } },
  groupings: { key: ['courseid', 'idnumber'], ids: { courseid: 'course' } },
  groupings_groups: { key: ['groupingid', 'groupid'], ids: { groupingid: 'groupings', groupid: 'groups' } },
  cache_flags: {
    key: ['flagtype', 'name'],
    ids: { name: (r) => (r.flagtype === 'accesslib/dirtyusers' ? 'user' : undefined) },
    paths: { name: (r) => (r.flagtype === 'accesslib/dirtycontexts' ? 'context' : undefined) },
  },
  role: { key: ['shortname'] },
  role_context_levels: { key: ['roleid', 'contextlevel'], ids: { roleid: 'role' } },
  role_capabilities: {
    key: ['roleid', 'contextid', 'capability'],
    ids: { roleid: 'role', contextid: 'context', modifierid: 'user' },
  },
  user_lastaccess: { key: ['userid', 'courseid'], ids: { userid: 'user', courseid: 'course' } },
};

/** A site's rows: table (without prefix) → natural key → row, ids replaced by keys, no `id` column. */
export interface KeyedSite {
  readonly tables: ReadonlyMap<string, ReadonlyMap<string, RefRow>>;
  /** The natural key of the row `id` of `table` (`?table#id` when there is none). */
  keyOf(table: string, id: RefValue | number): string;
}

const pointed = (pointer: Pointer | undefined, row: RefRow): string | undefined =>
  typeof pointer === 'function' ? pointer(row) : pointer;

/** Ids of 0 (or empty) mean "none" in Moodle: kept as they are. */
const isId = (value: RefValue): value is string => value !== null && value !== '' && value !== '0';

const byFirst = <T>([a]: [string, T], [b]: [string, T]): number => (a < b ? -1 : a > b ? 1 : 0);

/** Keys every row of `snapshot` (whose tables must all be in NATURAL_KEYS); fails on a key naming two rows. */
export function keyedSite(snapshot: Snapshot): KeyedSite {
  const keys = new Map<string, string>();
  const resolving = new Set<string>();

  const keyOf = (table: string, id: RefValue | number): string => {
    const at = `${table}#${String(id)}`;
    const known = keys.get(at);
    if (known !== undefined) return known;
    const row = snapshot.get(table)?.get(String(id));
    // A table not read (block_instances…) keeps its ids: only the install's rows are there, the same everywhere.
    if (row === undefined) return snapshot.has(table) ? `?${at}` : String(id);
    if (resolving.has(at)) throw new Error(`the natural key of ${at} refers to itself`);
    resolving.add(at);
    const { key } = keysOf(table);
    const column = (name: string): string => keyedValue(table, row, name) ?? '';
    const named = typeof key === 'function' ? key(column) : key.map(column).join('/');
    resolving.delete(at);
    keys.set(at, named);
    return named;
  };

  /** `row[column]`, an id (or path of ids) as the key of the row it points at. */
  const keyedValue = (table: string, row: RefRow, column: string): RefValue => {
    const { ids = {}, paths = {} } = keysOf(table);
    const value = row[column] ?? null;
    const idTable = pointed(ids[column], row);
    if (idTable !== undefined && isId(value)) return keyOf(idTable, value);
    const pathTable = pointed(paths[column], row);
    if (pathTable === undefined || value === null) return value;
    return value
      .split('/')
      .map((segment) => (segment === '' ? '' : keyOf(pathTable, segment)))
      .join('/');
  };

  const keyedRow = (table: string, row: RefRow): RefRow =>
    Object.fromEntries(
      Object.keys(row)
        .filter((column) => column !== 'id')
        .map((column) => [column, keyedValue(table, row, column)]),
    );

  const tables = new Map<string, Map<string, RefRow>>();
  for (const [table, rows] of snapshot) {
    const byKey = new Map<string, { id: string; row: RefRow }>();
    for (const [id, row] of rows) {
      const key = keyOf(table, id);
      const other = byKey.get(key)?.id;
      if (other !== undefined) throw new Error(`${table}: the natural key "${key}" names rows ${other} and ${id}`);
      byKey.set(key, { id, row: keyedRow(table, row) });
    }
    tables.set(table, new Map([...byKey].sort(byFirst).map(([key, { row }]) => [key, row])));
  }
  return { tables, keyOf };
}

function keysOf(table: string): TableKeys {
  const spec = NATURAL_KEYS[table];
  if (spec === undefined) throw new Error(`no natural key for table ${table}: add a line to NATURAL_KEYS`);
  return spec;
}

/** One site to compare: its rows after the applies, and as its fresh install held them. */
export interface Side {
  readonly name: string;
  readonly rows: KeyedSite;
  readonly install: KeyedSite;
}

const show = (value: RefValue | undefined): string => (value === undefined ? '(no column)' : JSON.stringify(value));

/**
 * Every difference between the rows of `a` and `b`, one line each naming the table, the natural key and the
 * column (`groups[<course>/<idnumber>].name: mariadb "3EME1", postgres "3EME2"`); empty when they are equal.
 *
 * The two fresh installs already differ in a few values (secrets, install times): a column that held different
 * values on both installs counts as equal while neither side's applies changed it.
 */
export function rowDifferences(a: Side, b: Side): string[] {
  const out: string[] = [];
  for (const table of new Set([...a.rows.tables.keys(), ...b.rows.tables.keys()])) {
    const rowsA = a.rows.tables.get(table);
    const rowsB = b.rows.tables.get(table);
    if (rowsA === undefined || rowsB === undefined) {
      out.push(`${table}: read on ${rowsA === undefined ? b.name : a.name} only`);
      continue;
    }
    for (const key of [...new Set([...rowsA.keys(), ...rowsB.keys()])].sort()) {
      const x = rowsA.get(key);
      const y = rowsB.get(key);
      const where = `${table}[${key}]`;
      if (x === undefined || y === undefined) {
        out.push(`${where}: on ${x === undefined ? b.name : a.name} only`);
        continue;
      }
      const installA = a.install.tables.get(table)?.get(key);
      const installB = b.install.tables.get(table)?.get(key);
      for (const column of new Set([...Object.keys(x), ...Object.keys(y)])) {
        if (x[column] === y[column]) continue;
        const untouched =
          installA !== undefined &&
          installB !== undefined &&
          installA[column] === x[column] &&
          installB[column] === y[column];
        if (!untouched) out.push(`${where}.${column}: ${a.name} ${show(x[column])}, ${b.name} ${show(y[column])}`);
      }
    }
  }
  return out;
}
