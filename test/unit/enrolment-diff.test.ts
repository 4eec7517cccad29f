import { describe, expect, it } from 'vitest';
import type { EnrolmentFacts, EnrolmentOptions, EnrolmentRow } from '../../src/entities/enrolment.js';
import { diffEnrolments, enrolmentRolesAfter } from '../../src/entities/enrolment.js';
import type { DiffInput, Ownership } from '../../src/entities/entity.js';
import type {
  RoleAssignmentFacts,
  RoleAssignmentOptions,
  RoleAssignmentRow,
} from '../../src/entities/role-assignment.js';
import { contextOfRow, diffRoleAssignments, roleAssignmentKey } from '../../src/entities/role-assignment.js';
import type { EntityType, Fields, ObjectRef } from '../../src/model/change.js';
import { addressOf, pairKey } from '../../src/model/change.js';
import type { CurrentIndex } from '../../src/model/current.js';
import type { DesiredObject } from '../../src/model/desired.js';
import type { StateObject } from '../../src/model/state.js';

// ---- builders ---------------------------------------------------------------------------------------------

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

function want(key: string, values: Fields, refs: DesiredObject['refs']): DesiredObject {
  return { key, dn: `uid=${key},ou=people,dc=example`, values, refs, sourceDigest: `sha256:${key}` };
}

function managed(type: EntityType, id: number, key: string, values: Fields): StateObject {
  return { address: addressOf(type, key), type, id, key, source_digest: 'sha256:old', values };
}

function input<Row>(over: Partial<DiffInput<Row>>): DiffInput<Row> {
  return {
    desired: [],
    current: [],
    managed: [],
    index: INDEX,
    products: {},
    owned: ownedKeys({}),
    wanted: () => false,
    ...over,
  };
}

const summary = (
  changes: readonly { action: string; key: string; moodleId: number | null; before: Fields | null; after: Fields }[],
) => changes.map((c) => [c.action, c.key, c.moodleId, c.before, c.after]);

const ROLES = new Map([
  ['manager', 1],
  ['editingteacher', 3],
  ['teacher', 4],
  ['student', 5],
]);

const INDEX = indexOver({
  course: { MATHS: 10, FR: 11, BARE: 12 },
  user: { tprof: 100, seleve1: 101, seleve2: 102 },
  category: { '0750001A': 7 },
});

// ---- manual enrolments ------------------------------------------------------------------------------------

const FACTS: EnrolmentFacts = {
  instances: [
    { id: 20, courseid: 10, status: 0, sortorder: 0 },
    { id: 21, courseid: 11, status: 1, sortorder: 0 },
  ],
  roles: ROLES,
  pluginEnabled: true,
};
const MATCHING: EnrolmentOptions = { adopt: 'matching', onRemoved: 'suspend' };

function enrolment(course: string, user: string, role: string): DesiredObject {
  return want(
    pairKey(course, user),
    { course, user, role },
    { course: ref('course', course), user: ref('user', user) },
  );
}

function ue(id: number, courseid: number, userid: number, roleids: number[], status = 0): EnrolmentRow {
  return { id, enrolid: courseid + 10, courseid, userid, status, timestart: 0, timeend: 0, roleids };
}

