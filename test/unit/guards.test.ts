/**
 * The safety guards, pure: per-entity limits (count = always allowed, percent of the managed), every guard at
 * once with its own code, allowances per entity, the `--allow-removals` syntax, and the refusal's wording.
 */
import { describe, expect, it } from 'vitest';
import { CATALOG } from '../../src/entities/catalog.js';
import type { Change, ChangeAction, EntityType } from '../../src/model/change.js';
import type { Plan } from '../../src/model/plan.js';
import type { StateObject } from '../../src/model/state.js';
import {
  allowanceToLift,
  checkGuards,
  formatAllowRemovals,
  GUARD_NAMES,
  mergeAllowances,
  parseAllowRemovals,
  refusalOf,
  removalLimits,
} from '../../src/plan/guards.js';
import { specSchema } from '../../src/spec/schema.js';

const change = (entity: EntityType, action: ChangeAction, i: number): Change =>
  ({
    entity,
    action,
    address: `${entity}["${i}"]`,
    key: String(i),
    moodleId: i,
    dn: null,
    before: null,
    after: {},
    reason: '',
  }) as unknown as Change;

const managed = (type: EntityType, n: number): StateObject[] =>
  Array.from({ length: n }, (_, i) => ({ type, key: String(i) }) as unknown as StateObject);

function planOf(changes: readonly Change[], desiredCounts: Plan['desiredCounts'] = {}): Plan {
  return { changes, skipped: [], warnings: [], desiredCounts, purgeNeeded: false };
}

const many = (entity: EntityType, action: ChangeAction, n: number): Change[] =>
  Array.from({ length: n }, (_, i) => change(entity, action, i));

const defaults = removalLimits(undefined);

describe('removal limits', () => {
  it('come from the catalogue, under the spec default, under the spec entry of the entity', () => {
    expect(defaults.get('user')).toEqual(CATALOG.user.removals.limit);
    const limits = removalLimits({ default: { percent: 7 }, users: { count: 3 } });
    expect(limits.get('user')).toEqual({ count: 3, percent: 7 });
    expect(limits.get('group')).toEqual({ count: CATALOG.group.removals.limit.count, percent: 7 });
  });

  it('the spec schema names exactly the guarded entities, plus default', () => {
    const names = Object.keys(specSchema.properties.guards.properties.maxRemovals.properties);
    expect(names.sort()).toEqual(['default', ...GUARD_NAMES.keys()].sort());
  });

  it('refuse only over the count and over the percent of the managed objects', () => {
    const users = managed('user', 1000);
    const check = (n: number) =>
      checkGuards(planOf(many('user', 'suspend', n)), {
        sourceEntries: 1,
        managed: users,
        limits: new Map([['user', { count: 10, percent: 2 }]]),
        allowance: {},
      }).violations.map((v) => v.code);
    expect(check(10)).toEqual([]);
    expect(check(20)).toEqual([]); // over the count, 2 % of 1000
    expect(check(21)).toEqual(['GUARD_USERS_REMOVALS']);
  });
});

describe('checkGuards', () => {
  // A broken source: no people, 30 of 40 users suspended, 300 cohort enrolments of 500 removed.
  const plan = planOf([...many('user', 'suspend', 30), ...many('cohort_enrolment', 'delete', 300)], {
    cohort_enrolment: 200,
  });
  const inputs = { sourceEntries: 0, managed: managed('user', 40), limits: defaults, allowance: {} };

  it('lists every guard at once, each with its code, figures and the option that allows it', () => {
    const guards = checkGuards(plan, inputs);
    expect(guards.violations.map((v) => [v.code, v.removals, v.managed, v.allow])).toEqual([
      ['GUARD_EMPTY_SOURCE', 40, 40, '--allow-empty-source'],
      ['GUARD_USERS_REMOVALS', 30, 40, '--allow-removals users=30'],
      ['GUARD_COHORT_ENROLMENTS_REMOVALS', 300, 500, '--allow-removals cohort_enrolments=300'],
    ]);
    const refusal = refusalOf(guards);
    expect(refusal.message).toBe(
      'the plan is refused by 3 safety guards (GUARD_EMPTY_SOURCE, GUARD_USERS_REMOVALS, ' +
        'GUARD_COHORT_ENROLMENTS_REMOVALS); nothing is applied. Check the plan, then, if it is right, run again with ' +
        '--allow-removals users=30,cohort_enrolments=300 --allow-empty-source',
    );
    expect(refusal.diagnostics.map((d) => d.code)).toEqual(guards.violations.map((v) => v.code));
  });

  it('per-entity allowances lift their entity only; a bare number every entity', () => {
    const users = checkGuards(plan, { ...inputs, allowance: { emptySource: true, entities: { user: 30 } } });
    expect(users.violations.map((v) => v.code)).toEqual(['GUARD_COHORT_ENROLMENTS_REMOVALS']);
    const short = checkGuards(plan, { ...inputs, allowance: { emptySource: true, all: 29 } });
    expect(short.violations.map((v) => [v.code, v.allowed])).toEqual([
      ['GUARD_USERS_REMOVALS', 29],
      ['GUARD_COHORT_ENROLMENTS_REMOVALS', 29],
    ]);
    expect(short.violations[0]?.message).toContain('and more than the 29 allowed by --allow-removals');
    const lifted = allowanceToLift(short);
    expect(formatAllowRemovals(lifted)).toBe('29,users=30,cohort_enrolments=300');
    expect(checkGuards(plan, { ...inputs, allowance: lifted }).violations).toEqual([]);
  });
});

describe('--allow-removals', () => {
  it('parses N, entity=N lists and both', () => {
    expect(parseAllowRemovals('194')).toEqual({ all: 194 });
    expect(parseAllowRemovals('users=200,cohort_enrolments=2000')).toEqual({
      entities: { user: 200, cohort_enrolment: 2000 },
    });
    expect(parseAllowRemovals('50, users=200')).toEqual({ all: 50, entities: { user: 200 } });
    expect(formatAllowRemovals(parseAllowRemovals('users=200,50'))).toBe('50,users=200');
  });

  it.each([
    ['user=3', '"user" is not an entity with a removal guard'],
    ['users=-1', 'users must be a whole number ≥ 0, not "-1"'],
    ['users=3,users=4', 'users is given twice'],
    ['1,2', 'a bare number is given twice'],
    ['', 'the number must be a whole number ≥ 0, not ""'],
  ])('refuses %j: %s', (text, why) => {
    expect(() => parseAllowRemovals(text)).toThrow(`--allow-removals ${text}: ${why}`);
    expect(() => parseAllowRemovals(text)).toThrow(/entity one of users, .*cohort_enrolments/);
  });

  it('merges a saved plan allowance with the one given to apply: the larger of each', () => {
    expect(
      mergeAllowances({ all: 5, entities: { user: 10 } }, { entities: { user: 3, group: 4 }, emptySource: true }),
    ).toEqual({ all: 5, entities: { user: 10, group: 4 }, emptySource: true });
  });
});
