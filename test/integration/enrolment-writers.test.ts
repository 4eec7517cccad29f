/**
 * The manual enrolment and role assignment writers, called directly inside `db.transaction` on a fresh Moodle
 * 4.5 of every target, with users and categories written by the project's writers and a course inserted here
 * by SQL as create_course() leaves it (§12: row, context, coursecount, manual instance). Each write is compared
 * row by row, column by column, with what Moodle's own APIs wrote (reference-writes §18 enrol_user, §23 and §24
 * role_assign; every table snapshotted around the write), then the integrity checker runs. Role changes,
 * suspension, reactivation, unenrolment (§27's unenrol_user()), duplicates and a rollback are checked too.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { enrolmentEntity } from '../../src/entities/enrolment.js';
import { roleAssignmentEntity } from '../../src/entities/role-assignment.js';
import { UserError } from '../../src/errors.js';
import type { Change, EntityType, Fields } from '../../src/model/change.js';
import { pairKey } from '../../src/model/change.js';
import type { CurrentIndex } from '../../src/model/current.js';
import type { Queryable } from '../../src/moodle/database.js';
import { readManualEnrolments, readManualInstances } from '../../src/moodle/read-manual-enrolments.js';
import { readRoleAssignments } from '../../src/moodle/read-role-assignments.js';
import { writeCategoryChanges } from '../../src/moodle/write-categories.js';
import { ObjectIds, type WriteContext } from '../../src/moodle/write-context.js';
import { writeManualEnrolmentChanges } from '../../src/moodle/write-manual-enrolments.js';
import { writeRoleAssignmentChanges } from '../../src/moodle/write-role-assignments.js';
import { writeUserChanges } from '../../src/moodle/write-users.js';
import { checkIntegrity } from '../helpers/integrity.js';
import { dropStaleTestDatabases } from '../helpers/mariadb.js';
import {
  compareWrites,
  diffSnapshots,
  installSymbols,
  type RefRow,
  type RefValue,
  type Snapshot,
  type TableWrites,
  type Writes,
  withIds,
} from '../helpers/reference-rows.js';
import { TARGETS } from '../helpers/targets.js';
import {
  change,
  referenceRows,
  symboliseEntities,
  type WriterSite,
  writerSite,
  writesOf,
} from '../helpers/writer-site.js';

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
const NO_COMPONENT = { component: '' };

interface Run {
  readonly w: WriterSite;
  readonly fresh: Snapshot;
  readonly ids: ObjectIds;
  ctx(now: number): Promise<WriteContext>;
  write(now: number, fn: (tx: Queryable, ctx: WriteContext) => Promise<void>): Promise<Writes>;
  id(sql: string, params?: readonly (string | number)[]): Promise<number>;
}

async function fresh(target: (typeof TARGETS)[number]): Promise<Run> {
  const w = await writerSite(target);
  cleanups.push(() => w.close());
  const ids = new ObjectIds();
  const ctx = (now: number) => w.context(now, ids);
  return {
    w,
    fresh: await w.snapshot(),
    ids,
    ctx,
    async write(now, fn) {
      const context = await ctx(now);
      return writesOf(w, (tx) => fn(tx, context));
    },
    async id(sql, params = []) {
      const rows = await w.rows(sql, params);
      if (rows.length !== 1) throw new Error(`${sql}: ${rows.length} rows`);
      return Number(Object.values(rows[0] as object)[0]);
    },
  };
}

const user = (key: string) => ({ entity: 'user', key }) as const;
const course = (key: string) => ({ entity: 'course', key }) as const;
const category = (key: string) => ({ entity: 'category', key }) as const;

/** Users, the two categories of the reference (0750001A and its Classes), by the project's writers. */
async function setUp(run: Run, usernames: readonly string[]): Promise<void> {
  const ctx = await run.ctx(T0 - 100);
  await run.w.db.transaction(async (tx) => {
    await writeUserChanges(
      tx,
      ctx,
      usernames.map((u) =>
        change('user', 'create', u, { auth: 'ldap', username: u, firstname: `F-${u}`, lastname: `L-${u}` }),
      ),
    );
    await writeCategoryChanges(tx, ctx, [
      change('category', 'create', '0750001A', { idnumber: '0750001A', name: 'Lycee Test', description: '' }),
      change(
        'category',
        'create',
        '0750001A-classes',
        { idnumber: '0750001A-classes', name: 'Classes' },
        { refs: { parent: category('0750001A') } },
      ),
    ]);
    await addCourse(tx, ctx, COURSE, 'MATHS-2A');
  });
}

