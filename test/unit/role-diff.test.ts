import { describe, expect, it } from 'vitest';
import type { DiffInput } from '../../src/entities/entity.js';
import type { RoleFacts, RoleOptions, RoleRow } from '../../src/entities/role.js';
import { diffRoles } from '../../src/entities/role.js';
import type { RoleAssignmentFacts, RoleAssignmentRow } from '../../src/entities/role-assignment.js';
import { diffRoleAssignments, roleAssignmentKey } from '../../src/entities/role-assignment.js';
import type { EntityType, Fields } from '../../src/model/change.js';
import { addressOf } from '../../src/model/change.js';
import type { CurrentIndex } from '../../src/model/current.js';
import type { DesiredObject } from '../../src/model/desired.js';
import type { StateObject } from '../../src/model/state.js';
import { joinCapabilities, permissionList } from '../../src/moodle/read-roles.js';

// ---- builders ---------------------------------------------------------------------------------------------

const INDEX: CurrentIndex = {
  id: (entity, key) => (entity === 'user' ? { pparent: 100, seleve1: 101 }[key] : undefined),
  key: (entity, id) => (entity === 'user' ? { 100: 'pparent', 101: 'seleve1' }[id] : undefined),
  ids: (entity) => (entity === 'user' ? [100, 101] : []),
};

function input<Row>(over: Partial<DiffInput<Row>>): DiffInput<Row> {
  return {
    desired: [],
    current: [],
    managed: [],
    index: INDEX,
    owned: () => false,
    wanted: () => false,
    products: {},
    ...over,
  };
}

const PARENT_CAPS = [
  'moodle/user:viewdetails',
  'moodle/user:viewalldetails',
  'moodle/user:readuserblogs',
  'moodle/user:readuserposts',
  'moodle/user:viewuseractivitiesreport',
  'moodle/user:editprofile',
  'tool/policy:acceptbehalf',
];
const FACTS: RoleFacts = { capabilities: new Set([...PARENT_CAPS, 'moodle/site:config', 'mod/forum:addnews']) };
const NEVER: RoleOptions = { adopt: 'never' };

function declared(shortname: string, over: Partial<Record<string, string>> = {}): DesiredObject {
  const values: Fields = {
    shortname,
    name: 'Parent',
    description: 'Parents of pupils',
    archetype: '',
    contextlevels: '30',
    capabilities: joinCapabilities(PARENT_CAPS),
    ...over,
  };
  return { key: shortname, dn: '', values, sourceDigest: `sha256:${shortname}` };
}

function role(id: number, shortname: string, over: Partial<RoleRow> = {}): RoleRow {
  return {
    id,
    shortname,
    name: 'Parent',
    description: 'Parents of pupils',
    archetype: '',
    sortorder: id,
    contextlevels: '30',
    capabilities: joinCapabilities(PARENT_CAPS),
    ...over,
  };
}

const STUDENT = role(5, 'student', { name: '', description: '', archetype: 'student', contextlevels: '50,70' });

function managed(id: number, key: string, values: Fields = {}): StateObject {
  return { address: addressOf('role', key), type: 'role', id, key, source_digest: 'sha256:old', values };
}

const summary = (
  changes: readonly { action: string; key: string; moodleId: number | null; before: Fields | null; after: Fields }[],
) => changes.map((c) => [c.action, c.key, c.moodleId, c.before, c.after]);

// ---- roles ------------------------------------------------------------------------------------------------

