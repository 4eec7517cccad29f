/**
 * The writers and readers of course groups, groupings, their links and group members, called directly inside
 * `db.transaction` on a fresh Moodle 4.5 of every target (a course made by SQL as Moodle has it). Each write
 * is compared row by row, column by column, with what Moodle's own API wrote (reference-writes §19, §20; every
 * table snapshotted around the write), or with what group/lib.php writes for groupings; the integrity checker
 * runs after each. Members owned by enrol_cohort (§21) are read, satisfy the plan and are never touched;
 * renames, deletions (links, members, events, enrolment methods naming the group), refusals, a rollback and
 * the statement count of a thousand members are checked too.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { groupEntity } from '../../src/entities/group.js';
import { groupMemberEntity } from '../../src/entities/group-member.js';
import { UserError } from '../../src/errors.js';
import type { EntityType } from '../../src/model/change.js';
import { pairKey } from '../../src/model/change.js';
import type { CurrentIndex } from '../../src/model/current.js';
import type { Queryable } from '../../src/moodle/database.js';
import {
  readGroupingGroups,
  readGroupings,
  readGroupMembers,
  readGroupSchema,
  readGroups,
} from '../../src/moodle/read-groups.js';
import { writeCohortChanges } from '../../src/moodle/write-cohorts.js';
import { ObjectIds, type WriteContext } from '../../src/moodle/write-context.js';
import { writeGroupMemberChanges } from '../../src/moodle/write-group-members.js';
import { writeGroupChanges, writeGroupingChanges, writeGroupingGroupChanges } from '../../src/moodle/write-groups.js';
import { writeUserChanges } from '../../src/moodle/write-users.js';
import { checkIntegrity } from '../helpers/integrity.js';
import { dropStaleTestDatabases } from '../helpers/mariadb.js';
import {
  compareWrites,
  diffSnapshots,
  type RefRow,
  type RefValue,
  type TableWrites,
  type Writes,
} from '../helpers/reference-rows.js';
import { TARGETS } from '../helpers/targets.js';
import { change, referenceRows, type WriterSite, writerSite, writesOf } from '../helpers/writer-site.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});
beforeAll(async () => {
  if (TARGETS.includes('mariadb')) await dropStaleTestDatabases();
});

const T0 = Math.floor(Date.now() / 1000) - 600;
const SKIPPED = ['logstore_standard_log'];
const COURSE = 'MATHS-2A';
const GROUP = pairKey(COURSE, '0750001A-2A');

interface Run {
  readonly w: WriterSite;
  readonly ids: ObjectIds;
  ctx(now: number): Promise<WriteContext>;
  write(now: number, fn: (tx: Queryable, ctx: WriteContext) => Promise<void>): Promise<Writes>;
  sql(statement: string, params?: readonly (string | number)[]): Promise<void>;
  id(sql: string, params?: readonly (string | number)[]): Promise<number>;
  integrity(): Promise<string[]>;
}

/** A fresh site with users and the course MATHS-2A (row, context, category count as Moodle makes them). */
async function fresh(target: (typeof TARGETS)[number], users: readonly string[] = ['tprof', 'seleve1', 'seleve2']) {
  const w = await writerSite(target);
  cleanups.push(() => w.close());
  const ids = new ObjectIds();
  const ctx = (now: number) => w.context(now, ids);
  const run: Run = {
    w,
    ids,
    ctx,
    async write(now, fn) {
      const context = await ctx(now);
      return writesOf(w, (tx) => fn(tx, context));
    },
    async sql(statement, params = []) {
      await w.db.transaction((tx) => tx.execute(statement, params));
    },
    async id(sql, params = []) {
      const rows = await w.rows(sql, params);
      if (rows.length !== 1) throw new Error(`${sql}: ${rows.length} rows`);
      return Number(Object.values(rows[0] as object)[0]);
    },
    integrity: () => checkIntegrity(w.reader),
  };
  const userCtx = await ctx(T0 - 100);
  await w.db.transaction((tx) =>
    writeUserChanges(
      tx,
      userCtx,
      users.map((u) =>
        change('user', 'create', u, { auth: 'ldap', username: u, firstname: `F-${u}`, lastname: `L-${u}` }),
      ),
    ),
  );
  await run.sql(
    'INSERT INTO {course} (category, sortorder, fullname, shortname, idnumber, summary, format, visible, ' +
      'startdate, timecreated, timemodified, cacherev) VALUES (1, 10001, ?, ?, ?, ?, ?, 1, 0, ?, ?, ?)',
    ['Maths 2A', COURSE, COURSE, '', 'topics', T0 - 90, T0 - 90, T0 - 90],
  );
  const courseId = await run.id('SELECT id FROM {course} WHERE shortname = ?', [COURSE]);
  const categoryContext = await w.rows<{ id: unknown; path: string }>(
    'SELECT id, path FROM {context} WHERE contextlevel = 40 AND instanceid = 1',
  );
  await run.sql('INSERT INTO {context} (contextlevel, instanceid, depth, locked) VALUES (50, ?, 3, 0)', [courseId]);
  const contextId = await run.id('SELECT id FROM {context} WHERE contextlevel = 50 AND instanceid = ?', [courseId]);
  await run.sql('UPDATE {context} SET path = ? WHERE id = ?', [`${categoryContext[0]?.path}/${contextId}`, contextId]);
  await run.sql('UPDATE {course_categories} SET coursecount = coursecount + 1 WHERE id = 1');
  await run.sql(
    "INSERT INTO {course_sections} (course, section, summary, summaryformat, sequence, visible, timemodified) VALUES (?, 0, '', 1, '', 1, ?)",
    [courseId, T0 - 90],
  );
  ids.set('course', COURSE, courseId);
  return run;
}

