/**
 * The pure diffs of course groups, groupings, the groups of groupings and group members: creation in a course
 * of Moodle or of the plan, renames, adoption, name clashes within a course, removal (delete / keep), and
 * ownership of links and members through their grouping or group — plugin-owned members left alone.
 */
import { describe, expect, it } from 'vitest';
import type { DiffInput, Ownership } from '../../src/entities/entity.js';
import type { GroupOptions, GroupRow } from '../../src/entities/group.js';
import { courseScopedKey, diffGroups } from '../../src/entities/group.js';
import type { GroupMemberRow } from '../../src/entities/group-member.js';
import { diffGroupMembers } from '../../src/entities/group-member.js';
import type { GroupingGroupRow } from '../../src/entities/grouping.js';
import { diffGroupingGroups, diffGroupings } from '../../src/entities/grouping.js';
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

function want(key: string, values: Fields, refs?: DesiredObject['refs']): DesiredObject {
  return { key, dn: `cn=${key},ou=groups,dc=example`, values, ...(refs && { refs }), sourceDigest: `sha256:${key}` };
}

function managed(type: EntityType, id: number, key: string): StateObject {
  return { address: addressOf(type, key), type, id, key, source_digest: 'sha256:old', values: {} };
}

function input<Row>(over: Partial<DiffInput<Row>>): DiffInput<Row> {
  return {
    desired: [],
    current: [],
    managed: [],
    index: indexOver(COURSES),
    owned: ownedKeys({}),
    wanted: () => true,
    products: {},
    ...over,
  };
}

const summary = (
  changes: readonly { action: string; key: string; moodleId: number | null; before: Fields | null; after: Fields }[],
) => changes.map((c) => [c.action, c.key, c.moodleId, c.before, c.after]);

/** Courses MATHS (id 10) and PHYS (id 11) are in Moodle. */
const COURSES: Ids = { course: { MATHS: 10, PHYS: 11 } };

function group(id: number, courseid: number, idnumber: string, name: string, over: Partial<GroupRow> = {}): GroupRow {
  return { id, courseid, idnumber, name, description: null, ...over };
}

/** A desired group of the contract: values course, idnumber, name, description; refs.course. */
function wantGroup(course: string, idnumber: string, name: string): DesiredObject {
  return want(
    pairKey(course, idnumber),
    { course, idnumber, name, description: '' },
    { course: ref('course', course) },
  );
}

const DELETE: GroupOptions = {
  adopt: 'never',
  onRemoved: 'delete',
  schema: { visibility: true, participation: true, tables: new Set() },
};
const KEEP: GroupOptions = { ...DELETE, onRemoved: 'keep' };
const ADOPT: GroupOptions = { ...DELETE, adopt: 'matching' };

// ---- groups -----------------------------------------------------------------------------------------------

