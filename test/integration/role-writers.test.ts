/**
 * The role writer, called directly inside `db.transaction` on a fresh Moodle 4.5 of every target (core.sql +
 * roles-extra.sql: the capabilities table and the standard roles' permissions). There is no reference step for
 * role creation: the rows expected are stated here from what Moodle's code writes (src/moodle/write-roles.ts):
 *
 * - create_role(): role (name, shortname, description, archetype '', sortorder = MAX + 1 = 9 on a fresh site);
 * - set_role_contextlevels(): role_context_levels (roleid, contextlevel);
 * - assign_capability(CAP_ALLOW, system context): role_capabilities (contextid = the system context, roleid,
 *   capability, permission 1, timemodified now, modifierid = the admin), the shape of every standard role's
 *   definition row in the install (checked against student's);
 * - define.php's save: no role_allow_* row for a new role without archetype; the system context marked dirty
 *   (cache_flags accesslib/dirtycontexts "/1").
 *
 * Then an update (a capability added, one removed, a prevent made allow, a level added, a new name), a conflict
 * for an unknown capability and the rechecks, an assignment of the new role in a user context by the
 * role_assignment writer in the same transaction, and a rollback. The integrity checker runs after each write.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type RoleRow, roleEntity } from '../../src/entities/role.js';
import { roleAssignmentEntity } from '../../src/entities/role-assignment.js';
import type { Change, Fields } from '../../src/model/change.js';
import { addressOf } from '../../src/model/change.js';
import type { CurrentIndex } from '../../src/model/current.js';
import type { DesiredObject } from '../../src/model/desired.js';
import type { StateObject } from '../../src/model/state.js';
import type { Queryable } from '../../src/moodle/database.js';
import { joinCapabilities } from '../../src/moodle/read-roles.js';
import { readSite } from '../../src/moodle/site.js';
import { ObjectIds, type WriteContext } from '../../src/moodle/write-context.js';
import { writeRoleAssignmentChanges } from '../../src/moodle/write-role-assignments.js';
import { writeRoleChanges } from '../../src/moodle/write-roles.js';
import { writeUserChanges } from '../../src/moodle/write-users.js';
import { checkIntegrity } from '../helpers/integrity.js';
import { dropStaleTestDatabases } from '../helpers/mariadb.js';
import { diffSnapshots, type RefRow, type Writes } from '../helpers/reference-rows.js';
import { TARGETS } from '../helpers/targets.js';
import { change, type WriterSite, writerSite, writesOf } from '../helpers/writer-site.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});
beforeAll(async () => {
  if (TARGETS.includes('mariadb')) await dropStaleTestDatabases();
});

const T0 = Math.floor(Date.now() / 1000) - 600;
/** Moodle's documented parent role (docs.moodle.org, Parent role), in the user context. */
const PARENT_CAPS = [
  'moodle/user:viewdetails',
  'moodle/user:viewalldetails',
  'moodle/user:readuserblogs',
  'moodle/user:readuserposts',
  'moodle/user:viewuseractivitiesreport',
  'moodle/user:editprofile',
];
const PARENT: Fields = {
  shortname: 'parent',
  name: 'Parent',
  description: 'Parents and guardians of pupils',
  archetype: '',
  contextlevels: '30',
  capabilities: joinCapabilities(PARENT_CAPS),
};

interface Run {
  readonly w: WriterSite;
  readonly ids: ObjectIds;
  ctx(now: number): Promise<WriteContext>;
  write(now: number, fn: (tx: Queryable, ctx: WriteContext) => Promise<void>): Promise<Writes>;
}

async function fresh(target: (typeof TARGETS)[number]): Promise<Run> {
  const w = await writerSite(target);
  cleanups.push(() => w.close());
  const ids = new ObjectIds();
  const ctx = (now: number) => w.context(now, ids);
  return {
    w,
    ids,
    ctx,
    async write(now, fn) {
      const context = await ctx(now);
      return writesOf(w, (tx) => fn(tx, context));
    },
  };
}

const createRole = (values: Fields): Change => change('role', 'create', String(values.shortname), values);

const declared = (values: Fields): DesiredObject => ({
  key: String(values.shortname),
  dn: '',
  values,
  sourceDigest: `sha256:${String(values.shortname)}`,
});