const ref = (entity: EntityType, key: string) => ({ entity, key }) as const;
const courseRef = { course: ref('course', COURSE) };

const createGroup = (idnumber: string, name: string) =>
  change(
    'group',
    'create',
    pairKey(COURSE, idnumber),
    { course: COURSE, idnumber, name, description: '' },
    { refs: courseRef },
  );
const addMember = (group: string, user: string) =>
  change(
    'group_member',
    'create',
    pairKey(group, user),
    { group, user },
    { refs: { group: ref('group', group), user: ref('user', user) } },
  );

/** `writes` in the reference's symbols: ids by table and column, the apply's times as `<now>`. */
type IdMaps = Readonly<Record<string, Readonly<Record<string, ReadonlyMap<string, string>>>>>;
function symbolised(writes: Writes, maps: IdMaps, now: readonly number[]): Writes {
  const value = (table: string, column: string, v: RefValue): RefValue => {
    if (v === null) return null;
    const mapped = maps[table]?.[column]?.get(v);
    if (mapped !== undefined) return mapped;
    return /^[0-9]+$/.test(v) && now.includes(Number(v)) ? '<now>' : v;
  };
  const row = (table: string, r: RefRow): RefRow =>
    Object.fromEntries(Object.entries(r).map(([c, v]) => [c, value(table, c, v)]));
  const out: Record<string, TableWrites> = {};
  for (const [table, w] of Object.entries(writes)) {
    out[table] = {
      ...(w.inserted && { inserted: w.inserted.map((r) => row(table, r)) }),
      ...(w.deleted && { deleted: w.deleted.map((r) => row(table, r)) }),
      ...(w.updated && {
        updated: w.updated.map((u) => ({
          id: value(table, 'id', u.id),
          changed: Object.fromEntries(
            Object.entries(u.changed).map(([c, v]) => [
              c,
              { old: value(table, c, v.old), new: value(table, c, v.new) },
            ]),
          ),
        })),
      }),
    };
  }
  return out;
}

const idMap = (entries: readonly (readonly [unknown, string])[]) => new Map(entries.map(([id, s]) => [String(id), s]));

