/**
 * `apply` end to end into each Moodle target (a fresh Moodle 4.5 per test), from LDIF files: creation,
 * updates, adoption, suspension and its reversal, the safety guards, the state refusals and the CLI. Every
 * refusal is checked to have written nothing, in Moodle (table checksums) and on disk (state bytes).
 */
import { readFile, rm, stat, writeFile } from 'node:fs/promises';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { UserError } from '../../src/errors.js';
import type { Change } from '../../src/model/change.js';
import {
  type ApplySite,
  applySite,
  PEOPLE_BASE,
  type Person,
  people,
  person,
  type Row,
  usernameOf,
} from '../helpers/apply-specs.js';
import { dropStaleTestDatabases } from '../helpers/mariadb.js';
import { CAS_WARNING_ONLY, withoutStageLines } from '../helpers/spec-files.js';
import { TARGETS } from '../helpers/targets.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});
beforeAll(async () => {
  await dropStaleTestDatabases();
});

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** Apply times (unix seconds), given to applySpec's clock so that every timestamp is known. */
const T0 = Math.floor(Date.now() / 1000) - 3600;
const at = (seconds: number) => () => seconds * 1000;

/** The managed values the spec gives a person. */
function managed(p: Person): Record<string, string> {
  return {
    auth: 'cas',
    username: usernameOf(p),
    idnumber: p.jointure?.split('$').at(-1) ?? '',
    firstname: p.givenName,
    lastname: p.sn,
    email: p.mail ?? '',
  };
}

const pick = (row: Row, columns: readonly string[]) => Object.fromEntries(columns.map((c) => [c, row[c]]));
const MANAGED = ['auth', 'username', 'idnumber', 'firstname', 'lastname', 'email'];

/** Columns whose values differ between two versions of a row, as [before, after]. */
function changedColumns(before: Row, after: Row): Record<string, [unknown, unknown]> {
  const out: Record<string, [unknown, unknown]> = {};
  for (const column of new Set([...Object.keys(before), ...Object.keys(after)])) {
    if (before[column] !== after[column]) out[column] = [before[column], after[column]];
  }
  return out;
}

const byUsername = (rows: readonly Row[]) => new Map(rows.map((r) => [String(r.username), r]));
const actions = (changes: readonly Change[]) => changes.map((c) => `${c.action} ${c.address}`);

async function countRows(s: ApplySite, table: string): Promise<number> {
  const [row] = await s.t.query<{ n: number }>(`SELECT COUNT(*) AS n FROM ${table}`);
  return Number(row?.n);
}

/** Snapshot of everything an apply may write; `expectUnchanged` compares against it. */
async function snapshot(s: ApplySite) {
  return { sums: await s.checksums(), state: await s.stateBytes() };
}
async function expectUnchanged(s: ApplySite, before: Awaited<ReturnType<typeof snapshot>>): Promise<void> {
  expect(await s.checksums()).toEqual(before.sums);
  expect(await s.stateBytes()).toEqual(before.state);
  expect(await s.pendingExists()).toBe(false);
}

