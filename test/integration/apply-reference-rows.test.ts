/**
 * The rows `apply` writes, compared column by column with the rows Moodle 4.5's own APIs wrote for the same
 * operations (test/fixtures/moodle/4.5/reference-writes.json): user creation (cas §2, ldap §3), a profile
 * update (§25) and a suspension (§26). Every table of the database is snapshotted around the apply, so a row
 * written anywhere else would show too. The only differences allowed are the values the caller chose
 * (CALLER_COLUMNS), mapped to the reference's own, and the tables the reference lets a writer skip. On every
 * target: the reference was recorded on MariaDB, and PostgreSQL and the embedded Moodle must write the same rows.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type ApplySite, applySite, type Person, people, usernameOf } from '../helpers/apply-specs.js';
import { dropStaleTestDatabases } from '../helpers/mariadb.js';
import {
  compareWrites,
  diffSnapshots,
  installSymbols,
  referenceStep,
  type Snapshot,
  symbolise,
  type Writes,
  withIds,
} from '../helpers/reference-rows.js';
import { TARGETS, type TargetName } from '../helpers/targets.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});
beforeAll(async () => {
  await dropStaleTestDatabases();
});

const T0 = Math.floor(Date.now() / 1000) - 600;
const at = (seconds: number) => () => seconds * 1000;

/** Moodle's rows for the logstore are optional (every step's may_skip says so). */
const SKIPPED = ['logstore_standard_log'];
/** ldap2moodle's own row: the apply marker (checked separately). */
const OWN = ['config_plugins'];

/** Someone whose every caller-chosen value differs from the reference's, accents included. */
const CHOSEN: Person = {
  uid: 'F0000042',
  givenName: 'Éloïse',
  sn: 'MARTIN-DUBOIS',
  mail: 'eloise.martin@ent.example',
  jointure: 'AC-ORLEANS-TOURS$7100042',
};

/** The test's values → the reference user's (as the reference's API call chose them). */
function callerMap(p: Person, theirs: Record<string, string>): Record<string, ReadonlyMap<string, string>> {
  const ours: Record<string, string> = {
    username: usernameOf(p),
    idnumber: p.jointure?.split('$').at(-1) ?? '',
    firstname: p.givenName,
    lastname: p.sn,
    email: p.mail ?? '',
  };
  return Object.fromEntries(
    Object.entries(theirs).map(([column, value]) => [`user.${column}`, new Map([[ours[column] ?? '', value]])]),
  );
}

interface Run {
  readonly s: ApplySite;
  readonly fresh: Snapshot;
}

async function freshSite(
  target: TargetName,
  list: readonly Person[],
  users: Record<string, unknown> = {},
): Promise<Run> {
  const s = await applySite(target, list, users);
  cleanups.push(() => s.remove());
  return { s, fresh: await s.t.snapshot() };
}

/** What `step` wrote in every table, raw. */
async function writesOf(s: ApplySite, step: () => Promise<unknown>): Promise<Writes> {
  const before = await s.t.snapshot();
  await step();
  return diffSnapshots(before, await s.t.snapshot());
}

/** The apply marker, the one row ldap2moodle adds beyond Moodle's: inserted at the first apply, then updated. */
function expectMarkerOnly(writes: Writes, first: boolean): void {
  const marker = writes.config_plugins;
  if (first) {
    expect(marker).toEqual({
      inserted: [{ id: expect.any(String), plugin: 'local_ldap2moodle', name: 'state', value: expect.any(String) }],
    });
  } else {
    expect(marker?.inserted).toBeUndefined();
    expect(marker?.deleted).toBeUndefined();
    expect(marker?.updated?.map((u) => Object.keys(u.changed))).toEqual([['value']]);
    expect(marker?.updated?.[0]?.row).toMatchObject({ plugin: 'local_ldap2moodle', name: 'state' });
  }
}

async function idsOf(s: ApplySite, username: string): Promise<{ user: number; context: number }> {
  const user = await s.userRow(username);
  const context = (await s.userContexts()).find((c) => c.instanceid === user.id);
  if (context === undefined) throw new Error(`no context for ${username}`);
  return { user: Number(user.id), context: Number(context.id) };
}

