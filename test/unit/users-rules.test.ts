import { describe, expect, it } from 'vitest';
import { UserError } from '../../src/errors.js';
import { desiredUsers, failOnSkipped } from '../../src/rules/users.js';
import { MOODLE_CONSTRAINTS, person, rulesFor, userSpec } from '../helpers/builders.js';

describe('desired users', () => {
  it('maps entries to Moodle values, sorted by key, with the auth plugin', () => {
    const rules = rulesFor(userSpec());
    const { users, skipped } = desiredUsers([person('B2'), person('A1')], rules, MOODLE_CONSTRAINTS);
    expect(skipped).toEqual([]);
    expect(users.map((u) => u.key)).toEqual(['a1', 'b2']);
    expect(users[0]?.values).toEqual({
      auth: 'cas',
      username: 'a1',
      idnumber: 'A1',
      firstname: 'Given',
      lastname: 'SnA1',
      email: 'a1@ent.example',
    });
    expect(users[0]?.dn).toBe('uid=A1,ou=people,dc=ent,dc=example');
    expect(users[0]?.sourceDigest).toMatch(/^sha256:[0-9a-f]{64}$/);
  });

  it('digests only the attributes the rules read', () => {
    const rules = rulesFor(userSpec());
    const [a] = desiredUsers([person('A1')], rules, MOODLE_CONSTRAINTS).users;
    const [b] = desiredUsers([person('A1', { telephoneNumber: '0102' })], rules, MOODLE_CONSTRAINTS).users;
    const [c] = desiredUsers([person('A1', { sn: 'Other' })], rules, MOODLE_CONSTRAINTS).users;
    expect(a?.sourceDigest).toBe(b?.sourceDigest);
    expect(a?.sourceDigest).not.toBe(c?.sourceDigest);
  });

  it('lets optional fields be empty but not required ones', () => {
    const rules = rulesFor(userSpec());
    const noMail = person('A1', {});
    delete (noMail.attributes as Record<string, string[]>).mail;
    const noName = person('B2', {});
    delete (noName.attributes as Record<string, string[]>).sn;
    const { users, skipped } = desiredUsers([noMail, noName], rules, MOODLE_CONSTRAINTS);
    expect(users.map((u) => [u.key, u.values.email])).toEqual([['a1', '']]);
    expect(skipped).toEqual([
      {
        entity: 'user',
        dn: 'uid=B2,ou=people,dc=ent,dc=example',
        reason: 'lastname is empty (template "{sn}", from sn)',
      },
    ]);
  });

  it('refuses values longer than their Moodle column, counted in characters', () => {
    const rules = rulesFor(userSpec());
    const ok = person('A1', { sn: 'É'.repeat(100) });
    const long = person('B2', { sn: 'É'.repeat(101) });
    const { users, skipped } = desiredUsers([ok, long], rules, MOODLE_CONSTRAINTS);
    expect(users.map((u) => u.key)).toEqual(['a1']);
    expect(skipped[0]?.reason).toBe(
      "lastname is 101 characters long, more than the 100 of Moodle's user.lastname column",
    );
  });

  it('lower-cases usernames and refuses characters Moodle would reject', () => {
    const rules = rulesFor(userSpec());
    const { users, skipped } = desiredUsers([person('Jean.Dupont'), person('jean dupont')], rules, MOODLE_CONSTRAINTS);
    expect(users.map((u) => u.key)).toEqual(['jean.dupont']);
    expect(skipped[0]?.reason).toContain('username "jean dupont" has characters Moodle refuses');
    const extended = desiredUsers([person('jean dupont')], rules, {
      ...MOODLE_CONSTRAINTS,
      extendedUsernameChars: true,
    });
    expect(extended.users.map((u) => u.key)).toEqual(['jean dupont']);
  });

  it('rejects every entry of a pair that claims the same account', () => {
    const rules = rulesFor(userSpec());
    const a = person('X1');
    const b = { ...person('x1'), dn: 'uid=x1,ou=other,dc=ent,dc=example' };
    const { users, skipped } = desiredUsers([a, b, person('Y1')], rules, MOODLE_CONSTRAINTS);
    expect(users.map((u) => u.key)).toEqual(['y1']);
    expect(skipped.map((s) => `${s.dn}: ${s.reason}`)).toEqual([
      'uid=X1,ou=people,dc=ent,dc=example: username "x1" is also produced by uid=x1,ou=other,dc=ent,dc=example',
      'uid=x1,ou=other,dc=ent,dc=example: username "x1" is also produced by uid=X1,ou=people,dc=ent,dc=example',
    ]);
  });

  it('matching by idnumber keys on it and still refuses duplicate usernames', () => {
    const rules = rulesFor(userSpec({ match: 'idnumber' }));
    const a = person('A1', { uid: 'same' });
    const b = person('B2', { uid: 'same' });
    const { users, skipped } = desiredUsers([a, b, person('C3')], rules, MOODLE_CONSTRAINTS);
    expect(users.map((u) => u.key)).toEqual(['C3']);
    expect(skipped).toHaveLength(2);
    expect(skipped[0]?.reason).toContain('username "same" is also produced by');
  });

  it('fails with every skipped entry when the spec says so', () => {
    let caught: unknown;
    try {
      failOnSkipped([
        { entity: 'user', dn: 'uid=a', reason: 'r1' },
        { entity: 'user', dn: 'uid=b', reason: 'r2' },
      ]);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(UserError);
    expect((caught as UserError).code).toBe('ENTRY_INVALID');
    expect((caught as UserError).diagnostics.map((d) => `${d.dn}: ${d.message}`)).toEqual(['uid=a: r1', 'uid=b: r2']);
    expect(() => failOnSkipped([])).not.toThrow();
  });

  it('reports template errors at their spec path', () => {
    const spec = userSpec();
    const broken = {
      ...spec,
      users: { ...spec.users, fields: { ...spec.users.fields, firstname: '{givenName|nope}' } },
    };
    let caught: unknown;
    try {
      rulesFor(broken);
    } catch (error) {
      caught = error;
    }
    expect((caught as UserError).code).toBe('SPEC_INVALID');
    expect((caught as UserError).diagnostics[0]?.path).toBe('/users/fields/firstname');
    expect((caught as UserError).diagnostics[0]?.message).toContain('unknown filter "nope"');
  });
});
