import { describe, expect, it } from 'vitest';
import type { UserDiffOptions } from '../../src/entities/user.js';
import { diffUsers } from '../../src/entities/user.js';
import type { StateObject } from '../../src/model/state.js';
import type { MoodleUserRow } from '../../src/moodle/read-users.js';
import { desiredUsers } from '../../src/rules/users.js';
import { MOODLE_CONSTRAINTS, moodleUser, person, rulesFor, userSpec } from '../helpers/builders.js';

const GUEST = moodleUser(1, 'guest');
const ADMIN = moodleUser(2, 'admin');

function options(over: Partial<UserDiffOptions> = {}): UserDiffOptions {
  return {
    match: 'username',
    adopt: 'never',
    onRemoved: 'suspend',
    protectedIds: new Set([1, 2]),
    ...over,
  };
}

function managed(id: number, key: string, over: Partial<StateObject> = {}): StateObject {
  return { address: `user["${key}"]`, type: 'user', id, key, source_digest: 'sha256:x', values: {}, ...over };
}

/** A Moodle row exactly as the tool would have written person(uid). */
function written(id: number, uid: string, over: Partial<MoodleUserRow> = {}): MoodleUserRow {
  return moodleUser(id, uid.toLowerCase(), {
    auth: 'cas',
    idnumber: uid,
    firstname: 'Given',
    lastname: `Sn${uid}`,
    email: `${uid.toLowerCase()}@ent.example`,
    ...over,
  });
}

function diff(entries: ReturnType<typeof person>[], current: MoodleUserRow[], state: StateObject[], opts = options()) {
  const desired = desiredUsers(entries, rulesFor(userSpec({ match: opts.match })), MOODLE_CONSTRAINTS).users;
  const index = { id: () => undefined, key: () => undefined, ids: () => [] };
  return diffUsers(
    {
      desired,
      current: [GUEST, ADMIN, ...current],
      managed: state,
      index,
      owned: () => false,
      wanted: () => true,
      products: {},
    },
    opts,
  );
}

