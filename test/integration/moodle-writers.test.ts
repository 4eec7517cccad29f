/**
 * The writers and readers of course categories, custom profile fields and values, cohorts and cohort members,
 * called directly inside `db.transaction` on a fresh Moodle 4.5 of every target. Each write is compared row by
 * row, column by column, with what Moodle's own APIs wrote for the same operation (reference-writes.json, every
 * table snapshotted around the write, so a row written anywhere else shows too), then the integrity checker
 * runs, then the readers read it back. Updates, moves, releases and deletions, a rollback, a conflict and the
 * statement count of a thousand members are checked too.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { InternalError, UserError } from '../../src/errors.js';
import { pairKey } from '../../src/model/change.js';
import type { Queryable } from '../../src/moodle/database.js';
import { readCategories } from '../../src/moodle/read-categories.js';
import { readCohortMembers, readCohorts } from '../../src/moodle/read-cohorts.js';
import { readProfileData, readProfileFields } from '../../src/moodle/read-profile-fields.js';
import { writeCategoryChanges } from '../../src/moodle/write-categories.js';
import { writeCohortChanges, writeCohortMemberChanges } from '../../src/moodle/write-cohorts.js';
import { ObjectIds, type WriteContext } from '../../src/moodle/write-context.js';
import { writeProfileDataChanges, writeProfileFieldChanges } from '../../src/moodle/write-profile-fields.js';
import { writeUserChanges } from '../../src/moodle/write-users.js';
import { checkIntegrity } from '../helpers/integrity.js';
import { dropStaleTestDatabases } from '../helpers/mariadb.js';
import {
  compareWrites,
  diffSnapshots,
  installSymbols,
  type Snapshot,
  type Writes,
  withIds,
} from '../helpers/reference-rows.js';
import { expectMoodleSortorders } from '../helpers/fix-course-sortorder.js';
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
/** Moodle's logstore rows: every step's may_skip lists them. */
const SKIPPED = ['logstore_standard_log'];

interface Run {
  readonly w: WriterSite;
  readonly fresh: Snapshot;
  readonly ids: ObjectIds;
  ctx(now: number): Promise<WriteContext>;
  /** Writes in one transaction at `now`; returns the raw writes. */
  write(now: number, fn: (tx: Queryable, ctx: WriteContext) => Promise<void>): Promise<Writes>;
  integrity(): Promise<string[]>;
  /** An id read by the test's own connection (PostgreSQL's admin client returns int8 as text). */
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
    integrity: () => checkIntegrity(w.reader),
    async id(sql, params = []) {
      const rows = await w.rows(sql, params);
      if (rows.length !== 1) throw new Error(`${sql}: ${rows.length} rows`);
      return Number(Object.values(rows[0] as object)[0]);
    },
  };
}

/** Users created as the tool creates them (ldap auth), their ids in the run's registry. */
async function addUsers(run: Run, usernames: readonly string[], now = T0 - 100): Promise<void> {
  const changes = usernames.map((u) =>
    change('user', 'create', u, { auth: 'ldap', username: u, firstname: `F-${u}`, lastname: `L-${u}` }),
  );
  const ctx = await run.ctx(now);
  await run.w.db.transaction((tx) => writeUserChanges(tx, ctx, changes));
}

const user = (key: string) => ({ entity: 'user', key }) as const;
const category = (key: string) => ({ entity: 'category', key }) as const;

/** Symbols of the users of the reference (jdupont, tprof, seleve1…), from the run's registry. */
function userSymbols(run: Run, names: readonly string[]): [number, string][] {
  return names.map((n) => [run.ids.get('user', n) as number, `<user:${n}>`]);
}

const topCategory = change('category', 'create', '0750001A', {
  idnumber: '0750001A',
  name: 'Lycee Test',
  description: '',
});
const subCategory = change(
  'category',
  'create',
  '0750001A-classes',
  { idnumber: '0750001A-classes', name: 'Classes' },
  { refs: { parent: category('0750001A') } },
);