describe('diffRoles', () => {
  it('creates a declared role Moodle lacks, with every value the writer needs', () => {
    const diff = diffRoles(input({ desired: [declared('parent')], current: [STUDENT] }), NEVER, FACTS);
    expect(diff.conflicts).toEqual([]);
    expect(diff.warnings).toEqual([]);
    expect(summary(diff.changes)).toEqual([
      [
        'create',
        'parent',
        null,
        null,
        {
          shortname: 'parent',
          name: 'Parent',
          description: 'Parents of pupils',
          archetype: '',
          contextlevels: '30',
          capabilities:
            'moodle/user:editprofile,moodle/user:readuserblogs,moodle/user:readuserposts,moodle/user:viewalldetails,' +
            'moodle/user:viewdetails,moodle/user:viewuseractivitiesreport,tool/policy:acceptbehalf',
        },
      ],
    ]);
  });

  it('refuses what Moodle would not hold: unknown capabilities (named), levels, shortnames, names, archetypes', () => {
    const desired = [
      declared('parent', { capabilities: 'moodle/user:viewdetails,local/nothere:view,tool/typo:x' }),
      declared('tutor', { name: 'Tutor', contextlevels: '20,30' }),
      declared('Mentor', { name: 'Mentor' }),
      declared('nameless', { name: ' ' }),
      declared('odd', { name: 'Odd', archetype: 'boss' }),
      declared('twin', { name: 'Existing' }),
      declared('case', { name: 'Case' }),
    ];
    const current = [STUDENT, role(9, 'other', { name: 'Existing' }), role(10, 'CASE', { name: 'Upper' })];
    const diff = diffRoles(input({ desired, current }), NEVER, FACTS);
    expect(diff.changes).toEqual([]);
    expect(diff.conflicts.map((c) => c.message)).toEqual([
      'role["parent"]: capabilities "local/nothere:view", "tool/typo:x" are not known to this Moodle (not in its capabilities table: a plugin that is not installed, or a typo); Moodle\'s access checks would ignore it',
      'role["tutor"]: context level(s) 20 are not ones a Moodle role may be assigned at (10, 30, 40, 50, 70, 80)',
      'role["Mentor"]: shortname "Mentor" is not one Moodle\'s role editor keeps (lower-case letters, digits, _ and -, at most 100)',
      'role["nameless"]: a role needs a name of 1 to 255 characters',
      'role["odd"]: archetype "boss" is not one of Moodle\'s (manager, coursecreator, editingteacher, teacher, student, guest, user, frontpage) or \'\'',
      'role["twin"]: name "Existing" is already that of Moodle role id 9 "Existing" (shortname other)',
      'role["case"]: Moodle role id 10 "Upper" (shortname CASE) differs only in case; rename one of them',
    ]);
    // One unknown capability is named alone.
    const one = diffRoles(input({ desired: [declared('parent', { capabilities: 'x/y:z' })] }), NEVER, FACTS);
    expect(one.conflicts.map((c) => c.message)).toEqual([
      expect.stringMatching(/^role\["parent"\]: capability "x\/y:z" is not known to this Moodle/),
    ]);
  });

  it("takes over an unmanaged role only with adopt: matching, never one of Moodle's standard roles", () => {
    const current = [STUDENT, role(9, 'parent', { name: 'Parents', contextlevels: '30,50' })];
    const never = diffRoles(input({ desired: [declared('parent')], current }), NEVER, FACTS);
    expect(never.conflicts.map((c) => c.message)).toEqual([
      'role["parent"]: Moodle role id 9 "Parents" (shortname parent) exists and is not managed by ldap2moodle; set roles.adopt: matching to take it over',
    ]);
    const matching = diffRoles(input({ desired: [declared('parent')], current }), { adopt: 'matching' }, FACTS);
    expect(matching.conflicts).toEqual([]);
    expect(summary(matching.changes)).toEqual([
      ['adopt', 'parent', 9, { name: 'Parents', contextlevels: '30,50' }, { name: 'Parent', contextlevels: '30' }],
    ]);
    const standard = diffRoles(
      input({ desired: [declared('student', { name: 'Pupil' })], current }),
      { adopt: 'matching' },
      FACTS,
    );
    expect(standard.changes).toEqual([]);
    expect(standard.conflicts.map((c) => c.message)).toEqual([
      expect.stringContaining("is one of Moodle's standard roles; ldap2moodle does not redefine it"),
    ]);
  });

  it('updates a managed role until Moodle matches (levels, capabilities, a prevent set by hand), and says a purge is needed', () => {
    const inMoodle = permissionList([
      ...PARENT_CAPS.filter((c) => c !== 'tool/policy:acceptbehalf').map((capability, i) => ({
        id: i + 1,
        roleid: 9,
        capability,
        permission: capability === 'moodle/user:readuserposts' ? -1 : 1,
      })),
      { id: 99, roleid: 9, capability: 'mod/forum:addnews', permission: 1 },
    ]);
    expect(inMoodle).toBe(
      'mod/forum:addnews,moodle/user:editprofile,moodle/user:readuserblogs,moodle/user:readuserposts=-1,' +
        'moodle/user:viewalldetails,moodle/user:viewdetails,moodle/user:viewuseractivitiesreport',
    );
    const current = [role(9, 'parent', { description: 'old', contextlevels: '', capabilities: inMoodle })];
    const diff = diffRoles(
      input({ desired: [declared('parent')], current, managed: [managed(9, 'parent')] }),
      NEVER,
      FACTS,
    );
    expect(diff.conflicts).toEqual([]);
    expect(summary(diff.changes)).toEqual([
      [
        'update',
        'parent',
        9,
        { description: 'old', contextlevels: '', capabilities: inMoodle },
        { description: 'Parents of pupils', contextlevels: '30', capabilities: joinCapabilities(PARENT_CAPS) },
      ],
    ]);
    expect(diff.warnings).toEqual([
      'role["parent"]: Moodle caches role definitions (cache roledefs): the changed permissions apply once Moodle\'s caches are purged',
    ]);
    // The same definition: nothing to do, nothing to say.
    const same = diffRoles(
      input({ desired: [declared('parent')], current: [role(9, 'parent')], managed: [managed(9, 'parent')] }),
      NEVER,
      FACTS,
    );
    expect(same).toEqual({ changes: [], conflicts: [], warnings: [] });
  });

  it('never deletes a managed role no longer declared: it is released, with a warning; one deleted by hand is forgotten', () => {
    const diff = diffRoles(
      input({ current: [STUDENT, role(9, 'parent')], managed: [managed(9, 'parent'), managed(12, 'gone')] }),
      NEVER,
      FACTS,
    );
    expect(summary(diff.changes)).toEqual([['release', 'parent', 9, {}, {}]]);
    expect(diff.changes[0]?.reason).toMatch(/never deleted/);
    expect(diff.warnings).toEqual([
      'role["gone"]: Moodle role id 12 was deleted outside ldap2moodle; it will be forgotten',
      'role["parent"]: no longer declared; ldap2moodle forgets Moodle role id 9 and leaves it, its definition and its assignments in Moodle (delete it there if it is no longer needed)',
    ]);
  });
});

