/**
 * A plan of a few hundred thousand changes (a 50,000-person directory's cohort enrolments) is computed like
 * any other: nothing on the way passes the changes as call arguments (a spread of that many overflows the
 * stack, which the benchmark at 50,000 people once hit).
 */
import { describe, expect, it } from 'vitest';
import type { EntityReading } from '../../src/entities/reading.js';
import type { Change } from '../../src/model/change.js';
import { addressOf } from '../../src/model/change.js';
import type { CurrentIndex } from '../../src/model/current.js';
import type { DesiredObject } from '../../src/model/desired.js';
import { EMPTY_STATE } from '../../src/model/state.js';
import { computePlan } from '../../src/plan/plan.js';

const COUNT = 300_000;

/** A reading whose diff creates every desired object (the entity's own diff is tested elsewhere). */
function creatingReading(): EntityReading {
  return {
    type: 'cohort_enrolment',
    rows: 0,
    ids: new Map(),
    keys: new Map(),
    digestFor: () => '',
    diff: (desired) => ({
      changes: desired.map(
        (d): Change => ({
          entity: 'cohort_enrolment',
          address: addressOf('cohort_enrolment', d.key),
          action: 'create',
          key: d.key,
          moodleId: null,
          dn: d.dn,
          before: null,
          after: d.values,
          sourceDigest: d.sourceDigest,
          reason: 'in the directory, not in Moodle',
        }),
      ),
      conflicts: [],
      warnings: [],
    }),
    recheck: async () => [],
    write: async () => undefined,
  };
}

describe('a very large plan', () => {
  it(`computes ${COUNT.toLocaleString('en')} changes of one entity`, () => {
    const desired: DesiredObject[] = Array.from({ length: COUNT }, (_, i) => ({
      key: `M/u${i}`,
      dn: `uid=u${i}`,
      values: { method: 'M', user: `u${i}` },
      sourceDigest: '',
    }));
    const index: CurrentIndex = { id: () => undefined, key: () => undefined, ids: () => [] };
    const plan = computePlan({
      desired: new Map([['cohort_enrolment', desired]]),
      readings: [creatingReading()],
      index,
      state: EMPTY_STATE,
      skipped: [],
    });
    expect(plan.changes).toHaveLength(COUNT);
    expect(plan.changes.at(-1)?.key).toBe(`M/u${COUNT - 1}`);
  });
});
