/**
 * Cohort-sync enrolment methods and their enrolments, read, planned and written by the entities themselves on
 * a fresh Moodle 4.5 of every target (the course, group and manual enrolment around them made by SQL as Moodle
 * writes them). The writes of §16 (add_instance + sync), §22 (a method with a group; the sync moving stale
 * memberships) and §27 (a member leaves the cohort, the sync unenrols; a stale enrol_cohort role goes) are
 * compared with reference-writes.json row by row, column by column; then suspension (unenrolaction 3),
 * disabling, enabling and deleting a method, a rollback, and the statement count of many enrolments.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { CohortEnrolOnRemoved } from '../../src/entities/cohort-enrol.js';
import { cohortEnrolEntity, methodKey } from '../../src/entities/cohort-enrol.js';
import type { CohortEnrolmentOptions } from '../../src/entities/cohort-enrolment.js';
import { cohortEnrolmentEntity } from '../../src/entities/cohort-enrolment.js';
import type { Change, EntityType } from '../../src/model/change.js';
import { addressOf, pairKey } from '../../src/model/change.js';
import type { CurrentIndex } from '../../src/model/current.js';
import type { DesiredObject } from '../../src/model/desired.js';
import type { StateObject } from '../../src/model/state.js';
import type { Queryable } from '../../src/moodle/database.js';
import { writeCategoryChanges } from '../../src/moodle/write-categories.js';
import { writeCohortChanges, writeCohortMemberChanges } from '../../src/moodle/write-cohorts.js';
import { ObjectIds, type WriteContext } from '../../src/moodle/write-context.js';
import { markUsersDirty } from '../../src/moodle/write-dirty-users.js';
import { writeUserChanges } from '../../src/moodle/write-users.js';
import { checkIntegrity } from '../helpers/integrity.js';
import { dropStaleTestDatabases } from '../helpers/mariadb.js';
import {
  compareWrites,
  diffSnapshots,
  installSymbols,
  type RefRow,
  type RefValue,
  type Writes,
} from '../helpers/reference-rows.js';
import { TARGETS } from '../helpers/targets.js';
import { change, referenceRows, type WriterSite, writerSite } from '../helpers/writer-site.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});
beforeAll(async () => {
  if (TARGETS.includes('mariadb')) await dropStaleTestDatabases();
});

const T0 = Math.floor(Date.now() / 1000) - 600;
const SKIPPED = ['logstore_standard_log'];
const COURSE = '0750001A-MATHS-2A';
const G2A = pairKey(COURSE, '0750001A-2A');
const GPROFS = pairKey(COURSE, 'profs-sync');
const M1 = methodKey(COURSE, '0750001A-2A', 'student');
const M2 = methodKey(COURSE, '0750001A-profs', 'teacher');
const USERS = ['jdupont', 'mmartin', 'tprof', 'seleve1', 'seleve2'];

const ref = (entity: EntityType, key: string) => ({ entity, key }) as const;

interface World {
  readonly w: WriterSite;
  readonly ids: ObjectIds;
  /** Methods in the state. */
  readonly managed: Set<string>;
  /** Reference symbols by table and id (`user` 6 → `<user:seleve1>`). */
  readonly sym: Record<string, Map<string, string>>;
  ctx(now: number): Promise<WriteContext>;
  sql(sql: string, params?: readonly (string | number)[]): Promise<void>;
  id(sql: string, params?: readonly (string | number)[]): Promise<number>;
  rows(sql: string, params?: readonly (string | number)[]): Promise<Record<string, unknown>[]>;
}

const name = (sym: World['sym'], table: string, id: unknown, symbol: string) => {
  sym[table] ??= new Map();
  sym[table].set(String(id), symbol);
};

