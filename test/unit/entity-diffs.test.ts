import { describe, expect, it } from 'vitest';
import type { CategoryOptions, CategoryRow } from '../../src/entities/category.js';
import { categoryEntity, diffCategories } from '../../src/entities/category.js';
import type { CohortOptions, CohortRow } from '../../src/entities/cohort.js';
import { cohortEntity, diffCohorts } from '../../src/entities/cohort.js';
import type { CohortMemberRow } from '../../src/entities/cohort-member.js';
import { diffCohortMembers } from '../../src/entities/cohort-member.js';
import type { DiffInput, Ownership } from '../../src/entities/entity.js';
import type { ProfileDataRow } from '../../src/entities/profile-data.js';
import { diffProfileData } from '../../src/entities/profile-data.js';
import type { ProfileFieldRow } from '../../src/entities/profile-field.js';
import { diffProfileFields, profileFieldEntity } from '../../src/entities/profile-field.js';
import type { EntityType, Fields, ObjectRef } from '../../src/model/change.js';
import { addressOf } from '../../src/model/change.js';
import type { CurrentIndex } from '../../src/model/current.js';
import type { DesiredObject } from '../../src/model/desired.js';
import type { StateObject } from '../../src/model/state.js';

// ---- builders ---------------------------------------------------------------------------------------------

type Ids = Partial<Record<EntityType, Record<string, number>>>;

/** The index over hand-given key → id maps. */
function indexOver(ids: Ids): CurrentIndex {
  return {
    id: (entity, key) => ids[entity]?.[key],
    key: (entity, id) => Object.entries(ids[entity] ?? {}).find(([, v]) => v === id)?.[0],
    ids: (entity) => Object.values(ids[entity] ?? {}),
  };
}

/** Ownership of the listed keys (managed, or created/adopted by the plan). */
function ownedKeys(keys: Partial<Record<EntityType, string[]>>): Ownership {
  return (entity, key) => keys[entity]?.includes(key) ?? false;
}

const ref = (entity: EntityType, key: string): ObjectRef => ({ entity, key });

function want(key: string, values: Fields, refs?: DesiredObject['refs']): DesiredObject {
  return {
    key,
    dn: `cn=${key},ou=structures,dc=ent,dc=example`,
    values,
    ...(refs === undefined ? {} : { refs }),
    sourceDigest: `sha256:${key}`,
  };
}

function managed(type: EntityType, id: number, key: string): StateObject {
  return { address: addressOf(type, key), type, id, key, source_digest: 'sha256:old', values: {} };
}