const managedRole = (id: number, values: Fields): StateObject => ({
  address: addressOf('role', String(values.shortname)),
  type: 'role',
  id,
  key: String(values.shortname),
  source_digest: 'sha256:old',
  values,
});

function indexOf(ids: ObjectIds): CurrentIndex {
  return {
    id: (entity, key) => ids.get(entity, key),
    key: (entity, id) => [...ids.all(entity)].find(([, v]) => v === id)?.[0],
    ids: (entity) => [...ids.all(entity).values()],
  };
}

/** The entity's plan over what Moodle holds now (the role entity reads every role). */
async function plan(run: Run, desired: readonly DesiredObject[], managed: readonly StateObject[], adopt = false) {
  const ctx = await run.ctx(T0);
  const entity = roleEntity({ adopt: adopt ? 'matching' : 'never' });
  const index = indexOf(run.ids);
  const { rows: current, facts } = await entity.read(run.w.db, { site: ctx.site, budget: ctx.budget, index });
  const diff = entity.diff(
    { desired, current, managed, index, owned: () => false, wanted: () => false, products: {} },
    facts,
  );
  // What the apply's recheck sees of this reading.
  const known = { facts, index, site: ctx.site };
  return { entity, current, diff, known };
}

/** Rows without their id column (ids are the database's), sorted for comparison. */
const rowsOf = (writes: Writes, table: string, kind: 'inserted' | 'deleted' = 'inserted') =>
  (writes[table]?.[kind] ?? [])
    .map(({ id: _id, ...rest }: RefRow) => rest)
    .sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));

async function setUpUsers(run: Run, usernames: readonly string[]): Promise<void> {
  const ctx = await run.ctx(T0 - 100);
  await run.w.db.transaction((tx) =>
    writeUserChanges(
      tx,
      ctx,
      usernames.map((u) =>
        change('user', 'create', u, { auth: 'ldap', username: u, firstname: `F-${u}`, lastname: `L-${u}` }),
      ),
    ),
  );
}