/** A fresh site with the reference's users, categories, course (manual/guest/self instances), cohorts, group. */
async function world(target: (typeof TARGETS)[number]): Promise<World> {
  const w = await writerSite(target);
  cleanups.push(() => w.close());
  const ids = new ObjectIds();
  const sym: World['sym'] = installSymbols(await w.snapshot());
  const ctx = (now: number) => w.context(now, ids);
  const sql = async (text: string, params: readonly (string | number)[] = []) => {
    await w.db.transaction((tx) => tx.execute(text, params));
  };
  const rows = (text: string, params: readonly (string | number)[] = []) => w.rows(text, params);
  const id = async (text: string, params: readonly (string | number)[] = []) => {
    const found = await rows(text, params);
    if (found.length !== 1) throw new Error(`${text}: ${found.length} rows`);
    return Number(Object.values(found[0] as object)[0]);
  };
  const at = async (now: number, fn: (tx: Queryable, c: WriteContext) => Promise<void>) => {
    const c = await ctx(now);
    await w.db.transaction((tx) => fn(tx, c));
  };
  await at(T0 - 100, (tx, c) =>
    writeUserChanges(
      tx,
      c,
      USERS.map((u) => change('user', 'create', u, { auth: 'ldap', username: u, firstname: 'F', lastname: u })),
    ),
  );
  for (const u of USERS) name(sym, 'user', ids.get('user', u), `<user:${u}>`);
  await at(T0 - 90, (tx, c) =>
    writeCategoryChanges(tx, c, [
      change('category', 'create', '0750001A', { idnumber: '0750001A', name: 'Lycee', description: '' }),
      change(
        'category',
        'create',
        '0750001A-classes',
        { idnumber: '0750001A-classes', name: 'Classes' },
        { refs: { parent: ref('category', '0750001A') } },
      ),
    ]),
  );
  const category = ids.get('category', '0750001A-classes') as number;
  const t = T0 - 80;
  await sql(
    'INSERT INTO {course} (category, sortorder, fullname, shortname, idnumber, format, visible, visibleold, timecreated, timemodified, cacherev) ' +
      "VALUES (?, 30001, 'Maths 2nde A', 'MATHS-2A', ?, 'topics', 1, 1, ?, ?, ?)",
    [category, COURSE, t, t, t],
  );
  const course = await id('SELECT id FROM {course} WHERE idnumber = ?', [COURSE]);
  ids.set('course', COURSE, course);
  name(sym, 'course', course, '<course:MATHS-2A>');
  await sql('UPDATE {course_categories} SET coursecount = 1 WHERE id = ?', [category]);
  const [catContext] = await rows('SELECT path FROM {context} WHERE contextlevel = 40 AND instanceid = ?', [category]);
  await sql("INSERT INTO {context} (contextlevel, instanceid, path, depth, locked) VALUES (50, ?, '', 4, 0)", [course]);
  const context = await id('SELECT id FROM {context} WHERE contextlevel = 50 AND instanceid = ?', [course]);
  await sql('UPDATE {context} SET path = ? WHERE id = ?', [`${String(catContext?.path)}/${context}`, context]);
  name(sym, 'context', context, '<ctx:course:MATHS-2A>');
  for (const section of [0, 1, 2, 3, 4]) {
    await sql(
      'INSERT INTO {course_sections} (course, section, summaryformat, visible, timemodified) VALUES (?, ?, 1, 1, ?)',
      [course, section, t],
    );
  }
  for (const [plugin, status, sortorder, role] of [
    ['manual', 0, 0, 5],
    ['guest', 1, 1, 0],
    ['self', 1, 2, 5],
  ] as const) {
    await sql(
      'INSERT INTO {enrol} (enrol, status, courseid, sortorder, roleid, timecreated, timemodified) VALUES (?, ?, ?, ?, ?, ?, ?)',
      [plugin, status, course, sortorder, role, t, t],
    );
  }
  await at(T0 - 70, async (tx, c) => {
    await writeCohortChanges(tx, c, [
      change('cohort', 'create', '0750001A-2A', {
        idnumber: '0750001A-2A',
        name: 'Eleves 2nde A',
        component: 'local_ldap2moodle',
        description: '',
        visible: 1,
      }),
      change(
        'cohort',
        'create',
        '0750001A-profs',
        { idnumber: '0750001A-profs', name: 'Profs', description: '', visible: 1 },
        { refs: { category: ref('category', '0750001A') } },
      ),
    ]);
    await writeCohortMemberChanges(
      tx,
      c,
      [
        ['0750001A-2A', 'seleve1'],
        ['0750001A-2A', 'seleve2'],
        ['0750001A-profs', 'tprof'],
      ].map(([cohort = '', u = '']) =>
        change(
          'cohort_member',
          'create',
          pairKey(cohort, u),
          {},
          { refs: { cohort: ref('cohort', cohort), user: ref('user', u) } },
        ),
      ),
    );
  });
  for (const cohort of ['0750001A-2A', '0750001A-profs'])
    name(sym, 'cohort', ids.get('cohort', cohort), `<cohort:${cohort}>`);
  name(sym, 'cohort_members', ids.get('cohort_member', pairKey('0750001A-2A', 'seleve1')), '<cohort_members#1>');
  await sql(
    'INSERT INTO {groups} (courseid, idnumber, name, descriptionformat, picture, visibility, participation, timecreated, timemodified) ' +
      "VALUES (?, '0750001A-2A', '2nde A', 0, 0, 0, 1, ?, ?)",
    [course, T0 - 60, T0 - 60],
  );
  const group = await id("SELECT id FROM {groups} WHERE idnumber = '0750001A-2A'");
  ids.set('group', G2A, group);
  name(sym, 'groups', group, '<group:0750001A-2A>');
  return { w, ids, managed: new Set(), sym, ctx, sql, id, rows };
}

const ENTITIES: readonly EntityType[] = [
  'user',
  'category',
  'cohort',
  'cohort_member',
  'course',
  'group',
  'cohort_enrol',
  'cohort_enrolment',
];

function copyIds(from: ObjectIds, to: ObjectIds): ObjectIds {
  for (const entity of ENTITIES) for (const [key, id] of from.all(entity)) to.set(entity, key, id);
  return to;
}

/** The index of what Moodle holds, from the run's id registry (what the pipeline's readings give). */
function indexOf(ids: ObjectIds): CurrentIndex {
  return {
    id: (entity, key) => ids.get(entity, key),
    key: (entity, id) => [...ids.all(entity)].find(([, v]) => v === id)?.[0],
    ids: (entity) => [...ids.all(entity).values()],
  };
}