/** A course in 0750001A-classes as create_course() leaves it (§12), with its manual instance unless told not. */
async function addCourse(tx: Queryable, ctx: WriteContext, idnumber: string, shortname: string, manual = true) {
  const categoryId = ctx.ids.require(category('0750001A-classes'), 'test');
  await tx.execute(
    'INSERT INTO {course} (category, sortorder, fullname, shortname, idnumber, format, visible, visibleold, timecreated, timemodified, cacherev) ' +
      "VALUES (?, ?, ?, ?, ?, 'topics', 1, 1, ?, ?, ?)",
    [categoryId, 30001, shortname, shortname, idnumber, ctx.now, ctx.now, ctx.now],
  );
  const [row] = await tx.query<{ id: number }>('SELECT id FROM {course} WHERE shortname = ?', [shortname]);
  const courseId = Number(row?.id);
  await tx.execute('UPDATE {course_categories} SET coursecount = coursecount + 1 WHERE id = ?', [categoryId]);
  for (let section = 0; section <= 4; section++) {
    await tx.execute(
      "INSERT INTO {course_sections} (course, section, summary, summaryformat, sequence, visible, timemodified) VALUES (?, ?, '', 1, '', 1, ?)",
      [courseId, section, ctx.now],
    );
  }
  const [parent] = await tx.query<{ path: string; depth: number }>(
    'SELECT path, depth FROM {context} WHERE contextlevel = 40 AND instanceid = ?',
    [categoryId],
  );
  await tx.execute("INSERT INTO {context} (contextlevel, instanceid, path, depth, locked) VALUES (50, ?, '', ?, 0)", [
    courseId,
    Number(parent?.depth) + 1,
  ]);
  const [context] = await tx.query<{ id: number }>(
    'SELECT id FROM {context} WHERE contextlevel = 50 AND instanceid = ?',
    [courseId],
  );
  await tx.execute('UPDATE {context} SET path = ? WHERE id = ?', [
    `${parent?.path}/${context?.id}`,
    Number(context?.id),
  ]);
  if (manual) {
    await tx.execute(
      'INSERT INTO {enrol} (enrol, status, courseid, sortorder, enrolperiod, enrolstartdate, enrolenddate, expirynotify, ' +
        "expirythreshold, notifyall, roleid, customint1, timecreated, timemodified) VALUES ('manual', 0, ?, 0, 0, 0, 0, 0, 86400, 0, ?, 1, ?, ?)",
      [courseId, ctx.site.roles.get('student') as number, ctx.now, ctx.now],
    );
  }
  ctx.ids.set('course', idnumber, courseId);
}

function enrol(courseKey: string, u: string, role: string): Change {
  return change(
    'enrolment',
    'create',
    pairKey(courseKey, u),
    { course: courseKey, user: u, role },
    {
      refs: { course: course(courseKey), user: user(u) },
    },
  );
}

function existing(action: Change['action'], key: string, moodleId: number, before: Fields, after: Fields): Change {
  return { ...change('enrolment', action, key, after, { moodleId }), before };
}

function assign(
  context: string,
  role: string,
  u: string,
  refs: Record<string, { entity: EntityType; key: string }> = {},
) {
  return change(
    'role_assignment',
    'create',
    `${context}/${role}/${u}`,
    { context, role, user: u },
    {
      refs: { user: user(u), ...refs },
    },
  );
}

// ---- symbols of the tables written here (writer-site knows those of users, contexts, categories, cohorts) ----

const OWN_ID_COLUMNS: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  user_enrolments: { id: 'user_enrolments', enrolid: 'enrol', userid: 'user', modifierid: 'user' },
  role_assignments: {
    id: 'role_assignments',
    roleid: 'role',
    contextid: 'context',
    userid: 'user',
    modifierid: 'user',
  },
};