describe('group diff', () => {
  it('keys a group by its course key and idnumber; a group without either is nobody’s', () => {
    const index = indexOver(COURSES);
    expect(courseScopedKey(group(1, 10, '2A', 'x'), index)).toBe('MATHS/2A');
    expect(courseScopedKey(group(1, 10, '', 'x'), index)).toBeNull();
    expect(courseScopedKey(group(1, 99, '2A', 'x'), index)).toBeNull();
  });

  it('creates a group in a course of Moodle, or of this plan; refuses one whose course exists nowhere', () => {
    const inMoodle = wantGroup('MATHS', '2A', '2nde A');
    const inPlan = wantGroup('NEW', '2B', '2nde B');
    const nowhere = wantGroup('GONE', '2C', '2nde C');
    const result = diffGroups(
      input({
        desired: [inMoodle, inPlan, nowhere],
        owned: ownedKeys({ course: ['NEW'] }),
        wanted: (entity, key) => entity !== 'course' || key !== 'GONE',
      }),
      DELETE,
    );
    expect(summary(result.changes)).toEqual([
      ['create', 'MATHS/2A', null, null, { course: 'MATHS', idnumber: '2A', name: '2nde A', description: '' }],
      ['create', 'NEW/2B', null, null, { course: 'NEW', idnumber: '2B', name: '2nde B', description: '' }],
    ]);
    expect(result.changes[0]).toMatchObject({
      entity: 'group',
      address: 'group["MATHS/2A"]',
      dn: inMoodle.dn,
      refs: { course: { entity: 'course', key: 'MATHS' } },
    });
    expect(result.conflicts).toEqual([
      {
        dn: nowhere.dn,
        message: 'the course of group "GONE/2C", "GONE", is neither produced by the rules nor in Moodle',
      },
    ]);
  });

  it('renames a managed group; NULL and empty descriptions are the same', () => {
    const result = diffGroups(
      input({
        desired: [wantGroup('MATHS', '2A', '2nde A (maths)')],
        current: [group(5, 10, '2A', '2nde A')],
        managed: [managed('group', 5, 'MATHS/2A')],
      }),
      DELETE,
    );
    expect(result.conflicts).toEqual([]);
    expect(summary(result.changes)).toEqual([
      ['update', 'MATHS/2A', 5, { name: '2nde A' }, { name: '2nde A (maths)' }],
    ]);
  });

  it('refuses a hand-made group holding the idnumber, unless adopt is matching', () => {
    const desired = [wantGroup('MATHS', '2A', '2nde A')];
    const current = [group(5, 10, '2A', 'Made by hand', { description: 'notes' })];
    const refused = diffGroups(input({ desired, current }), DELETE);
    expect(refused.changes).toEqual([]);
    expect(refused.conflicts).toEqual([
      {
        dn: desired[0]?.dn,
        message:
          'Moodle group id 5 "Made by hand" (idnumber 2A in course MATHS) exists and is not managed by ldap2moodle; ' +
          'set groups.adopt: matching to take it over',
      },
    ]);
    const adopted = diffGroups(input({ desired, current }), ADOPT);
    expect(adopted.conflicts).toEqual([]);
    expect(summary(adopted.changes)).toEqual([
      ['adopt', 'MATHS/2A', 5, { name: 'Made by hand', description: 'notes' }, { name: '2nde A', description: '' }],
    ]);
  });

  it('refuses a name another group of the course keeps, naming that group; other courses do not count', () => {
    const current = [group(6, 10, '', '2nde A'), group(7, 11, 'P', '2nde B')];
    const result = diffGroups(
      input({ desired: [wantGroup('MATHS', '2A', '2nde A'), wantGroup('MATHS', '2B', '2nde B')], current }),
      DELETE,
    );
    expect(summary(result.changes)).toEqual([
      ['create', 'MATHS/2B', null, null, { course: 'MATHS', idnumber: '2B', name: '2nde B', description: '' }],
    ]);
    expect(result.conflicts).toEqual([
      {
        dn: 'cn=MATHS/2A,ou=groups,dc=example',
        message:
          'its name "2nde A" is held by Moodle group id 6 "2nde A" (no idnumber in course MATHS); ' +
          'Moodle refuses two groups of one course with the same name — rename one of them',
      },
    ]);
  });

  it('lets a name go to another group when its holder is renamed or deleted by the same plan', () => {
    const current = [group(5, 10, 'OLD', 'Shared'), group(6, 10, 'B', 'Shared too')];
    const managedRows = [managed('group', 5, 'MATHS/OLD'), managed('group', 6, 'MATHS/B')];
    // OLD leaves (deleted): its name is free; B is renamed: its old name is free.
    const desired = [
      wantGroup('MATHS', 'NEW', 'Shared'),
      wantGroup('MATHS', 'B', 'Other'),
      wantGroup('MATHS', 'C', 'Shared too'),
    ];
    const result = diffGroups(input({ desired, current, managed: managedRows }), DELETE);
    expect(result.conflicts).toEqual([]);
    expect(result.changes.map((c) => [c.action, c.key])).toEqual([
      ['update', 'MATHS/B'],
      ['create', 'MATHS/C'],
      ['create', 'MATHS/NEW'],
      ['delete', 'MATHS/OLD'],
    ]);
    // A kept group keeps its name.
    const kept = diffGroups(input({ desired, current, managed: managedRows }), KEEP);
    expect(kept.conflicts.map((c) => c.message)).toEqual([
      expect.stringContaining('its name "Shared" is held by Moodle group id 5'),
    ]);
  });

  it('leaves an old duplicate name alone when the name does not change', () => {
    const result = diffGroups(
      input({
        desired: [wantGroup('MATHS', '2A', 'Same')],
        current: [group(5, 10, '2A', 'Same'), group(6, 10, 'X', 'Same')],
        managed: [managed('group', 5, 'MATHS/2A')],
      }),
      DELETE,
    );
    expect(result).toEqual({ changes: [], conflicts: [], warnings: [] });
  });

  it('refuses two desired groups of one course with the same name', () => {
    const result = diffGroups(
      input({ desired: [wantGroup('MATHS', 'A', 'Same'), wantGroup('MATHS', 'B', 'Same')] }),
      DELETE,
    );
    expect(result.conflicts).toEqual([
      {
        dn: 'cn=MATHS/B,ou=groups,dc=example',
        message:
          'group "MATHS/B" and group "MATHS/A" would have the same name "Same" in one course; Moodle refuses that',
      },
    ]);
  });

  it('deletes a managed group no longer produced, or keeps it; forgets one deleted by hand', () => {
    const over = {
      current: [group(5, 10, '2A', '2nde A', { description: 'd' })],
      managed: [managed('group', 5, 'MATHS/2A'), managed('group', 9, 'MATHS/GONE')],
    };
    const deleted = diffGroups(input(over), DELETE);
    expect(summary(deleted.changes)).toEqual([
      ['delete', 'MATHS/2A', 5, { course: 'MATHS', idnumber: '2A', name: '2nde A', description: 'd' }, {}],
    ]);
    expect(deleted.changes[0]?.reason).toBe('no longer in the directory (groups.onRemoved: delete)');
    expect(deleted.warnings).toEqual([
      'group["MATHS/GONE"]: Moodle group id 9 was deleted outside ldap2moodle; it will be forgotten',
    ]);
    expect(diffGroups(input(over), KEEP).changes).toEqual([]);
  });

  it('refuses an idnumber held by two groups of the course', () => {
    const result = diffGroups(
      input({ desired: [wantGroup('MATHS', '2A', 'x')], current: [group(5, 10, '2A', 'a'), group(6, 10, '2A', 'b')] }),
      DELETE,
    );
    expect(result.changes).toEqual([]);
    expect(result.conflicts[0]?.message).toContain('is held by several Moodle groups');
  });
});