const desiredMethod = (key: string, group = ''): DesiredObject => {
  const [course = '', cohort = '', role = ''] = key.split('/');
  return {
    key,
    dn: `cn=${cohort}`,
    values: { course, cohort, role, group },
    refs: {
      course: ref('course', course),
      cohort: ref('cohort', cohort),
      ...(group ? { group: ref('group', group) } : {}),
    },
    sourceDigest: 'sha256:m',
  };
};
const desiredEnrolment = (m: string, user: string, group = ''): DesiredObject => ({
  key: pairKey(m, user),
  dn: `uid=${user}`,
  values: { method: m, user, role: m.split('/').at(-1) ?? '', group },
  refs: { method: ref('cohort_enrol', m), user: ref('user', user) },
  sourceDigest: 'sha256:e',
});

/** The memberships of the test's cohorts, as `<cohort>/<user>`. */
async function membersNow(run: World): Promise<Set<string>> {
  const rows = await run.rows('SELECT cohortid, userid FROM {cohort_members}');
  const index = indexOf(run.ids);
  return new Set(
    rows.map((r) =>
      pairKey(
        index.key('cohort', Number(r.cohortid)) ?? `#${String(r.cohortid)}`,
        index.key('user', Number(r.userid)) ?? `#${String(r.userid)}`,
      ),
    ),
  );
}

interface Planned {
  readonly methods: readonly Change[];
  readonly enrolments: readonly Change[];
}

interface PlanOptions {
  readonly onRemoved?: CohortEnrolOnRemoved;
  readonly enrolments?: Partial<CohortEnrolmentOptions>;
}

/** Conflicts fail the plan, as the planner does. */
function refuse(conflicts: readonly { readonly message: string }[]): void {
  if (conflicts.length > 0) throw new Error(`conflicts: ${conflicts.map((c) => c.message).join('; ')}`);
}

/** Reads and diffs both entities as the pipeline does, then writes at `now` (recheck first, inside the tx). */
async function apply(
  run: World,
  now: number,
  methods: readonly DesiredObject[],
  enrolments: readonly DesiredObject[],
  options: PlanOptions = {},
  before?: (tx: Queryable, ctx: WriteContext) => Promise<void>,
  after?: (tx: Queryable) => Promise<void>,
): Promise<Planned> {
  // The write registry starts from what is known and is kept only when the transaction commits.
  const ids = copyIds(run.ids, new ObjectIds());
  const context = await run.w.context(now, ids);
  const { site, budget } = context;
  const methodEntity = cohortEnrolEntity({ roles: site.roles, onRemoved: options.onRemoved ?? 'disable' });
  const enrolmentEntity = cohortEnrolmentEntity({
    onMemberRemoved: 'moodle',
    unenrolAction: site.pluginConfig.get('enrol_cohort/unenrolaction'),
    ...options.enrolments,
  });
  const index = indexOf(run.ids);
  const wantedKeys = new Set([...methods, ...enrolments].map((d) => d.key));
  const wanted = (_: EntityType, key: string) => wantedKeys.has(key);
  const managed: StateObject[] = [...run.managed].map((key) => ({
    address: addressOf('cohort_enrol', key),
    type: 'cohort_enrol',
    id: run.ids.get('cohort_enrol', key) as number,
    key,
    source_digest: 'sha256:m',
    values: {},
  }));
  const { rows: methodRows } = await methodEntity.read(run.w.db, { site, budget, index });
  for (const row of methodRows) {
    const identity = methodEntity.identify(row, { facts: undefined, index });
    if (identity !== null) ids.set('cohort_enrol', identity.key, identity.id);
  }
  const methodDiff = methodEntity.diff(
    {
      desired: methods,
      current: methodRows,
      managed,
      index,
      owned: () => false,
      wanted,
      products: {},
    },
    undefined,
  );
  refuse(methodDiff.conflicts);
  const owned = new Set([
    ...run.managed,
    ...methodDiff.changes.filter((c) => c.action === 'create' || c.action === 'adopt').map((c) => c.key),
  ]);
  const { rows: enrolmentRows } = await enrolmentEntity.read(run.w.db, { site, budget, index });
  const enrolmentDiff = enrolmentEntity.diff(
    {
      desired: enrolments,
      current: enrolmentRows,
      managed: [],
      index,
      owned: (entity, key) => entity === 'cohort_enrol' && owned.has(key),
      wanted,
      // What the pipeline hands on: the methods after the plan, and the cohorts' members (read now: the member
      // writer of a test runs in the apply's transaction, after this plan).
      products: { ...methodDiff.products, cohortMembersAfter: await membersNow(run) },
    },
    undefined,
  );
  refuse(enrolmentDiff.conflicts);
  await run.w.db.transaction(async (tx) => {
    await before?.(tx, context);
    const known = { facts: undefined, index, site };
    expect(await methodEntity.recheck(tx, methodRows, methodDiff.changes, budget, known)).toEqual([]);
    expect(await enrolmentEntity.recheck(tx, enrolmentRows, enrolmentDiff.changes, budget, known)).toEqual([]);
    await methodEntity.write(tx, context, methodDiff.changes);
    await enrolmentEntity.write(tx, context, enrolmentDiff.changes);
    await after?.(tx);
  });
  copyIds(ids, run.ids);
  for (const c of methodDiff.changes) {
    if (c.action === 'create' || c.action === 'adopt') run.managed.add(c.key);
    if (c.action === 'delete') run.managed.delete(c.key);
  }
  return { methods: methodDiff.changes, enrolments: enrolmentDiff.changes };
}

// ---- symbols ----------------------------------------------------------------------------------------------