describe.each(TARGETS)('apply on %s', (target) => {
  async function site(list: readonly Person[], users: Record<string, unknown> = {}): Promise<ApplySite> {
    const s = await applySite(target, list, users);
    cleanups.push(() => s.remove());
    return s;
  }

  describe('apply: create', () => {
    it('creates exactly the directory people with one user context each, the state and the marker', async () => {
      const list = people(5);
      const s = await site(list);
      const contextsBefore = await countRows(s, 'mdl_context');
      const result = await s.apply({ now: at(T0) });
      expect(result.applied).toBe(true);
      expect(result.attempts).toBe(1);

      const users = await s.users();
      expect(users.map((u) => pick(u, MANAGED))).toEqual(list.map(managed));
      for (const u of users) {
        expect(u).toMatchObject({ mnethostid: 1, confirmed: 1, deleted: 0, suspended: 0, timecreated: T0 });
        expect(u.timemodified).toBe(T0);
      }
      const contexts = await s.userContexts();
      expect(contexts.map((c) => ({ ...c }))).toEqual(
        users.map((u, i) => ({
          id: contexts[i]?.id,
          contextlevel: 30,
          instanceid: u.id,
          path: `/1/${String(contexts[i]?.id)}`,
          depth: 2,
          locked: 0,
        })),
      );
      expect(await countRows(s, 'mdl_context')).toBe(contextsBefore + 5);

      const info = await stat(s.statePath);
      expect(info.mode & 0o777).toBe(0o600);
      const state = await s.state();
      expect(state).toMatchObject({ format_version: 1, serial: 1, lineage: expect.stringMatching(UUID) });
      expect(state.apply_id).toMatch(UUID);
      const digests = new Map((result.planned.desired.objects.get('user') ?? []).map((d) => [d.key, d.sourceDigest]));
      expect(state.objects).toEqual(
        users.map((u, i) => ({
          address: `user["${String(u.username)}"]`,
          type: 'user',
          id: u.id,
          key: u.username,
          source_digest: digests.get(String(u.username)),
          values: managed(list[i] as Person),
          // The entry the user was made from: a later run holds the user when it comes back with an error.
          dn: `uid=${(list[i] as Person).uid},${PEOPLE_BASE}`,
        })),
      );
      const sourceDigests = state.objects.map((o) => o.source_digest);
      expect(new Set(sourceDigests).size).toBe(5);
      for (const d of sourceDigests) expect(d).toMatch(/^sha256:[0-9a-f]{64}$/);
      expect(result.state).toEqual(state);

      expect(await s.marker()).toEqual({
        lineage: state.lineage,
        serial: 1,
        apply_id: state.apply_id,
        applied_at: new Date(T0 * 1000).toISOString(),
        tool_version: state.tool_version,
      });
      expect(await s.pendingExists()).toBe(false);
    });

    it('a second plan has no changes and a second apply writes nothing', async () => {
      const s = await site(people(5));
      await s.apply({ now: at(T0) });
      const before = await snapshot(s);
      expect((await s.plan()).plan.changes).toEqual([]);
      const again = await s.apply({ now: at(T0 + 60) });
      expect(again.applied).toBe(false);
      expect(again.state.serial).toBe(1);
      await expectUnchanged(s, before);
    });
  });

  describe('apply: update', () => {
    it('changes only the changed columns and timemodified; the state follows (serial 2)', async () => {
      const list = people(3);
      const s = await site(list);
      await s.apply({ now: at(T0) });
      const first = await s.state();
      const before = await s.users();
      const contexts = await s.userContexts();

      const changed = { ...person(2), sn: 'NOUVEAU-NOM', mail: 'nouveau@ent.example' };
      list[1] = changed;
      await s.setPeople(list);
      const result = await s.apply({ now: at(T0 + 100) });
      expect(result.planned.plan.changes).toMatchObject([
        {
          action: 'update',
          address: 'user["p0002"]',
          before: { lastname: 'SURNAME0002', email: 'p0002@ent.example' },
          after: { lastname: 'NOUVEAU-NOM', email: 'nouveau@ent.example' },
        },
      ]);

      const after = await s.users();
      expect(changedColumns(before[1] as Row, after[1] as Row)).toEqual({
        lastname: ['SURNAME0002', 'NOUVEAU-NOM'],
        email: ['p0002@ent.example', 'nouveau@ent.example'],
        timemodified: [T0, T0 + 100],
      });
      expect(after[0]).toEqual(before[0]);
      expect(after[2]).toEqual(before[2]);
      expect(await s.userContexts()).toEqual(contexts);

      const state = await s.state();
      expect(state).toMatchObject({ serial: 2, lineage: first.lineage });
      expect(state.apply_id).not.toBe(first.apply_id);
      const [o1, o2, o3] = state.objects;
      expect(o1).toEqual(first.objects[0]);
      expect(o3).toEqual(first.objects[2]);
      expect(o2?.values).toEqual(managed(changed));
      expect(o2?.source_digest).not.toBe(first.objects[1]?.source_digest);
      expect(await s.marker()).toMatchObject({ serial: 2, lineage: first.lineage, apply_id: state.apply_id });
    });
  });

  describe('apply: adopt', () => {
    async function withManualAccount(): Promise<{ s: ApplySite; id: number; contextId: number }> {
      const s = await site(people(3));
      const id = await s.insertUser({
        username: 'p0002',
        firstname: 'Ancien',
        lastname: 'Compte',
        email: 'ancien@example.org',
        password: '$6$rounds=10000$abc$def',
        timecreated: 1_000_000,
        timemodified: 1_000_000,
      });
      // Moodle gives every account its context: so does this hand-made one.
      const contextId = await s.t.insert('context', { contextlevel: 30, instanceid: id, depth: 2 });
      await s.t.execute('UPDATE mdl_context SET path = ? WHERE id = ?', [`/1/${contextId}`, contextId]);
      return { s, id, contextId };
    }

    it('adopt: never refuses an unmanaged account in the way (MOODLE_CONFLICT) and writes nothing', async () => {
      const { s, id } = await withManualAccount();
      const before = await snapshot(s);
      const error = await s.applyError({ now: at(T0) });
      expect(error.code).toBe('MOODLE_CONFLICT');
      expect(error.diagnostics).toEqual([
        expect.objectContaining({
          dn: 'uid=P0002,ou=people,dc=ent,dc=example',
          message: expect.stringContaining(`Moodle user id ${id} "p0002", which ldap2moodle does not manage`),
        }),
      ]);
      await expectUnchanged(s, before);
      expect(before.state).toBeNull();
    });

    it('adopt: matching takes the account over (its row updated, its id in the state); then no changes', async () => {
      const { s, id, contextId } = await withManualAccount();
      const rowBefore = await s.userRow('p0002');
      await s.setUsers({ adopt: 'matching' });
      const result = await s.apply({ now: at(T0) });
      expect(actions(result.planned.plan.changes)).toEqual([
        'create user["p0001"]',
        'adopt user["p0002"]',
        'create user["p0003"]',
      ]);
      const row = await s.userRow('p0002');
      expect(row.id).toBe(id);
      expect(changedColumns(rowBefore, row)).toEqual({
        auth: ['manual', 'cas'],
        idnumber: ['', 'ENT0002'],
        firstname: ['Ancien', 'Given0002'],
        lastname: ['Compte', 'SURNAME0002'],
        email: ['ancien@example.org', 'p0002@ent.example'],
        timemodified: [1_000_000, T0],
      });
      // Its context is kept, not doubled.
      const contexts = (await s.userContexts()).filter((c) => c.instanceid === id);
      expect(contexts).toEqual([
        { id: contextId, contextlevel: 30, instanceid: id, path: `/1/${contextId}`, depth: 2, locked: 0 },
      ]);
      const state = await s.state();
      expect(state.objects.find((o) => o.key === 'p0002')).toMatchObject({ id, values: managed(person(2)) });

      const before = await snapshot(s);
      expect((await s.plan()).plan.changes).toEqual([]);
      expect((await s.apply({ now: at(T0 + 10) })).applied).toBe(false);
      await expectUnchanged(s, before);
    });
  });

  describe('apply: usernames equal only for the database', () => {
    it('an account whose username differs by a trailing space: MOODLE_CONFLICT naming it, nothing written', async () => {
      const s = await site(people(2));
      // utf8mb4_unicode_ci pads with spaces: MariaDB's unique key (mnethostid, username) holds "p0001 " = "p0001".
      // PostgreSQL would take both, but the plan refuses the same way on every target (it never asks which).
      const id = await s.insertUser({ username: 'p0001 ', firstname: 'A', lastname: 'B', email: 'a@example.org' });
      const before = await snapshot(s);
      const error = await s.applyError({ now: at(T0) });
      // The plan itself sees the collision (it folds usernames as the database does), before any transaction.
      expect(error.code).toBe('MOODLE_CONFLICT');
      expect(error.diagnostics).toEqual([
        {
          dn: expect.stringContaining('uid=P0001'),
          message: expect.stringContaining(
            `collides with Moodle user id ${id} "p0001 ": Moodle's database compares usernames ignoring case, accents and trailing spaces`,
          ),
        },
      ]);
      await expectUnchanged(s, before);
    });
  });

  describe('apply: suspend and unsuspend', () => {
    it('suspends a person who left (sessions ended, others untouched) and unsuspends them when they return', async () => {
      const list = people(10); // 1 removal of 10 managed = 10 %: within the default limit
      const s = await site(list);
      await s.apply({ now: at(T0) });
      const leaver = await s.userRow('p0003');
      const stayer = await s.userRow('p0004');
      await s.insertSession(Number(leaver.id), 'sid-leaver-1');
      await s.insertSession(Number(leaver.id), 'sid-leaver-2');
      await s.insertSession(Number(stayer.id), 'sid-stayer');
      const before = byUsername(await s.users());

      await s.setPeople(list.filter((p) => p.uid !== 'P0003'));
      const result = await s.apply({ now: at(T0 + 100) });
      expect(actions(result.planned.plan.changes)).toEqual(['suspend user["p0003"]']);
      const after = byUsername(await s.users());
      for (const [username, row] of before) {
        const expected = username === 'p0003' ? { suspended: [0, 1], timemodified: [T0, T0 + 100] } : {};
        expect(changedColumns(row, after.get(username) as Row), username).toEqual(expected);
      }
      expect(await s.sessionsOf(Number(leaver.id))).toEqual([]);
      expect((await s.sessionsOf(Number(stayer.id))).map((r) => r.sid)).toEqual(['sid-stayer']);
      const state = await s.state();
      expect(state.serial).toBe(2);
      expect(state.objects).toHaveLength(10);
      expect(state.objects.find((o) => o.key === 'p0003')).toMatchObject({ id: leaver.id, suspended_by_tool: true });
      expect(state.objects.filter((o) => o.suspended_by_tool === true)).toHaveLength(1);

      await s.setPeople(list);
      const back = await s.apply({ now: at(T0 + 200) });
      expect(actions(back.planned.plan.changes)).toEqual(['unsuspend user["p0003"]']);
      const returned = await s.userRow('p0003');
      expect(changedColumns(after.get('p0003') as Row, returned)).toEqual({
        suspended: [1, 0],
        timemodified: [T0 + 100, T0 + 200],
      });
      const finalState = await s.state();
      expect(finalState.serial).toBe(3);
      expect(finalState.objects.find((o) => o.key === 'p0003')).not.toHaveProperty('suspended_by_tool');
      expect((await s.plan()).plan.changes).toEqual([]);
    });

    it('never unsuspends a user an administrator suspended by hand', async () => {
      const list = people(10);
      const s = await site(list);
      await s.apply({ now: at(T0) });
      await s.t.execute("UPDATE mdl_user SET suspended = 1 WHERE username = 'p0005'");
      // Suspended by hand while in the directory: nothing to do.
      expect((await s.plan()).plan.changes).toEqual([]);

      // Leaves the directory (already suspended: no suspension planned) while someone else changes.
      const changed = list.map((p) => (p.uid === 'P0001' ? { ...p, sn: 'AUTRE' } : p));
      await s.setPeople(changed.filter((p) => p.uid !== 'P0005'));
      const result = await s.apply({ now: at(T0 + 100) });
      expect(actions(result.planned.plan.changes)).toEqual(['update user["p0001"]']);
      const state = await s.state();
      expect(state.objects.find((o) => o.key === 'p0005')).not.toHaveProperty('suspended_by_tool');

      // Comes back: still suspended, nothing planned.
      await s.setPeople(changed);
      const before = await snapshot(s);
      const back = await s.apply({ now: at(T0 + 200) });
      expect(back.planned.plan.changes).toEqual([]);
      expect((await s.userRow('p0005')).suspended).toBe(1);
      await expectUnchanged(s, before);
    });
  });

  describe('apply: safety guards', () => {
    /** Each guard's code and message, as the refusal lists them. */
    const guardsOf = (error: UserError): string[] => error.diagnostics.map((d) => `[${d.code}] ${d.message}`);

    it('an empty source while users are managed: GUARD_EMPTY_SOURCE unless allowEmptySource', async () => {
      const s = await site(people(3));
      await s.apply({ now: at(T0) });
      await s.setPeople([]);
      const before = await snapshot(s);

      const empty = await s.applyError();
      expect(empty.code).toBe('PLAN_REFUSED');
      expect(empty.message).toContain('refused by a safety guard (GUARD_EMPTY_SOURCE)');
      expect(empty.message).toContain('run again with --allow-empty-source');
      expect(guardsOf(empty)).toEqual([
        expect.stringContaining('[GUARD_EMPTY_SOURCE] the directory returned no users while ldap2moodle manages 3'),
      ]);
      await expectUnchanged(s, before);

      // 3 suspensions are within the users' count (10): allowing the empty directory is enough.
      const result = await s.apply({ allowEmptySource: true, now: at(T0 + 100) });
      expect(actions(result.planned.plan.changes)).toEqual([
        'suspend user["p0001"]',
        'suspend user["p0002"]',
        'suspend user["p0003"]',
      ]);
      expect((await s.users()).map((u) => u.suspended)).toEqual([1, 1, 1]);
    });

    it('removals over the default count (10) and percent (2%): GUARD_USERS_REMOVALS with the figures; allowRemovals lifts it', async () => {
      const list = people(40);
      const s = await site(list);
      await s.apply({ now: at(T0) });
      await s.setPeople(list.slice(12)); // 12 of 40 = 30 %
      const before = await snapshot(s);

      const error = await s.applyError();
      expect(error.code).toBe('PLAN_REFUSED');
      expect(guardsOf(error)).toEqual([
        '[GUARD_USERS_REMOVALS] the plan would suspend 12 users (30.0% of the 40 managed), over ' +
          "guards.maxRemovals.users (more than 10 and more than 2%); a filter mistake must never suspend a whole school's " +
          'users. If the plan is right, allow it with --allow-removals users=12',
      ]);
      expect(error.message).toContain('run again with --allow-removals users=12');
      await expectUnchanged(s, before);

      const tooFew = await s.applyError({ allowRemovals: 11 });
      expect(tooFew.code).toBe('PLAN_REFUSED');
      expect(guardsOf(tooFew)[0]).toContain('and more than the 11 allowed by --allow-removals');
      await expectUnchanged(s, before);

      const result = await s.apply({ allowRemovals: { entities: { user: 12 } }, now: at(T0 + 100) });
      expect(result.applied).toBe(true);
      expect((await s.users()).filter((u) => u.suspended === 1)).toHaveLength(12);
    });

    it('over the count but under the percent of the managed users: applied without a flag', async () => {
      const list = people(1100);
      const s = await site(list);
      await s.apply({ now: at(T0) });
      await s.setPeople(list.slice(20)); // 20 of 1,100 = 1.8 %
      const result = await s.apply({ now: at(T0 + 100) });
      expect(result.planned.plan.changes).toHaveLength(20);
      expect((await s.users()).filter((u) => u.suspended === 1)).toHaveLength(20);
    });

    it('guards.maxRemovals in the spec replaces the defaults; users.maxRemovals is refused, naming the new place', async () => {
      const list = people(5);
      const s = await site(list, { maxRemovals: { count: 2, percent: 100 } });
      const moved = await s.applyError();
      expect(moved.code).toBe('SPEC_INVALID');
      expect(moved.diagnostics[0]?.message).toContain('users.maxRemovals has moved to guards.maxRemovals.users');

      await s.setUsers({});
      const text = await readFile(s.specPath, 'utf8');
      await writeFile(s.specPath, `${text}guards:\n  maxRemovals:\n    users: { count: 2, percent: 0 }\n`);
      await s.apply({ now: at(T0) });
      await s.setPeople(list.slice(3)); // 3 removals: over count 2 and 0 %
      const before = await snapshot(s);
      const error = await s.applyError();
      expect(error.code).toBe('PLAN_REFUSED');
      expect(guardsOf(error)[0]).toContain('would suspend 3 users (60.0% of the 5 managed)');
      expect(guardsOf(error)[0]).toContain('(more than 2 and more than 0%)');
      await expectUnchanged(s, before);

      await s.setPeople(list.slice(2)); // 2 removals: within the spec's limits
      const result = await s.apply({ now: at(T0 + 100) });
      expect(actions(result.planned.plan.changes)).toEqual(['suspend user["p0001"]', 'suspend user["p0002"]']);
    });
  });

  describe('apply: state refusals (STATE_INVALID, nothing written, the state file untouched)', () => {
    /** A site applied once (serial 1), then a sixth person in the directory: an apply would write. */
    async function appliedOnce(): Promise<ApplySite> {
      const list = people(5);
      const s = await site(list);
      await s.apply({ now: at(T0) });
      await s.setPeople([...list, person(6)]);
      return s;
    }

    async function expectRefused(s: ApplySite, pattern: string): Promise<void> {
      const before = await snapshot(s);
      const error = await s.applyError({ now: at(T0 + 100) });
      expect(error.code).toBe('STATE_INVALID');
      expect(error.message).toContain(pattern);
      await expectUnchanged(s, before);
    }

    const editState = async (s: ApplySite, edit: (state: Record<string, unknown>) => void) => {
      const state = JSON.parse(await readFile(s.statePath, 'utf8')) as Record<string, unknown>;
      edit(state);
      await writeFile(s.statePath, JSON.stringify(state));
    };

    it('a state file that is not JSON', async () => {
      const s = await appliedOnce();
      await writeFile(s.statePath, '{"format_version": 1, "serial": ');
      await expectRefused(s, 'is not valid JSON');
    });

    it('a state file of a newer format (format_version 99)', async () => {
      const s = await appliedOnce();
      await editState(s, (state) => {
        state.format_version = 99;
      });
      await expectRefused(s, 'has format 99, newer than this ldap2moodle understands');
    });

    it('a state file of another lineage than Moodle’s marker', async () => {
      const s = await appliedOnce();
      await editState(s, (state) => {
        state.lineage = '00000000-0000-4000-8000-000000000000';
      });
      await expectRefused(s, 'is of lineage 00000000-0000-4000-8000-000000000000: it describes another site');
    });

    it('a state file behind Moodle’s marker (an older copy)', async () => {
      const s = await appliedOnce();
      const serialOne = await readFile(s.statePath);
      await s.apply({ now: at(T0 + 50) });
      expect((await s.state()).serial).toBe(2);
      await writeFile(s.statePath, serialOne);
      await s.setPeople([...people(6), person(7)]);
      await expectRefused(s, 'has serial 1: it is an older copy');
    });

    it('a state file ahead of Moodle’s marker (Moodle restored from a backup)', async () => {
      const s = await appliedOnce();
      await editState(s, (state) => {
        state.serial = 5;
      });
      await expectRefused(s, 'has serial 5: it is ahead of Moodle');
    });

    it('the state file deleted after an apply (the marker is still in Moodle)', async () => {
      const s = await appliedOnce();
      await rm(s.statePath);
      await expectRefused(s, 'but there is no state file at');
      expect(await s.stateBytes()).toBeNull();
    });
  });

  describe('ldap2moodle apply (CLI)', () => {
    it('without a terminal and without --auto-approve: exit 1 asking for --auto-approve, nothing written', async () => {
      const s = await site(people(3));
      const before = await snapshot(s);
      const run = await s.cli(['apply', '--spec', s.specPath]);
      expect(run.code).toBe(1);
      expect(run.stdout).toBe('');
      expect(run.stderr).toContain('pass --auto-approve');
      await expectUnchanged(s, before);
    });

    it('--auto-approve applies and says so; a second run has no changes', async () => {
      const s = await site(people(3));
      const run = await s.cli(['apply', '--auto-approve', '--spec', s.specPath]);
      expect(withoutStageLines(run.stderr)).toMatch(CAS_WARNING_ONLY);
      expect(run.code).toBe(0);
      expect(run.stdout).toContain('Plan: 3 to create.');
      expect(run.stdout).toMatch(
        new RegExp(
          `\\nApply complete: 3 changes written in one transaction\\. State: ${s.statePath.replaceAll('.', '\\.')} \\(serial 1\\)\\.\\n$`,
        ),
      );
      expect((await s.users()).map((u) => u.username)).toEqual(['p0001', 'p0002', 'p0003']);

      const before = await snapshot(s);
      const again = await s.cli(['apply', '--auto-approve', '--spec', s.specPath]);
      expect(again.code).toBe(0);
      expect(withoutStageLines(again.stderr)).toMatch(CAS_WARNING_ONLY);
      expect(again.stdout).toContain('No changes. Moodle matches the spec.');
      expect(again.stdout).not.toContain('Apply complete');
      await expectUnchanged(s, before);
    });

    it('on a terminal: applies only after "yes"', async () => {
      const s = await site(people(2));
      const before = await snapshot(s);
      const no = await s.cli(['apply', '--spec', s.specPath], { tty: true, input: 'no\n' });
      expect(no.code).toBe(1);
      expect(no.stdout).toContain('Only "yes" will be accepted to approve.');
      expect(no.stdout).toContain('Apply cancelled: nothing was written.');
      await expectUnchanged(s, before);

      const yes = await s.cli(['apply', '--spec', s.specPath], { tty: true, input: 'yes\n' });
      expect(yes.code).toBe(0);
      expect(yes.stdout).toContain('Apply complete: 2 changes');
      expect((await s.state()).serial).toBe(1);
    });
  });
});