describe('grouping diff', () => {
  it('plans groupings as groups: create, rename, delete, in the groups section (groupings follow groups.onRemoved)', () => {
    const desired = [
      want('MATHS/G1', { course: 'MATHS', idnumber: 'G1', name: 'Seconde' }, { course: ref('course', 'MATHS') }),
      want('MATHS/G2', { course: 'MATHS', idnumber: 'G2', name: 'New' }, { course: ref('course', 'MATHS') }),
    ];
    const current = [group(3, 10, 'G1', 'Old'), group(4, 10, 'G3', 'Gone')];
    const managedRows = [managed('grouping', 3, 'MATHS/G1'), managed('grouping', 4, 'MATHS/G3')];
    const result = diffGroupings(input({ desired, current, managed: managedRows }), DELETE);
    expect(result.conflicts).toEqual([]);
    expect(summary(result.changes)).toEqual([
      ['update', 'MATHS/G1', 3, { name: 'Old' }, { name: 'Seconde' }],
      ['create', 'MATHS/G2', null, null, { course: 'MATHS', idnumber: 'G2', name: 'New' }],
      ['delete', 'MATHS/G3', 4, { course: 'MATHS', idnumber: 'G3', name: 'Gone', description: '' }, {}],
    ]);
    expect(result.changes.map((c) => c.entity)).toEqual(['grouping', 'grouping', 'grouping']);
    expect(result.changes[2]?.reason).toBe('no longer in the directory (groups.onRemoved: delete)');
    const refused = diffGroupings(input({ desired: desired.slice(0, 1), current }), DELETE);
    expect(refused.conflicts[0]?.message).toContain('set groups.adopt: matching');
  });
});

// ---- groups of groupings ----------------------------------------------------------------------------------

