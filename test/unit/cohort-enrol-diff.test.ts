import { describe, expect, it } from 'vitest';
import type { CohortEnrolOptions, CohortEnrolRow } from '../../src/entities/cohort-enrol.js';
import { diffCohortEnrols, methodKey } from '../../src/entities/cohort-enrol.js';
import type { CohortEnrolmentOptions, CohortEnrolmentRow } from '../../src/entities/cohort-enrolment.js';
import { diffCohortEnrolments, removalPolicy } from '../../src/entities/cohort-enrolment.js';
import type { DiffInput, Ownership } from '../../src/entities/entity.js';
import type { EntityType, Fields, ObjectRef } from '../../src/model/change.js';
import { addressOf, pairKey } from '../../src/model/change.js';
import type { CurrentIndex } from '../../src/model/current.js';
import type { DesiredObject } from '../../src/model/desired.js';
import type { StateObject } from '../../src/model/state.js';

type Ids = Partial<Record<EntityType, Record<string, number>>>;

function indexOver(ids: Ids): CurrentIndex {
  return {
    id: (entity, key) => ids[entity]?.[key],
    key: (entity, id) => Object.entries(ids[entity] ?? {}).find(([, v]) => v === id)?.[0],
    ids: (entity) => Object.values(ids[entity] ?? {}),
  };
}

const ownedKeys =
  (keys: Partial<Record<EntityType, string[]>>): Ownership =>
  (entity, key) =>
    keys[entity]?.includes(key) ?? false;

const ref = (entity: EntityType, key: string): ObjectRef => ({ entity, key });

function want(key: string, values: Fields, refs?: DesiredObject['refs']): DesiredObject {
  return {
    key,
    dn: `uid=${key},ou=people,dc=example`,
    values,
    ...(refs === undefined ? {} : { refs }),
    sourceDigest: `sha256:${key}`,
  };
}

const managed = (type: EntityType, id: number, key: string): StateObject => ({
  address: addressOf(type, key),
  type,
  id,
  key,
  source_digest: 'sha256:old',
  values: {},
});

function input<Row>(over: Partial<DiffInput<Row>>): DiffInput<Row> {
  return {
    desired: [],
    current: [],
    managed: [],
    index: indexOver({}),
    owned: ownedKeys({}),
    wanted: () => true,
    products: {},
    ...over,
  };
}

// ---- methods ----------------------------------------------------------------------------------------------

const ROLES = new Map([
  ['student', 5],
  ['teacher', 4],
]);
const COURSE = '0750001A-MATHS-2A';
const GROUP = pairKey(COURSE, 'profs-sync');
const M = methodKey(COURSE, '0750001A-2A', 'student');
const IDS: Ids = {
  course: { [COURSE]: 2 },
  cohort: { '0750001A-2A': 1, '0750001A-profs': 3 },
  group: { [GROUP]: 9, [pairKey(COURSE, 'other')]: 8 },
};

function method(key: string, group = '', refs: DesiredObject['refs'] = {}): DesiredObject {
  const [course = '', cohort = '', role = ''] = key.split('/');
  return want(
    key,
    { course, cohort, role, group },
    {
      course: ref('course', course),
      cohort: ref('cohort', cohort),
      ...(group ? { group: ref('group', group) } : {}),
      ...refs,
    },
  );
}

const row = (over: Partial<CohortEnrolRow> = {}): CohortEnrolRow => ({
  id: 4,
  courseid: 2,
  customint1: 1,
  customint2: 0,
  roleid: 5,
  status: 0,
  sortorder: 3,
  ...over,
});

const options = (over: Partial<CohortEnrolOptions> = {}): CohortEnrolOptions => ({
  roles: ROLES,
  onRemoved: 'disable',
  ...over,
});