/** [id, changed columns] of a table's updated rows. */
const updatesOf = (writes: Writes, table: string) => writes[table]?.updated?.map((u) => [u.id, u.changed]) ?? [];

/** A cohort enrolment instance of the course, enrolling `users` as Moodle's sync does (§16), rows by SQL. */
async function cohortInstance(run: Run, now: number, users: readonly string[], groupId = 0): Promise<number> {
  const key = `cohort-${users.join('-')}-${groupId}`;
  const ctx = await run.ctx(now);
  await run.w.db.transaction((tx) =>
    writeCohortChanges(tx, ctx, [
      change('cohort', 'create', key, { idnumber: key, name: key, component: '', description: '', visible: 1 }),
    ]),
  );
  const courseId = run.ids.get('course', COURSE) as number;
  const student = (await run.ctx(now)).site.roles.get('student') as number;
  await run.sql(
    'INSERT INTO {enrol} (enrol, status, courseid, sortorder, roleid, customint1, customint2, timecreated, timemodified) ' +
      "VALUES ('cohort', 0, ?, ?, ?, ?, ?, ?, ?)",
    [courseId, 3, student, run.ids.get('cohort', key) as number, groupId, now, now],
  );
  const enrolId = await run.id("SELECT id FROM {enrol} WHERE enrol = 'cohort' AND customint1 = ?", [
    run.ids.get('cohort', key) as number,
  ]);
  for (const u of users) {
    await run.sql(
      'INSERT INTO {user_enrolments} (status, enrolid, userid, timestart, timeend, modifierid, timecreated, timemodified) ' +
        'VALUES (0, ?, ?, 0, 0, 2, ?, ?)',
      [enrolId, run.ids.get('user', u) as number, now, now],
    );
  }
  return enrolId;
}

/** The index a plan gives the group entities: courses, users, groups by key. */
function indexOf(run: Run, entities: readonly EntityType[]): CurrentIndex {
  const all = entities.map((e) => [e, run.ids.all(e)] as const);
  return {
    id: (entity, key) => all.find(([e]) => e === entity)?.[1].get(key),
    key: (entity, id) => [...(all.find(([e]) => e === entity)?.[1] ?? [])].find(([, v]) => v === id)?.[0],
    ids: (entity) => [...(all.find(([e]) => e === entity)?.[1].values() ?? [])],
  };
}