describe('diffEnrolments', () => {
  it('creates missing enrolments, in courses that exist or that the plan creates', () => {
    const diff = diffEnrolments(
      input({
        desired: [enrolment('MATHS', 'tprof', 'editingteacher'), enrolment('NEW', 'seleve1', 'student')],
        owned: ownedKeys({ course: ['NEW'] }),
      }),
      MATCHING,
      FACTS,
    );
    expect(diff.conflicts).toEqual([]);
    expect(summary(diff.changes)).toEqual([
      ['create', 'MATHS/tprof', null, null, { course: 'MATHS', user: 'tprof', role: 'editingteacher' }],
      ['create', 'NEW/seleve1', null, null, { course: 'NEW', user: 'seleve1', role: 'student' }],
    ]);
    expect(diff.changes[0]?.refs).toEqual({ course: ref('course', 'MATHS'), user: ref('user', 'tprof') });
  });

  it('refuses an unknown role, a course without manual instance, a course or user nobody has', () => {
    const diff = diffEnrolments(
      input({
        desired: [
          enrolment('MATHS', 'tprof', 'prof'),
          enrolment('BARE', 'tprof', 'student'),
          enrolment('GONE', 'tprof', 'student'),
          enrolment('MATHS', 'nobody', 'student'),
        ],
        current: [ue(1, 10, 101, [5])],
      }),
      MATCHING,
      FACTS,
    );
    expect(diff.changes).toEqual([]);
    expect(diff.conflicts.map((c) => [c.dn, c.message])).toEqual([
      ['uid=MATHS/tprof,ou=people,dc=example', 'role "prof" of enrolment "MATHS/tprof" does not exist in Moodle'],
      [
        'uid=BARE/tprof,ou=people,dc=example',
        expect.stringMatching(/^course "BARE" \(id 12\) has no manual enrolment instance; add "Manual enrolments"/),
      ],
      [
        'uid=GONE/tprof,ou=people,dc=example',
        'the course of enrolment "GONE/tprof", "GONE", is neither produced by the rules nor in Moodle',
      ],
      [
        'uid=MATHS/nobody,ou=people,dc=example',
        'the user of enrolment "MATHS/nobody", "nobody", is neither produced by the rules nor in Moodle',
      ],
    ]);
    // An existing enrolment asked with an unknown role is a conflict too.
    const existing = diffEnrolments(
      input({ desired: [enrolment('MATHS', 'seleve1', 'eleve')], current: [ue(1, 10, 101, [5])] }),
      MATCHING,
      FACTS,
    );
    expect(existing.conflicts.map((c) => c.message)).toEqual([
      'role "eleve" of enrolment "MATHS/seleve1" does not exist in Moodle',
    ]);
    // A role Moodle does not let be assigned in a course.
    const levels = new Map([[5, new Set([50, 70])]]);
    const misplaced = diffEnrolments(
      input({ desired: [enrolment('MATHS', 'tprof', 'manager'), enrolment('MATHS', 'seleve2', 'student')] }),
      MATCHING,
      { ...FACTS, levels },
    );
    expect(misplaced.conflicts.map((c) => c.message)).toEqual([
      'role "manager" of enrolment "MATHS/tprof" cannot be assigned in a course context in Moodle (role_context_levels)',
    ]);
    expect(misplaced.changes.map((c) => c.key)).toEqual(['MATHS/seleve2']);
  });

  it('adopts existing enrolments (adding the role if missing, reactivating them), or refuses them with adopt: never', () => {
    const desired = [
      enrolment('MATHS', 'tprof', 'editingteacher'),
      enrolment('MATHS', 'seleve1', 'student'),
      enrolment('MATHS', 'seleve2', 'student'),
    ];
    const current = [ue(1, 10, 100, [4]), ue(2, 10, 101, [5]), ue(3, 10, 102, [], 1)];
    const diff = diffEnrolments(input({ desired, current }), MATCHING, FACTS);
    expect(diff.conflicts).toEqual([]);
    expect(summary(diff.changes)).toEqual([
      ['adopt', 'MATHS/seleve1', 2, {}, {}],
      ['adopt', 'MATHS/seleve2', 3, { role: '', status: 1 }, { role: 'student', status: 0 }],
      // The teacher role an administrator gave stays: adoption only adds.
      ['adopt', 'MATHS/tprof', 1, { role: 'teacher' }, { role: 'editingteacher' }],
    ]);
    const never = diffEnrolments(input({ desired, current }), { ...MATCHING, adopt: 'never' }, FACTS);
    expect(never.changes).toEqual([]);
    expect(never.conflicts.map((c) => c.message)).toEqual([
      expect.stringMatching(/^Moodle manual enrolment id 1 .* set enrolments.manual.adopt: matching to take it over$/),
      expect.stringMatching(/^Moodle manual enrolment id 2 /),
      expect.stringMatching(/^Moodle manual enrolment id 3 /),
    ]);
  });

  it('changes the role of a managed enrolment, re-adds a removed one, reactivates a suspended one', () => {
    const diff = diffEnrolments(
      input({
        desired: [
          enrolment('MATHS', 'tprof', 'editingteacher'),
          enrolment('MATHS', 'seleve1', 'student'),
          enrolment('MATHS', 'seleve2', 'student'),
          enrolment('FR', 'seleve1', 'student'),
        ],
        current: [ue(1, 10, 100, [4]), ue(2, 10, 101, []), ue(3, 10, 102, [5], 1), ue(4, 11, 101, [5])],
        managed: [
          managed('enrolment', 1, 'MATHS/tprof', { course: 'MATHS', user: 'tprof', role: 'teacher' }),
          managed('enrolment', 2, 'MATHS/seleve1', { course: 'MATHS', user: 'seleve1', role: 'student' }),
          managed('enrolment', 3, 'MATHS/seleve2', { course: 'MATHS', user: 'seleve2', role: 'student' }),
          managed('enrolment', 4, 'FR/seleve1', { course: 'FR', user: 'seleve1', role: 'student' }),
        ],
      }),
      MATCHING,
      FACTS,
    );
    expect(diff.conflicts).toEqual([]);
    expect(summary(diff.changes)).toEqual([
      ['update', 'MATHS/seleve1', 2, { role: '' }, { role: 'student' }],
      ['unsuspend', 'MATHS/seleve2', 3, { status: 1 }, { status: 0 }],
      ['update', 'MATHS/tprof', 1, { role: 'teacher' }, { role: 'editingteacher' }],
    ]);
    expect(diff.changes[1]?.reason).toBe('suspended in Moodle, in the directory again');
    // FR's manual instance is disabled: said once.
    expect(diff.warnings).toEqual([
      'course "FR": its manual enrolment instance is disabled, so its enrolments give no access',
    ]);
  });

  it('keeps the old role when the rules ask for it as a role assignment', () => {
    const diff = diffEnrolments(
      input({
        desired: [enrolment('MATHS', 'tprof', 'editingteacher')],
        current: [ue(1, 10, 100, [4])],
        managed: [managed('enrolment', 1, 'MATHS/tprof', { course: 'MATHS', user: 'tprof', role: 'teacher' })],
        wanted: (entity, key) => entity === 'role_assignment' && key === 'course:MATHS/teacher/tprof',
      }),
      MATCHING,
      FACTS,
    );
    expect(summary(diff.changes)).toEqual([['update', 'MATHS/tprof', 1, { role: '' }, { role: 'editingteacher' }]]);
  });

  it('unenrols, suspends or forgets managed enrolments no longer desired', () => {
    const current = [ue(1, 10, 100, [3]), ue(2, 10, 101, [5], 1)];
    const state = [
      managed('enrolment', 1, 'MATHS/tprof', { course: 'MATHS', user: 'tprof', role: 'editingteacher' }),
      managed('enrolment', 2, 'MATHS/seleve1', { course: 'MATHS', user: 'seleve1', role: 'student' }),
      managed('enrolment', 9, 'MATHS/seleve2', { course: 'MATHS', user: 'seleve2', role: 'student' }),
    ];
    const run = (onRemoved: EnrolmentOptions['onRemoved']) =>
      diffEnrolments(input({ current, managed: state }), { adopt: 'matching', onRemoved }, FACTS);
    const unenrol = run('unenrol');
    expect(summary(unenrol.changes)).toEqual([
      ['delete', 'MATHS/seleve1', 2, { course: 'MATHS', user: 'seleve1', role: 'student', status: 1 }, {}],
      ['delete', 'MATHS/tprof', 1, { course: 'MATHS', user: 'tprof', role: 'editingteacher', status: 0 }, {}],
    ]);
    expect(unenrol.warnings).toEqual([
      'enrolment["MATHS/seleve2"]: Moodle manual enrolment id 9 was deleted outside ldap2moodle; it will be forgotten',
    ]);
    // Already suspended: nothing to do.
    expect(summary(run('suspend').changes)).toEqual([['suspend', 'MATHS/tprof', 1, { status: 0 }, { status: 1 }]]);
    expect(summary(run('keep').changes)).toEqual([
      ['release', 'MATHS/seleve1', 2, {}, {}],
      ['release', 'MATHS/tprof', 1, {}, {}],
    ]);
  });

  it('warns when the manual plugin is disabled; says which role each enrolment gives after the plan', () => {
    const current = [ue(1, 10, 100, [3]), ue(2, 10, 101, [5])];
    const state = [
      managed('enrolment', 1, 'MATHS/tprof', { course: 'MATHS', user: 'tprof', role: 'editingteacher' }),
      managed('enrolment', 2, 'MATHS/seleve1', { course: 'MATHS', user: 'seleve1', role: 'student' }),
    ];
    const desired = [enrolment('MATHS', 'seleve2', 'student'), enrolment('MATHS', 'seleve1', 'teacher')];
    const diffInput = input({ desired, current, managed: state });
    const diff = diffEnrolments(
      diffInput,
      { adopt: 'matching', onRemoved: 'unenrol' },
      { ...FACTS, pluginEnabled: false },
    );
    expect(diff.warnings).toEqual([
      'the manual enrolment plugin is disabled in Moodle (enrol_plugins_enabled): the enrolments ldap2moodle writes give no access until it is enabled',
    ]);
    expect(enrolmentRolesAfter(diffInput, diff)).toEqual(
      new Map([
        ['MATHS/seleve1', 'teacher'],
        ['MATHS/seleve2', 'student'],
      ]),
    );
    const suspended = diffEnrolments(diffInput, MATCHING, FACTS);
    expect(enrolmentRolesAfter(diffInput, suspended).get('MATHS/tprof')).toBe('editingteacher');
  });
});

