/**
 * The entity catalogue: the order derived from its dependencies, and one redaction case generated per entity
 * from its personal-data facts, so that an entity whose facts are wrong or missing shows here.
 */
import { describe, expect, it } from 'vitest';
import { CATALOG, dependenciesOf, deriveOrder, ENTITY_ORDER, factsOf } from '../../src/entities/catalog.js';
import type { Change, EntityType, FieldValue, ObjectRef } from '../../src/model/change.js';
import { addressOf } from '../../src/model/change.js';
import type { Plan } from '../../src/model/plan.js';
import { redactPlan } from '../../src/render/redact.js';

const ENTITIES = Object.keys(CATALOG) as EntityType[];

describe('the order of the entities', () => {
  it('lists every entity once, each after everything it depends on', () => {
    expect([...ENTITY_ORDER].sort()).toEqual([...ENTITIES].sort());
    for (const entity of ENTITY_ORDER) {
      for (const dependency of dependenciesOf(entity)) {
        expect(ENTITY_ORDER.indexOf(dependency), `${entity} after ${dependency}`).toBeLessThan(
          ENTITY_ORDER.indexOf(entity),
        );
      }
    }
  });

  it('is the order plans list entities in (a change here changes every rendering)', () => {
    expect(ENTITY_ORDER).toEqual([
      'role',
      'category',
      'profile_field',
      'user',
      'profile_data',
      'cohort',
      'cohort_member',
      'course',
      'group',
      'grouping',
      'grouping_group',
      'cohort_enrol',
      'cohort_enrolment',
      'enrolment',
      'group_member',
      'role_assignment',
    ]);
  });

  it('follows the dependencies, not the order of the records, and refuses a cycle', () => {
    const deps: Partial<Record<EntityType, EntityType[]>> = { user: ['cohort'], cohort: [] };
    expect(deriveOrder(['user', 'cohort'], (e) => deps[e] ?? [])).toEqual(['cohort', 'user']);
    const cycle: Partial<Record<EntityType, EntityType[]>> = { user: ['cohort'], cohort: ['user'] };
    expect(() => deriveOrder(['user', 'cohort'], (e) => cycle[e] ?? [])).toThrow(/cycle among user, cohort/);
  });
});

/** A personal value no redaction may let through. */
const SECRET = 'jdupont';
const SECRET_DN = `uid=J.Dupont,ou=people,dc=ent,dc=example`;

/** A change of `entity` carrying personal values wherever its catalogue facts say they are. */
function personalChange(entity: EntityType): Change {
  const { personal, refs } = factsOf(entity);
  let key = 'K1';
  if (personal.key === 'user') key = SECRET;
  else if (typeof personal.key === 'object') {
    const head = personal.key.head === 'context' ? `user:${SECRET}/parent` : 'CONTAINER-1';
    key = `${head}/${SECRET}`;
  }
  const values: Record<string, FieldValue> = {};
  for (const [name, kind] of Object.entries(personal.fields)) {
    values[name] = kind === 'email' ? `${SECRET}@ent.example` : kind === 'context' ? `user:${SECRET}` : SECRET;
  }
  const objectRefs: Record<string, ObjectRef> = {};
  for (const [name, target] of Object.entries(refs)) {
    objectRefs[name] = { entity: target, key: target === 'user' ? SECRET : 'CONTAINER-1' };
  }
  return {
    entity,
    address: addressOf(entity, key),
    action: 'create',
    key,
    moodleId: null,
    dn: SECRET_DN,
    before: null,
    after: values,
    refs: objectRefs,
    sourceDigest: 'sha256:x',
    reason: `in the directory, not in Moodle (${addressOf(entity, key)})`,
  };
}

const planOf = (changes: Change[]): Plan => ({
  changes,
  skipped: [],
  warnings: changes.map((c) => `note on ${c.address}`),
  desiredCounts: {},
  purgeNeeded: false,
});

describe('redaction follows the catalogue’s personal-data facts', () => {
  it.each(ENTITIES)('%s: no personal value left in a redacted change, its address, DN, refs or texts', (entity) => {
    const change = personalChange(entity);
    const redacted = JSON.stringify(redactPlan(planOf([change])));
    expect(redacted).not.toMatch(new RegExp(SECRET, 'i'));
    expect(redacted).not.toContain('J.Dupont');
  });

  it('an entity whose objects point at a person declares where the person is in its key or values', () => {
    const pointing = ENTITIES.filter((e) => Object.values(factsOf(e).refs).includes('user'));
    expect(pointing.length).toBeGreaterThan(0);
    for (const entity of pointing) {
      const { personal } = factsOf(entity);
      expect(personal.key, entity).not.toBe('none');
      expect(Object.keys(personal.fields), entity).toContain('user');
    }
  });

  it('keeps what is not personal: keys of objects that name nobody, containers, structures', () => {
    const cohort = personalChange('cohort');
    expect(redactPlan(planOf([cohort])).changes[0]?.address).toBe('cohort["K1"]');
    const member = redactPlan(planOf([personalChange('cohort_member')])).changes[0];
    expect(member?.key).toMatch(/^CONTAINER-1\/u-[0-9a-f]{8}$/);
    const structure = { ...cohort, dn: 'ENTStructureSIREN=19450001400015,ou=structures,dc=ent,dc=example' };
    expect(redactPlan(planOf([structure])).changes[0]?.dn).toBe(structure.dn);
  });
});