/** `writes` with the reference's symbols: ours first, then writer-site's (users, contexts, cache flags, times). */
function symbols(
  writes: Writes,
  ids: Readonly<Record<string, ReadonlyMap<string, string>>>,
  now: readonly number[],
  sessionTimeout: number,
): Writes {
  const value = (table: string, column: string, v: RefValue): RefValue => {
    if (v === null) return null;
    const target = OWN_ID_COLUMNS[table]?.[column];
    if (target !== undefined) return ids[target]?.get(v) ?? v;
    if (table === 'cache_flags' && column === 'expiry' && now.some((t) => t + sessionTimeout === Number(v))) {
      return `<now+${sessionTimeout}s>`;
    }
    return v;
  };
  const row = (table: string, r: RefRow): RefRow =>
    Object.fromEntries(Object.entries(r).map(([c, v]) => [c, value(table, c, v)]));
  const own: Record<string, TableWrites> = {};
  for (const [table, w] of Object.entries(writes)) {
    own[table] = {
      ...(w.inserted && { inserted: w.inserted.map((r) => row(table, r)) }),
      ...(w.deleted && { deleted: w.deleted.map((r) => row(table, r)) }),
      ...(w.updated && {
        updated: w.updated.map((u) => ({
          ...u,
          id: value(table, 'id', u.id),
          changed: Object.fromEntries(
            Object.entries(u.changed).map(([c, ch]) => [
              c,
              { old: value(table, c, ch.old), new: value(table, c, ch.new) },
            ]),
          ),
        })),
      }),
    };
  }
  return symboliseEntities(own, { ids, now });
}

/** The index over the run's registry, as the readers see it (course, user, category keys). */
function indexOf(ids: ObjectIds): CurrentIndex {
  return {
    id: (entity, key) => ids.get(entity, key),
    key: (entity, id) => [...ids.all(entity)].find(([, v]) => v === id)?.[0],
    ids: (entity) => [...ids.all(entity).values()],
  };
}

const dirtyFlag = async (run: Run, userId: number) =>
  run.id("SELECT id FROM {cache_flags} WHERE flagtype = 'accesslib/dirtyusers' AND name = ?", [String(userId)]);

