/**
 * Which changes a run scoped to some establishments keeps (src/plan/scope.ts): an object's owners are the
 * establishments recorded in the state, else the desired object's, else its parent's (members, the enrolments a
 * method makes, profile values); only objects the run's establishments own alone are touched.
 */
import { describe, expect, it } from 'vitest';
import type { Change, ChangeAction, EntityType } from '../../src/model/change.js';
import { addressOf } from '../../src/model/change.js';
import type { DesiredObject } from '../../src/model/desired.js';
import { EMPTY_STATE, type State, type StateObject } from '../../src/model/state.js';
import { scopeChanges } from '../../src/plan/scope.js';

const change = (entity: EntityType, key: string, action: ChangeAction = 'update'): Change => ({
  entity,
  address: addressOf(entity, key),
  action,
  key,
  moodleId: action === 'create' ? null : 1,
  dn: null,
  before: null,
  after: {},
  sourceDigest: null,
  reason: '',
});
const managed = (type: EntityType, key: string, establishments?: string[]): StateObject => ({
  address: addressOf(type, key),
  type,
  id: 1,
  key,
  source_digest: '',
  values: {},
  ...(establishments === undefined ? {} : { establishments }),
});
const desiredOf = (key: string, establishments: string[]): DesiredObject => ({
  key,
  dn: '',
  values: {},
  sourceDigest: '',
  establishments,
});

const STATE: State = {
  ...EMPTY_STATE,
  objects: [
    managed('user', 'lp-only', ['0450003C']),
    managed('user', 'shared', ['0450002B', '0450003C']),
    managed('cohort', '0450003C-ELV', ['0450003C']),
    managed('cohort', '0450002B-ELV', ['0450002B']),
    managed('cohort_enrol', 'C/0450003C-ELV/student', ['0450003C']),
    managed('profile_field', 'ent_uai'),
  ],
};
const DESIRED = new Map<EntityType, DesiredObject[]>([
  ['user', [desiredOf('new-lp', ['0450003C']), desiredOf('new-shared', ['0450002B', '0450003C'])]],
]);

describe('scopeChanges', () => {
  it('keeps what the run’s establishments own alone, by record, desired object or parent; leaves the rest', () => {
    const changes = [
      change('user', 'lp-only'),
      change('user', 'shared'),
      change('user', 'new-lp', 'create'),
      change('user', 'new-shared', 'create'),
      change('cohort', '0450002B-ELV', 'release'),
      change('cohort_member', '0450003C-ELV/shared', 'create'),
      change('cohort_member', '0450002B-ELV/shared', 'delete'),
      change('cohort_enrolment', 'C/0450003C-ELV/student/lp-only', 'delete'),
      change('profile_data', 'ent_uai/shared'),
      change('profile_data', 'ent_uai/lp-only'),
      change('profile_field', 'ent_uai'),
      change('role', 'parent', 'create'),
    ];
    const { kept, leftOut } = scopeChanges(changes, ['0450003C'], STATE, DESIRED);
    expect(kept.map((c) => c.address)).toEqual([
      'user["lp-only"]',
      'user["new-lp"]',
      'cohort_member["0450003C-ELV/shared"]',
      'cohort_enrolment["C/0450003C-ELV/student/lp-only"]',
      'profile_data["ent_uai/lp-only"]',
      'role["parent"]',
    ]);
    expect(leftOut.map((c) => c.address)).toEqual([
      'user["shared"]',
      'user["new-shared"]',
      'cohort["0450002B-ELV"]',
      'cohort_member["0450002B-ELV/shared"]',
      'profile_data["ent_uai/shared"]',
      'profile_field["ent_uai"]',
    ]);
  });

  it('a run of both establishments keeps the shared ones', () => {
    const { leftOut } = scopeChanges([change('user', 'shared')], ['0450002B', '0450003C'], STATE, DESIRED);
    expect(leftOut).toEqual([]);
  });
});