describe.each(TARGETS)('group writers on %s', (target) => {
  it('groups and members: rows as groups_create_group / groups_add_member, read back, renamed; enrol_cohort rows untouched', async () => {
    const run = await fresh(target);
    const schema = await readGroupSchema(run.w.db);
    // The tests' Moodle has the 4.5 group columns and, of the full install's side tables, only course_modules
    // (courses get their Announcements forum).
    expect(schema).toEqual({ visibility: true, participation: true, tables: new Set(['course_modules']) });
    const courseId = run.ids.get('course', COURSE) as number;

    const created = await run.write(T0, (tx, ctx) =>
      writeGroupChanges(tx, ctx, [createGroup('0750001A-2A', '2nde A')], schema),
    );
    const groupId = run.ids.get('group', GROUP) as number;
    const maps = (members: readonly (readonly [unknown, string])[] = []): IdMaps => {
      const groups = idMap([[groupId, '<group:0750001A-2A>']]);
      const users = idMap(['tprof', 'seleve1', 'seleve2'].map((u) => [run.ids.get('user', u), `<user:${u}>`] as const));
      return {
        groups: { id: groups, courseid: idMap([[courseId, '<course:MATHS-2A>']]) },
        groups_members: { id: idMap(members), groupid: groups, userid: users },
      };
    };
    expect(
      compareWrites(symbolised(created, maps(), [T0]), referenceRows('group_create'), { skipped: SKIPPED }),
    ).toEqual([]);
    expect(Object.keys(created.groups?.inserted?.[0] ?? {})).toHaveLength(12);
    expect(await run.integrity()).toEqual([]);

    const added = await run.write(T0 + 1, (tx, ctx) => writeGroupMemberChanges(tx, ctx, [addMember(GROUP, 'tprof')]));
    const memberId = run.ids.get('group_member', pairKey(GROUP, 'tprof')) as number;
    expect(
      compareWrites(
        symbolised(added, maps([[memberId, '<groups_members#1>']]), [T0, T0 + 1]),
        referenceRows('group_add_member'),
        {
          skipped: SKIPPED,
        },
      ),
    ).toEqual([]);

    // §21: members the cohort sync owns, written by SQL as Moodle's API writes them.
    const enrolId = await cohortInstance(run, T0 + 2, ['seleve1', 'seleve2'], groupId);
    for (const u of ['seleve1', 'seleve2']) {
      await run.sql(
        "INSERT INTO {groups_members} (groupid, userid, timeadded, component, itemid) VALUES (?, ?, ?, 'enrol_cohort', ?)",
        [groupId, run.ids.get('user', u) as number, T0 + 2, enrolId],
      );
    }
    expect(await run.integrity()).toEqual([]);

    // Read back through the entities, as a plan does.
    const budget = (await run.ctx(T0)).budget;
    const site = (await run.ctx(T0)).site;
    expect(await readGroups(run.w.db, [courseId], budget)).toEqual([
      { id: groupId, courseid: courseId, idnumber: '0750001A-2A', name: '2nde A', description: '' },
    ]);
    const members = groupMemberEntity();
    const memberIndex = indexOf(run, ['course', 'user', 'group']);
    const { rows } = await members.read(run.w.db, { site, budget, index: memberIndex });
    expect(rows.map((r) => [r.userid, r.component, r.itemid])).toEqual([
      [run.ids.get('user', 'tprof'), '', 0],
      [run.ids.get('user', 'seleve1'), 'enrol_cohort', enrolId],
      [run.ids.get('user', 'seleve2'), 'enrol_cohort', enrolId],
    ]);
    // The directory wants seleve1 (present through the sync) and no longer tprof nor seleve2.
    const diff = members.diff(
      {
        desired: [
          { key: pairKey(GROUP, 'seleve1'), dn: 'cn=x', values: { group: GROUP, user: 'seleve1' }, sourceDigest: 'd' },
        ],
        current: rows,
        managed: [],
        index: indexOf(run, ['course', 'user', 'group']),
        owned: (entity, key) => entity === 'group' && key === GROUP,
        wanted: () => true,
        products: {},
      },
      undefined,
    );
    expect(diff.changes.map((c) => [c.action, c.key, c.moodleId])).toEqual([
      ['delete', pairKey(GROUP, 'tprof'), memberId],
    ]);
    expect(
      await members.recheck(run.w.db, rows, diff.changes, budget, { facts: undefined, index: memberIndex, site }),
    ).toEqual([]);
    // Even a delete naming an enrol_cohort row (a planner bug) leaves it: only rows without component go.
    const cohortRow = rows[1]?.id as number;
    const removed = await run.write(T0 + 3, (tx, ctx) =>
      writeGroupMemberChanges(tx, ctx, [
        ...diff.changes,
        change('group_member', 'delete', pairKey(GROUP, 'seleve1'), {}, { moodleId: cohortRow }),
      ]),
    );
    expect(removed.groups_members?.deleted?.map((r) => [r.userid, r.component])).toEqual([
      [String(run.ids.get('user', 'tprof')), ''],
    ]);
    expect(updatesOf(removed, 'groups')).toEqual([
      [String(groupId), { timemodified: { old: String(T0 + 1), new: String(T0 + 3) } }],
    ]);
    expect(Object.keys(removed).sort()).toEqual(['groups', 'groups_members']);
    expect(await run.integrity()).toEqual([]);

    // A rename: the name and timemodified only; a renamed-by-hand row makes the plan stale.
    const groups = groupEntity({ adopt: 'never', onRemoved: 'delete', schema });
    const groupIndex = indexOf(run, ['course']);
    const { rows: planned } = await groups.read(run.w.db, { site, budget, index: groupIndex });
    const rename = change('group', 'update', GROUP, { name: '2nde A (maths)' }, { moodleId: groupId });
    const renamed = await run.write(T0 + 4, (tx, ctx) => groups.write(tx, ctx, [rename]));
    expect(Object.keys(renamed)).toEqual(['groups']);
    expect(updatesOf(renamed, 'groups')).toEqual([
      [
        String(groupId),
        { name: { old: '2nde A', new: '2nde A (maths)' }, timemodified: { old: String(T0 + 3), new: String(T0 + 4) } },
      ],
    ]);
    const known = { facts: undefined, index: groupIndex, site };
    expect((await groups.recheck(run.w.db, planned, [rename], budget, known)).map((p) => p.message)).toEqual([
      `Moodle group id ${groupId}: name is now "2nde A (maths)", the plan saw "2nde A"`,
    ]);
    expect(await run.integrity()).toEqual([]);
  });

  it('groupings and their groups: rows as groups_create_grouping / groups_assign_grouping, renamed, deleted', async () => {
    const run = await fresh(target);
    const schema = await readGroupSchema(run.w.db);
    const courseId = run.ids.get('course', COURSE) as number;
    await run.write(T0, (tx, ctx) =>
      writeGroupChanges(tx, ctx, [createGroup('2A', '2nde A'), createGroup('2B', '2nde B')], schema),
    );
    const grouping = pairKey(COURSE, 'G-2NDE');
    const made = await run.write(T0 + 1, (tx, ctx) =>
      writeGroupingChanges(
        tx,
        ctx,
        [
          change(
            'grouping',
            'create',
            grouping,
            { course: COURSE, idnumber: 'G-2NDE', name: 'Secondes', description: '' },
            { refs: courseRef },
          ),
        ],
        schema,
      ),
    );
    const groupingId = run.ids.get('grouping', grouping) as number;
    expect(made).toEqual({
      groupings: {
        inserted: [
          {
            id: String(groupingId),
            courseid: String(courseId),
            name: 'Secondes',
            idnumber: 'G-2NDE',
            description: '',
            descriptionformat: '0',
            configdata: null,
            timecreated: String(T0 + 1),
            timemodified: String(T0 + 1),
          },
        ],
      },
    });

    const link = (group: string) =>
      change(
        'grouping_group',
        'create',
        pairKey(grouping, group),
        { grouping, group: pairKey(COURSE, group) },
        {
          refs: { grouping: ref('grouping', grouping), group: ref('group', pairKey(COURSE, group)) },
        },
      );
    const linked = await run.write(T0 + 2, (tx, ctx) => writeGroupingGroupChanges(tx, ctx, [link('2A'), link('2B')]));
    const [g2a, g2b] = [run.ids.get('group', pairKey(COURSE, '2A')), run.ids.get('group', pairKey(COURSE, '2B'))];
    expect(Object.keys(linked)).toEqual(['groupings_groups']);
    expect(linked.groupings_groups?.inserted?.map((r) => [r.groupingid, r.groupid, r.timeadded])).toEqual([
      [String(groupingId), String(g2a), String(T0 + 2)],
      [String(groupingId), String(g2b), String(T0 + 2)],
    ]);
    const budget = (await run.ctx(T0)).budget;
    const links = await readGroupingGroups(run.w.db, [groupingId], budget);
    expect(links.map((l) => [l.id, l.groupid, l.groupidnumber, l.groupcourse, l.groupingcourse])).toEqual([
      [run.ids.get('grouping_group', pairKey(grouping, '2A')), g2a, '2A', courseId, courseId],
      [run.ids.get('grouping_group', pairKey(grouping, '2B')), g2b, '2B', courseId, courseId],
    ]);
    expect(await run.integrity()).toEqual([]);

    // A rename; then unassigning one group deletes its link only.
    const renamed = await run.write(T0 + 3, (tx, ctx) =>
      writeGroupingChanges(
        tx,
        ctx,
        [change('grouping', 'update', grouping, { name: 'Classes de 2nde' }, { moodleId: groupingId })],
        schema,
      ),
    );
    expect(updatesOf(renamed, 'groupings')).toEqual([
      [
        String(groupingId),
        {
          name: { old: 'Secondes', new: 'Classes de 2nde' },
          timemodified: { old: String(T0 + 1), new: String(T0 + 3) },
        },
      ],
    ]);
    const unlinked = await run.write(T0 + 4, (tx, ctx) =>
      writeGroupingGroupChanges(tx, ctx, [
        change('grouping_group', 'delete', pairKey(grouping, '2B'), {}, { moodleId: links[1]?.id as number }),
      ]),
    );
    expect(Object.keys(unlinked)).toEqual(['groupings_groups']);
    expect(unlinked.groupings_groups?.deleted?.map((r) => r.groupid)).toEqual([String(g2b)]);

    // Deleting the grouping: its links, the course's default grouping, then the row.
    await run.sql('UPDATE {course} SET defaultgroupingid = ? WHERE id = ?', [groupingId, courseId]);
    const gone = await run.write(T0 + 5, (tx, ctx) =>
      writeGroupingChanges(tx, ctx, [change('grouping', 'delete', grouping, {}, { moodleId: groupingId })], schema),
    );
    expect(gone.groupings?.deleted?.map((r) => r.id)).toEqual([String(groupingId)]);
    expect(gone.groupings_groups?.deleted?.map((r) => r.groupid)).toEqual([String(g2a)]);
    expect(updatesOf(gone, 'course')).toEqual([
      [String(courseId), { defaultgroupingid: { old: String(groupingId), new: '0' } }],
    ]);
    expect(Object.keys(gone).sort()).toEqual(['course', 'groupings', 'groupings_groups']);
    expect(await readGroupings(run.w.db, [courseId], budget)).toEqual([]);
    expect(await run.integrity()).toEqual([]);
  });

  it('deleting a group: its members (all), links and events go, enrolment methods naming it point at none', async () => {
    const run = await fresh(target);
    // A full install's calendar table, reduced to what the writer touches, so the schema finds it.
    await run.sql('CREATE TABLE {event} (id BIGINT PRIMARY KEY, name VARCHAR(255), groupid BIGINT NOT NULL)');
    const schema = await readGroupSchema(run.w.db);
    expect([...schema.tables].sort()).toEqual(['course_modules', 'event']);
    await run.write(T0, (tx, ctx) =>
      writeGroupChanges(tx, ctx, [createGroup('2A', '2nde A'), createGroup('2B', '2nde B')], schema),
    );
    const [g2a, g2b] = [
      run.ids.get('group', pairKey(COURSE, '2A')) as number,
      run.ids.get('group', pairKey(COURSE, '2B')) as number,
    ];
    await run.write(T0 + 1, (tx, ctx) =>
      writeGroupMemberChanges(tx, ctx, [
        addMember(pairKey(COURSE, '2A'), 'tprof'),
        addMember(pairKey(COURSE, '2B'), 'tprof'),
      ]),
    );
    const grouping = pairKey(COURSE, 'G');
    await run.write(T0 + 1, async (tx, ctx) => {
      await writeGroupingChanges(
        tx,
        ctx,
        [
          change(
            'grouping',
            'create',
            grouping,
            { course: COURSE, idnumber: 'G', name: 'G', description: '' },
            { refs: courseRef },
          ),
        ],
        schema,
      );
      await writeGroupingGroupChanges(tx, ctx, [
        change(
          'grouping_group',
          'create',
          pairKey(grouping, '2A'),
          {},
          { refs: { grouping: ref('grouping', grouping), group: ref('group', pairKey(COURSE, '2A')) } },
        ),
      ]);
    });
    // §22: a cohort method filling group 2A; its sync's members there.
    const enrolId = await cohortInstance(run, T0 + 2, ['seleve1'], g2a);
    await run.sql(
      "INSERT INTO {groups_members} (groupid, userid, timeadded, component, itemid) VALUES (?, ?, ?, 'enrol_cohort', ?)",
      [g2a, run.ids.get('user', 'seleve1') as number, T0 + 2, enrolId],
    );
    await run.sql('INSERT INTO {event} (id, name, groupid) VALUES (1, ?, ?), (2, ?, ?)', [
      'Contrôle',
      g2a,
      'Sortie',
      g2b,
    ]);
    expect(await run.integrity()).toEqual([]);

    const deleted = await run.write(T0 + 3, (tx, ctx) =>
      writeGroupChanges(tx, ctx, [change('group', 'delete', pairKey(COURSE, '2A'), {}, { moodleId: g2a })], schema),
    );
    expect(Object.keys(deleted).sort()).toEqual(['enrol', 'event', 'groupings_groups', 'groups', 'groups_members']);
    expect(deleted.groups?.deleted?.map((r) => r.id)).toEqual([String(g2a)]);
    expect(deleted.groups_members?.deleted?.map((r) => [r.userid, r.component])).toEqual([
      [String(run.ids.get('user', 'tprof')), ''],
      [String(run.ids.get('user', 'seleve1')), 'enrol_cohort'],
    ]);
    expect(deleted.groupings_groups?.deleted?.map((r) => r.groupid)).toEqual([String(g2a)]);
    expect(deleted.event?.deleted?.map((r) => r.name)).toEqual(['Contrôle']);
    expect(updatesOf(deleted, 'enrol')).toEqual([
      [
        String(enrolId),
        { customint2: { old: String(g2a), new: '0' }, timemodified: { old: String(T0 + 2), new: String(T0 + 3) } },
      ],
    ]);
    expect(
      (await readGroups(run.w.db, [run.ids.get('course', COURSE) as number], (await run.ctx(T0)).budget)).map(
        (g) => g.id,
      ),
    ).toEqual([g2b]);
    expect(await run.integrity()).toEqual([]);
  });

  it('refuses to delete a group carrying activity overrides, before writing anything', async () => {
    const run = await fresh(target);
    await run.sql('CREATE TABLE {quiz_overrides} (id BIGINT PRIMARY KEY, quiz BIGINT, groupid BIGINT)');
    const schema = await readGroupSchema(run.w.db);
    await run.write(T0, (tx, ctx) => writeGroupChanges(tx, ctx, [createGroup('2A', '2nde A')], schema));
    const groupId = run.ids.get('group', pairKey(COURSE, '2A')) as number;
    await run.sql('INSERT INTO {quiz_overrides} (id, quiz, groupid) VALUES (1, 7, ?)', [groupId]);
    const before = await run.w.snapshot();
    const ctx = await run.ctx(T0 + 1);
    const error = await run.w.db
      .transaction((tx) =>
        writeGroupChanges(
          tx,
          ctx,
          [createGroup('2C', '2nde C'), change('group', 'delete', pairKey(COURSE, '2A'), {}, { moodleId: groupId })],
          schema,
        ),
      )
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UserError);
    expect((error as UserError).code).toBe('MOODLE_CONFLICT');
    expect((error as UserError).diagnostics.map((d) => d.message)).toEqual([
      `group["${pairKey(COURSE, '2A')}"]: Moodle group id ${groupId} has quiz overrides`,
    ]);
    expect(diffSnapshots(before, await run.w.snapshot())).toEqual({});
  });

  it('writes groups without the 4.2 columns on an older schema', async () => {
    const run = await fresh(target, []);
    const schema = { visibility: false, participation: false, tables: new Set<never>() };
    const written = await run.write(T0, (tx, ctx) => writeGroupChanges(tx, ctx, [createGroup('2A', '2nde A')], schema));
    // The columns exist here, so the database's defaults (Moodle's own values) fill them.
    expect(written.groups?.inserted?.map((r) => [r.visibility, r.participation, r.picture])).toEqual([['0', '1', '0']]);
  });

  it('a rollback leaves nothing of groups, groupings, links and members', async () => {
    const run = await fresh(target);
    const schema = await readGroupSchema(run.w.db);
    const before = await run.w.snapshot();
    const ctx = await run.ctx(T0);
    const failure = new Error('failure after the writes');
    const grouping = pairKey(COURSE, 'G');
    const attempt = run.w.db.transaction(async (tx) => {
      await writeGroupChanges(tx, ctx, [createGroup('2A', '2nde A')], schema);
      await writeGroupingChanges(
        tx,
        ctx,
        [
          change(
            'grouping',
            'create',
            grouping,
            { course: COURSE, idnumber: 'G', name: 'G', description: '' },
            { refs: courseRef },
          ),
        ],
        schema,
      );
      await writeGroupingGroupChanges(tx, ctx, [
        change(
          'grouping_group',
          'create',
          pairKey(grouping, '2A'),
          {},
          { refs: { grouping: ref('grouping', grouping), group: ref('group', pairKey(COURSE, '2A')) } },
        ),
      ]);
      await writeGroupMemberChanges(tx, ctx, [addMember(pairKey(COURSE, '2A'), 'tprof')]);
      throw failure;
    });
    await expect(attempt).rejects.toBe(failure);
    expect(diffSnapshots(before, await run.w.snapshot())).toEqual({});
  });

  it('1,000 members cost a few statements, and a membership written meanwhile is a conflict', async () => {
    const usernames = Array.from({ length: 1000 }, (_, i) => `u${String(i).padStart(4, '0')}`);
    const run = await fresh(target, usernames);
    const schema = await readGroupSchema(run.w.db);
    await run.write(T0, (tx, ctx) => writeGroupChanges(tx, ctx, [createGroup('BIG', 'Big')], schema));
    const group = pairKey(COURSE, 'BIG');
    const groupId = run.ids.get('group', group) as number;
    const ctx = await run.ctx(T0 + 1);
    const creates = usernames.map((u) => addMember(group, u));
    const counted = (fn: (tx: Queryable) => Promise<void>): Promise<number> =>
      run.w.db.transaction(async (tx) => {
        const start = run.w.db.statementCount;
        await fn(tx);
        return run.w.db.statementCount - start;
      });
    const inserts = await counted((tx) => writeGroupMemberChanges(tx, ctx, creates));
    const members = await readGroupMembers(run.w.db, [groupId], ctx.budget);
    expect(members).toHaveLength(1000);
    const byId = new Map(members.map((m) => [m.id, m.userid]));
    for (const u of usernames)
      expect(byId.get(run.ids.get('group_member', pairKey(group, u)) as number)).toBe(run.ids.get('user', u));
    expect(await run.integrity()).toEqual([]);
    const deletes = members.map((m, i) =>
      change('group_member', 'delete', pairKey(group, usernames[i] ?? ''), {}, { moodleId: m.id }),
    );
    const removals = await counted((tx) => writeGroupMemberChanges(tx, ctx, deletes));
    expect(await readGroupMembers(run.w.db, [groupId], ctx.budget)).toEqual([]);
    // INSERT, group timemodified, re-read; groups of the rows, DELETE, group timemodified.
    expect({ inserts, removals }).toEqual({ inserts: 3, removals: 3 });

    const someone = run.ids.get('user', 'u0007') as number;
    await run.sql('INSERT INTO {groups_members} (groupid, userid, timeadded) VALUES (?, ?, ?)', [
      groupId,
      someone,
      T0 + 2,
    ]);
    const error = await run.w.db
      .transaction((tx) => writeGroupMemberChanges(tx, ctx, creates.slice(0, 10)))
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UserError);
    expect((error as UserError).code).toBe('MOODLE_CONFLICT');
    expect((await readGroupMembers(run.w.db, [groupId], ctx.budget)).map((m) => m.userid)).toEqual([someone]);
  });
});