describe.each(TARGETS)('role writer on %s', (target) => {
  it('creates a parent role as create_role() + set_role_contextlevels() + assign_capability() write it', async () => {
    const run = await fresh(target);
    const ctx = await run.ctx(T0);
    const system = String(ctx.systemContextId);
    const admin = String(ctx.site.siteAdminIds[0]);
    const install = await run.w.snapshot();

    const writes = await run.write(T0, (tx, c) => writeRoleChanges(tx, c, [createRole(PARENT)]));
    const roleId = run.ids.get('role', 'parent');
    expect(roleId).toEqual(expect.any(Number));
    const rid = String(roleId);
    expect(Object.keys(writes).sort()).toEqual(['cache_flags', 'role', 'role_capabilities', 'role_context_levels']);
    expect(writes.role?.inserted).toEqual([
      {
        id: rid,
        name: 'Parent',
        shortname: 'parent',
        description: 'Parents and guardians of pupils',
        sortorder: '9',
        archetype: '',
      },
    ]);
    expect(rowsOf(writes, 'role_context_levels')).toEqual([{ roleid: rid, contextlevel: '30' }]);
    expect(rowsOf(writes, 'role_capabilities')).toEqual(
      [...PARENT_CAPS].sort().map((capability) => ({
        contextid: system,
        roleid: rid,
        capability,
        permission: '1',
        timemodified: String(T0),
        modifierid: admin,
      })),
    );
    expect(rowsOf(writes, 'cache_flags')).toEqual([
      {
        flagtype: 'accesslib/dirtycontexts',
        name: ctx.systemContextPath,
        value: '1',
        timemodified: String(T0),
        expiry: String(T0 + ctx.site.sessionTimeout),
      },
    ]);
    expect(Object.values(writes).flatMap((w) => [...(w.updated ?? []), ...(w.deleted ?? [])])).toEqual([]);

    // The same shapes as the install's standard roles: student's row, levels and definition rows.
    const student = [...(install.get('role')?.values() ?? [])].find((r) => r.shortname === 'student') as RefRow;
    expect(Object.keys(writes.role?.inserted?.[0] ?? {}).sort()).toEqual(Object.keys(student).sort());
    const studentLevels = [...(install.get('role_context_levels')?.values() ?? [])].filter(
      (r) => r.roleid === student.id,
    );
    expect(studentLevels.map((r) => r.contextlevel).sort()).toEqual(['50', '70']);
    expect(Object.keys(writes.role_context_levels?.inserted?.[0] ?? {}).sort()).toEqual(
      Object.keys(studentLevels[0] ?? {}).sort(),
    );
    const studentCaps = [...(install.get('role_capabilities')?.values() ?? [])].filter((r) => r.roleid === student.id);
    expect(studentCaps.length).toBeGreaterThan(50);
    expect(new Set(studentCaps.map((r) => r.contextid))).toEqual(new Set([system]));
    expect(studentCaps.find((r) => r.capability === 'moodle/user:viewdetails')?.permission).toBe('1');
    expect(Object.keys(writes.role_capabilities?.inserted?.[0] ?? {}).sort()).toEqual(
      Object.keys(studentCaps[0] ?? {}).sort(),
    );
    // No role may assign, override, switch to or view it yet: define.php writes none for a new plain role.
    const allows = await run.w.rows('SELECT id FROM {role_allow_assign} WHERE roleid = ? OR allowassign = ?', [
      Number(roleId),
      Number(roleId),
    ]);
    expect(allows).toEqual([]);
    expect(await checkIntegrity(run.w.reader)).toEqual([]);

    // Read back: the role as the plan compares it, nothing left to do.
    const { current, diff } = await plan(run, [declared(PARENT)], [managedRole(Number(roleId), PARENT)]);
    expect(current.find((r) => r.shortname === 'parent')).toEqual({
      id: Number(roleId),
      shortname: 'parent',
      name: 'Parent',
      description: 'Parents and guardians of pupils',
      archetype: '',
      sortorder: 9,
      contextlevels: '30',
      capabilities: String(PARENT.capabilities),
    } satisfies RoleRow);
    expect(current.find((r) => r.shortname === 'student')?.contextlevels).toBe('50,70');
    expect(diff).toEqual({ changes: [], conflicts: [], warnings: [] });
  });

  it('updates a managed role until Moodle matches: a capability added, one removed, a prevent made allow', async () => {
    const run = await fresh(target);
    await run.write(T0 - 50, (tx, c) => writeRoleChanges(tx, c, [createRole(PARENT)]));
    const roleId = run.ids.get('role', 'parent') as number;
    // An administrator set one permission to prevent by hand.
    await run.w.db.transaction((tx) =>
      tx.execute(
        "UPDATE {role_capabilities} SET permission = -1 WHERE roleid = ? AND capability = 'moodle/user:readuserposts'",
        [roleId],
      ),
    );
    const rowId = async (capability: string) =>
      Number(
        (
          await run.w.rows('SELECT id FROM {role_capabilities} WHERE roleid = ? AND capability = ?', [
            roleId,
            capability,
          ])
        )[0]?.id,
      );
    const posts = await rowId('moodle/user:readuserposts');
    const editprofile = await rowId('moodle/user:editprofile');

    const wanted: Fields = {
      ...PARENT,
      name: 'Parent or guardian',
      contextlevels: '30,50',
      capabilities: joinCapabilities([
        ...PARENT_CAPS.filter((c) => c !== 'moodle/user:editprofile'),
        'tool/policy:acceptbehalf',
      ]),
    };
    const { entity, current, diff, known } = await plan(run, [declared(wanted)], [managedRole(roleId, PARENT)]);
    expect(diff.conflicts).toEqual([]);
    expect(diff.changes.map((c) => [c.action, c.moodleId, c.before, c.after])).toEqual([
      [
        'update',
        roleId,
        {
          name: 'Parent',
          contextlevels: '30',
          capabilities: PARENT_CAPS.map((c) => (c === 'moodle/user:readuserposts' ? `${c}=-1` : c))
            .sort()
            .join(','),
        },
        { name: 'Parent or guardian', contextlevels: '30,50', capabilities: wanted.capabilities },
      ],
    ]);
    expect(diff.warnings).toEqual([expect.stringContaining('the changed permissions apply once')]);

    const writes = await run.write(T0, async (tx, c) => {
      expect(await entity.recheck(tx, current, diff.changes, c.budget, known)).toEqual([]);
      await entity.write(tx, c, diff.changes);
    });
    const rid = String(roleId);
    expect(writes.role?.updated?.map((u) => [u.id, u.changed])).toEqual([
      [rid, { name: { old: 'Parent', new: 'Parent or guardian' } }],
    ]);
    expect(rowsOf(writes, 'role_context_levels')).toEqual([{ roleid: rid, contextlevel: '50' }]);
    const ctx = await run.ctx(T0);
    expect(rowsOf(writes, 'role_capabilities')).toEqual([
      {
        contextid: String(ctx.systemContextId),
        roleid: rid,
        capability: 'tool/policy:acceptbehalf',
        permission: '1',
        timemodified: String(T0),
        modifierid: String(ctx.site.siteAdminIds[0]),
      },
    ]);
    expect(writes.role_capabilities?.deleted?.map((r) => [r.id, r.capability])).toEqual([
      [String(editprofile), 'moodle/user:editprofile'],
    ]);
    // assign_capability(…, overwrite) updates the row in place: same id, allow, now.
    expect(writes.role_capabilities?.updated?.map((u) => [u.id, u.changed])).toEqual([
      [String(posts), { permission: { old: '-1', new: '1' }, timemodified: { old: String(T0 - 50), new: String(T0) } }],
    ]);
    expect(
      writes.cache_flags?.updated?.map((u) => [u.row?.flagtype, u.row?.name, Object.keys(u.changed).sort()]),
    ).toEqual([['accesslib/dirtycontexts', ctx.systemContextPath, ['expiry', 'timemodified']]]);
    expect(Object.keys(writes).sort()).toEqual(['cache_flags', 'role', 'role_capabilities', 'role_context_levels']);
    expect(await checkIntegrity(run.w.reader)).toEqual([]);
    expect((await plan(run, [declared(wanted)], [managedRole(roleId, wanted)])).diff.changes).toEqual([]);
  });

  it('a capability Moodle does not know is a conflict naming it; the recheck sees what changed after the plan', async () => {
    const run = await fresh(target);
    const unknown = { ...PARENT, capabilities: joinCapabilities([...PARENT_CAPS, 'local/nothere:view']) };
    const refused = await plan(run, [declared(unknown)], []);
    expect(refused.diff.changes).toEqual([]);
    expect(refused.diff.conflicts.map((c) => c.message)).toEqual([
      expect.stringMatching(/^role\["parent"\]: capability "local\/nothere:view" is not known to this Moodle/),
    ]);
    // An unmanaged role of that shortname: a conflict, unless adopted.
    await run.w.db.transaction((tx) =>
      tx.execute(
        "INSERT INTO {role} (name, shortname, description, sortorder, archetype) VALUES ('Parents', 'parent', '', 20, '')",
      ),
    );
    const taken = await plan(run, [declared(PARENT)], []);
    expect(taken.diff.conflicts.map((c) => c.message)).toEqual([
      expect.stringMatching(
        /^role\["parent"\]: Moodle role id \d+ "Parents" \(shortname parent\) exists and is not managed/,
      ),
    ]);
    const adopted = await plan(run, [declared(PARENT)], [], true);
    expect(adopted.diff.changes.map((c) => [c.action, c.after])).toEqual([
      [
        'adopt',
        { name: 'Parent', description: PARENT.description, contextlevels: '30', capabilities: PARENT.capabilities },
      ],
    ]);
    // After the plan: a plugin uninstalled (its capability gone) and a level given by hand: the plan is stale.
    await run.w.db.transaction(async (tx) => {
      await tx.execute("DELETE FROM {capabilities} WHERE name = 'moodle/user:readuserblogs'");
      await tx.execute('INSERT INTO {role_context_levels} (roleid, contextlevel) VALUES (?, 50)', [
        adopted.diff.changes[0]?.moodleId ?? 0,
      ]);
    });
    const ctx = await run.ctx(T0);
    const problems = await run.w.db.transaction((tx) =>
      adopted.entity.recheck(tx, adopted.current, adopted.diff.changes, ctx.budget, adopted.known),
    );
    expect(problems.map((p) => p.message)).toEqual([
      `Moodle role id ${adopted.diff.changes[0]?.moodleId}: contextlevels is now "50", the plan saw ""`,
      'role["parent"]: capability "moodle/user:readuserblogs" is no longer known to Moodle',
    ]);
  });

  it('assigns the new role in a user context through the role_assignment writer in the same transaction', async () => {
    const run = await fresh(target);
    await setUpUsers(run, ['pparent', 'seleve1']);
    const pparent = run.ids.get('user', 'pparent') as number;
    const seleve1 = run.ids.get('user', 'seleve1') as number;
    const key = 'user:seleve1/parent/pparent';
    const assignment = change(
      'role_assignment',
      'create',
      key,
      { context: 'user:seleve1', role: 'parent', user: 'pparent' },
      { refs: { user: { entity: 'user', key: 'pparent' }, target: { entity: 'user', key: 'seleve1' } } },
    );
    const writes = await run.write(T0, async (tx, c) => {
      await writeRoleChanges(tx, c, [createRole(PARENT)]);
      await writeRoleAssignmentChanges(tx, c, [assignment], { component: '' });
    });
    const roleId = run.ids.get('role', 'parent') as number;
    const [childContext] = await run.w.rows('SELECT id FROM {context} WHERE contextlevel = 30 AND instanceid = ?', [
      seleve1,
    ]);
    expect(rowsOf(writes, 'role_assignments')).toEqual([
      {
        roleid: String(roleId),
        contextid: String(childContext?.id),
        userid: String(pparent),
        timemodified: String(T0),
        modifierid: String((await run.ctx(T0)).site.siteAdminIds[0]),
        component: '',
        itemid: '0',
        sortorder: '0',
      },
    ]);
    expect(run.ids.get('role_assignment', key)).toEqual(expect.any(Number));
    expect(rowsOf(writes, 'cache_flags').map((r) => [r.flagtype, r.name])).toEqual([
      ['accesslib/dirtycontexts', '/1'],
      ['accesslib/dirtyusers', String(pparent)],
    ]);
    expect(await checkIntegrity(run.w.reader)).toEqual([]);

    // The next plan reads it back under its key (site.roles now knows the role).
    const site = await readSite(run.w.db);
    const ctx = await run.ctx(T0);
    const entity = roleAssignmentEntity({ onRemoved: 'unassign', component: '' });
    const index = indexOf(run.ids);
    const { rows, facts } = await entity.read(run.w.db, { site, budget: ctx.budget, index });
    expect(rows.map((r) => entity.identify(r, { facts, index })?.key)).toEqual([key]);
  });

  it('a rollback leaves nothing: two roles and an assignment of one', async () => {
    const run = await fresh(target);
    await setUpUsers(run, ['pparent', 'seleve1']);
    const before = await run.w.snapshot();
    const failure = new Error('stop after the writes');
    const attempt = run.w.db.transaction(async (tx) => {
      const c = await run.ctx(T0);
      await writeRoleChanges(tx, c, [
        createRole(PARENT),
        createRole({
          ...PARENT,
          shortname: 'tutor',
          name: 'Tutor',
          contextlevels: '30,50',
          capabilities: 'moodle/user:viewdetails',
        }),
      ]);
      await writeRoleAssignmentChanges(
        tx,
        c,
        [
          change(
            'role_assignment',
            'create',
            'user:seleve1/tutor/pparent',
            { context: 'user:seleve1', role: 'tutor', user: 'pparent' },
            { refs: { user: { entity: 'user', key: 'pparent' }, target: { entity: 'user', key: 'seleve1' } } },
          ),
        ],
        { component: '' },
      );
      const sortorders = await tx.query<{ shortname: string; sortorder: number }>(
        "SELECT shortname, sortorder FROM {role} WHERE shortname IN ('parent', 'tutor') ORDER BY sortorder",
      );
      expect(sortorders.map((r) => [r.shortname, Number(r.sortorder)])).toEqual([
        ['parent', 9],
        ['tutor', 10],
      ]);
      const [count] = await tx.query('SELECT COUNT(id) AS n FROM {role_capabilities} WHERE roleid = ?', [
        c.ids.get('role', 'tutor') ?? 0,
      ]);
      expect(Number(count?.n)).toBe(1);
      throw failure;
    });
    await expect(attempt).rejects.toBe(failure);
    expect(diffSnapshots(before, await run.w.snapshot())).toEqual({});
  });
});