describe('user diff', () => {
  it('creates users missing from Moodle, with every managed value', () => {
    const result = diff([person('A1')], [], []);
    expect(result.conflicts).toEqual([]);
    expect(result.changes).toEqual([
      {
        entity: 'user',
        address: 'user["a1"]',
        action: 'create',
        key: 'a1',
        moodleId: null,
        dn: 'uid=A1,ou=people,dc=ent,dc=example',
        before: null,
        after: {
          auth: 'cas',
          username: 'a1',
          idnumber: 'A1',
          firstname: 'Given',
          lastname: 'SnA1',
          email: 'a1@ent.example',
        },
        sourceDigest: expect.stringMatching(/^sha256:/),
        reason: 'in the directory, not in Moodle',
      },
    ]);
  });

  it('plans nothing when a managed user already matches', () => {
    const result = diff([person('A1')], [written(10, 'A1')], [managed(10, 'a1')]);
    expect(result).toEqual({ changes: [], conflicts: [], warnings: [], skipped: [] });
  });

  it('updates only the managed columns that differ', () => {
    const row = written(10, 'A1', { email: 'old@example.org', city: 'Orléans' });
    const result = diff([person('A1')], [row], [managed(10, 'a1')]);
    expect(result.changes.map((c) => [c.action, c.moodleId, c.before, c.after])).toEqual([
      ['update', 10, { email: 'old@example.org' }, { email: 'a1@ent.example' }],
    ]);
  });

  it('treats NULL and empty as equal', () => {
    const fields = { ...userSpec().users.fields, middlename: '{middleName|default("")}' };
    const desired = desiredUsers([person('A1')], rulesFor(userSpec({ fields })), MOODLE_CONSTRAINTS).users;
    expect(desired[0]?.values.middlename).toBe('');
    const index = { id: () => undefined, key: () => undefined, ids: () => [] };
    const current = [GUEST, ADMIN, written(10, 'A1', { middlename: null })];
    const result = diffUsers(
      { desired, current, managed: [managed(10, 'a1')], index, owned: () => false, wanted: () => true, products: {} },
      options(),
    );
    expect(result.changes).toEqual([]);
  });

  it('refuses to take over an unmanaged account unless adopt is "matching"', () => {
    const row = written(10, 'A1', { auth: 'manual' });
    const refused = diff([person('A1')], [row], []);
    expect(refused.changes).toEqual([]);
    expect(refused.conflicts[0]?.dn).toBe('uid=A1,ou=people,dc=ent,dc=example');
    expect(refused.conflicts[0]?.message).toContain(
      'is already used by Moodle user id 10 "a1", which ldap2moodle does not manage',
    );
    const adopted = diff([person('A1')], [row], [], options({ adopt: 'matching' }));
    expect(adopted.changes.map((c) => [c.action, c.moodleId, c.before, c.after])).toEqual([
      ['adopt', 10, { auth: 'manual' }, { auth: 'cas' }],
    ]);
  });

  it('never touches site admins or the guest: the entry is left out with its DN, the rest goes on', () => {
    const result = diff([person('admin'), person('A1')], [], [], options({ adopt: 'matching' }));
    expect(result.changes.map((c) => c.address)).toEqual(['user["a1"]']);
    expect(result.conflicts).toEqual([]);
    expect(result.skipped).toEqual([
      {
        entity: 'user',
        dn: 'uid=admin,ou=people,dc=ent,dc=example',
        reason:
          'maps to Moodle user id 2 "admin", a site administrator or the guest account, which ldap2moodle never touches; it is left out',
      },
    ]);
  });

  it('leaves out an entry whose idnumber another Moodle account has, and leaves both accounts as they are', () => {
    // B2 is new, A1 managed and changing its idnumber: another account holds each one's new idnumber.
    const rows = [
      written(20, 'Z9', { idnumber: 'B2' }),
      written(10, 'A1', { firstname: 'Old', idnumber: 'OLD' }),
      written(21, 'Y8', { idnumber: 'A1' }),
    ];
    const result = diff([person('B2'), person('A1')], rows, [managed(10, 'a1')]);
    expect(result.changes).toEqual([]);
    expect(result.conflicts).toEqual([]);
    expect(result.skipped).toEqual([
      {
        entity: 'user',
        dn: 'uid=A1,ou=people,dc=ent,dc=example',
        reason: 'its idnumber is already the idnumber of Moodle user id 21 "y8"; it is left out',
      },
      {
        entity: 'user',
        dn: 'uid=B2,ou=people,dc=ent,dc=example',
        reason: 'its idnumber is already the idnumber of Moodle user id 20 "z9"; it is left out',
      },
    ]);
  });

  it('leaves alone accounts that already share an idnumber (legacy data): only taking one is refused', () => {
    const rows = [written(10, 'A1'), written(21, 'Y8', { idnumber: 'A1' })];
    const result = diff([person('A1')], rows, [managed(10, 'a1')]);
    expect(result.skipped).toEqual([]);
    expect(result.changes).toEqual([]);
  });

  it('reports a deleted row holding the username instead of planning an insert that would fail', () => {
    const result = diff([person('A1')], [written(10, 'A1', { deleted: 1 })], []);
    expect(result.changes).toEqual([]);
    expect(result.conflicts[0]?.message).toContain('belongs to a deleted Moodle user id 10');
  });

  it('suspends managed users who left, once, and keeps them with onRemoved: keep', () => {
    const rows = [written(10, 'A1'), written(11, 'B2', { suspended: 1 })];
    const state = [managed(10, 'a1'), managed(11, 'b2', { suspended_by_tool: true })];
    const result = diff([], rows, state);
    expect(result.changes.map((c) => [c.address, c.action, c.before, c.after])).toEqual([
      ['user["a1"]', 'suspend', { suspended: 0 }, { suspended: 1 }],
    ]);
    expect(diff([], rows, state, options({ onRemoved: 'keep' })).changes).toEqual([]);
  });

  it('applies the onRemoved of the profile each leaver was last synced as', () => {
    const rows = [written(10, 'A1'), written(11, 'B2'), written(12, 'C3')];
    const state = [
      managed(10, 'a1', { profile: 'student' }),
      managed(11, 'b2', { profile: 'parent' }),
      managed(12, 'c3'), // synced before profiles existed: the users' default
    ];
    const byProfile = (profile: string | undefined) => (profile === 'parent' ? 'keep' : 'suspend');
    const result = diff([], rows, state, options({ onRemoved: byProfile }));
    expect(result.changes.map((c) => [c.address, c.action, c.reason])).toEqual([
      ['user["a1"]', 'suspend', 'no longer in the directory (onRemoved: suspend for student)'],
      ['user["c3"]', 'suspend', 'no longer in the directory (onRemoved: suspend)'],
    ]);
  });

  it('unsuspends a returning user the tool suspended, but not one an admin suspended', () => {
    const byTool = diff(
      [person('A1')],
      [written(10, 'A1', { suspended: 1 })],
      [managed(10, 'a1', { suspended_by_tool: true })],
    );
    expect(byTool.changes.map((c) => [c.action, c.before, c.after])).toEqual([
      ['unsuspend', { suspended: 1 }, { suspended: 0 }],
    ]);
    const byAdmin = diff([person('A1')], [written(10, 'A1', { suspended: 1 })], [managed(10, 'a1')]);
    expect(byAdmin.changes).toEqual([]);
  });

  it('forgets managed users deleted by hand, with a warning', () => {
    const result = diff([], [], [managed(99, 'gone')]);
    expect(result.changes).toEqual([]);
    expect(result.warnings).toEqual([
      'user["gone"]: Moodle user id 99 was deleted outside ldap2moodle; it will be forgotten',
    ]);
  });

  it('matches by idnumber, renaming the username, and refuses ambiguous idnumbers', () => {
    const opts = options({ match: 'idnumber' });
    const renamed = diff([person('A1', { uid: 'newname' })], [written(10, 'A1')], [managed(10, 'A1')], opts);
    expect(renamed.changes.map((c) => [c.address, c.action, c.before, c.after])).toEqual([
      ['user["A1"]', 'update', { username: 'a1' }, { username: 'newname' }],
    ]);
    const twice = diff([person('A1')], [written(10, 'A1'), written(11, 'X', { idnumber: 'A1' })], [], opts);
    expect(twice.conflicts[0]?.message).toContain('idnumber "A1" is held by several Moodle users');
    const taken = diff([person('A1', { uid: 'x' })], [written(11, 'X', { idnumber: 'other' })], [], opts);
    expect(taken.conflicts[0]?.message).toContain('username "x" is already taken by Moodle user id 11');
  });

  it('compares usernames as Moodle stores them (lower-case, NFC)', () => {
    const result = diff([person('A1')], [written(10, 'A1', { username: 'A1' })], [managed(10, 'a1')]);
    expect(result.changes.map((c) => [c.action, c.before, c.after])).toEqual([
      ['update', { username: 'A1' }, { username: 'a1' }],
    ]);
  });
});

describe('user diff against the database collation', () => {
  it('reports a username that only differs by accents or trailing spaces from an existing one', () => {
    const result = diff([person('Eloise')], [written(10, 'x', { username: 'éloïse ' })], []);
    expect(result.changes).toEqual([]);
    expect(result.conflicts[0]?.message).toContain('collides with Moodle user id 10 "éloïse "');
  });
});
