import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { Change } from '../../src/model/change.js';
import { addressOf } from '../../src/model/change.js';
import type { Plan } from '../../src/model/plan.js';
import { JsonPlanView } from '../../src/render/json.js';
import { DEFAULT_REDACT_SALT, pseudonym, redactPlan, redactSaltFrom } from '../../src/render/redact.js';
import { samplePlan } from '../helpers/sample-plan.js';

const PERSONAL = [
  'f4500111',
  'f4500122',
  'f4500133',
  'f4500155',
  'F4500166',
  'F4500177',
  'f4500188',
  'Éloïse',
  'MARTIN-DUBOIS',
  'eloise.martin-dubois',
  'old@',
  'new@',
  'Durand',
  'jean dupont',
];

const expected = (value: string, salt = DEFAULT_REDACT_SALT) =>
  `u-${createHash('sha256')
    .update(salt + value)
    .digest('hex')
    .slice(0, 8)}`;

describe('redactPlan', () => {
  const redacted = redactPlan(samplePlan);
  const users = redacted.changes.filter((c) => c.entity === 'user');

  it('pseudonyms are u- and 8 hex characters of sha256(salt + value), stable, salt-dependent', () => {
    expect(pseudonym('f4500111')).toBe(expected('f4500111'));
    expect(pseudonym('f4500111')).toMatch(/^u-[0-9a-f]{8}$/);
    expect(pseudonym('f4500111', 'other')).toBe(expected('f4500111', 'other'));
    expect(pseudonym('f4500111', 'other')).not.toBe(pseudonym('f4500111'));
    expect(redactPlan(samplePlan)).toEqual(redacted);
    expect(redactPlan(samplePlan, 'site-secret').changes[1]?.key).toBe(expected('f4500111', 'site-secret'));
    expect(redactSaltFrom({ L2M_REDACT_SALT: 'site-secret' })).toBe('site-secret');
    expect(redactSaltFrom({ L2M_REDACT_SALT: '' })).toBeUndefined();
    expect(redactSaltFrom({})).toBeUndefined();
  });

  it('leaves no personal value anywhere, in the plan or its JSON rendering', () => {
    const json = new JsonPlanView('0.1.0').render(redacted, { source: 's', target: 't' });
    for (const value of PERSONAL) {
      expect(JSON.stringify(redacted)).not.toContain(value);
      expect(json).not.toContain(value);
    }
    // The input is not touched (pure).
    expect(samplePlan.changes[1]?.key).toBe('f4500111');
  });

  it('keeps counts, actions, ids, entities and the non-personal values', () => {
    expect(redacted.changes.map((c) => `${c.entity} ${c.action} ${c.moodleId}`)).toEqual(
      samplePlan.changes.map((c) => `${c.entity} ${c.action} ${c.moodleId}`),
    );
    expect(redacted.skipped).toHaveLength(samplePlan.skipped.length);
    expect(redacted.warnings).toHaveLength(samplePlan.warnings.length);
    expect(redacted.desiredCounts).toEqual(samplePlan.desiredCounts);
    expect(redacted.purgeNeeded).toBe(true);
    expect(users[0]?.after).toMatchObject({ auth: 'cas' });
    expect(users[1]?.before).toEqual({ auth: 'manual' });
    expect(users[3]?.after).toEqual({ suspended: 1 });
    // Category, cohort and profile field names and idnumbers are not personal.
    expect(redacted.changes[0]).toEqual(samplePlan.changes[0]);
    expect(redacted.changes.find((c) => c.entity === 'cohort')).toEqual(
      samplePlan.changes.find((c) => c.entity === 'cohort'),
    );
    expect(redacted.changes.find((c) => c.entity === 'profile_data')?.after).toEqual({ data: '6EME2' });
    expect(redacted.warnings[0]).toBe('the auth plugin "cas" is not enabled in Moodle');
  });

  it('pseudonymises user fields, keeping the e-mail domain; one person has one pseudonym everywhere', () => {
    const p = expected('f4500111');
    expect(users[0]).toMatchObject({
      key: p,
      address: `user["${p}"]`,
      dn: `uid=${p},ou=people,dc=ent,dc=example`,
      after: {
        username: p,
        firstname: expected('Éloïse'),
        lastname: expected('MARTIN-DUBOIS'),
        email: `${expected('eloise.martin-dubois@ent.example')}@ent.example`,
      },
    });
    expect(users[2]?.before).toEqual({
      email: `${expected('old@ent.example')}@ent.example`,
      lastname: expected('Durand'),
    });
    const member = redacted.changes.find((c) => c.entity === 'cohort_member' && c.action === 'create');
    expect(member).toMatchObject({
      key: `0450001A-6EME1/${p}`,
      address: `cohort_member["0450001A-6EME1/${p}"]`,
      after: { cohort: '0450001A-6EME1', user: p },
      refs: { cohort: { entity: 'cohort', key: '0450001A-6EME1' }, user: { entity: 'user', key: p } },
    });
    const gone = redacted.changes.find((c) => c.entity === 'cohort_member' && c.action === 'delete');
    expect(gone?.address).toBe(`cohort_member["0450001A-6EME2/${expected('f4500133')}"]`);
    expect(gone?.before).toEqual({ cohort: '0450001A-6EME2', user: expected('f4500133') });
    const data = redacted.changes.find((c) => c.entity === 'profile_data');
    expect(data).toMatchObject({
      address: `profile_data["ent_classes/${expected('f4500133')}"]`,
      refs: { field: { entity: 'profile_field', key: 'ent_classes' }, user: { key: expected('f4500133') } },
    });
  });

  it('redacts skipped DNs, values quoted in their reasons, and addresses in warnings', () => {
    expect(redacted.skipped[0]).toEqual({
      entity: 'user',
      dn: `uid=${expected('F4500166')},ou=people,dc=ent,dc=example`,
      reason: 'lastname is empty (template "{sn}", from sn)',
    });
    expect(redacted.skipped[1]?.reason).toMatch(
      new RegExp(`^username "${expected('jean dupont')}" has characters Moodle refuses`),
    );
    // The same person's DN in a change and in a skipped entry: the same redacted DN.
    expect(redacted.skipped[2]).toMatchObject({ dn: users[0]?.dn, kind: 'data' });
    expect(redacted.warnings[1]).toBe(
      `user["${expected('f4500188')}"]: Moodle user id 18 was deleted outside ldap2moodle; it will be forgotten`,
    );
  });

  it('replaces known values quoted in warnings and reasons, as whole words only', () => {
    const plan: Plan = {
      ...samplePlan,
      skipped: [
        {
          entity: 'user',
          dn: 'uid=dup1,ou=people,dc=ent,dc=example',
          reason: 'username "dup" is also produced by uid=dup2,ou=people,dc=ent,dc=example',
        },
        {
          entity: 'user',
          dn: 'uid=dup2,ou=people,dc=ent,dc=example',
          reason: 'username "dup" is also produced by uid=dup1,ou=people,dc=ent,dc=example',
        },
        { entity: 'cohort', dn: 'ou=0450001A,ou=structures,dc=ent,dc=example', reason: 'no name' },
      ],
      warnings: ['Éloïse MARTIN-DUBOIS (f4500111) has the e-mail eloise.martin-dubois@ent.example; Durandal stays'],
    };
    const out = redactPlan(plan);
    expect(out.skipped[0]?.reason).toBe(
      `username "${expected('dup')}" is also produced by uid=${expected('dup2')},ou=people,dc=ent,dc=example`,
    );
    expect(out.skipped[1]?.dn).toBe(`uid=${expected('dup2')},ou=people,dc=ent,dc=example`);
    // A structure's DN names no one.
    expect(out.skipped[2]?.dn).toBe('ou=0450001A,ou=structures,dc=ent,dc=example');
    expect(out.warnings[0]).toBe(
      `${expected('Éloïse')} ${expected('MARTIN-DUBOIS')} (${expected('f4500111')}) has the e-mail ` +
        `${expected('eloise.martin-dubois@ent.example')}@ent.example; Durandal stays`,
    );
  });

  it('keeps empty values empty and an escaped comma inside the first RDN', () => {
    const plan: Plan = {
      changes: [
        {
          entity: 'user',
          address: 'user["x"]',
          action: 'update',
          key: 'x',
          moodleId: 1,
          dn: 'cn=Dupont\\, Jean,ou=people,dc=ent',
          before: { email: 'a@b.example', middlename: '' },
          after: { email: '', middlename: 'Marie' },
          sourceDigest: null,
          reason: 'r',
        },
      ],
      skipped: [],
      warnings: [],
      desiredCounts: {},
      purgeNeeded: false,
    };
    const [c] = redactPlan(plan).changes;
    expect(c?.dn).toBe(`cn=${expected('Dupont\\, Jean')},ou=people,dc=ent`);
    expect(c?.before).toEqual({ email: `${expected('a@b.example')}@b.example`, middlename: '' });
    expect(c?.after).toEqual({ email: '', middlename: expected('Marie') });
  });
});