function input<Row>(over: Partial<DiffInput<Row>>): DiffInput<Row> {
  // By default every object the tests mention is still asked for by the rules.
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

/** [action, key, moodleId, before, after] of each change, for compact expectations. */
const summary = (
  changes: readonly { action: string; key: string; moodleId: number | null; before: Fields | null; after: Fields }[],
) => changes.map((c) => [c.action, c.key, c.moodleId, c.before, c.after]);

// ---- categories -------------------------------------------------------------------------------------------

function category(id: number, idnumber: string | null, name: string, over: Partial<CategoryRow> = {}): CategoryRow {
  return {
    id,
    name,
    idnumber,
    description: null,
    parent: 0,
    path: `/${id}`,
    depth: 1,
    sortorder: id * 10000,
    visible: 1,
    contextId: id + 100,
    contextPath: `/1/${id + 100}`,
    ...over,
  };
}

const NEVER: CategoryOptions = { adopt: 'never' };
const MATCHING: CategoryOptions = { adopt: 'matching' };
const MISC = category(1, null, 'Category 1');

describe('category diff', () => {
  it('creates a category missing from Moodle, with its values and parent ref', () => {
    const school = want('0750001A', { idnumber: '0750001A', name: 'Lycée Test' });
    const classes = want(
      '0750001A-classes',
      { idnumber: '0750001A-classes', name: 'Classes' },
      {
        parent: ref('category', '0750001A'),
      },
    );
    const result = diffCategories(input({ desired: [classes, school], current: [MISC] }), NEVER);
    expect(result.conflicts).toEqual([]);
    expect(result.warnings).toEqual([]);
    expect(result.changes).toEqual([
      {
        entity: 'category',
        address: 'category["0750001A"]',
        action: 'create',
        key: '0750001A',
        moodleId: null,
        dn: school.dn,
        before: null,
        after: { idnumber: '0750001A', name: 'Lycée Test' },
        sourceDigest: 'sha256:0750001A',
        reason: 'in the directory, not in Moodle',
      },
      {
        entity: 'category',
        address: 'category["0750001A-classes"]',
        action: 'create',
        key: '0750001A-classes',
        moodleId: null,
        dn: classes.dn,
        before: null,
        after: { idnumber: '0750001A-classes', name: 'Classes' },
        refs: { parent: { entity: 'category', key: '0750001A' } },
        sourceDigest: 'sha256:0750001A-classes',
        reason: 'in the directory, not in Moodle',
      },
    ]);
  });

  it('creates under a parent that is already in Moodle, managed or not', () => {
    const child = want('C', { idnumber: 'C', name: 'C' }, { parent: ref('category', 'P') });
    const result = diffCategories(input({ desired: [child], current: [category(5, 'P', 'Parent')] }), NEVER);
    expect(result.conflicts).toEqual([]);
    expect(summary(result.changes)).toEqual([['create', 'C', null, null, { idnumber: 'C', name: 'C' }]]);
  });

  it('plans nothing for a managed category that matches (NULL description = empty)', () => {
    const result = diffCategories(
      input({
        desired: [want('A', { idnumber: 'A', name: 'A', description: '' })],
        current: [category(7, 'A', 'A')],
        managed: [managed('category', 7, 'A')],
      }),
      NEVER,
    );
    expect(result).toEqual({ changes: [], conflicts: [], warnings: [] });
  });

  it('updates only the name or description that differ', () => {
    const result = diffCategories(
      input({
        desired: [want('A', { idnumber: 'A', name: 'New', description: 'same' })],
        current: [category(7, 'A', 'Old', { description: 'same' })],
        managed: [managed('category', 7, 'A')],
      }),
      NEVER,
    );
    expect(result.conflicts).toEqual([]);
    expect(result.changes).toEqual([
      expect.objectContaining({
        action: 'update',
        moodleId: 7,
        before: { name: 'Old' },
        after: { name: 'New' },
        reason: 'directory values differ from Moodle',
        dn: 'cn=A,ou=structures,dc=ent,dc=example',
        sourceDigest: 'sha256:A',
      }),
    ]);
  });

  it('does not compare a description the rules do not set', () => {
    const result = diffCategories(
      input({
        desired: [want('A', { idnumber: 'A', name: 'A' })],
        current: [category(7, 'A', 'A', { description: 'written by hand' })],
        managed: [managed('category', 7, 'A')],
      }),
      NEVER,
    );
    expect(result.changes).toEqual([]);
  });

  it('refuses an unmanaged category holding the idnumber, unless adopt is matching', () => {
    const desired = [want('X', { idnumber: 'X', name: 'Wanted' })];
    const current = [category(7, 'X', 'Name')];
    const refused = diffCategories(input({ desired, current }), NEVER);
    expect(refused.changes).toEqual([]);
    expect(refused.conflicts).toEqual([
      {
        dn: 'cn=X,ou=structures,dc=ent,dc=example',
        message:
          'Moodle category id 7 "Name" (idnumber X) exists and is not managed by ldap2moodle; set categories.adopt: matching to take it over',
      },
    ]);
    const adopted = diffCategories(input({ desired, current }), MATCHING);
    expect(adopted.conflicts).toEqual([]);
    expect(adopted.changes).toEqual([
      expect.objectContaining({
        action: 'adopt',
        address: 'category["X"]',
        moodleId: 7,
        before: { name: 'Name' },
        after: { name: 'Wanted' },
        reason: 'existing unmanaged category taken over (categories.adopt: matching)',
      }),
    ]);
  });

  it('adopts with empty before/after when the values already match', () => {
    const result = diffCategories(
      input({ desired: [want('X', { idnumber: 'X', name: 'N' })], current: [category(7, 'X', 'N')] }),
      MATCHING,
    );
    expect(summary(result.changes)).toEqual([['adopt', 'X', 7, {}, {}]]);
  });

  it('refuses to move an existing category to another parent', () => {
    const result = diffCategories(
      input({
        desired: [
          want('P2', { idnumber: 'P2', name: 'P2' }),
          want('C', { idnumber: 'C', name: 'C' }, { parent: ref('category', 'P2') }),
        ],
        current: [category(5, 'P1', 'P1'), category(6, 'P2', 'P2'), category(7, 'C', 'C', { parent: 5, path: '/5/7' })],
        managed: [managed('category', 6, 'P2'), managed('category', 7, 'C')],
      }),
      NEVER,
    );
    expect(result.changes).toEqual([]);
    expect(result.conflicts).toHaveLength(1);
    expect(result.conflicts[0]?.message).toBe(
      'Moodle category id 7 "C" (idnumber C) is under "P1" in Moodle, the rules put it under "P2": moving categories is not supported; move it in Moodle first',
    );
  });

  it('refuses to move an existing category under a parent this plan creates, or to the top level', () => {
    const underNew = diffCategories(
      input({
        desired: [
          want('NEW', { idnumber: 'NEW', name: 'New' }),
          want('C', { idnumber: 'C', name: 'C' }, { parent: ref('category', 'NEW') }),
        ],
        current: [category(7, 'C', 'C')],
        managed: [managed('category', 7, 'C')],
      }),
      NEVER,
    );
    expect(summary(underNew.changes)).toEqual([['create', 'NEW', null, null, { idnumber: 'NEW', name: 'New' }]]);
    expect(underNew.conflicts.map((c) => c.message)).toEqual([
      expect.stringContaining(
        'is at the top level in Moodle, the rules put it under "NEW": moving categories is not supported',
      ),
    ]);
    const toTop = diffCategories(
      input({
        desired: [want('C', { idnumber: 'C', name: 'C' })],
        current: [category(5, 'P', 'P'), category(7, 'C', 'C', { parent: 5 })],
        managed: [managed('category', 7, 'C')],
      }),
      NEVER,
    );
    expect(toTop.conflicts.map((c) => c.message)).toEqual([
      expect.stringContaining('is under "P" in Moodle, the rules put it at the top level'),
    ]);
  });

  it('keeps a managed category in place when its parent is unchanged', () => {
    const result = diffCategories(
      input({
        desired: [want('C', { idnumber: 'C', name: 'C' }, { parent: ref('category', 'P') })],
        current: [category(5, 'P', 'P'), category(7, 'C', 'C', { parent: 5 })],
        managed: [managed('category', 7, 'C')],
      }),
      NEVER,
    );
    expect(result).toEqual({ changes: [], conflicts: [], warnings: [] });
  });

  it('refuses a category whose parent is neither desired nor in Moodle', () => {
    const result = diffCategories(
      input({ desired: [want('C', { idnumber: 'C', name: 'C' }, { parent: ref('category', 'GHOST') })] }),
      NEVER,
    );
    expect(result.changes).toEqual([]);
    expect(result.conflicts).toEqual([
      {
        dn: 'cn=C,ou=structures,dc=ent,dc=example',
        message: 'parent category "GHOST" is neither produced by the rules nor in Moodle',
      },
    ]);
  });

  it('refuses parents that loop', () => {
    const result = diffCategories(
      input({
        desired: [
          want('A', { idnumber: 'A', name: 'A' }, { parent: ref('category', 'B') }),
          want('B', { idnumber: 'B', name: 'B' }, { parent: ref('category', 'A') }),
        ],
      }),
      NEVER,
    );
    expect(result.changes).toEqual([]);
    expect(result.conflicts.map((c) => c.message)).toEqual([
      'category parents loop: "A" → "B" → "A"',
      'category parents loop: "B" → "A" → "B"',
    ]);
  });

  it('refuses an idnumber held by several Moodle categories', () => {
    const result = diffCategories(
      input({
        desired: [want('D', { idnumber: 'D', name: 'D' })],
        current: [category(3, 'D', 'one'), category(4, 'D', 'two')],
      }),
      MATCHING,
    );
    expect(result.changes).toEqual([]);
    expect(result.conflicts.map((c) => c.message)).toEqual([
      'idnumber "D" is held by several Moodle categories (Moodle category id 3 "one" (idnumber D), Moodle category id 4 "two" (idnumber D)); make it unique in Moodle first',
    ]);
  });

  it('never deletes a managed category the rules no longer produce: one warning, no change', () => {
    const result = diffCategories(
      input({ current: [category(7, 'OLD', 'Old')], managed: [managed('category', 7, 'OLD')] }),
      NEVER,
    );
    expect(result.changes).toEqual([]);
    expect(result.conflicts).toEqual([]);
    expect(result.warnings).toEqual([
      'category["OLD"]: no longer produced by the rules; Moodle category id 7 "Old" (idnumber OLD) stays as it is (categories are never deleted: courses live in them)',
    ]);
  });

  it('forgets a managed category deleted by hand (and creates it again when still desired)', () => {
    const result = diffCategories(
      input({ desired: [want('A', { idnumber: 'A', name: 'A' })], managed: [managed('category', 7, 'A')] }),
      NEVER,
    );
    expect(summary(result.changes)).toEqual([['create', 'A', null, null, { idnumber: 'A', name: 'A' }]]);
    expect(result.warnings).toEqual([
      'category["A"]: Moodle category id 7 was deleted outside ldap2moodle; it will be forgotten',
    ]);
  });

  it('identifies rows by idnumber; rows without one have no key', () => {
    const entity = categoryEntity(NEVER);
    expect(entity.identify(category(7, 'A', 'A'), { facts: undefined, index: indexOver({}) })).toEqual({
      id: 7,
      key: 'A',
    });
    expect(entity.identify(MISC, { facts: undefined, index: indexOver({}) })).toBeNull();
    expect(entity.identify(category(8, '', 'empty'), { facts: undefined, index: indexOver({}) })).toBeNull();
  });

  it('lists changes sorted by key', () => {
    const result = diffCategories(
      input({ desired: ['b', 'c', 'a'].map((k) => want(k, { idnumber: k, name: k })) }),
      NEVER,
    );
    expect(result.changes.map((c) => c.key)).toEqual(['a', 'b', 'c']);
  });
});

// ---- profile fields ---------------------------------------------------------------------------------------

function field(id: number, shortname: string, over: Partial<ProfileFieldRow> = {}): ProfileFieldRow {
  return {
    id,
    shortname,
    name: shortname.toUpperCase(),
    datatype: 'text',
    categoryid: 1,
    sortorder: id,
    locked: 1,
    visible: 1,
    required: 0,
    forceunique: 0,
    signup: 0,
    param1: '30',
    param2: '2048',
    param3: '0',
    ...over,
  };
}

const fieldValues = (shortname: string, over: Record<string, string | number> = {}): Fields => ({
  shortname,
  name: shortname.toUpperCase(),
  datatype: 'text',
  categoryName: 'ENT',
  locked: 1,
  visible: 1,
  ...over,
});

describe('profile field diff', () => {
  it('creates a missing field with every value', () => {
    const result = diffProfileFields(input({ desired: [want('uai', fieldValues('uai'))] }), { adopt: 'never' });
    expect(result.changes).toEqual([
      expect.objectContaining({
        entity: 'profile_field',
        address: 'profile_field["uai"]',
        action: 'create',
        after: fieldValues('uai'),
        reason: 'in the directory, not in Moodle',
      }),
    ]);
  });

  it('updates name, locked and visible, nothing else (the category is not compared)', () => {
    const result = diffProfileFields(
      input({
        desired: [want('uai', fieldValues('uai', { name: 'UAI', locked: 0, visible: 2 }))],
        current: [field(3, 'uai', { name: 'Old', categoryid: 9 })],
        managed: [managed('profile_field', 3, 'uai')],
      }),
      { adopt: 'never' },
    );
    expect(summary(result.changes)).toEqual([
      ['update', 'uai', 3, { name: 'Old', locked: 1, visible: 1 }, { name: 'UAI', locked: 0, visible: 2 }],
    ]);
  });

  it('plans nothing for a managed field that matches', () => {
    const result = diffProfileFields(
      input({
        desired: [want('uai', fieldValues('uai'))],
        current: [field(3, 'uai')],
        managed: [managed('profile_field', 3, 'uai')],
      }),
      { adopt: 'never' },
    );
    expect(result).toEqual({ changes: [], conflicts: [], warnings: [] });
  });

  it('refuses or adopts an unmanaged field with that shortname', () => {
    const desired = [want('uai', fieldValues('uai', { visible: 2 }))];
    const current = [field(3, 'uai')];
    expect(diffProfileFields(input({ desired, current }), { adopt: 'never' }).conflicts.map((c) => c.message)).toEqual([
      'Moodle profile field id 3 "UAI" (shortname uai) exists and is not managed by ldap2moodle; set profileFields.adopt: matching to take it over',
    ]);
    const adopted = diffProfileFields(input({ desired, current }), { adopt: 'matching' });
    expect(adopted.conflicts).toEqual([]);
    expect(summary(adopted.changes)).toEqual([['adopt', 'uai', 3, { visible: 1 }, { visible: 2 }]]);
  });

  it('names the address in conflicts of fields that come from the spec alone (no entry)', () => {
    const fromSpec = { ...want('uai', fieldValues('uai')), dn: '' };
    const result = diffProfileFields(input({ desired: [fromSpec], current: [field(3, 'uai')] }), { adopt: 'never' });
    expect(result.conflicts).toEqual([
      {
        message:
          'profile_field["uai"]: Moodle profile field id 3 "UAI" (shortname uai) exists and is not managed by ldap2moodle; set profileFields.adopt: matching to take it over',
      },
    ]);
  });

  it('refuses to fill a field of another datatype', () => {
    const result = diffProfileFields(
      input({ desired: [want('uai', fieldValues('uai'))], current: [field(3, 'uai', { datatype: 'menu' })] }),
      { adopt: 'matching' },
    );
    expect(result.changes).toEqual([]);
    expect(result.conflicts.map((c) => c.message)).toEqual([
      expect.stringContaining('is a "menu" field; ldap2moodle fills "text" fields only'),
    ]);
  });

  it('keeps a managed field (and its data) the spec no longer lists: no change, a warning', () => {
    const result = diffProfileFields(
      input({ current: [field(3, 'old')], managed: [managed('profile_field', 3, 'old')] }),
      {
        adopt: 'never',
      },
    );
    expect(result.changes).toEqual([]);
    expect(result.warnings).toEqual([
      'profile_field["old"]: no longer in profileFields; Moodle profile field id 3 "OLD" (shortname old) and its data stay as they are',
    ]);
  });

  it('forgets a managed field deleted by hand', () => {
    const result = diffProfileFields(input({ managed: [managed('profile_field', 3, 'gone')] }), { adopt: 'never' });
    expect(result.warnings).toEqual([
      'profile_field["gone"]: Moodle profile field id 3 was deleted outside ldap2moodle; it will be forgotten',
    ]);
  });

  it('identifies fields by shortname', () => {
    expect(
      profileFieldEntity({ adopt: 'never' }).identify(field(3, 'uai'), { facts: undefined, index: indexOver({}) }),
    ).toEqual({ id: 3, key: 'uai' });
  });
});

// ---- cohorts ----------------------------------------------------------------------------------------------

const SYSTEM_CONTEXT = 1;

function cohort(id: number, idnumber: string | null, over: Partial<CohortRow> = {}): CohortRow {
  return {
    id,
    contextid: SYSTEM_CONTEXT,
    name: `Cohort ${idnumber}`,
    idnumber,
    component: 'local_ldap2moodle',
    visible: 1,
    description: '',
    contextLevel: 10,
    categoryId: null,
    ...over,
  };
}

/** A cohort row in the context of category `categoryId`. */
const inCategory = (categoryId: number): Partial<CohortRow> => ({
  contextid: 100 + categoryId,
  contextLevel: 40,
  categoryId,
});

const cohortValues = (idnumber: string, over: Record<string, string | number> = {}): Fields => ({
  idnumber,
  name: `Cohort ${idnumber}`,
  component: 'local_ldap2moodle',
  description: '',
  visible: 1,
  ...over,
});

const COHORTS: CohortOptions = { adopt: 'never', onRemoved: 'release' };

describe('cohort diff', () => {
  it('creates cohorts in the system context or in a category (refs kept)', () => {
    const result = diffCohorts(
      input({
        desired: [
          want('2A', cohortValues('2A'), { category: ref('category', 'SCHOOL') }),
          want('ALL', cohortValues('ALL')),
        ],
        index: indexOver({ category: { SCHOOL: 5 } }),
      }),
      COHORTS,
    );
    expect(result.conflicts).toEqual([]);
    expect(result.changes).toEqual([
      expect.objectContaining({
        action: 'create',
        key: '2A',
        after: cohortValues('2A'),
        refs: { category: { entity: 'category', key: 'SCHOOL' } },
      }),
      expect.objectContaining({ action: 'create', key: 'ALL', after: cohortValues('ALL') }),
    ]);
    expect(result.changes[1]).not.toHaveProperty('refs');
  });

  it('creates a cohort in a category this plan creates', () => {
    const result = diffCohorts(
      input({
        desired: [want('2A', cohortValues('2A'), { category: ref('category', 'NEW') })],
        owned: ownedKeys({ category: ['NEW'] }),
      }),
      COHORTS,
    );
    expect(result.conflicts).toEqual([]);
    expect(summary(result.changes)).toEqual([['create', '2A', null, null, cohortValues('2A')]]);
  });

  it('refuses a cohort whose category is neither desired nor in Moodle', () => {
    const result = diffCohorts(
      input({ desired: [want('2A', cohortValues('2A'), { category: ref('category', 'GHOST') })] }),
      COHORTS,
    );
    expect(result.changes).toEqual([]);
    expect(result.conflicts.map((c) => c.message)).toEqual([
      'the category of cohort "2A", "GHOST", is neither produced by the rules nor in Moodle',
    ]);
  });

  it('updates name, component, description and visible that differ', () => {
    const result = diffCohorts(
      input({
        desired: [want('2A', cohortValues('2A', { name: 'Élèves 2A', description: 'd' }))],
        current: [cohort(9, '2A', { component: '', visible: 0, description: null })],
        managed: [managed('cohort', 9, '2A')],
      }),
      COHORTS,
    );
    expect(summary(result.changes)).toEqual([
      [
        'update',
        '2A',
        9,
        { name: 'Cohort 2A', component: '', description: '', visible: 0 },
        { name: 'Élèves 2A', component: 'local_ldap2moodle', description: 'd', visible: 1 },
      ],
    ]);
    expect(result.changes[0]).not.toHaveProperty('refs');
  });

  it('plans nothing for a managed cohort that matches, in its category', () => {
    const result = diffCohorts(
      input({
        desired: [want('2A', cohortValues('2A'), { category: ref('category', 'SCHOOL') })],
        current: [cohort(9, '2A', inCategory(5))],
        managed: [managed('cohort', 9, '2A')],
        index: indexOver({ category: { SCHOOL: 5 } }),
      }),
      COHORTS,
    );
    expect(result).toEqual({ changes: [], conflicts: [], warnings: [] });
  });

  it('moves a cohort to another known category: the update carries the ref', () => {
    const result = diffCohorts(
      input({
        desired: [want('2A', cohortValues('2A'), { category: ref('category', 'B') })],
        current: [cohort(9, '2A', inCategory(5))],
        managed: [managed('cohort', 9, '2A')],
        index: indexOver({ category: { A: 5, B: 6 } }),
      }),
      COHORTS,
    );
    expect(result.changes).toEqual([
      expect.objectContaining({
        action: 'update',
        moodleId: 9,
        before: { context: 'category A' },
        after: { context: 'category B' },
        refs: { category: { entity: 'category', key: 'B' } },
      }),
    ]);
  });

  it('moves a cohort into a category this plan creates, from a category or from the system context', () => {
    for (const [label, where] of [
      ['category A', inCategory(5)],
      ['system', {}],
    ] as const) {
      const result = diffCohorts(
        input({
          desired: [want('2A', cohortValues('2A'), { category: ref('category', 'NEW') })],
          current: [cohort(9, '2A', where)],
          managed: [managed('cohort', 9, '2A')],
          index: indexOver({ category: { A: 5 } }),
          owned: ownedKeys({ category: ['NEW'] }),
        }),
        COHORTS,
      );
      expect(result.conflicts).toEqual([]);
      expect(result.changes).toEqual([
        expect.objectContaining({
          action: 'update',
          before: { context: label },
          after: { context: 'category NEW' },
          refs: { category: { entity: 'category', key: 'NEW' } },
        }),
      ]);
    }
  });

  it('moves a cohort back to the system context: context system, no refs', () => {
    const result = diffCohorts(
      input({
        desired: [want('2A', cohortValues('2A'))],
        current: [cohort(9, '2A', inCategory(5))],
        managed: [managed('cohort', 9, '2A')],
        index: indexOver({ category: { A: 5 } }),
      }),
      COHORTS,
    );
    expect(summary(result.changes)).toEqual([['update', '2A', 9, { context: 'category A' }, { context: 'system' }]]);
    expect(result.changes[0]).not.toHaveProperty('refs');
  });

  it('refuses or adopts an unmanaged cohort holding the idnumber', () => {
    const desired = [want('2A', cohortValues('2A'))];
    const current = [cohort(9, '2A', { name: 'Name', component: '' })];
    expect(diffCohorts(input({ desired, current }), COHORTS).conflicts.map((c) => c.message)).toEqual([
      'Moodle cohort id 9 "Name" (idnumber 2A) exists and is not managed by ldap2moodle; set cohorts.adopt: matching to take it over',
    ]);
    const adopted = diffCohorts(input({ desired, current }), { ...COHORTS, adopt: 'matching' });
    expect(adopted.changes).toEqual([
      expect.objectContaining({
        action: 'adopt',
        before: { name: 'Name', component: '' },
        after: { name: 'Cohort 2A', component: 'local_ldap2moodle' },
        reason: 'existing unmanaged cohort taken over (cohorts.adopt: matching)',
      }),
    ]);
  });

  it('refuses an idnumber held by several Moodle cohorts, listing them', () => {
    const result = diffCohorts(
      input({
        desired: [want('2A', cohortValues('2A'))],
        current: [cohort(9, '2A'), cohort(10, '2A', { name: 'copy' })],
        managed: [managed('cohort', 9, '2A')],
      }),
      COHORTS,
    );
    expect(result.changes).toEqual([]);
    expect(result.conflicts.map((c) => c.message)).toEqual([
      'idnumber "2A" is held by several Moodle cohorts (Moodle cohort id 9 "Cohort 2A" (idnumber 2A), Moodle cohort id 10 "copy" (idnumber 2A)); make it unique in Moodle first',
    ]);
  });

  it('releases, deletes or keeps a managed cohort no longer desired, as onRemoved says', () => {
    const removedInput = () =>
      input<CohortRow>({ current: [cohort(9, 'OLD', { description: 'x' })], managed: [managed('cohort', 9, 'OLD')] });
    const released = diffCohorts(removedInput(), { ...COHORTS, onRemoved: 'release' });
    expect(released.changes).toEqual([
      {
        entity: 'cohort',
        address: 'cohort["OLD"]',
        action: 'release',
        key: 'OLD',
        moodleId: 9,
        dn: null,
        before: { component: 'local_ldap2moodle' },
        after: { component: '' },
        sourceDigest: null,
        reason: 'no longer in the directory (cohorts.onRemoved: release)',
      },
    ]);
    const deleted = diffCohorts(removedInput(), { ...COHORTS, onRemoved: 'delete' });
    expect(deleted.changes).toEqual([
      expect.objectContaining({
        action: 'delete',
        moodleId: 9,
        dn: null,
        sourceDigest: null,
        before: { idnumber: 'OLD', name: 'Cohort OLD', component: 'local_ldap2moodle', description: 'x', visible: 1 },
        after: {},
        reason: 'no longer in the directory (cohorts.onRemoved: delete)',
      }),
    ]);
    expect(diffCohorts(removedInput(), { ...COHORTS, onRemoved: 'keep' })).toEqual({
      changes: [],
      conflicts: [],
      warnings: [],
    });
  });

  it('forgets a managed cohort deleted by hand', () => {
    const result = diffCohorts(input({ managed: [managed('cohort', 9, 'OLD')] }), COHORTS);
    expect(result.changes).toEqual([]);
    expect(result.warnings).toEqual([
      'cohort["OLD"]: Moodle cohort id 9 was deleted outside ldap2moodle; it will be forgotten',
    ]);
  });

  it('identifies cohorts by idnumber; those without one have no key', () => {
    const entity = cohortEntity(COHORTS);
    expect(entity.identify(cohort(9, '2A'), { facts: undefined, index: indexOver({}) })).toEqual({ id: 9, key: '2A' });
    expect(entity.identify(cohort(10, null), { facts: undefined, index: indexOver({}) })).toBeNull();
  });
});

// ---- cohort members ---------------------------------------------------------------------------------------

const member = (id: number, cohortid: number, userid: number): CohortMemberRow => ({ id, cohortid, userid });

function wantMember(cohortKey: string, userKey: string): DesiredObject {
  return {
    key: `${cohortKey}/${userKey}`,
    dn: `uid=${userKey},ou=people,dc=ent,dc=example`,
    values: { cohort: cohortKey, user: userKey },
    refs: { cohort: ref('cohort', cohortKey), user: ref('user', userKey) },
    sourceDigest: '',
  };
}

const PEOPLE = { alice: 21, bob: 22, carol: 23 };

describe('cohort member diff', () => {
  it('creates a desired membership missing from Moodle, with its refs', () => {
    const result = diffCohortMembers(
      input({
        desired: [wantMember('2A', 'alice')],
        index: indexOver({ cohort: { '2A': 9 }, user: PEOPLE }),
        owned: ownedKeys({ cohort: ['2A'] }),
      }),
    );
    expect(result).toEqual({
      changes: [
        {
          entity: 'cohort_member',
          address: 'cohort_member["2A/alice"]',
          action: 'create',
          key: '2A/alice',
          moodleId: null,
          dn: 'uid=alice,ou=people,dc=ent,dc=example',
          before: null,
          after: { cohort: '2A', user: 'alice' },
          refs: { cohort: { entity: 'cohort', key: '2A' }, user: { entity: 'user', key: 'alice' } },
          sourceDigest: '',
          reason: 'in the directory, not in Moodle',
        },
      ],
      conflicts: [],
      warnings: [],
      // The memberships after the plan, for the cohort enrolments' diff.
      products: { cohortMembersAfter: new Set(['2A/alice']) },
    });
  });

  it('leaves the members of an owned cohort the rules no longer ask for (cohorts.onRemoved: keep)', () => {
    const over = {
      current: [member(1, 9, 21), member(2, 9, 22)],
      index: indexOver({ cohort: { '2A': 9 }, user: PEOPLE }),
      owned: ownedKeys({ cohort: ['2A'] }),
    };
    expect(diffCohortMembers(input({ ...over, wanted: () => false })).changes).toEqual([]);
    // The same cohort still asked for loses both members: the test can tell the two apart.
    expect(diffCohortMembers(input(over)).changes.map((c) => c.action)).toEqual(['delete', 'delete']);
  });

  it('deletes members of an owned cohort that the directory no longer lists, keeps the listed ones', () => {
    const result = diffCohortMembers(
      input({
        desired: [wantMember('2A', 'alice')],
        current: [member(1, 9, 21), member(2, 9, 22)],
        index: indexOver({ cohort: { '2A': 9 }, user: PEOPLE }),
        owned: ownedKeys({ cohort: ['2A'] }),
      }),
    );
    expect(result.changes).toEqual([
      {
        entity: 'cohort_member',
        address: 'cohort_member["2A/bob"]',
        action: 'delete',
        key: '2A/bob',
        moodleId: 2,
        dn: null,
        before: { cohort: '2A', user: 'bob' },
        after: {},
        sourceDigest: null,
        reason: 'no longer in the directory',
      },
    ]);
    expect(result.products?.cohortMembersAfter).toEqual(new Set(['2A/alice']));
  });

  it('never touches members of cohorts the tool does not own', () => {
    const result = diffCohortMembers(
      input({
        desired: [],
        current: [member(1, 9, 21), member(2, 10, 999), member(3, 11, 22)],
        index: indexOver({ cohort: { HAND: 9, OTHER: 10 }, user: PEOPLE }),
        owned: ownedKeys({ cohort: [] }),
      }),
    );
    expect(result.changes).toEqual([]);
  });

  it('deletes the membership of a deleted user only in an owned cohort', () => {
    const result = diffCohortMembers(
      input({
        current: [member(1, 9, 999), member(2, 10, 999)],
        index: indexOver({ cohort: { MINE: 9, HAND: 10 }, user: PEOPLE }),
        owned: ownedKeys({ cohort: ['MINE'] }),
      }),
    );
    expect(summary(result.changes)).toEqual([['delete', 'MINE/#999', 1, { cohort: 'MINE', user: '#999' }, {}]]);
    expect(result.changes[0]?.reason).toBe('Moodle user id 999 is deleted or unknown');
  });

  it('fills a cohort created by the same plan (owned, not yet in Moodle)', () => {
    const result = diffCohortMembers(
      input({
        desired: [wantMember('NEW', 'alice'), wantMember('NEW', 'newcomer')],
        current: [member(1, 9, 21)],
        index: indexOver({ cohort: { HAND: 9 }, user: PEOPLE }),
        owned: ownedKeys({ cohort: ['NEW'] }),
      }),
    );
    expect(summary(result.changes)).toEqual([
      ['create', 'NEW/alice', null, null, { cohort: 'NEW', user: 'alice' }],
      ['create', 'NEW/newcomer', null, null, { cohort: 'NEW', user: 'newcomer' }],
    ]);
  });

  it('a class change is exactly one delete and one create', () => {
    const result = diffCohortMembers(
      input({
        desired: [wantMember('2A', 'alice'), wantMember('2B', 'bob'), wantMember('2B', 'carol')],
        current: [member(1, 9, 21), member(2, 9, 22), member(3, 10, 23)],
        index: indexOver({ cohort: { '2A': 9, '2B': 10 }, user: PEOPLE }),
        owned: ownedKeys({ cohort: ['2A', '2B'] }),
      }),
    );
    expect(summary(result.changes)).toEqual([
      ['delete', '2A/bob', 2, { cohort: '2A', user: 'bob' }, {}],
      ['create', '2B/bob', null, null, { cohort: '2B', user: 'bob' }],
    ]);
  });

  it('plans nothing when Moodle already has exactly the desired members', () => {
    const result = diffCohortMembers(
      input({
        desired: [wantMember('2A', 'alice')],
        current: [member(1, 9, 21)],
        index: indexOver({ cohort: { '2A': 9 }, user: PEOPLE }),
        owned: ownedKeys({ cohort: ['2A'] }),
      }),
    );
    expect(result).toEqual({
      changes: [],
      conflicts: [],
      warnings: [],
      products: { cohortMembersAfter: new Set(['2A/alice']) },
    });
  });
});

// ---- profile data -----------------------------------------------------------------------------------------

const datum = (id: number, fieldid: number, userid: number, data: string): ProfileDataRow => ({
  id,
  fieldid,
  userid,
  data,
});

function wantData(shortname: string, userKey: string, data: string): DesiredObject {
  return {
    key: `${shortname}/${userKey}`,
    dn: `uid=${userKey},ou=people,dc=ent,dc=example`,
    values: { data },
    refs: { field: ref('profile_field', shortname), user: ref('user', userKey) },
    sourceDigest: `sha256:${userKey}`,
  };
}

const FIELDS = { uai: 3, classe: 4, hand: 5, dropped: 6 };
const DATA_INDEX = indexOver({ profile_field: FIELDS, user: PEOPLE });
const LISTED = { fields: ['uai', 'classe'] };

describe('profile data diff', () => {
  it('creates a missing value and updates a different one', () => {
    const result = diffProfileData(
      input({
        desired: [wantData('uai', 'alice', '0750001A'), wantData('uai', 'bob', '0750002B')],
        current: [datum(1, 3, 22, '0750009Z')],
        index: DATA_INDEX,
        owned: ownedKeys({ profile_field: ['uai'], user: ['alice', 'bob'] }),
      }),
      LISTED,
    );
    expect(result.changes).toEqual([
      {
        entity: 'profile_data',
        address: 'profile_data["uai/alice"]',
        action: 'create',
        key: 'uai/alice',
        moodleId: null,
        dn: 'uid=alice,ou=people,dc=ent,dc=example',
        before: null,
        after: { data: '0750001A' },
        refs: { field: { entity: 'profile_field', key: 'uai' }, user: { entity: 'user', key: 'alice' } },
        sourceDigest: 'sha256:alice',
        reason: 'in the directory, not in Moodle',
      },
      {
        entity: 'profile_data',
        address: 'profile_data["uai/bob"]',
        action: 'update',
        key: 'uai/bob',
        moodleId: 1,
        dn: 'uid=bob,ou=people,dc=ent,dc=example',
        before: { data: '0750009Z' },
        after: { data: '0750002B' },
        sourceDigest: 'sha256:bob',
        reason: 'directory value differs from Moodle',
      },
    ]);
  });

  it('plans nothing for an equal value', () => {
    const result = diffProfileData(
      input({
        desired: [wantData('uai', 'alice', 'X')],
        current: [datum(1, 3, 21, 'X')],
        index: DATA_INDEX,
        owned: ownedKeys({ profile_field: ['uai'], user: ['alice'] }),
      }),
      LISTED,
    );
    expect(result).toEqual({ changes: [], conflicts: [], warnings: [] });
  });

  it('deletes the value of an owned field for a synced user whose directory value went empty', () => {
    const result = diffProfileData(
      input({
        // alice still has a class (so she is synced); bob has no value at all but is a managed user.
        desired: [wantData('classe', 'alice', '2A')],
        current: [datum(1, 3, 21, 'old uai'), datum(2, 4, 21, '2A'), datum(3, 3, 22, 'bob uai')],
        index: DATA_INDEX,
        owned: ownedKeys({ profile_field: ['uai', 'classe'], user: ['bob'] }),
      }),
      LISTED,
    );
    expect(summary(result.changes)).toEqual([
      ['delete', 'uai/alice', 1, { data: 'old uai' }, {}],
      ['delete', 'uai/bob', 3, { data: 'bob uai' }, {}],
    ]);
    expect(result.changes[0]).toMatchObject({
      dn: null,
      sourceDigest: null,
      reason: 'no value in the directory any more',
    });
  });

  it('leaves alone the values of users not synced, of fields not owned, and of fields the spec dropped', () => {
    const result = diffProfileData(
      input({
        desired: [wantData('uai', 'alice', 'A')],
        current: [
          datum(1, 3, 21, 'A'),
          datum(2, 3, 23, 'carol is nobody of ours'),
          datum(3, 5, 21, 'field not owned'),
          datum(4, 6, 21, 'field managed but dropped from the spec'),
          datum(5, 3, 999, 'deleted user'),
          datum(6, 77, 21, 'unknown field'),
        ],
        index: DATA_INDEX,
        owned: ownedKeys({ profile_field: ['uai', 'dropped'], user: ['alice', 'carol'] }),
        // carol is managed but no longer in the directory: her last values stay.
        wanted: (entity, key) => entity !== 'user' || key === 'alice',
      }),
      LISTED,
    );
    expect(result.changes).toEqual([]);
  });

  it('fills a field created by the same plan', () => {
    const result = diffProfileData(
      input({
        desired: [wantData('newfield', 'alice', 'v')],
        index: DATA_INDEX,
        owned: ownedKeys({ profile_field: ['newfield'], user: ['alice'] }),
      }),
      { fields: ['newfield'] },
    );
    expect(summary(result.changes)).toEqual([['create', 'newfield/alice', null, null, { data: 'v' }]]);
  });
});