describe.each(TARGETS)('manual enrolment and role assignment writers on %s', (target) => {
  it('rows as enrol_user() (§18) and role_assign() (§23, §24), read back', async () => {
    const run = await fresh(target);
    await setUp(run, ['tprof', 'mmartin']);
    const ctx = await run.ctx(T0);
    const sessionTimeout = ctx.site.sessionTimeout;
    const courseId = run.ids.get('course', COURSE) as number;
    const tprof = run.ids.get('user', 'tprof') as number;
    const mmartin = run.ids.get('user', 'mmartin') as number;
    const courseContext = await run.id('SELECT id FROM {context} WHERE contextlevel = 50 AND instanceid = ?', [
      courseId,
    ]);
    const catId = run.ids.get('category', '0750001A') as number;
    const catContext = await run.id('SELECT id FROM {context} WHERE contextlevel = 40 AND instanceid = ?', [catId]);
    const manualId = await run.id("SELECT id FROM {enrol} WHERE enrol = 'manual' AND courseid = ?", [courseId]);

    const enrolWrites = await run.write(T0, (tx, c) =>
      writeManualEnrolmentChanges(tx, c, [enrol(COURSE, 'tprof', 'editingteacher')]),
    );
    const ueId = run.ids.get('enrolment', pairKey(COURSE, 'tprof')) as number;
    const raId = await run.id('SELECT id FROM {role_assignments} WHERE userid = ?', [tprof]);
    let ids = withIds(installSymbols(run.fresh), 'user', [
      [tprof, '<user:tprof>'],
      [mmartin, '<user:mmartin>'],
    ]);
    ids = withIds(ids, 'context', [
      [courseContext, '<ctx:course:MATHS-2A>'],
      [catContext, '<ctx:cat:0750001A>'],
    ]);
    ids = withIds(ids, 'enrol', [[manualId, '<enrol:manual@course:MATHS-2A>']]);
    ids = withIds(ids, 'user_enrolments', [[ueId, '<user_enrolments#3>']]);
    ids = withIds(ids, 'role_assignments', [[raId, '<role_assignments#3>']]);
    ids = withIds(ids, 'cache_flags', [[await dirtyFlag(run, tprof), '<cache_flags#4>']]);
    const now = [T0, T0 + 1, T0 + 2];
    expect(
      compareWrites(symbols(enrolWrites, ids, now, sessionTimeout), referenceRows('enrol_manual_teacher'), {
        skipped: SKIPPED,
      }),
    ).toEqual([]);
    expect(Object.keys(enrolWrites.user_enrolments?.inserted?.[0] ?? {})).toHaveLength(9);
    expect(await checkIntegrity(run.w.reader)).toEqual([]);

    // §23: the manager role in the category context; the user's dirty mark is refreshed.
    const managerKey = 'category:0750001A/manager/tprof';
    const categoryWrites = await run.write(T0 + 1, (tx, c) =>
      writeRoleAssignmentChanges(
        tx,
        c,
        [assign('category:0750001A', 'manager', 'tprof', { category: category('0750001A') })],
        NO_COMPONENT,
      ),
    );
    ids = withIds(ids, 'role_assignments', [
      [run.ids.get('role_assignment', managerKey) as number, '<role_assignments#5>'],
    ]);
    expect(
      compareWrites(symbols(categoryWrites, ids, now, sessionTimeout), referenceRows('role_assign_category'), {
        skipped: SKIPPED,
      }),
    ).toEqual([]);

    // §24: a component of the tool's own in the course context (the reference's enrol_cohort row is not ours).
    const teacherKey = `course:${COURSE}/teacher/mmartin`;
    const componentWrites = await run.write(T0 + 2, (tx, c) =>
      writeRoleAssignmentChanges(
        tx,
        c,
        [assign(`course:${COURSE}`, 'teacher', 'mmartin', { course: course(COURSE) })],
        {
          component: 'local_ldap2moodle',
        },
      ),
    );
    ids = withIds(ids, 'role_assignments', [
      [run.ids.get('role_assignment', teacherKey) as number, '<role_assignments#6>'],
    ]);
    ids = withIds(ids, 'cache_flags', [[await dirtyFlag(run, mmartin), '<cache_flags#5>']]);
    const reference = referenceRows('role_assign_component');
    const ours = reference.role_assignments?.inserted?.filter((r) => r.component === 'local_ldap2moodle');
    expect(
      compareWrites(
        symbols(componentWrites, ids, now, sessionTimeout),
        { ...reference, role_assignments: { inserted: ours ?? [] } },
        { skipped: SKIPPED },
      ),
    ).toEqual([]);
    expect(await checkIntegrity(run.w.reader)).toEqual([]);

    // Readers, and the entities' keys over them.
    const instances = await readManualInstances(run.w.db, [courseId], ctx.budget);
    expect(instances).toEqual([{ id: manualId, courseid: courseId, status: 0, sortorder: 0 }]);
    const editingteacher = ctx.site.roles.get('editingteacher');
    expect(await readManualEnrolments(run.w.db, instances, ctx.budget)).toEqual([
      {
        id: ueId,
        enrolid: manualId,
        courseid: courseId,
        userid: tprof,
        status: 0,
        timestart: 0,
        timeend: 0,
        roleids: [editingteacher],
      },
    ]);
    const read = await readRoleAssignments(run.w.db, [tprof, mmartin], '', ctx.budget);
    expect(read.map((r) => [r.userid, r.contextlevel, r.instanceid])).toEqual([
      [tprof, 50, courseId],
      [tprof, 40, catId],
    ]);
    expect(
      (await readRoleAssignments(run.w.db, [tprof, mmartin], 'local_ldap2moodle', ctx.budget)).map((r) => r.id),
    ).toEqual([run.ids.get('role_assignment', teacherKey)]);
    const readContext = { site: ctx.site, budget: ctx.budget, index: indexOf(run.ids) };
    const enrolments = enrolmentEntity({ adopt: 'matching', onRemoved: 'suspend' });
    const enrolled = await enrolments.read(run.w.db, readContext);
    expect(
      enrolled.rows.map((r) => enrolments.identify(r, { facts: enrolled.facts, index: readContext.index })),
    ).toEqual([{ id: ueId, key: pairKey(COURSE, 'tprof') }]);
    const assignments = roleAssignmentEntity({ onRemoved: 'unassign', component: '' });
    const assigned = await assignments.read(run.w.db, readContext);
    expect(
      assigned.rows.map((r) => assignments.identify(r, { facts: assigned.facts, index: readContext.index })?.key),
    ).toEqual([`course:${COURSE}/editingteacher/tprof`, managerKey]);
  });

  it('a role change, a suspension, a reactivation, an unenrolment (unenrol_user(), §27)', async () => {
    const run = await fresh(target);
    await setUp(run, ['tprof', 'seleve1', 'seleve2']);
    const courseId = run.ids.get('course', COURSE) as number;
    const courseContext = await run.id('SELECT id FROM {context} WHERE contextlevel = 50 AND instanceid = ?', [
      courseId,
    ]);
    const uid = (u: string) => run.ids.get('user', u) as number;
    const roles = (await run.ctx(T0)).site.roles;
    await run.write(T0, (tx, c) =>
      writeManualEnrolmentChanges(tx, c, [
        enrol(COURSE, 'tprof', 'editingteacher'),
        enrol(COURSE, 'seleve1', 'student'),
        enrol(COURSE, 'seleve2', 'student'),
      ]),
    );
    const ue = (u: string) => run.ids.get('enrolment', pairKey(COURSE, u)) as number;
    expect(
      (await run.w.rows('SELECT userid, status, timestart, timeend FROM {user_enrolments} ORDER BY id')).map((r) =>
        Object.values(r).map(Number),
      ),
    ).toEqual([
      [uid('tprof'), 0, 0, 0],
      [uid('seleve1'), 0, 0, 0],
      [uid('seleve2'), 0, 0, 0],
    ]);

    // Role change: the old role the tool gave goes, the new one comes; the enrolment row is untouched.
    const oldRole = await run.id('SELECT id FROM {role_assignments} WHERE userid = ?', [uid('tprof')]);
    const roleWrites = await run.write(T0 + 1, (tx, c) =>
      writeManualEnrolmentChanges(tx, c, [
        existing('update', pairKey(COURSE, 'tprof'), ue('tprof'), { role: 'editingteacher' }, { role: 'teacher' }),
      ]),
    );
    expect(Object.keys(roleWrites).sort()).toEqual(['cache_flags', 'role_assignments']);
    expect(roleWrites.role_assignments?.deleted?.map((r) => [r.id, r.roleid])).toEqual([
      [String(oldRole), String(roles.get('editingteacher'))],
    ]);
    expect(
      roleWrites.role_assignments?.inserted?.map((r) => [
        r.roleid,
        r.contextid,
        r.userid,
        r.component,
        r.itemid,
        r.sortorder,
        r.timemodified,
      ]),
    ).toEqual([
      [String(roles.get('teacher')), String(courseContext), String(uid('tprof')), '', '0', '0', String(T0 + 1)],
    ]);
    expect(roleWrites.cache_flags?.updated?.map((u) => Object.keys(u.changed).sort())).toEqual([
      ['expiry', 'timemodified'],
    ]);

    // Suspension: status, modifierid (unchanged: the same admin) and timemodified, as update_user_enrol(); roles kept.
    const suspend = existing('suspend', pairKey(COURSE, 'seleve1'), ue('seleve1'), { status: 0 }, { status: 1 });
    const suspendWrites = await run.write(T0 + 2, (tx, c) => writeManualEnrolmentChanges(tx, c, [suspend]));
    expect(Object.keys(suspendWrites).sort()).toEqual(['cache_flags', 'user_enrolments']);
    expect(suspendWrites.user_enrolments?.updated?.map((u) => [u.id, u.changed])).toEqual([
      [
        String(ue('seleve1')),
        { status: { old: '0', new: '1' }, timemodified: { old: String(T0), new: String(T0 + 2) } },
      ],
    ]);
    const unsuspend = existing('unsuspend', pairKey(COURSE, 'seleve1'), ue('seleve1'), { status: 1 }, { status: 0 });
    const unsuspendWrites = await run.write(T0 + 3, (tx, c) => writeManualEnrolmentChanges(tx, c, [unsuspend]));
    expect(unsuspendWrites.user_enrolments?.updated?.map((u) => u.changed.status)).toEqual([{ old: '1', new: '0' }]);
    expect(await checkIntegrity(run.w.reader)).toEqual([]);

    // Unenrolment: seleve2's last enrolment in the course goes with every role there (a role the tool gave
    // in the category stays: it is not in the course).
    await run.write(T0 + 4, (tx, c) =>
      writeRoleAssignmentChanges(
        tx,
        c,
        [
          assign(`course:${COURSE}`, 'teacher', 'seleve2', { course: course(COURSE) }),
          assign('category:0750001A', 'manager', 'seleve2', { category: category('0750001A') }),
        ],
        NO_COMPONENT,
      ),
    );
    const drop = existing('delete', pairKey(COURSE, 'seleve2'), ue('seleve2'), {}, {});
    const dropWrites = await run.write(T0 + 5, (tx, c) => writeManualEnrolmentChanges(tx, c, [drop]));
    expect(dropWrites.user_enrolments?.deleted?.map((r) => [r.id, r.enrolid, r.userid])).toEqual([
      [String(ue('seleve2')), expect.any(String), String(uid('seleve2'))],
    ]);
    expect(dropWrites.role_assignments?.deleted?.map((r) => [r.roleid, r.contextid]).sort()).toEqual(
      [
        [String(roles.get('student')), String(courseContext)],
        [String(roles.get('teacher')), String(courseContext)],
      ].sort(),
    );
    expect(dropWrites.cache_flags?.updated?.map((u) => u.row?.name)).toEqual([String(uid('seleve2'))]);
    expect(Object.keys(dropWrites).sort()).toEqual(['cache_flags', 'role_assignments', 'user_enrolments']);
    expect(await run.w.rows('SELECT userid FROM {role_assignments} WHERE userid = ?', [uid('seleve2')])).toHaveLength(
      1,
    );
    expect(await checkIntegrity(run.w.reader)).toEqual([]);
  });

  it('never writes a duplicate role assignment, removes identical rows together, and names a course without manual instance', async () => {
    const run = await fresh(target);
    await setUp(run, ['tprof', 'seleve1']);
    const courseId = run.ids.get('course', COURSE) as number;
    const courseContext = await run.id('SELECT id FROM {context} WHERE contextlevel = 50 AND instanceid = ?', [
      courseId,
    ]);
    const uid = (u: string) => run.ids.get('user', u) as number;
    const ctx = await run.ctx(T0);
    const roleId = (r: string) => ctx.site.roles.get(r) as number;
    const insertRole = (role: string, u: string) =>
      run.w.db.transaction((tx) =>
        tx.execute(
          "INSERT INTO {role_assignments} (roleid, contextid, userid, timemodified, modifierid, component, itemid, sortorder) VALUES (?, ?, ?, ?, 2, '', 0, 0)",
          [roleId(role), courseContext, uid(u), T0 - 10],
        ),
      );

    // An administrator gave seleve1 the student role already: the enrolment inserts no second one, and the
    // role assignment asked for in the same apply finds the same row.
    await insertRole('student', 'seleve1');
    const given = await run.id('SELECT id FROM {role_assignments} WHERE userid = ?', [uid('seleve1')]);
    const studentKey = `course:${COURSE}/student/seleve1`;
    const writes = await run.write(T0, async (tx, c) => {
      await writeManualEnrolmentChanges(tx, c, [
        enrol(COURSE, 'seleve1', 'student'),
        enrol(COURSE, 'tprof', 'teacher'),
      ]);
      await writeRoleAssignmentChanges(
        tx,
        c,
        [
          assign(`course:${COURSE}`, 'student', 'seleve1', { course: course(COURSE) }),
          assign(`course:${COURSE}`, 'teacher', 'tprof', { course: course(COURSE) }),
        ],
        NO_COMPONENT,
      );
    });
    expect(writes.user_enrolments?.inserted).toHaveLength(2);
    expect(writes.role_assignments?.inserted?.map((r) => r.userid)).toEqual([String(uid('tprof'))]);
    expect(run.ids.get('role_assignment', studentKey)).toBe(given);
    expect(run.ids.get('role_assignment', `course:${COURSE}/teacher/tprof`)).toBe(
      await run.id('SELECT id FROM {role_assignments} WHERE userid = ?', [uid('tprof')]),
    );
    expect(await checkIntegrity(run.w.reader)).toEqual([]);

    // Two identical rows in Moodle: the entity reads them as one assignment (and warns); removing it removes both.
    await insertRole('student', 'seleve1');
    const readContext = { site: ctx.site, budget: ctx.budget, index: indexOf(run.ids) };
    const entity = roleAssignmentEntity({ onRemoved: 'unassign', component: '' });
    const { rows, facts } = await entity.read(run.w.db, readContext);
    expect(rows.filter((r) => r.userid === uid('seleve1'))).toHaveLength(2);
    expect(rows.map((r) => entity.identify(r, { facts, index: readContext.index })?.key ?? null)).toEqual([
      studentKey,
      `course:${COURSE}/teacher/tprof`,
      null,
    ]);
    const state = [
      {
        address: `role_assignment["${studentKey}"]`,
        type: 'role_assignment' as const,
        id: given,
        key: studentKey,
        source_digest: '',
        values: { context: `course:${COURSE}`, role: 'student', user: 'seleve1' },
      },
    ];
    const diff = entity.diff(
      {
        desired: [],
        current: rows,
        managed: state,
        index: readContext.index,
        owned: () => false,
        wanted: () => false,
        products: {},
      },
      facts,
    );
    expect(diff.changes.map((c) => [c.action, c.key, c.moodleId])).toEqual([['delete', studentKey, given]]);
    expect(diff.warnings).toEqual([expect.stringContaining('Moodle holds 2 identical role assignments')]);
    const removal = await run.write(T0 + 1, (tx, c) => writeRoleAssignmentChanges(tx, c, diff.changes, NO_COMPONENT));
    expect(removal.role_assignments?.deleted).toHaveLength(2);
    expect(await run.w.rows('SELECT id FROM {role_assignments} WHERE userid = ?', [uid('seleve1')])).toEqual([]);

    // A course without manual instance: an error naming it, nothing written.
    const before = await run.w.snapshot();
    const attempt = run.w.db
      .transaction(async (tx) => {
        const c = await run.ctx(T0 + 2);
        await addCourse(tx, c, '0750001A-FR-2A', 'FR-2A', false);
        await writeManualEnrolmentChanges(tx, c, [enrol('0750001A-FR-2A', 'tprof', 'teacher')]);
      })
      .catch((e: unknown) => e);
    const error = await attempt;
    expect(error).toBeInstanceOf(UserError);
    expect((error as UserError).code).toBe('MOODLE_UNSUPPORTED');
    expect((error as UserError).message).toMatch(
      /^course\(s\) "0750001A-FR-2A" \(id \d+\) have no manual enrolment instance/,
    );
    expect(diffSnapshots(before, await run.w.snapshot())).toEqual({});
  });

  it('a rollback leaves nothing, a course created in the same transaction included', async () => {
    const run = await fresh(target);
    await setUp(run, ['tprof', 'seleve1']);
    const before = await run.w.snapshot();
    const failure = new Error('stop after the writes');
    const attempt = run.w.db.transaction(async (tx) => {
      const c = await run.ctx(T0);
      await addCourse(tx, c, '0750001A-FR-2A', 'FR-2A');
      await writeManualEnrolmentChanges(tx, c, [
        enrol('0750001A-FR-2A', 'seleve1', 'student'),
        enrol(COURSE, 'tprof', 'editingteacher'),
      ]);
      await writeRoleAssignmentChanges(
        tx,
        c,
        [
          assign('system', 'manager', 'tprof'),
          assign('user:seleve1', 'manager', 'tprof', { target: user('seleve1') }),
          assign('course:0750001A-FR-2A', 'teacher', 'tprof', { course: course('0750001A-FR-2A') }),
        ],
        NO_COMPONENT,
      );
      const [row] = await tx.query('SELECT COUNT(id) AS n FROM {role_assignments}');
      expect(Number(row?.n)).toBe(5);
      throw failure;
    });
    await expect(attempt).rejects.toBe(failure);
    expect(diffSnapshots(before, await run.w.snapshot())).toEqual({});
  });
});