/** How plan/references.ts ends the reason of an object naming something that does not exist. */
const DANGLING = 'is neither produced by the rules nor in Moodle; it is left out';

describe('redactPlan on the DNs of objects made from people, and people named in reasons', () => {
  const made = (entity: Change['entity'], key: string, dn: string): Change => ({
    entity,
    address: addressOf(entity, key),
    action: 'create',
    key,
    moodleId: null,
    dn,
    before: null,
    after: { idnumber: key },
    sourceDigest: 'd',
    reason: 'in the directory, not in Moodle',
  });
  const person = 'uid=F4500111,ou=people,dc=ent,dc=example';
  const structure = 'ENTStructureSIREN=19450001400015,ou=structures,dc=ent,dc=example';
  const plan: Plan = {
    changes: [
      made('user', 'f4500111', person),
      made('cohort', '0450001A-6EME1', person),
      made('course', '0450001A-6EME1-020700', person),
      made('category', '0450001A', structure),
      made('role', 'parent', ''),
    ],
    skipped: [
      {
        entity: 'role_assignment',
        dn: person,
        reason: 'person "uid=F4500990,ou=people,dc=ent,dc=example" is not in the directory',
        kind: 'data',
      },
      { entity: 'role_assignment', dn: person, reason: 'person "8200990" is not in the directory', kind: 'data' },
      {
        entity: 'role_assignment',
        dn: 'uid=F4500221,ou=people,dc=ent,dc=example',
        reason: 'person "uid=F45001mm,ou=people,dc=ent,dc=example" is not a student (profiles teacher)',
        kind: 'data',
      },
      {
        entity: 'user',
        dn: 'uid=ENT\\\\lmoulin,ou=people,dc=ent,dc=example',
        reason: 'username "ent\\lmoulin" has characters Moodle refuses (allowed: a-z 0-9 _ - @ .)',
      },
      {
        entity: 'user',
        dn: 'uid=o\\"brien,ou=people,dc=ent,dc=example',
        reason: 'username "o"brien" has characters Moodle refuses (allowed: a-z 0-9 _ - @ .)',
      },
      { entity: 'user', dn: structure, reason: 'not a person' },
      {
        entity: 'enrolment',
        dn: person,
        reason: `enrolment "MATHS/f45001nn": its course "MATHS" ${DANGLING}`,
        kind: 'data',
      },
      {
        entity: 'role_assignment',
        dn: person,
        reason: `role_assignment "user:f45001dd/parent/f45001zz": its target user "f45001dd" ${DANGLING}`,
        kind: 'data',
      },
    ],
    warnings: [],
    desiredCounts: {},
    purgeNeeded: false,
  };
  const redacted = redactPlan(plan);

  it('redacts every change’s DN by one rule: the same person, the same DN; a structure’s DN stays', () => {
    const dn = `uid=${expected('F4500111')},ou=people,dc=ent,dc=example`;
    expect(redacted.changes.map((c) => c.dn)).toEqual([dn, dn, dn, structure, '']);
    expect(redacted.skipped[5]?.dn).toBe(structure);
    // Their keys and values are not personal.
    expect(redacted.changes.slice(1).map((c) => c.address)).toEqual(plan.changes.slice(1).map((c) => c.address));
  });

  it('pseudonymises the people a reason names (by DN, join key or user key) and values holding a backslash or a quote', () => {
    expect(redacted.skipped.map((s) => s.reason)).toEqual([
      `person "uid=${expected('F4500990')},ou=people,dc=ent,dc=example" is not in the directory`,
      `person "${expected('8200990')}" is not in the directory`,
      `person "uid=${expected('F45001mm')},ou=people,dc=ent,dc=example" is not a student (profiles teacher)`,
      `username "${expected('ent\\lmoulin')}" has characters Moodle refuses (allowed: a-z 0-9 _ - @ .)`,
      `username "${expected('o"brien')}" has characters Moodle refuses (allowed: a-z 0-9 _ - @ .)`,
      'not a person',
      `enrolment "MATHS/${expected('f45001nn')}": its course "MATHS" ${DANGLING}`,
      `role_assignment "user:${expected('f45001dd')}/parent/${expected('f45001zz')}": its target user "${expected('f45001dd')}" ${DANGLING}`,
    ]);
    const text = JSON.stringify(redacted);
    for (const value of ['F4500111', 'F4500990', '8200990', 'F45001mm', 'lmoulin', 'brien', 'f45001nn', 'f45001dd']) {
      expect(text).not.toContain(value);
    }
  });
});