describe.each(TARGETS)('Moodle writers on %s', (target) => {
  it('profile fields and values: rows as profile_save_category/field/data, read back, updated, deleted', async () => {
    const run = await fresh(target);
    await addUsers(run, ['jdupont', 'mmartin']);
    const uai = change('profile_field', 'create', 'uai', {
      shortname: 'uai',
      name: 'UAI',
      datatype: 'text',
      categoryName: 'Other fields',
      locked: 1,
      visible: 1,
    });
    const fieldWrites = await run.write(T0, (tx, ctx) => writeProfileFieldChanges(tx, ctx, [uai]));
    const fieldId = run.ids.get('profile_field', 'uai') as number;
    const categoryId = await run.id("SELECT id FROM {user_info_category} WHERE name = 'Other fields'");
    let ids = withIds(installSymbols(run.fresh), 'user_info_field', [[fieldId, '<field:uai>']]);
    ids = withIds(ids, 'user_info_category', [[categoryId, '<profilecat:Other fields>']]);
    ids = withIds(ids, 'user', userSymbols(run, ['jdupont', 'mmartin']));
    const ours = symboliseEntities(fieldWrites, { ids, now: [T0] });
    // The category (§6) and the field (§7) come from one call here.
    expect(compareWrites(ours, referenceRows('profile_category', 'profile_field'), { skipped: SKIPPED })).toEqual([]);
    expect(Object.keys(ours.user_info_field?.inserted?.[0] ?? {})).toHaveLength(20);
    expect(await run.integrity()).toEqual([]);

    const valueKey = pairKey('uai', 'jdupont');
    const value = change(
      'profile_data',
      'create',
      valueKey,
      { data: '0750001A' },
      { refs: { field: { entity: 'profile_field', key: 'uai' }, user: user('jdupont') } },
    );
    const dataWrites = await run.write(T0 + 1, (tx, ctx) => writeProfileDataChanges(tx, ctx, [value]));
    const dataId = run.ids.get('profile_data', valueKey) as number;
    ids = withIds(ids, 'user_info_data', [[dataId, '<user_info_data#1>']]);
    expect(
      compareWrites(symboliseEntities(dataWrites, { ids, now: [T0 + 1] }), referenceRows('profile_data'), {
        skipped: SKIPPED,
      }),
    ).toEqual([]);
    expect(await run.integrity()).toEqual([]);

    const changed = change('profile_data', 'update', valueKey, { data: '0750002B' }, { moodleId: dataId });
    const updateWrites = await run.write(T0 + 2, (tx, ctx) => writeProfileDataChanges(tx, ctx, [changed]));
    expect(
      compareWrites(symboliseEntities(updateWrites, { ids, now: [T0 + 2] }), referenceRows('profile_data_update'), {
        skipped: SKIPPED,
      }),
    ).toEqual([]);

    // Readers.
    const read = await readProfileFields(run.w.db);
    expect(read.categories).toEqual([{ id: categoryId, name: 'Other fields', sortorder: 1 }]);
    expect(read.fields).toEqual([
      {
        id: fieldId,
        shortname: 'uai',
        name: 'UAI',
        datatype: 'text',
        categoryid: categoryId,
        sortorder: 1,
        locked: 1,
        visible: 1,
        required: 0,
        forceunique: 0,
        signup: 0,
        param1: '30',
        param2: '2048',
        param3: '0',
      },
    ]);
    const jdupont = run.ids.get('user', 'jdupont');
    const budget = (await run.ctx(T0)).budget;
    expect(await readProfileData(run.w.db, [fieldId], budget)).toEqual([
      { id: dataId, userid: jdupont, fieldid: fieldId, data: '0750002B' },
    ]);

    // A second field reuses the category (sortorder 2 in it); a third gets a new category (sortorder 2).
    const more = [
      change('profile_field', 'create', 'classe', {
        shortname: 'classe',
        name: 'Classe',
        datatype: 'text',
        categoryName: 'Other fields',
        locked: 0,
        visible: 2,
        param2: 100,
      }),
      change('profile_field', 'create', 'profil', {
        shortname: 'profil',
        name: 'Profil',
        datatype: 'text',
        categoryName: 'ENT',
        locked: 1,
        visible: 0,
      }),
      change('profile_field', 'update', 'uai', { name: 'UAI (établissement)', visible: 3 }, { moodleId: fieldId }),
    ];
    const moreWrites = await run.write(T0 + 3, (tx, ctx) => writeProfileFieldChanges(tx, ctx, more));
    expect(moreWrites.user_info_category?.inserted).toEqual([{ id: expect.any(String), name: 'ENT', sortorder: '2' }]);
    expect(moreWrites.user_info_field?.updated?.map((u) => u.changed)).toEqual([
      { name: { old: 'UAI', new: 'UAI (établissement)' }, visible: { old: '1', new: '3' } },
    ]);
    const after = await readProfileFields(run.w.db);
    const ent = after.categories.find((c) => c.name === 'ENT');
    expect(after.fields.map((f) => [f.shortname, f.categoryid, f.sortorder, f.locked, f.visible, f.param2])).toEqual([
      ['uai', categoryId, 1, 1, 3, '2048'],
      ['classe', categoryId, 2, 0, 2, '100'],
      ['profil', ent?.id, 1, 1, 0, '2048'],
    ]);
    expect(run.ids.get('profile_field', 'classe')).toBe(after.fields[1]?.id);
    expect(await run.integrity()).toEqual([]);

    // Values for many users and fields in one call, then a deletion.
    const classe = { entity: 'profile_field', key: 'classe' } as const;
    const values = [
      change(
        'profile_data',
        'create',
        'classe/jdupont',
        { data: '2nde A' },
        { refs: { field: classe, user: user('jdupont') } },
      ),
      change(
        'profile_data',
        'create',
        'classe/mmartin',
        { data: '' },
        { refs: { field: classe, user: user('mmartin') } },
      ),
      change('profile_data', 'delete', valueKey, { data: '' }, { moodleId: dataId }),
    ];
    const valueWrites = await run.write(T0 + 4, (tx, ctx) => writeProfileDataChanges(tx, ctx, values));
    expect(valueWrites.user_info_data?.deleted?.map((r) => r.id)).toEqual([String(dataId)]);
    expect(valueWrites.user_info_data?.inserted?.map((r) => [r.userid, r.data, r.dataformat])).toEqual([
      [String(jdupont), '2nde A', '0'],
      [String(run.ids.get('user', 'mmartin')), '', '0'],
    ]);
    const classeId = run.ids.get('profile_field', 'classe') as number;
    const rows = await readProfileData(run.w.db, [fieldId, classeId], budget);
    expect(rows.map((r) => [r.id, r.fieldid, r.data])).toEqual([
      [run.ids.get('profile_data', 'classe/jdupont'), classeId, '2nde A'],
      [run.ids.get('profile_data', 'classe/mmartin'), classeId, ''],
    ]);
    expect(await run.integrity()).toEqual([]);
  });

  it('categories: rows as core_course_category::create (top and sub), read back, updated, a tree in one call', async () => {
    const run = await fresh(target);
    const topWrites = await run.write(T0, (tx, ctx) => writeCategoryChanges(tx, ctx, [topCategory]));
    const topId = run.ids.get('category', '0750001A') as number;
    const topContext = await run.id('SELECT id FROM {context} WHERE contextlevel = 40 AND instanceid = ?', [topId]);
    let ids = withIds(installSymbols(run.fresh), 'course_categories', [[topId, '<cat:0750001A>']]);
    ids = withIds(ids, 'context', [[topContext, '<ctx:cat:0750001A>']]);
    ids = withIds(ids, 'course', [[1, '<sitecourse>']]);
    const top = symboliseEntities(topWrites, { ids, now: [T0] });
    // Moodle's fix_course_sortorder() renumbered the site course (0 → 1): so does the tool.
    expect(compareWrites(top, referenceRows('category_create'), { skipped: SKIPPED })).toEqual([]);
    expect(await run.integrity()).toEqual([]);
    await expectMoodleSortorders(run.w.reader);

    const subWrites = await run.write(T0 + 1, (tx, ctx) => writeCategoryChanges(tx, ctx, [subCategory]));
    const subId = run.ids.get('category', '0750001A-classes') as number;
    const subContext = await run.id('SELECT id FROM {context} WHERE contextlevel = 40 AND instanceid = ?', [subId]);
    ids = withIds(ids, 'course_categories', [[subId, '<cat:0750001A-classes>']]);
    ids = withIds(ids, 'context', [[subContext, '<ctx:cat:0750001A-classes>']]);
    expect(
      compareWrites(symboliseEntities(subWrites, { ids, now: [T0 + 1] }), referenceRows('subcategory_create'), {
        skipped: SKIPPED,
      }),
    ).toEqual([]);
    expect(await run.integrity()).toEqual([]);

    expect((await readCategories(run.w.db)).slice(1)).toEqual([
      {
        id: topId,
        name: 'Lycee Test',
        idnumber: '0750001A',
        description: '',
        parent: 0,
        path: `/${topId}`,
        depth: 1,
        sortorder: 20000,
        visible: 1,
        contextId: topContext,
        contextPath: `/1/${topContext}`,
      },
      {
        id: subId,
        name: 'Classes',
        idnumber: '0750001A-classes',
        description: '',
        parent: topId,
        path: `/${topId}/${subId}`,
        depth: 2,
        sortorder: 30000,
        visible: 1,
        contextId: subContext,
        contextPath: `/1/${topContext}/${subContext}`,
      },
    ]);

    // An update: the changed columns and timemodified only.
    const rename = change(
      'category',
      'update',
      '0750001A',
      { name: 'Lycée Test', description: '<p>Établissement</p>' },
      { moodleId: topId },
    );
    const updateWrites = await run.write(T0 + 2, (tx, ctx) => writeCategoryChanges(tx, ctx, [rename]));
    expect(Object.keys(updateWrites)).toEqual(['course_categories']);
    expect(updateWrites.course_categories?.updated?.map((u) => u.changed)).toEqual([
      {
        name: { old: 'Lycee Test', new: 'Lycée Test' },
        description: { old: '', new: '<p>Établissement</p>' },
        timemodified: { old: String(T0), new: String(T0 + 2) },
      },
    ]);

    // A three-level tree in one call, children listed before their parents, under an existing category.
    const tree = [
      change(
        'category',
        'create',
        'B-1-x',
        { idnumber: 'B-1-x', name: 'B 1 x' },
        { refs: { parent: category('B-1') } },
      ),
      change('category', 'create', 'B-1', { idnumber: 'B-1', name: 'B 1' }, { refs: { parent: category('B') } }),
      change('category', 'create', 'B', { idnumber: 'B', name: 'B' }, { refs: { parent: category('0750001A') } }),
      change('category', 'create', 'C', { idnumber: 'C', name: 'C' }),
    ];
    await run.write(T0 + 3, (tx, ctx) => writeCategoryChanges(tx, ctx, tree));
    expect(await run.integrity()).toEqual([]);
    const all = await readCategories(run.w.db);
    const byKey = new Map(all.map((c) => [c.idnumber, c]));
    const b = byKey.get('B');
    const b1 = byKey.get('B-1');
    expect(b?.parent).toBe(topId);
    expect(b1?.parent).toBe(b?.id);
    expect(byKey.get('B-1-x')?.parent).toBe(b1?.id);
    expect(byKey.get('B-1-x')?.depth).toBe(4);
    expect(byKey.get('B-1-x')?.contextPath?.split('/')).toHaveLength(6);
    expect(byKey.get('C')?.parent).toBe(0);
    // Blocks of 10000 in Moodle's order: the tree depth first, a new category after its siblings, as
    // fix_course_sortorder() leaves them (running it afterwards changes nothing).
    expect(['B', 'B-1', 'B-1-x', 'C'].map((k) => byKey.get(k)?.sortorder)).toEqual([40000, 50000, 60000, 70000]);
    await expectMoodleSortorders(run.w.reader);
    for (const key of ['B', 'B-1', 'B-1-x', 'C']) expect(run.ids.get('category', key)).toBe(byKey.get(key)?.id);

    // The tool never releases nor deletes a category.
    const ctx = await run.ctx(T0 + 4);
    const release = change('category', 'release', 'C', {}, { moodleId: byKey.get('C')?.id as number });
    await expect(run.w.db.transaction((tx) => writeCategoryChanges(tx, ctx, [release]))).rejects.toBeInstanceOf(
      InternalError,
    );
  });

  it('cohorts and members: rows as cohort_add_cohort/cohort_add_member, read back, moved, released, deleted', async () => {
    const run = await fresh(target);
    await addUsers(run, ['tprof', 'seleve1', 'seleve2']);
    await run.write(T0 - 50, (tx, ctx) => writeCategoryChanges(tx, ctx, [topCategory]));
    const catId = run.ids.get('category', '0750001A') as number;
    const catContext = await run.id('SELECT id FROM {context} WHERE contextlevel = 40 AND instanceid = ?', [catId]);

    const cohorts = [
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
        { idnumber: '0750001A-profs', name: 'Profs Lycee Test', component: '', description: '', visible: 1 },
        { refs: { category: category('0750001A') } },
      ),
    ];
    const cohortWrites = await run.write(T0, (tx, ctx) => writeCohortChanges(tx, ctx, cohorts));
    const classId = run.ids.get('cohort', '0750001A-2A') as number;
    const profsId = run.ids.get('cohort', '0750001A-profs') as number;
    let ids = withIds(installSymbols(run.fresh), 'context', [[catContext, '<ctx:cat:0750001A>']]);
    ids = withIds(ids, 'cohort', [
      [classId, '<cohort:0750001A-2A>'],
      [profsId, '<cohort:0750001A-profs>'],
    ]);
    ids = withIds(ids, 'user', userSymbols(run, ['tprof', 'seleve1', 'seleve2']));
    expect(
      compareWrites(
        symboliseEntities(cohortWrites, { ids, now: [T0] }),
        referenceRows('cohort_system', 'cohort_category'),
        { skipped: SKIPPED },
      ),
    ).toEqual([]);
    expect(await run.integrity()).toEqual([]);

    const member = (cohort: string, u: string) =>
      change(
        'cohort_member',
        'create',
        pairKey(cohort, u),
        {},
        {
          refs: { cohort: { entity: 'cohort', key: cohort }, user: user(u) },
        },
      );
    const members = [
      member('0750001A-2A', 'seleve1'),
      member('0750001A-2A', 'seleve2'),
      member('0750001A-profs', 'tprof'),
    ];
    const memberWrites = await run.write(T0 + 1, (tx, ctx) => writeCohortMemberChanges(tx, ctx, members));
    ids = withIds(
      ids,
      'cohort_members',
      members.map((m, i) => [run.ids.get('cohort_member', m.key) as number, `<cohort_members#${i + 1}>`]),
    );
    expect(
      compareWrites(symboliseEntities(memberWrites, { ids, now: [T0 + 1] }), referenceRows('cohort_members'), {
        skipped: SKIPPED,
      }),
    ).toEqual([]);
    expect(await run.integrity()).toEqual([]);

    // Readers.
    expect(await readCohorts(run.w.db)).toEqual([
      {
        id: classId,
        contextid: 1,
        name: 'Eleves 2nde A',
        idnumber: '0750001A-2A',
        component: 'local_ldap2moodle',
        visible: 1,
        description: '',
        contextLevel: 10,
        categoryId: null,
      },
      {
        id: profsId,
        contextid: catContext,
        name: 'Profs Lycee Test',
        idnumber: '0750001A-profs',
        component: '',
        visible: 1,
        description: '',
        contextLevel: 40,
        categoryId: catId,
      },
    ]);
    const budget = (await run.ctx(T0)).budget;
    const userId = (u: string) => run.ids.get('user', u);
    expect(await readCohortMembers(run.w.db, [classId], budget)).toEqual([
      { id: run.ids.get('cohort_member', members[0]?.key ?? ''), cohortid: classId, userid: userId('seleve1') },
      { id: run.ids.get('cohort_member', members[1]?.key ?? ''), cohortid: classId, userid: userId('seleve2') },
    ]);
    expect(await readCohortMembers(run.w.db, [], budget)).toEqual([]);

    // Updates: a rename moving into the category, a move back to the system context; then a release.
    const updates = [
      change(
        'cohort',
        'update',
        '0750001A-2A',
        { name: 'Élèves 2nde A', visible: 0 },
        { moodleId: classId, refs: { category: category('0750001A') } },
      ),
      change('cohort', 'update', '0750001A-profs', { context: 'system' }, { moodleId: profsId }),
    ];
    const updateWrites = await run.write(T0 + 2, (tx, ctx) => writeCohortChanges(tx, ctx, updates));
    expect(Object.keys(updateWrites)).toEqual(['cohort']);
    const changedOf = (writes: Writes, id: number) => writes.cohort?.updated?.find((u) => u.id === String(id))?.changed;
    const moved = { old: String(T0), new: String(T0 + 2) };
    expect(changedOf(updateWrites, classId)).toEqual({
      contextid: { old: '1', new: String(catContext) },
      name: { old: 'Eleves 2nde A', new: 'Élèves 2nde A' },
      visible: { old: '1', new: '0' },
      timemodified: moved,
    });
    expect(changedOf(updateWrites, profsId)).toEqual({
      contextid: { old: String(catContext), new: '1' },
      timemodified: moved,
    });
    expect(await run.integrity()).toEqual([]);
    const release = change('cohort', 'release', '0750001A-2A', { component: '' }, { moodleId: classId });
    const releaseWrites = await run.write(T0 + 3, (tx, ctx) => writeCohortChanges(tx, ctx, [release]));
    expect(changedOf(releaseWrites, classId)).toEqual({
      component: { old: 'local_ldap2moodle', new: '' },
      timemodified: { old: String(T0 + 2), new: String(T0 + 3) },
    });
    expect((await readCohorts(run.w.db)).map((c) => [c.id, c.categoryId, c.component])).toEqual([
      [classId, catId, ''],
      [profsId, null, ''],
    ]);

    // A member removed; then a cohort deleted with its members.
    const seleve2 = run.ids.get('cohort_member', members[1]?.key ?? '') as number;
    const leave = change('cohort_member', 'delete', members[1]?.key ?? '', {}, { moodleId: seleve2 });
    const leaveWrites = await run.write(T0 + 4, (tx, ctx) => writeCohortMemberChanges(tx, ctx, [leave]));
    expect(Object.keys(leaveWrites)).toEqual(['cohort_members']);
    expect(leaveWrites.cohort_members?.deleted?.map((r) => r.id)).toEqual([String(seleve2)]);
    const drop = change('cohort', 'delete', '0750001A-profs', {}, { moodleId: profsId });
    // A cohort synced into a course (a Cohort sync enrolment method) is not deleted behind Moodle's back.
    await run.w.db.transaction((tx) =>
      tx.execute(
        "INSERT INTO {enrol} (enrol, status, courseid, roleid, customint1, customint2) VALUES ('cohort', 0, 1, 5, ?, 0)",
        [profsId],
      ),
    );
    const refused = await run.w.db
      .transaction(async (tx) => writeCohortChanges(tx, await run.ctx(T0 + 5), [drop]))
      .catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(UserError);
    expect((refused as UserError).code).toBe('MOODLE_CONFLICT');
    expect((refused as UserError).diagnostics.map((d) => d.message)).toEqual([
      expect.stringMatching(
        /^cohort\["0750001A-profs"\]: synced into course\(s\) 1 by cohort enrolment instance\(s\) \d+$/,
      ),
    ]);
    await run.w.db.transaction((tx) => tx.execute("DELETE FROM {enrol} WHERE enrol = 'cohort'"));
    const dropWrites = await run.write(T0 + 5, (tx, ctx) => writeCohortChanges(tx, ctx, [drop]));
    expect(dropWrites.cohort?.deleted?.map((r) => r.id)).toEqual([String(profsId)]);
    expect(dropWrites.cohort_members?.deleted?.map((r) => r.userid)).toEqual([String(userId('tprof'))]);
    expect(Object.keys(dropWrites).sort()).toEqual(['cohort', 'cohort_members']);
    expect((await readCohorts(run.w.db)).map((c) => c.id)).toEqual([classId]);
    expect((await readCohortMembers(run.w.db, [classId, profsId], budget)).map((m) => m.userid)).toEqual([
      userId('seleve1'),
    ]);
    expect(await run.integrity()).toEqual([]);
  });

  it('a rollback leaves nothing of any entity', async () => {
    const run = await fresh(target);
    await addUsers(run, ['seleve1']);
    const before = await run.w.snapshot();
    const ctx = await run.ctx(T0);
    const failure = new Error('stop after the writes');
    const attempt = run.w.db.transaction(async (tx) => {
      await writeCategoryChanges(tx, ctx, [topCategory, subCategory]);
      await writeProfileFieldChanges(tx, ctx, [
        change('profile_field', 'create', 'uai', {
          shortname: 'uai',
          name: 'UAI',
          datatype: 'text',
          categoryName: 'Other fields',
          locked: 1,
          visible: 1,
        }),
      ]);
      await writeProfileDataChanges(tx, ctx, [
        change(
          'profile_data',
          'create',
          'uai/seleve1',
          { data: 'x' },
          { refs: { field: { entity: 'profile_field', key: 'uai' }, user: user('seleve1') } },
        ),
      ]);
      await writeCohortChanges(tx, ctx, [
        change(
          'cohort',
          'create',
          'K',
          { idnumber: 'K', name: 'K', component: 'local_ldap2moodle', description: '', visible: 1 },
          { refs: { category: category('0750001A-classes') } },
        ),
      ]);
      await writeCohortMemberChanges(tx, ctx, [
        change(
          'cohort_member',
          'create',
          'K/seleve1',
          {},
          {
            refs: { cohort: { entity: 'cohort', key: 'K' }, user: user('seleve1') },
          },
        ),
      ]);
      // Everything was written inside the transaction.
      const [row] = await tx.query('SELECT COUNT(id) AS n FROM {cohort_members}');
      expect(row?.n).toBe(1);
      throw failure;
    });
    await expect(attempt).rejects.toBe(failure);
    expect(diffSnapshots(before, await run.w.snapshot())).toEqual({});
  });

  it('1,000 members cost a few statements, and a membership written meanwhile is a conflict', async () => {
    const run = await fresh(target);
    const usernames = Array.from({ length: 1000 }, (_, i) => `u${String(i).padStart(4, '0')}`);
    await addUsers(run, usernames);
    await run.write(T0, (tx, ctx) =>
      writeCohortChanges(tx, ctx, [
        change('cohort', 'create', 'big', {
          idnumber: 'big',
          name: 'Big',
          component: 'x',
          description: '',
          visible: 1,
        }),
      ]),
    );
    const ctx = await run.ctx(T0 + 1);
    const creates = usernames.map((u) =>
      change(
        'cohort_member',
        'create',
        pairKey('big', u),
        {},
        {
          refs: { cohort: { entity: 'cohort', key: 'big' }, user: user(u) },
        },
      ),
    );
    const counted = async (fn: (tx: Queryable) => Promise<void>): Promise<number> =>
      run.w.db.transaction(async (tx) => {
        const start = run.w.db.statementCount;
        await fn(tx);
        return run.w.db.statementCount - start;
      });
    const inserts = await counted((tx) => writeCohortMemberChanges(tx, ctx, creates));
    const cohortId = run.ids.get('cohort', 'big') as number;
    const members = await readCohortMembers(run.w.db, [cohortId], ctx.budget);
    expect(members).toHaveLength(1000);
    const byId = new Map(members.map((m) => [m.id, m.userid]));
    for (const u of usernames) {
      expect(byId.get(run.ids.get('cohort_member', pairKey('big', u)) as number)).toBe(run.ids.get('user', u));
    }
    expect(await run.integrity()).toEqual([]);
    const deletes = members.map((m, i) =>
      change('cohort_member', 'delete', pairKey('big', usernames[i] ?? ''), {}, { moodleId: m.id }),
    );
    const removals = await counted((tx) => writeCohortMemberChanges(tx, ctx, deletes));
    expect(await readCohortMembers(run.w.db, [cohortId], ctx.budget)).toEqual([]);
    // One multi-row INSERT and one re-read; one DELETE.
    expect({ inserts, removals }).toEqual({ inserts: 2, removals: 1 });

    // Someone adds a member meanwhile: the insert meets the unique key; nothing of the call stays.
    const someone = run.ids.get('user', 'u0007') as number;
    await run.w.db.transaction((tx) =>
      tx.execute('INSERT INTO {cohort_members} (cohortid, userid, timeadded) VALUES (?, ?, ?)', [
        cohortId,
        someone,
        T0 + 2,
      ]),
    );
    const error = await run.w.db
      .transaction((tx) => writeCohortMemberChanges(tx, ctx, creates.slice(0, 10)))
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UserError);
    expect((error as UserError).code).toBe('MOODLE_CONFLICT');
    expect((await readCohortMembers(run.w.db, [cohortId], ctx.budget)).map((m) => m.userid)).toEqual([someone]);
  });
});