type IdTarget = string | ((row: RefRow) => string | undefined);
const cohortOwned = (row: RefRow) => (row.component === 'enrol_cohort' ? 'enrol' : undefined);
const ID_COLUMNS: Readonly<Record<string, Readonly<Record<string, IdTarget>>>> = {
  cache_flags: { id: 'cache_flags', name: (row) => (row.flagtype === 'accesslib/dirtyusers' ? 'user' : undefined) },
  cohort_members: { id: 'cohort_members', cohortid: 'cohort', userid: 'user' },
  enrol: {
    id: 'enrol',
    courseid: 'course',
    roleid: 'role',
    customint1: (row) => (row.enrol === 'cohort' ? 'cohort' : undefined),
    customint2: (row) => (row.enrol === 'cohort' ? 'groups' : undefined),
  },
  user_enrolments: { id: 'user_enrolments', enrolid: 'enrol', userid: 'user', modifierid: 'user' },
  role_assignments: {
    id: 'role_assignments',
    roleid: 'role',
    contextid: 'context',
    userid: 'user',
    modifierid: 'user',
    itemid: cohortOwned,
  },
  groups: { id: 'groups', courseid: 'course' },
  groups_members: { id: 'groups_members', groupid: 'groups', userid: 'user', itemid: cohortOwned },
};

/** `writes` in the reference's symbols: ids, times of `times` (`<now>`), expiries (`<now+Ns>`). */
function symbolise(writes: Writes, sym: World['sym'], times: readonly number[], timeout: number): Writes {
  const value = (table: string, column: string, v: RefValue, row: RefRow): RefValue => {
    if (v === null) return null;
    const target = ID_COLUMNS[table]?.[column];
    const t = typeof target === 'function' ? target(row) : target;
    if (t !== undefined) return sym[t]?.get(v) ?? v;
    if (/^[0-9]+$/.test(v) && times.includes(Number(v))) return '<now>';
    if (/^[0-9]+$/.test(v) && times.includes(Number(v) - timeout)) return `<now+${timeout}s>`;
    return v;
  };
  const rowOf = (table: string, row: RefRow, context = row): RefRow =>
    Object.fromEntries(Object.entries(row).map(([c, v]) => [c, value(table, c, v, context)]));
  return Object.fromEntries(
    Object.entries(writes).map(([table, w]) => [
      table,
      {
        ...(w.inserted && { inserted: w.inserted.map((r) => rowOf(table, r)) }),
        ...(w.deleted && { deleted: w.deleted.map((r) => rowOf(table, r)) }),
        ...(w.updated && {
          updated: w.updated.map((u) => {
            const row = u.row ?? {};
            const key = Array.isArray(u.key) ? undefined : (u.key as RefRow | undefined);
            return {
              id: value(table, 'id', u.id, row),
              changed: Object.fromEntries(
                Object.entries(u.changed).map(([c, v]) => [
                  c,
                  { old: value(table, c, v.old, row), new: value(table, c, v.new, row) },
                ]),
              ),
              ...(key === undefined ? {} : { key: rowOf(table, key, row) }),
            };
          }),
        }),
      },
    ]),
  );
}

/** Names the rows of `table` the test picks (by their user) with the reference's symbols. */
async function nameRows(run: World, table: string, where: string, symbols: Readonly<Record<string, string>>) {
  for (const row of await run.rows(`SELECT id, userid FROM {${table}} WHERE ${where}`)) {
    const user = USERS.find((u) => run.ids.get('user', u) === Number(row.userid));
    const symbol = user === undefined ? undefined : symbols[user];
    if (symbol !== undefined) name(run.sym, table, row.id, symbol);
  }
}

async function nameFlags(run: World, symbols: Readonly<Record<string, string>>) {
  for (const row of await run.rows("SELECT id, name FROM {cache_flags} WHERE flagtype = 'accesslib/dirtyusers'")) {
    const user = USERS.find((u) => String(run.ids.get('user', u)) === String(row.name));
    if (user !== undefined && symbols[user] !== undefined) name(run.sym, 'cache_flags', row.id, symbols[user]);
  }
}

const times = Array.from({ length: 120 }, (_, i) => T0 - 110 + i);
const course = (run: World) => run.ids.get('course', COURSE) as number;
const userId = (run: World, u: string) => run.ids.get('user', u) as number;
const actions = (changes: readonly Change[]) => changes.map((c) => [c.action, c.key]);

/** The course context's id and path. */
async function courseContext(run: World): Promise<{ id: number; path: string }> {
  const [row] = await run.rows('SELECT id, path FROM {context} WHERE contextlevel = 50 AND instanceid = ?', [
    course(run),
  ]);
  return { id: Number(row?.id), path: String(row?.path) };
}

/** What Moodle's manual enrol_user() wrote in §18: tprof as editingteacher, and his dirty mark. */
async function enrolTeacherManually(run: World, now: number): Promise<void> {
  const manual = await run.id("SELECT id FROM {enrol} WHERE enrol = 'manual' AND courseid = ?", [course(run)]);
  const context = await courseContext(run);
  await run.sql(
    'INSERT INTO {user_enrolments} (status, enrolid, userid, timestart, timeend, modifierid, timecreated, timemodified) VALUES (0, ?, ?, 0, 0, 2, ?, ?)',
    [manual, userId(run, 'tprof'), now, now],
  );
  await run.sql(
    "INSERT INTO {role_assignments} (roleid, contextid, userid, timemodified, modifierid, component, itemid, sortorder) VALUES (3, ?, ?, ?, 2, '', 0, 0)",
    [context.id, userId(run, 'tprof'), now],
  );
  const ctx = await run.ctx(now);
  await run.w.db.transaction((tx) => markUsersDirty(tx, ctx, [userId(run, 'tprof')]));
}