describe('cohort enrolment methods', () => {
  it('creates a method Moodle lacks, refs kept for the writer', () => {
    const diff = diffCohortEnrols(input({ desired: [method(M)], index: indexOver(IDS) }), options());
    expect(diff.conflicts).toEqual([]);
    expect(diff.changes).toEqual([
      expect.objectContaining({
        action: 'create',
        key: M,
        moodleId: null,
        after: { course: COURSE, cohort: '0750001A-2A', role: 'student', group: '' },
        refs: { course: ref('course', COURSE), cohort: ref('cohort', '0750001A-2A') },
      }),
    ]);
  });

  it('refuses an unknown role, a disabled plugin, and a course or cohort that exists nowhere', () => {
    const unknownRole = methodKey(COURSE, '0750001A-2A', 'tutor');
    const role = diffCohortEnrols(input({ desired: [method(unknownRole)], index: indexOver(IDS) }), options());
    expect(role.changes).toEqual([]);
    expect(role.conflicts).toEqual([
      { dn: `uid=${unknownRole},ou=people,dc=example`, message: expect.stringContaining('role "tutor"') },
    ]);
    const disabled = diffCohortEnrols(
      input({ desired: [method(M)], index: indexOver(IDS) }),
      options({ pluginEnabled: false }),
    );
    expect(disabled.conflicts.map((c) => c.message)).toEqual([expect.stringContaining('enrol_cohort) is disabled')]);
    const nowhere = methodKey('NEW-COURSE', '0750001A-2A', 'student');
    // (No rule produces that course either: one the rules produce counts, its own conflict says why.)
    const missing = diffCohortEnrols(
      input({ desired: [method(nowhere)], index: indexOver(IDS), wanted: (entity) => entity !== 'course' }),
      options(),
    );
    expect(missing.conflicts.map((c) => c.message)).toEqual([
      expect.stringContaining('the course of cohort enrolment method'),
    ]);
    // The same course, created by this plan, is fine.
    const planned = diffCohortEnrols(
      input({ desired: [method(nowhere)], index: indexOver(IDS), owned: ownedKeys({ course: ['NEW-COURSE'] }) }),
      options(),
    );
    expect(planned.conflicts).toEqual([]);
    expect(planned.changes.map((c) => c.action)).toEqual(['create']);
  });

  it('takes over an unmanaged instance of the same cohort and role, and sets its group', () => {
    const diff = diffCohortEnrols(
      input({ desired: [method(M, GROUP)], current: [row()], index: indexOver(IDS) }),
      options(),
    );
    expect(diff.changes).toEqual([
      expect.objectContaining({
        action: 'adopt',
        moodleId: 4,
        before: { group: '' },
        after: { group: GROUP },
        refs: expect.objectContaining({ group: ref('group', GROUP) }),
      }),
    ]);
  });

  it('updates the group, enables a disabled method, and leaves a synced one alone', () => {
    const managedM = [managed('cohort_enrol', 4, M)];
    const index = indexOver(IDS);
    const moved = diffCohortEnrols(
      input({ desired: [method(M, GROUP)], current: [row({ customint2: 8 })], managed: managedM, index }),
      options(),
    );
    expect(moved.changes).toEqual([
      expect.objectContaining({
        action: 'update',
        before: { group: pairKey(COURSE, 'other') },
        after: { group: GROUP },
      }),
    ]);
    const enabled = diffCohortEnrols(
      input({ desired: [method(M)], current: [row({ status: 1 })], managed: managedM, index }),
      options(),
    );
    expect(enabled.changes).toEqual([
      expect.objectContaining({ action: 'unsuspend', before: { status: 1 }, after: { status: 0 } }),
    ]);
    const same = diffCohortEnrols(
      input({ desired: [method(M)], current: [row({ customint2: null })], managed: managedM, index }),
      options(),
    );
    expect(same.changes).toEqual([]);
  });

  it('a method no longer produced: deleted, disabled (once), or kept', () => {
    const base = input<CohortEnrolRow>({
      current: [row({ customint2: 9 })],
      managed: [managed('cohort_enrol', 4, M)],
      index: indexOver(IDS),
    });
    expect(diffCohortEnrols(base, options({ onRemoved: 'delete' })).changes).toEqual([
      expect.objectContaining({
        action: 'delete',
        moodleId: 4,
        before: { course: COURSE, cohort: '0750001A-2A', role: 'student', group: GROUP },
        after: {},
      }),
    ]);
    expect(diffCohortEnrols(base, options({ onRemoved: 'disable' })).changes).toEqual([
      expect.objectContaining({ action: 'suspend', before: { status: 0 }, after: { status: 1 } }),
    ]);
    const disabled = { ...base, current: [row({ status: 1 })] };
    expect(diffCohortEnrols(disabled, options({ onRemoved: 'disable' })).changes).toEqual([]);
    expect(diffCohortEnrols(base, options({ onRemoved: 'keep' })).changes).toEqual([]);
  });

  it('hands on the methods left after the plan, with their cohort and status then', () => {
    const methodsLeft = (over: Partial<DiffInput<CohortEnrolRow>>, onRemoved: CohortEnrolOptions['onRemoved']) =>
      diffCohortEnrols(input({ index: indexOver(IDS), ...over }), options({ onRemoved })).products?.cohortMethodsAfter;
    const profs = methodKey(COURSE, '0750001A-profs', 'teacher');
    const dropped = { current: [row()], managed: [managed('cohort_enrol', 4, M)], wanted: () => false };
    expect(methodsLeft(dropped, 'disable')).toEqual(new Map([[M, { cohort: '0750001A-2A', status: 1 }]]));
    expect(methodsLeft(dropped, 'keep')).toEqual(new Map([[M, { cohort: '0750001A-2A', status: 0 }]]));
    expect(methodsLeft(dropped, 'delete')).toEqual(new Map());
    // Enabled again when asked for; a new one enabled.
    expect(methodsLeft({ desired: [method(M), method(profs)], current: [row({ status: 1 })] }, 'disable')).toEqual(
      new Map([
        [M, { cohort: '0750001A-2A', status: 0 }],
        [profs, { cohort: '0750001A-profs', status: 0 }],
      ]),
    );
  });

  it('two instances holding one key are a conflict', () => {
    const diff = diffCohortEnrols(
      input({ desired: [method(M)], current: [row(), row({ id: 5, sortorder: 4 })], index: indexOver(IDS) }),
      options(),
    );
    expect(diff.changes).toEqual([]);
    expect(diff.conflicts.map((c) => c.message)).toEqual([expect.stringContaining('several Moodle cohort enrolment')]);
  });
});

