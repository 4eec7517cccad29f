import { describe, expect, it } from 'vitest';
import type { Change } from '../../src/model/change.js';
import type { State } from '../../src/model/state.js';
import { holdTroubled } from '../../src/plan/hold.js';
import { change } from '../helpers/sample-plan.js';

const DN = 'ou=0281000K,ou=structures,dc=ent,dc=example';
const state: State = {
  format_version: 1,
  serial: 1,
  lineage: 'l',
  tool_version: 't',
  spec_hash: 'h',
  objects: [
    {
      address: 'cohort_enrol["0281000K-VIE/0281000K-ELV/student"]',
      type: 'cohort_enrol',
      key: '0281000K-VIE/0281000K-ELV/student',
      id: 7,
      source_digest: 'd',
      values: { status: 0 },
      dn: DN,
    },
  ],
};

describe('holdTroubled', () => {
  it('holds what follows from a held object: the role removals of a method whose disabling is held', () => {
    const disable = change({
      entity: 'cohort_enrol',
      action: 'suspend',
      key: '0281000K-VIE/0281000K-ELV/student',
      before: { status: 0 },
      after: { status: 1 },
    });
    const roleRemoval = change({
      entity: 'cohort_enrolment',
      action: 'update',
      key: '0281000K-VIE/0281000K-ELV/student/f451000h',
      refs: { method: { entity: 'cohort_enrol', key: '0281000K-VIE/0281000K-ELV/student' } },
      before: { role: 'student' },
      after: { role: '' },
    });
    const other = change({ entity: 'user', action: 'update', key: 'f4500111', after: { email: 'x@ent.example' } });
    const out = holdTroubled([disable, roleRemoval, other] as Change[], {
      troubled: [],
      leftOut: [{ entity: 'cohort_enrol', dn: DN, reason: 'the structure has no classes' }],
      state,
      users: [],
      inMoodle: () => true,
    });
    expect(out.map((c) => c.action)).toEqual(['held', 'held', 'update']);
    expect(out[1]?.reason).toContain('the structure has no classes');
    expect(out[1]?.dn).toBe(DN);
  });
});