describe('grouping-group diff', () => {
  const index = indexOver({
    ...COURSES,
    grouping: { 'MATHS/G1': 30, 'MATHS/G2': 31 },
    group: { 'MATHS/2A': 50, 'MATHS/2B': 51, 'PHYS/P1': 52 },
  });
  const link = (
    id: number,
    groupingid: number,
    groupid: number,
    over: Partial<GroupingGroupRow> = {},
  ): GroupingGroupRow => ({
    id,
    groupingid,
    groupid,
    groupingcourse: 10,
    groupcourse: 10,
    groupidnumber: ({ 50: '2A', 51: '2B', 52: 'P1' } as Record<number, string>)[groupid] ?? null,
    ...over,
  });
  const wantLink = (grouping: string, group: string, idnumber: string) =>
    want(
      pairKey(grouping, idnumber),
      { grouping, group },
      { grouping: ref('grouping', grouping), group: ref('group', group) },
    );

  it('adds missing groups and removes others from the groupings the tool syncs only', () => {
    const current = [
      link(1, 30, 50),
      link(2, 30, 51),
      link(3, 30, 52, { groupcourse: 11 }),
      link(4, 30, 99, { groupcourse: null, groupidnumber: null }),
      link(5, 31, 51),
      link(6, 30, 50),
    ];
    const desired = [wantLink('MATHS/G1', 'MATHS/2A', '2A'), wantLink('MATHS/G2', 'MATHS/2A', '2A')];
    const result = diffGroupingGroups(input({ desired, current, index, owned: ownedKeys({ grouping: ['MATHS/G1'] }) }));
    expect(summary(result.changes)).toEqual([
      ['delete', 'MATHS/G1/#52', 3, { grouping: 'MATHS/G1', group: '#52' }, {}],
      ['delete', 'MATHS/G1/#99', 4, { grouping: 'MATHS/G1', group: '#99' }, {}],
      ['delete', 'MATHS/G1/2A#6', 6, { grouping: 'MATHS/G1', group: 'MATHS/2A' }, {}],
      ['delete', 'MATHS/G1/2B', 2, { grouping: 'MATHS/G1', group: 'MATHS/2B' }, {}],
      ['create', 'MATHS/G2/2A', null, null, { grouping: 'MATHS/G2', group: 'MATHS/2A' }],
    ]);
    // G2 is not the tool's: its hand-added 2B stays. A grouping kept (no longer wanted) keeps its groups.
    const kept = diffGroupingGroups(
      input({ current, index, owned: ownedKeys({ grouping: ['MATHS/G1'] }), wanted: () => false }),
    );
    expect(kept.changes).toEqual([]);
  });
});

// ---- group members ----------------------------------------------------------------------------------------

describe('group member diff', () => {
  const index = indexOver({
    ...COURSES,
    group: { 'MATHS/2A': 50, 'MATHS/2B': 51 },
    user: { tprof: 3, seleve1: 4, seleve2: 5 },
  });
  const member = (id: number, groupid: number, userid: number, component = '', itemid = 0): GroupMemberRow => ({
    id,
    groupid,
    userid,
    component,
    itemid,
  });
  const wantMember = (group: string, user: string) =>
    want(pairKey(group, user), { group, user }, { group: ref('group', group), user: ref('user', user) });
  const owned = ownedKeys({ group: ['MATHS/2A'] });

  it('adds missing members, removes the tool’s own rows no longer desired from its synced groups', () => {
    const current = [member(1, 50, 3), member(2, 50, 4), member(3, 50, 77), member(4, 51, 4), member(5, 60, 3)];
    const result = diffGroupMembers(
      input({ desired: [wantMember('MATHS/2A', 'tprof'), wantMember('MATHS/2B', 'seleve2')], current, index, owned }),
    );
    expect(result.conflicts).toEqual([]);
    expect(summary(result.changes)).toEqual([
      ['delete', 'MATHS/2A/#77', 3, { group: 'MATHS/2A', user: '#77' }, {}],
      ['delete', 'MATHS/2A/seleve1', 2, { group: 'MATHS/2A', user: 'seleve1' }, {}],
      ['create', 'MATHS/2B/seleve2', null, null, { group: 'MATHS/2B', user: 'seleve2' }],
    ]);
    expect(result.changes[2]?.refs).toEqual({ group: ref('group', 'MATHS/2B'), user: ref('user', 'seleve2') });
  });

  it('never removes, creates over or counts as its own a member a plugin owns (enrol_cohort)', () => {
    const current = [member(1, 50, 4, 'enrol_cohort', 8), member(2, 50, 5, 'enrol_cohort', 8)];
    // seleve1 is desired and present through the cohort sync: satisfied. seleve2 is not desired: left alone.
    const result = diffGroupMembers(input({ desired: [wantMember('MATHS/2A', 'seleve1')], current, index, owned }));
    expect(result).toEqual({ changes: [], conflicts: [], warnings: [] });
  });

  it('keeps the members of a group the tool does not own, or no longer syncs', () => {
    const current = [member(1, 50, 4)];
    expect(diffGroupMembers(input({ current, index })).changes).toEqual([]);
    expect(diffGroupMembers(input({ current, index, owned, wanted: () => false })).changes).toEqual([]);
    const others = [wantMember('MATHS/2A', 'tprof')];
    expect(diffGroupMembers(input({ desired: others, current, index, owned })).changes.map((c) => c.action)).toEqual([
      'delete',
      'create',
    ]);
  });

  it('keeps the hand-added members of a group whose rules give none (members: false, filled by a cohort sync)', () => {
    const current = [member(1, 50, 4), member(2, 50, 5, 'enrol_cohort', 8)];
    expect(diffGroupMembers(input({ current, index, owned })).changes).toEqual([]);
  });
});