// ---- enrolments ---------------------------------------------------------------------------------------------

const T = methodKey(COURSE, '0750001A-profs', 'teacher');
const EIDS: Ids = {
  ...IDS,
  cohort_enrol: { [M]: 4, [T]: 5 },
  user: { seleve1: 6, seleve2: 7, tprof: 5, mmartin: 4 },
};
const synced = ownedKeys({ cohort_enrol: [M, T] });

const enrolment = (m: string, user: string, group = ''): DesiredObject =>
  want(
    pairKey(m, user),
    { method: m, user, role: m.split('/')[2] ?? '', group },
    { method: ref('cohort_enrol', m), user: ref('user', user) },
  );

const ue = (over: Partial<CohortEnrolmentRow> = {}): CohortEnrolmentRow => ({
  id: 11,
  enrolid: 4,
  userid: 6,
  status: 0,
  roleAssigned: true,
  ownedRoles: 1,
  groups: [],
  ownedGroups: [],
  ...over,
});

const moodle: CohortEnrolmentOptions = { onMemberRemoved: 'moodle', unenrolAction: undefined };

function enrolments(over: Partial<DiffInput<CohortEnrolmentRow>>, opts: CohortEnrolmentOptions = moodle) {
  return diffCohortEnrolments(input({ index: indexOver(EIDS), owned: synced, ...over }), opts);
}