describe('redactPlan on course-side changes', () => {
  const change = (entity: Change['entity'], key: string, after: Change['after'], refs: Change['refs']): Change => ({
    entity,
    address: addressOf(entity, key),
    action: 'create',
    key,
    moodleId: null,
    dn: 'uid=F4500111,ou=people,dc=ent,dc=example',
    before: null,
    after,
    refs,
    sourceDigest: 'd',
    reason: `in the directory (${addressOf(entity, key)})`,
  });
  const plan: Plan = {
    changes: [
      change(
        'enrolment',
        'MATHS/f4500111',
        { course: 'MATHS', user: 'f4500111', role: 'student' },
        {
          course: { entity: 'course', key: 'MATHS' },
          user: { entity: 'user', key: 'f4500111' },
        },
      ),
      change(
        'cohort_enrolment',
        'MATHS/0450001A-6EME1/student/f4500111',
        { method: 'MATHS/0450001A-6EME1/student', user: 'f4500111', role: 'student', group: '' },
        {
          user: { entity: 'user', key: 'f4500111' },
        },
      ),
      change(
        'group_member',
        'MATHS/0450001A-6EME1/f4500111',
        { group: 'MATHS/0450001A-6EME1', user: 'f4500111' },
        {
          user: { entity: 'user', key: 'f4500111' },
        },
      ),
      change(
        'role_assignment',
        'user:f4500122/parent/f4500133',
        { context: 'user:f4500122', role: 'parent', user: 'f4500133' },
        {
          user: { entity: 'user', key: 'f4500133' },
          target: { entity: 'user', key: 'f4500122' },
        },
      ),
    ],
    skipped: [],
    warnings: [],
    desiredCounts: {},
    purgeNeeded: false,
  };

  it('pseudonymises the user in every key, value, ref, DN and reason, and keeps courses, groups, roles', () => {
    const redacted = redactPlan(plan);
    const text = JSON.stringify(redacted);
    for (const value of ['f4500111', 'f4500122', 'f4500133', 'F4500111']) expect(text).not.toContain(value);
    expect(redacted.changes.map((c) => c.key)).toEqual([
      `MATHS/${expected('f4500111')}`,
      `MATHS/0450001A-6EME1/student/${expected('f4500111')}`,
      `MATHS/0450001A-6EME1/${expected('f4500111')}`,
      `user:${expected('f4500122')}/parent/${expected('f4500133')}`,
    ]);
    expect(redacted.changes[3]?.after).toEqual({
      context: `user:${expected('f4500122')}`,
      role: 'parent',
      user: expected('f4500133'),
    });
    expect(redacted.changes[0]?.reason).toBe(`in the directory (enrolment["MATHS/${expected('f4500111')}"])`);
  });
});