describe.each(TARGETS)('reference rows on %s', (target) => {
  describe('rows written when creating users, against Moodle’s user_create_user()', () => {
    for (const [auth, stepKey, refUser] of [
      ['cas', 'user_create_cas', 'jdupont'],
      ['ldap', 'user_create_ldap', 'mmartin'],
    ] as const) {
      it(`auth ${auth}: the user row and its context row equal step ${stepKey}, column by column`, async () => {
        const step = referenceStep(stepKey);
        const { s, fresh } = await freshSite(target, [CHOSEN], { auth });
        const writes = await writesOf(s, () => s.apply({ now: at(T0) }));
        const ids = await idsOf(s, usernameOf(CHOSEN));
        const refRow = step.rows.user?.inserted?.[0];
        if (refRow === undefined) throw new Error('the reference step inserts no user');

        let symbolIds = withIds(installSymbols(fresh), 'user', [[ids.user, `<user:${refUser}>`]]);
        symbolIds = withIds(symbolIds, 'context', [[ids.context, `<ctx:user:${refUser}>`]]);
        const theirs = Object.fromEntries(
          ['username', 'idnumber', 'firstname', 'lastname', 'email'].map((c) => [c, String(refRow[c])]),
        );
        const ours = symbolise(writes, { ids: symbolIds, now: [T0], caller: callerMap(CHOSEN, theirs) });

        expect(compareWrites(ours, step.rows, { skipped: SKIPPED, own: OWN })).toEqual([]);
        expectMarkerOnly(writes, true);
        // The comparison really covered the rows: every column of both.
        expect(Object.keys(ours.user?.inserted?.[0] ?? {}).sort()).toEqual(Object.keys(refRow).sort());
        expect(ours.context?.inserted).toEqual(step.rows.context?.inserted);
      });
    }
  });

  describe('rows written when updating and suspending, against Moodle’s user_update_user()', () => {
    it('a lastname and email change: only those columns and timemodified, as step user_update_profile', async () => {
      const step = referenceStep('user_update_profile');
      const { s, fresh } = await freshSite(target, [CHOSEN], { auth: 'ldap' });
      await s.apply({ now: at(T0) });
      const ids = await idsOf(s, usernameOf(CHOSEN));
      const moved: Person = { ...CHOSEN, sn: 'MARTIN-DURAND', mail: 'eloise.md@ent.example' };
      await s.setPeople([moved]);
      const writes = await writesOf(s, () => s.apply({ now: at(T0 + 5) }));

      const caller = {
        'user.username': new Map([[usernameOf(CHOSEN), 'mmartin']]),
        'user.lastname': new Map([
          [CHOSEN.sn, 'Martin'],
          [moved.sn, 'Martin-Durand'],
        ]),
        'user.email': new Map([
          [CHOSEN.mail ?? '', 'mmartin@example.org'],
          [moved.mail ?? '', 'mmd@example.org'],
        ]),
      };
      const ours = symbolise(writes, {
        ids: withIds(installSymbols(fresh), 'user', [[ids.user, '<user:mmartin>']]),
        now: [T0, T0 + 5],
        caller,
      });
      expect(compareWrites(ours, step.rows, { skipped: SKIPPED, own: OWN })).toEqual([]);
      expect(writes.user?.updated?.[0]?.changed.timemodified).toEqual({ old: String(T0), new: String(T0 + 5) });
      expectMarkerOnly(writes, false);
    });

    it('a person who left: suspended and timemodified only, as step user_suspend; no other row', async () => {
      const step = referenceStep('user_suspend');
      // Nine others stay, so that one departure is within the default removal limit (10 %).
      const list = [CHOSEN, ...people(9)];
      const { s, fresh } = await freshSite(target, list, { auth: 'ldap' });
      await s.apply({ now: at(T0) });
      const ids = await idsOf(s, usernameOf(CHOSEN));
      await s.setPeople(list.slice(1));
      const writes = await writesOf(s, () => s.apply({ now: at(T0 + 5) }));

      const ours = symbolise(writes, {
        ids: withIds(installSymbols(fresh), 'user', [[ids.user, '<user:seleve2>']]),
        now: [T0, T0 + 5],
        caller: { 'user.username': new Map([[usernameOf(CHOSEN), 'seleve2']]) },
      });
      expect(compareWrites(ours, step.rows, { skipped: SKIPPED, own: OWN })).toEqual([]);
      expectMarkerOnly(writes, false);
    });
  });
});

describe('the comparison itself', () => {
  it('reports a column that differs, a row too many, and refuses to map a column the caller did not choose', () => {
    const step = referenceStep('user_create_cas');
    const refUser = step.rows.user?.inserted?.[0] ?? {};
    const wrong: Writes = {
      ...step.rows,
      user: { inserted: [{ ...refUser, lang: 'fr' }] },
      sessions: { deleted: [{ id: '9', userid: '<user:jdupont>' }] },
    };
    expect(compareWrites(wrong, step.rows, { skipped: SKIPPED })).toEqual([
      'sessions DEL id=9: ldap2moodle wrote it, Moodle did not',
      'user INS id=<user:jdupont>.lang: Moodle wrote "en", ldap2moodle "fr"',
    ]);
    expect(() =>
      symbolise(wrong, { ids: {}, now: [], caller: { 'user.password': new Map([['x', 'not cached']]) } }),
    ).toThrow(/user.password is not a caller-chosen column/);
  });
});