// ---- role assignments of declared roles -------------------------------------------------------------------

const RA_FACTS: RoleAssignmentFacts = {
  roles: new Map([
    ['manager', 1],
    ['student', 5],
  ]),
  levels: new Map([
    [1, new Set([10, 40, 50])],
    [5, new Set([50, 70])],
  ]),
};

function parentOf(child: string, roleName = 'parent', context = `user:${child}`): DesiredObject {
  return {
    key: roleAssignmentKey(context, roleName, 'pparent'),
    dn: `uid=pparent,ou=people,dc=example`,
    values: { context, role: roleName, user: 'pparent' },
    refs: {
      user: { entity: 'user', key: 'pparent' },
      ...(context.startsWith('user:') ? { target: { entity: 'user' as EntityType, key: child } } : {}),
    },
    sourceDigest: 'sha256:pparent',
  };
}

describe('diffRoleAssignments with roles the spec declares', () => {
  const declaredRoles = new Map([['parent', [30]]]);
  const options = { onRemoved: 'unassign' as const, component: '', declaredRoles };

  it('assigns a role this apply creates, at a level it is declared with', () => {
    const diff = diffRoleAssignments(input<RoleAssignmentRow>({ desired: [parentOf('seleve1')] }), options, RA_FACTS);
    expect(diff.conflicts).toEqual([]);
    expect(diff.changes.map((c) => [c.action, c.key, c.after])).toEqual([
      ['create', 'user:seleve1/parent/pparent', { context: 'user:seleve1', role: 'parent', user: 'pparent' }],
    ]);
  });

  it('refuses a level the declaration lacks, and a role neither declared, planned nor in Moodle', () => {
    const diff = diffRoleAssignments(
      input<RoleAssignmentRow>({ desired: [parentOf('seleve1', 'parent', 'system'), parentOf('seleve1', 'mentor')] }),
      options,
      RA_FACTS,
    );
    expect(diff.changes).toEqual([]);
    expect(diff.conflicts.map((c) => c.message)).toEqual([
      'role "parent" is declared assignable at context levels 30, not in a system context (10); add that level to the role\'s declaration, or change the rule',
      'role "mentor" does not exist in Moodle',
    ]);
    // Without declaredRoles, the role the rules plan is accepted (its own diff checks its definition) …
    const planned = diffRoleAssignments(
      input<RoleAssignmentRow>({ desired: [parentOf('seleve1')], wanted: (e, k) => e === 'role' && k === 'parent' }),
      { onRemoved: 'unassign', component: '' },
      RA_FACTS,
    );
    expect(planned.conflicts).toEqual([]);
    expect(planned.changes).toHaveLength(1);
    // … and declared levels win over Moodle's for a role Moodle has: student declared at the user level.
    const redefined = diffRoleAssignments(
      input<RoleAssignmentRow>({ desired: [parentOf('seleve1', 'student')] }),
      { ...options, declaredRoles: new Map([['student', [30, 50]]]) },
      RA_FACTS,
    );
    expect(redefined.conflicts).toEqual([]);
    const moodle = diffRoleAssignments(
      input<RoleAssignmentRow>({ desired: [parentOf('seleve1', 'student')] }),
      options,
      RA_FACTS,
    );
    expect(moodle.conflicts.map((c) => c.message)).toEqual([
      expect.stringMatching(/^role "student" cannot be assigned in a user context in Moodle/),
    ]);
  });
});