// ---- role assignments -------------------------------------------------------------------------------------

const LEVELS: RoleAssignmentFacts = {
  roles: ROLES,
  levels: new Map([
    [1, new Set([10, 40, 50])],
    [3, new Set([50, 70])],
    [4, new Set([50, 70])],
    [5, new Set([50, 70])],
  ]),
};
const UNASSIGN: RoleAssignmentOptions = { onRemoved: 'unassign', component: '' };

function assignment(context: string, role: string, user: string): DesiredObject {
  const [kind, key = ''] = context.split(':');
  const target =
    kind === 'system'
      ? {}
      : { [kind === 'user' ? 'target' : (kind ?? '')]: ref(kind === 'user' ? 'user' : (kind as EntityType), key) };
  return want(roleAssignmentKey(context, role, user), { context, role, user }, { user: ref('user', user), ...target });
}

function ra(id: number, roleid: number, contextlevel: number, instanceid: number, userid: number): RoleAssignmentRow {
  return {
    id,
    roleid,
    contextid: 1000 + contextlevel + instanceid,
    userid,
    component: '',
    itemid: 0,
    contextlevel,
    instanceid,
  };
}

describe('diffRoleAssignments', () => {
  it('maps contexts to keys and creates what Moodle lacks, in contexts the plan may create', () => {
    expect(contextOfRow(ra(1, 1, 10, 0, 100), INDEX)).toBe('system');
    expect(contextOfRow(ra(1, 1, 40, 7, 100), INDEX)).toBe('category:0750001A');
    expect(contextOfRow(ra(1, 1, 50, 10, 100), INDEX)).toBe('course:MATHS');
    expect(contextOfRow(ra(1, 1, 30, 101, 100), INDEX)).toBe('user:seleve1');
    expect(contextOfRow(ra(1, 1, 40, 99, 100), INDEX)).toBeNull();
    const diff = diffRoleAssignments(
      input({
        desired: [
          assignment('system', 'manager', 'tprof'),
          assignment('category:0750001A', 'manager', 'tprof'),
          assignment('course:NEW', 'teacher', 'tprof'),
        ],
        owned: ownedKeys({ course: ['NEW'] }),
      }),
      UNASSIGN,
      LEVELS,
    );
    expect(diff.conflicts).toEqual([]);
    expect(summary(diff.changes)).toEqual([
      [
        'create',
        'category:0750001A/manager/tprof',
        null,
        null,
        { context: 'category:0750001A', role: 'manager', user: 'tprof' },
      ],
      ['create', 'course:NEW/teacher/tprof', null, null, { context: 'course:NEW', role: 'teacher', user: 'tprof' }],
      ['create', 'system/manager/tprof', null, null, { context: 'system', role: 'manager', user: 'tprof' }],
    ]);
  });

  it('refuses unknown roles, roles not assignable at that level, and missing contexts', () => {
    const diff = diffRoleAssignments(
      input({
        desired: [
          assignment('course:MATHS', 'boss', 'tprof'),
          assignment('system', 'student', 'tprof'),
          assignment('user:seleve1', 'manager', 'tprof'),
          assignment('category:GONE', 'manager', 'tprof'),
          assignment('course:MATHS', 'student', 'nobody'),
        ],
      }),
      UNASSIGN,
      LEVELS,
    );
    expect(diff.changes).toEqual([]);
    expect(diff.conflicts.map((c) => [c.dn?.split(',')[0], c.message])).toEqual([
      ['uid=course:MATHS/boss/tprof', 'role "boss" does not exist in Moodle'],
      ['uid=system/student/tprof', expect.stringMatching(/^role "student" cannot be assigned in a system context/)],
      ['uid=user:seleve1/manager/tprof', expect.stringMatching(/^role "manager" cannot be assigned in a user context/)],
      [
        'uid=category:GONE/manager/tprof',
        'the category of role assignment "category:GONE/manager/tprof", "GONE", is neither produced by the rules nor in Moodle',
      ],
      [
        'uid=course:MATHS/student/nobody',
        'the user of role assignment "course:MATHS/student/nobody", "nobody", is neither produced by the rules nor in Moodle',
      ],
    ]);
  });

  it('adopts an identical row, never creates it again, and counts duplicates in Moodle as one', () => {
    const desired = [
      assignment('category:0750001A', 'manager', 'tprof'),
      assignment('course:MATHS', 'teacher', 'seleve1'),
    ];
    const current = [ra(5, 1, 40, 7, 100), ra(3, 4, 50, 10, 101), ra(8, 4, 50, 10, 101)];
    const diff = diffRoleAssignments(input({ desired, current }), UNASSIGN, LEVELS);
    expect(summary(diff.changes)).toEqual([
      ['adopt', 'category:0750001A/manager/tprof', 5, {}, {}],
      ['adopt', 'course:MATHS/teacher/seleve1', 3, {}, {}],
    ]);
    expect(diff.warnings).toEqual([
      'role_assignment["course:MATHS/teacher/seleve1"]: Moodle holds 2 identical role assignments (ids 3, 8); ldap2moodle treats them as one',
    ]);
    // Managed (by any of the identical rows): nothing to do.
    const state = [
      managed('role_assignment', 5, desired[0]?.key ?? '', desired[0]?.values ?? {}),
      managed('role_assignment', 8, desired[1]?.key ?? '', desired[1]?.values ?? {}),
    ];
    expect(diffRoleAssignments(input({ desired, current, managed: state }), UNASSIGN, LEVELS).changes).toEqual([]);
  });

  it('unassigns or keeps managed assignments no longer desired; forgets those deleted in Moodle', () => {
    const current = [ra(5, 1, 40, 7, 100), ra(6, 1, 10, 0, 100), ra(9, 1, 10, 0, 100)];
    const state = [
      managed('role_assignment', 5, 'category:0750001A/manager/tprof', {
        context: 'category:0750001A',
        role: 'manager',
        user: 'tprof',
      }),
      managed('role_assignment', 6, 'system/manager/tprof', { context: 'system', role: 'manager', user: 'tprof' }),
      managed('role_assignment', 7, 'course:MATHS/teacher/tprof', {
        context: 'course:MATHS',
        role: 'teacher',
        user: 'tprof',
      }),
    ];
    const unassign = diffRoleAssignments(input({ current, managed: state }), UNASSIGN, LEVELS);
    expect(summary(unassign.changes)).toEqual([
      [
        'delete',
        'category:0750001A/manager/tprof',
        5,
        { context: 'category:0750001A', role: 'manager', user: 'tprof' },
        {},
      ],
      ['delete', 'system/manager/tprof', 6, { context: 'system', role: 'manager', user: 'tprof' }, {}],
    ]);
    expect(unassign.warnings).toEqual([
      'role_assignment["system/manager/tprof"]: Moodle holds 2 identical role assignments (ids 6, 9); ldap2moodle treats them as one',
      'role_assignment["course:MATHS/teacher/tprof"]: Moodle role assignment id 7 was deleted outside ldap2moodle; it will be forgotten',
    ]);
    const keep = diffRoleAssignments(input({ current, managed: state }), { ...UNASSIGN, onRemoved: 'keep' }, LEVELS);
    expect(keep.changes).toEqual([]);
  });

  it("never unassigns the role of a manual enrolment the tool holds (the enrolment's role, or any without the answer)", () => {
    const current = [ra(3, 3, 50, 10, 100), ra(4, 4, 50, 10, 100), ra(6, 5, 50, 11, 101)];
    const state = [
      managed('role_assignment', 3, 'course:MATHS/editingteacher/tprof', {
        context: 'course:MATHS',
        role: 'editingteacher',
        user: 'tprof',
      }),
      managed('role_assignment', 4, 'course:MATHS/teacher/tprof', {
        context: 'course:MATHS',
        role: 'teacher',
        user: 'tprof',
      }),
      managed('role_assignment', 6, 'course:FR/student/seleve1', {
        context: 'course:FR',
        role: 'student',
        user: 'seleve1',
      }),
    ];
    const enrolments = input<RoleAssignmentRow>({
      current,
      managed: state,
      owned: ownedKeys({ enrolment: ['MATHS/tprof'] }),
      wanted: (entity, key) => entity === 'enrolment' && key === 'FR/seleve1',
    });
    const roles = new Map([
      ['MATHS/tprof', 'editingteacher'],
      ['FR/seleve1', 'student'],
    ]);
    const diff = diffRoleAssignments({ ...enrolments, products: { enrolmentRoles: roles } }, UNASSIGN, LEVELS);
    expect(summary(diff.changes)).toEqual([
      ['release', 'course:FR/student/seleve1', 6, {}, {}],
      ['release', 'course:MATHS/editingteacher/tprof', 3, {}, {}],
      // tprof's enrolment gives editingteacher: the extra teacher role is the role assignment's own.
      ['delete', 'course:MATHS/teacher/tprof', 4, { context: 'course:MATHS', role: 'teacher', user: 'tprof' }, {}],
    ]);
    // Without the enrolment entity's answer, every course role of an enrolled user may be the enrolment's.
    expect(diffRoleAssignments(enrolments, UNASSIGN, LEVELS).changes.map((c) => c.action)).toEqual([
      'release',
      'release',
      'release',
    ]);
    // With a component of its own, no row can be an enrolment's.
    expect(
      diffRoleAssignments(enrolments, { ...UNASSIGN, component: 'local_ldap2moodle' }, LEVELS).changes.map(
        (c) => c.action,
      ),
    ).toEqual(['delete', 'delete', 'delete']);
  });
});