const compared = async (run: World, before: Awaited<ReturnType<WriterSite['snapshot']>>, step: string) => {
  const timeout = (await run.ctx(T0)).site.sessionTimeout;
  const ours = symbolise(diffSnapshots(before, await run.w.snapshot()), run.sym, times, timeout);
  return compareWrites(ours, referenceRows(step), { skipped: SKIPPED });
};

describe.each(TARGETS)('cohort enrolment writers on %s', (target) => {
  it('§16, §22, §27: rows as add_instance() with its sync, a method with a group, and a member leaving write them', async () => {
    const run = await world(target);
    const enrolled16 = [desiredEnrolment(M1, 'seleve1'), desiredEnrolment(M1, 'seleve2')];

    // §16: the method and its enrolments in one apply, as add_instance() and its sync.
    let before = await run.w.snapshot();
    const p16 = await apply(run, T0, [desiredMethod(M1)], enrolled16);
    expect(actions(p16.methods)).toEqual([['create', M1]]);
    expect(actions(p16.enrolments)).toEqual([
      ['create', pairKey(M1, 'seleve1')],
      ['create', pairKey(M1, 'seleve2')],
    ]);
    const m1 = run.ids.get('cohort_enrol', M1) as number;
    name(run.sym, 'enrol', m1, '<enrol:cohort@course:MATHS-2A>');
    await nameRows(run, 'user_enrolments', `enrolid = ${m1}`, {
      seleve1: '<user_enrolments#1>',
      seleve2: '<user_enrolments#2>',
    });
    await nameRows(run, 'role_assignments', `itemid = ${m1}`, {
      seleve1: '<role_assignments#1>',
      seleve2: '<role_assignments#2>',
    });
    await nameFlags(run, { seleve1: '<cache_flags#2>', seleve2: '<cache_flags#3>' });
    expect(await compared(run, before, 'enrol_cohort_instance')).toEqual([]);
    expect(run.ids.get('cohort_enrolment', pairKey(M1, 'seleve1'))).toBeGreaterThan(0);
    expect(await checkIntegrity(run.w.reader)).toEqual([]);
    // §17: the sync right after changes nothing; neither does planning again.
    const p17 = await apply(run, T0, [desiredMethod(M1)], enrolled16);
    expect([...p17.methods, ...p17.enrolments]).toEqual([]);

    // §18, §21: a manual teacher; memberships owned by the method in a group it does not have (by hand).
    await enrolTeacherManually(run, T0 + 1);
    const g2a = run.ids.get('group', G2A) as number;
    for (const u of ['seleve1', 'seleve2']) {
      await run.sql(
        "INSERT INTO {groups_members} (groupid, userid, timeadded, component, itemid) VALUES (?, ?, ?, 'enrol_cohort', ?)",
        [g2a, userId(run, u), T0 + 2, m1],
      );
    }
    await run.sql('UPDATE {groups} SET timemodified = ? WHERE id = ?', [T0 + 2, g2a]);
    await nameRows(run, 'groups_members', `groupid = ${g2a}`, {
      seleve1: '<groups_members#2>',
      seleve2: '<groups_members#3>',
    });

    // §22: a second method with a group; the stale memberships of the first go.
    before = await run.w.snapshot();
    await run.sql(
      'INSERT INTO {groups} (courseid, idnumber, name, descriptionformat, picture, visibility, participation, timecreated, timemodified) ' +
        "VALUES (?, 'profs-sync', 'Profs (sync)', 0, 0, 0, 1, ?, ?)",
      [course(run), T0 + 3, T0 + 3],
    );
    const gProfs = await run.id("SELECT id FROM {groups} WHERE idnumber = 'profs-sync'");
    run.ids.set('group', GPROFS, gProfs);
    name(run.sym, 'groups', gProfs, '<group:profs-sync>');
    const methods22 = [desiredMethod(M1), desiredMethod(M2, GPROFS)];
    const enrolled22 = [...enrolled16, desiredEnrolment(M2, 'tprof', GPROFS)];
    const p22 = await apply(run, T0 + 3, methods22, enrolled22);
    expect(actions(p22.methods)).toEqual([['create', M2]]);
    expect(p22.enrolments.map((c) => [c.action, c.key, c.before?.group ?? null])).toEqual([
      ['update', pairKey(M1, 'seleve1'), G2A],
      ['update', pairKey(M1, 'seleve2'), G2A],
      ['create', pairKey(M2, 'tprof'), null],
    ]);
    const m2 = run.ids.get('cohort_enrol', M2) as number;
    name(run.sym, 'enrol', m2, '<enrol:cohort@course:MATHS-2A>');
    await nameRows(run, 'user_enrolments', `enrolid = ${m2}`, { tprof: '<user_enrolments#4>' });
    await nameRows(run, 'role_assignments', `itemid = ${m2}`, { tprof: '<role_assignments#4>' });
    await nameRows(run, 'groups_members', `groupid = ${gProfs}`, { tprof: '<groups_members#4>' });
    await nameFlags(run, { tprof: '<cache_flags#4>' });
    expect(await compared(run, before, 'enrol_cohort_set_group')).toEqual([]);
    expect(await checkIntegrity(run.w.reader)).toEqual([]);

    // §24: role assignments with components in the course: one the sync does not own, one it owns wrongly.
    const context = await courseContext(run);
    for (const [component, itemid] of [
      ['local_ldap2moodle', 0],
      ['enrol_cohort', m1],
    ] as const) {
      await run.sql(
        'INSERT INTO {role_assignments} (roleid, contextid, userid, timemodified, modifierid, component, itemid, sortorder) VALUES (4, ?, ?, ?, 2, ?, ?, 0)',
        [context.id, userId(run, 'mmartin'), T0 + 4, component, itemid],
      );
    }
    const ctx24 = await run.ctx(T0 + 4);
    await run.w.db.transaction((tx) => markUsersDirty(tx, ctx24, [userId(run, 'mmartin')]));
    await nameRows(run, 'role_assignments', `itemid = ${m1} AND roleid = 4`, { mmartin: '<role_assignments#7>' });
    await nameFlags(run, { mmartin: '<cache_flags#5>' });

    // §27: seleve1 leaves the cohort (the member writer, same transaction); the sync unenrols her and drops
    // mmartin's stale enrol_cohort role.
    before = await run.w.snapshot();
    const membership = run.ids.get('cohort_member', pairKey('0750001A-2A', 'seleve1')) as number;
    const enrolled27 = [desiredEnrolment(M1, 'seleve2'), desiredEnrolment(M2, 'tprof', GPROFS)];
    const p27 = await apply(run, T0 + 5, methods22, enrolled27, {}, (tx, ctx) =>
      writeCohortMemberChanges(tx, ctx, [
        change('cohort_member', 'delete', pairKey('0750001A-2A', 'seleve1'), {}, { moodleId: membership }),
      ]),
    );
    expect(p27.enrolments.map((c) => [c.action, c.key, c.moodleId === null])).toEqual([
      ['delete', pairKey(M1, 'mmartin'), true],
      ['delete', pairKey(M1, 'seleve1'), false],
    ]);
    expect(await compared(run, before, 'cohort_remove_member')).toEqual([]);
    expect(await checkIntegrity(run.w.reader)).toEqual([]);
    const p28 = await apply(run, T0 + 6, methods22, enrolled27);
    expect([...p28.methods, ...p28.enrolments]).toEqual([]);
  });

  it('unenrolaction 3 suspends and comes back; a method disabled, enabled again, deleted as delete_instance()', async () => {
    const run = await world(target);
    const methods = [desiredMethod(M1, G2A)];
    const both = [desiredEnrolment(M1, 'seleve1', G2A), desiredEnrolment(M1, 'seleve2', G2A)];
    await apply(run, T0, methods, both);
    const m1 = run.ids.get('cohort_enrol', M1) as number;
    const g2a = run.ids.get('group', G2A) as number;
    const context = await courseContext(run);
    const [s1, s2] = [userId(run, 'seleve1'), userId(run, 'seleve2')];
    const enrolmentsOf = async () =>
      (
        await run.rows(
          'SELECT userid, status, modifierid, timemodified FROM {user_enrolments} WHERE enrolid = ? ORDER BY userid',
          [m1],
        )
      ).map((r) => [Number(r.userid), Number(r.status), Number(r.modifierid), Number(r.timemodified)]);
    const ownedRoles = async () =>
      (
        await run.rows(
          "SELECT userid FROM {role_assignments} WHERE component = 'enrol_cohort' AND itemid = ? ORDER BY userid",
          [m1],
        )
      ).map((r) => Number(r.userid));
    const members = async () =>
      (await run.rows('SELECT userid, component FROM {groups_members} WHERE groupid = ? ORDER BY userid', [g2a])).map(
        (r) => [Number(r.userid), String(r.component)],
      );
    const flag = async (flagtype: string, flagName: string) =>
      (
        await run.rows('SELECT timemodified FROM {cache_flags} WHERE flagtype = ? AND name = ?', [flagtype, flagName])
      ).map((r) => Number(r.timemodified));
    expect(await members()).toEqual([
      [s1, 'enrol_cohort'],
      [s2, 'enrol_cohort'],
    ]);

    // seleve1 leaves the cohort; Moodle is set to suspend (and remove roles).
    const suspendMode = { enrolments: { onMemberRemoved: 'suspend', unenrolAction: '3' } } as const;
    const p1 = await apply(run, T0 + 1, methods, [both[1] as DesiredObject], suspendMode);
    expect(actions(p1.enrolments)).toEqual([['suspend', pairKey(M1, 'seleve1')]]);
    expect(await enrolmentsOf()).toEqual([
      [s1, 1, 2, T0 + 1],
      [s2, 0, 2, T0],
    ]);
    expect(await ownedRoles()).toEqual([s2]);
    expect(await members()).toHaveLength(2);
    expect(await flag('accesslib/dirtyusers', String(s1))).toEqual([T0 + 1]);
    expect(await checkIntegrity(run.w.reader)).toEqual([]);
    const p1b = await apply(run, T0 + 1, methods, [both[1] as DesiredObject], suspendMode);
    expect(p1b.enrolments).toEqual([]);
    // Refused when the spec disagrees with Moodle's setting.
    await expect(
      apply(run, T0 + 1, methods, [both[1] as DesiredObject], {
        enrolments: { onMemberRemoved: 'unenrol', unenrolAction: '3' },
      }),
    ).rejects.toThrow(/disagrees/);

    // Back in the cohort: active again, the role back.
    const p2 = await apply(run, T0 + 2, methods, both, suspendMode);
    expect(actions(p2.enrolments)).toEqual([['unsuspend', pairKey(M1, 'seleve1')]]);
    expect(await enrolmentsOf()).toEqual([
      [s1, 0, 2, T0 + 2],
      [s2, 0, 2, T0],
    ]);
    expect(await ownedRoles()).toEqual([s1, s2]);

    // The rules drop the method: disabled (status only); its roles gone, as the sync right after update_status()
    // removes them (listed user by user); enrolments and memberships kept.
    const p3 = await apply(run, T0 + 3, [], [], { onRemoved: 'disable' });
    expect(p3.methods.map((c) => [c.action, c.before, c.after])).toEqual([['suspend', { status: 0 }, { status: 1 }]]);
    expect(p3.enrolments.map((c) => [c.action, c.key, c.before?.role, c.after.role])).toEqual([
      ['update', pairKey(M1, 'seleve1'), 'student', ''],
      ['update', pairKey(M1, 'seleve2'), 'student', ''],
    ]);
    const [method] = await run.rows('SELECT status, timemodified FROM {enrol} WHERE id = ?', [m1]);
    expect([Number(method?.status), Number(method?.timemodified)]).toEqual([1, T0]);
    expect(await ownedRoles()).toEqual([]);
    expect((await enrolmentsOf()).map(([u, status]) => [u, status])).toEqual([
      [s1, 0],
      [s2, 0],
    ]);
    expect(await members()).toHaveLength(2);
    expect(await flag('accesslib/dirtycontexts', context.path)).toEqual([T0 + 3]);
    expect(await checkIntegrity(run.w.reader)).toEqual([]);
    const p3b = await apply(run, T0 + 3, [], [], { onRemoved: 'disable' });
    expect([...p3b.methods, ...p3b.enrolments]).toEqual([]);

    // seleve2 leaves the cohort: unenrolled from the disabled method too (Moodle's handler and sync ignore its
    // status), then comes back: the sync does not enrol anyone with a disabled method.
    const s2Membership = await run.id('SELECT id FROM {cohort_members} WHERE userid = ?', [s2]);
    await run.sql('DELETE FROM {cohort_members} WHERE id = ?', [s2Membership]);
    const p3c = await apply(run, T0 + 3, [], [], { onRemoved: 'disable' });
    expect(p3c.enrolments.map((c) => [c.action, c.key])).toEqual([['delete', pairKey(M1, 'seleve2')]]);
    expect(p3c.enrolments[0]?.reason).toContain('disabled method');
    expect((await enrolmentsOf()).map(([u]) => u)).toEqual([s1]);
    expect(
      await run.rows(
        `SELECT ue.id FROM {user_enrolments} ue
           JOIN {enrol} e ON (e.id = ue.enrolid AND e.enrol = 'cohort')
      LEFT JOIN {cohort_members} cm ON (cm.cohortid = e.customint1 AND cm.userid = ue.userid)
          WHERE cm.id IS NULL`,
      ),
    ).toEqual([]);
    expect(await checkIntegrity(run.w.reader)).toEqual([]);
    await run.sql('INSERT INTO {cohort_members} (cohortid, userid, timeadded) VALUES (?, ?, ?)', [
      run.ids.get('cohort', '0750001A-2A') as number,
      s2,
      T0 + 3,
    ]);
    const p3d = await apply(run, T0 + 3, [], [], { onRemoved: 'disable' });
    expect([...p3d.methods, ...p3d.enrolments]).toEqual([]);

    // Asked for again: enabled, the roles given back.
    const p4 = await apply(run, T0 + 4, methods, both, suspendMode);
    expect(actions(p4.methods)).toEqual([['unsuspend', M1]]);
    expect(actions(p4.enrolments)).toEqual([
      ['update', pairKey(M1, 'seleve1')],
      ['create', pairKey(M1, 'seleve2')],
    ]);
    expect(await ownedRoles()).toEqual([s1, s2]);

    // Last-enrolment leftovers of seleve2 (an activity's role, a hand-made group, a last access); tprof is
    // also enrolled by hand, so his rows stay.
    await enrolTeacherManually(run, T0 + 5);
    await run.sql("INSERT INTO {context} (contextlevel, instanceid, path, depth, locked) VALUES (70, 999, '', 5, 0)");
    const moduleContext = await run.id('SELECT id FROM {context} WHERE contextlevel = 70 AND instanceid = 999');
    await run.sql('UPDATE {context} SET path = ? WHERE id = ?', [`${context.path}/${moduleContext}`, moduleContext]);
    await run.sql(
      "INSERT INTO {role_assignments} (roleid, contextid, userid, timemodified, modifierid, component, itemid, sortorder) VALUES (5, ?, ?, ?, 2, '', 0, 0)",
      [moduleContext, s2, T0 + 5],
    );
    await run.sql(
      'INSERT INTO {groups} (courseid, idnumber, name, descriptionformat, picture, visibility, participation, timecreated, timemodified) ' +
        "VALUES (?, 'other', 'Other', 0, 0, 0, 1, ?, ?)",
      [course(run), T0 + 5, T0 + 5],
    );
    const other = await run.id("SELECT id FROM {groups} WHERE idnumber = 'other'");
    const tprof = userId(run, 'tprof');
    for (const u of [s2, tprof]) {
      await run.sql(
        "INSERT INTO {groups_members} (groupid, userid, timeadded, component, itemid) VALUES (?, ?, ?, '', 0)",
        [other, u, T0 + 5],
      );
      await run.sql('INSERT INTO {user_lastaccess} (userid, courseid, timeaccess) VALUES (?, ?, ?)', [
        u,
        course(run),
        T0 + 5,
      ]);
    }

    // The rules drop it again, now to be deleted: everyone it enrolled is unenrolled, then the row goes.
    const p5 = await apply(run, T0 + 6, [], [], { onRemoved: 'delete' });
    expect(actions(p5.methods)).toEqual([['delete', M1]]);
    expect(await run.rows('SELECT id FROM {enrol} WHERE id = ?', [m1])).toEqual([]);
    expect(await enrolmentsOf()).toEqual([]);
    const left = async (table: string, users: readonly number[]) =>
      (await run.rows(`SELECT userid FROM {${table}} WHERE userid IN (${users.join(', ')}) ORDER BY userid`)).map((r) =>
        Number(r.userid),
      );
    expect(await left('role_assignments', [s1, s2, tprof])).toEqual([tprof]);
    expect(await left('groups_members', [s1, s2, tprof])).toEqual([tprof]);
    expect(await left('user_lastaccess', [s1, s2, tprof])).toEqual([tprof]);
    const groupTimes = await run.rows('SELECT id, timemodified FROM {groups} WHERE courseid = ? ORDER BY id', [
      course(run),
    ]);
    expect(groupTimes.map((g) => Number(g.timemodified))).toEqual([T0 + 6, T0 + 6]);
    for (const u of [s1, s2]) expect(await flag('accesslib/dirtyusers', String(u))).toEqual([T0 + 6]);
    expect(await flag('accesslib/dirtycontexts', context.path)).toEqual([T0 + 6]);
    expect(await checkIntegrity(run.w.reader)).toEqual([]);
  });

  it('many enrolments cost a few statements; a failure rolls everything back', async () => {
    const run = await world(target);
    const many = Array.from({ length: 300 }, (_, i) => `e${String(i).padStart(3, '0')}`);
    const ctx = await run.ctx(T0 - 50);
    await run.w.db.transaction(async (tx) => {
      await writeUserChanges(
        tx,
        ctx,
        many.map((u) => change('user', 'create', u, { auth: 'ldap', username: u, firstname: 'F', lastname: u })),
      );
      await writeCohortMemberChanges(
        tx,
        ctx,
        many.map((u) =>
          change(
            'cohort_member',
            'create',
            pairKey('0750001A-2A', u),
            {},
            { refs: { cohort: ref('cohort', '0750001A-2A'), user: ref('user', u) } },
          ),
        ),
      );
    });
    const methods = [desiredMethod(M1, G2A)];
    const enrolled = many.map((u) => desiredEnrolment(M1, u, G2A));

    const before = await run.w.snapshot();
    const failure = new Error('stop');
    const attempt = apply(run, T0, methods, enrolled, {}, undefined, async (tx) => {
      // Everything was written inside the transaction.
      const [row] = await tx.query('SELECT COUNT(id) AS n FROM {user_enrolments}');
      expect(Number(row?.n)).toBe(300);
      throw failure;
    });
    await expect(attempt).rejects.toBe(failure);
    expect(diffSnapshots(before, await run.w.snapshot())).toEqual({});
    run.managed.clear();

    const counted = async (fn: () => Promise<unknown>): Promise<number> => {
      const start = run.w.db.statementCount;
      await fn();
      return run.w.db.statementCount - start;
    };
    const writes = await counted(() => apply(run, T0, methods, enrolled));
    const reads = await counted(() =>
      cohortEnrolmentEntity({ onMemberRemoved: 'moodle', unenrolAction: undefined }).read(run.w.db, {
        site: ctx.site,
        budget: ctx.budget,
        index: indexOf(run.ids),
      }),
    );
    expect(
      await run.id('SELECT COUNT(id) AS n FROM {user_enrolments} WHERE enrolid = ?', [
        run.ids.get('cohort_enrol', M1) as number,
      ]),
    ).toBe(300);
    expect(await run.id("SELECT COUNT(id) AS n FROM {groups_members} WHERE component = 'enrol_cohort'")).toBe(300);
    expect(await checkIntegrity(run.w.reader)).toEqual([]);
    const removals = await counted(() => apply(run, T0 + 1, [], [], { onRemoved: 'delete' }));
    expect(await run.id('SELECT COUNT(id) AS n FROM {user_enrolments}')).toBe(0);
    // Whatever the number of users: reads, inserts, re-reads and dirty marks are a handful of statements each.
    expect({ reads, writes: writes < 40, removals: removals < 40 }).toEqual({ reads: 5, writes: true, removals: true });
  });
});