describe('cohort enrolments', () => {
  it('creates the enrolments of a method, and changes nothing once synced', () => {
    const desired = [enrolment(M, 'seleve1'), enrolment(T, 'tprof', GROUP)];
    const created = enrolments({ desired });
    expect(created.changes.map((c) => [c.action, c.key, c.after])).toEqual([
      ['create', pairKey(M, 'seleve1'), { method: M, user: 'seleve1', role: 'student', group: '' }],
      ['create', pairKey(T, 'tprof'), { method: T, user: 'tprof', role: 'teacher', group: GROUP }],
    ]);
    expect(created.changes[0]?.refs).toEqual({ method: ref('cohort_enrol', M), user: ref('user', 'seleve1') });
    const current = [ue(), ue({ id: 12, enrolid: 5, userid: 5, groups: [9], ownedGroups: [9] })];
    expect(enrolments({ desired, current }).changes).toEqual([]);
    // In the group through another component (a manual membership): the sync leaves it so.
    expect(
      enrolments({ desired, current: [ue(), ue({ id: 12, enrolid: 5, userid: 5, groups: [9] })] }).changes,
    ).toEqual([]);
  });

  it('gives back a missing role or group membership, drops memberships of the wrong group, unsuspends', () => {
    const desired = [enrolment(M, 'seleve1'), enrolment(T, 'tprof', GROUP)];
    const diff = enrolments({
      desired,
      current: [
        ue({ roleAssigned: false, ownedRoles: 0, ownedGroups: [8], groups: [8] }),
        ue({ id: 12, enrolid: 5, userid: 5, status: 1, roleAssigned: false, ownedRoles: 0 }),
      ],
    });
    expect(diff.changes.map((c) => [c.action, c.moodleId, c.before, c.after])).toEqual([
      [
        'update',
        11,
        { user: 'seleve1', role: '', group: pairKey(COURSE, 'other') },
        { user: 'seleve1', role: 'student', group: '' },
      ],
      [
        'unsuspend',
        12,
        { user: 'tprof', role: '', group: '', status: 1 },
        { user: 'tprof', role: 'teacher', group: GROUP, status: 0 },
      ],
    ]);
  });

  it('unenrolaction 0 (or unset): whoever left the cohort is unenrolled; stale rows of the method go', () => {
    const current = [ue(), ue({ id: null, userid: 4, status: null, roleAssigned: false, ownedRoles: 1 })];
    for (const unenrolAction of [undefined, '0']) {
      const diff = enrolments({ current }, { onMemberRemoved: 'moodle', unenrolAction });
      expect(diff.conflicts).toEqual([]);
      expect(diff.changes.map((c) => [c.action, c.key, c.moodleId, c.before])).toEqual([
        ['delete', pairKey(M, 'mmartin'), null, { user: 'mmartin', role: 'student', group: '' }],
        ['delete', pairKey(M, 'seleve1'), 11, { user: 'seleve1', role: 'student', group: '', status: 0 }],
      ]);
    }
    expect(enrolments({ current }, { onMemberRemoved: 'unenrol', unenrolAction: '0' }).conflicts).toEqual([]);
  });

  it('unenrolaction 3: suspended, roles removed, group kept; a suspended one only loses its roles', () => {
    const opts: CohortEnrolmentOptions = { onMemberRemoved: 'suspend', unenrolAction: '3' };
    const diff = enrolments(
      {
        current: [
          ue({ groups: [9], ownedGroups: [9] }),
          ue({ id: 12, userid: 7, status: 1, roleAssigned: false, ownedRoles: 1 }),
          ue({ id: 13, enrolid: 5, userid: 5, status: 1, roleAssigned: false, ownedRoles: 0 }),
        ],
      },
      opts,
    );
    expect(diff.conflicts).toEqual([]);
    expect(diff.changes.map((c) => [c.action, c.key, c.before, c.after])).toEqual([
      [
        'suspend',
        pairKey(M, 'seleve1'),
        { user: 'seleve1', role: 'student', group: GROUP, status: 0 },
        { user: 'seleve1', role: '', group: GROUP, status: 1 },
      ],
      [
        'update',
        pairKey(M, 'seleve2'),
        { user: 'seleve2', role: '', group: '', status: 1 },
        { user: 'seleve2', role: '', group: '', status: 1 },
      ],
    ]);
  });

  it('touches nothing of a method it does not own or no longer syncs; names unknown users by id', () => {
    const current = [ue(), ue({ id: 14, userid: 99 })];
    expect(enrolments({ current, owned: ownedKeys({}) }).changes).toEqual([]);
    expect(enrolments({ current, wanted: () => false }).changes).toEqual([]);
    const diff = enrolments({ current: [ue({ id: 14, userid: 99 })] });
    expect(diff.changes).toEqual([
      expect.objectContaining({
        action: 'delete',
        key: pairKey(M, '#99'),
        moodleId: 14,
        refs: { method: ref('cohort_enrol', M) },
        before: expect.objectContaining({ user: '#99' }),
      }),
    ]);
  });

  it("refuses what Moodle's hourly sync would undo, and a setting it does not follow", () => {
    const current = [ue()];
    const conflict = (opts: CohortEnrolmentOptions) => enrolments({ current }, opts).conflicts.map((c) => c.message);
    expect(conflict({ onMemberRemoved: 'suspend', unenrolAction: '0' })).toEqual([
      expect.stringMatching(/onMemberRemoved: suspend disagrees .*would undo it/),
    ]);
    expect(conflict({ onMemberRemoved: 'unenrol', unenrolAction: '3' })).toEqual([
      expect.stringMatching(/onMemberRemoved: unenrol disagrees .*unenrolaction 3/),
    ]);
    for (const unenrolAction of ['0', '3']) {
      expect(conflict({ onMemberRemoved: 'keep', unenrolAction })).toEqual([expect.stringContaining('has no "keep"')]);
    }
    expect(conflict({ onMemberRemoved: 'moodle', unenrolAction: '1' })).toEqual([
      expect.stringContaining('enrol_cohort/unenrolaction is "1"'),
    ]);
    // Nothing to plan, nothing to refuse.
    expect(diffCohortEnrolments(input({}), { onMemberRemoved: 'keep', unenrolAction: '0' }).conflicts).toEqual([]);
    // The stale rows of a method go whatever the policy: they are no enrolment.
    const stale = enrolments(
      { current: [ue({ id: null, status: null, roleAssigned: false })] },
      { onMemberRemoved: 'suspend', unenrolAction: '3' },
    );
    expect(stale.changes.map((c) => [c.action, c.moodleId])).toEqual([['delete', null]]);
  });

  it('a method the rules dropped: whoever left its cohort goes, disabled or not; a disabled one keeps no role', () => {
    const members = new Set([pairKey('0750001A-2A', 'seleve1'), pairKey('0750001A-2A', 'seleve2')]);
    const current = [
      ue(), // seleve1, still a member, with the role
      ue({ id: 12, userid: 7, status: 1, roleAssigned: false, ownedRoles: 0 }), // seleve2, member, suspended
      ue({ id: 13, userid: 4 }), // mmartin, left the cohort
      ue({ id: null, userid: 5, status: null, roleAssigned: false, ownedRoles: 1 }), // tprof: a stale role
    ];
    const dropped = (status: number, opts: CohortEnrolmentOptions = moodle, owned = synced) =>
      enrolments(
        {
          current,
          owned,
          wanted: () => false,
          products: {
            cohortMembersAfter: members,
            cohortMethodsAfter: new Map([[M, { cohort: '0750001A-2A', status }]]),
          },
        },
        opts,
      );
    const disabled = dropped(1);
    expect(disabled.conflicts).toEqual([]);
    expect(disabled.changes.map((c) => [c.action, c.key, c.before?.role, c.after.role ?? null])).toEqual([
      ['delete', pairKey(M, 'mmartin'), 'student', null],
      ['update', pairKey(M, 'seleve1'), 'student', ''],
      ['delete', pairKey(M, 'tprof'), 'student', null],
    ]);
    expect(disabled.changes[0]?.reason).toBe(
      'no longer in the cohort (enrol_cohort unenrolaction 0: unenrol, from the disabled method: Moodle unenrols whatever its status)',
    );
    expect(disabled.changes[1]?.reason).toContain('removes the roles of a disabled method');
    // unenrolaction 3: the leaver suspended, the roles of the disabled method removed all the same.
    expect(
      dropped(1, { onMemberRemoved: 'moodle', unenrolAction: '3' }).changes.map((c) => [c.action, c.key, c.after]),
    ).toEqual([
      ['suspend', pairKey(M, 'mmartin'), { user: 'mmartin', role: '', group: '', status: 1 }],
      ['update', pairKey(M, 'seleve1'), { user: 'seleve1', role: '', group: '' }],
      ['delete', pairKey(M, 'tprof'), {}],
    ]);
    // Kept (still enabled): its members keep their roles; the leaver goes all the same.
    expect(dropped(0).changes.map((c) => [c.action, c.key])).toEqual([
      ['delete', pairKey(M, 'mmartin')],
      ['delete', pairKey(M, 'tprof')],
    ]);
    // unenrolaction 2 (suspend, roles kept) is not followed: refused rather than half done.
    const refused = dropped(1, { onMemberRemoved: 'moodle', unenrolAction: '2' });
    expect(refused.conflicts.map((c) => c.message)).toEqual([
      expect.stringContaining('enrol_cohort/unenrolaction is "2"'),
    ]);
    // Not the tool's method, or one this plan deletes (delete_instance unenrols everyone): nothing here.
    expect(dropped(1, moodle, ownedKeys({})).changes).toEqual([]);
    const deleted = enrolments({
      current,
      wanted: () => false,
      products: { cohortMembersAfter: members, cohortMethodsAfter: new Map() },
    });
    expect(deleted.changes).toEqual([]);
  });

  it('removalPolicy follows Moodle by default', () => {
    expect(removalPolicy({ onMemberRemoved: 'moodle', unenrolAction: undefined })).toEqual({ policy: 'unenrol' });
    expect(removalPolicy({ onMemberRemoved: 'moodle', unenrolAction: ' 3 ' })).toEqual({ policy: 'suspend' });
    expect(removalPolicy({ onMemberRemoved: 'suspend', unenrolAction: '3' })).toEqual({ policy: 'suspend' });
  });

  it('a desired enrolment whose user holds only stale rows is created (the writer keeps what fits)', () => {
    const diff = enrolments({
      desired: [enrolment(M, 'mmartin')],
      current: [ue({ id: null, userid: 4, status: null, roleAssigned: true })],
    });
    expect(diff.changes.map((c) => [c.action, c.key])).toEqual([['create', pairKey(M, 'mmartin')]]);
  });
});
