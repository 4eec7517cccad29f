/**
 * `apply` when things go wrong, on each target (a fresh Moodle 4.5 per test): its connection killed
 * mid-transaction, lock waits, Moodle changing between plan and apply, a concurrent apply, a state directory
 * that cannot be written, MyISAM tables. Each failure must leave Moodle's tables and the state file exactly as
 * they were (checksums and bytes), and the next apply must converge.
 *
 * What needs a second session on the database (holding a lock, writing during the apply, ending the apply's
 * connection) runs on the servers only: the embedded Moodle is one in-process connection, held by the tool
 * (and its lock file) from the plan to the commit, so nothing else can write to it meanwhile.
 */

import { copyFile, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { formatDiagnostic, UserError } from '../../src/errors.js';
import {
  type ApplyOptions,
  applySpec,
  commitPlan,
  openSpecMoodle,
  readAndPlan,
  withSpecResources,
} from '../../src/index.js';
import { loadSpec } from '../../src/spec/load.js';
import { afterApply } from '../helpers/apply-specs.js';
import {
  applyTablesSnapshot,
  convergenceProblems,
  fileBytes,
  PEOPLE_LDIF,
  peopleLdif,
  peopleUsernames,
  siteFacts,
  writePeopleSpec,
} from '../helpers/child-apply.js';
import { dropStaleTestDatabases } from '../helpers/mariadb.js';
import { STATE_FILE, type Workspace, workspace } from '../helpers/spec-files.js';
import { killSession, lockWaiter } from '../helpers/target-locks.js';
import { createTarget, TARGETS, type Target, type TargetName, type TargetSession } from '../helpers/targets.js';

const PEOPLE = 12;
const ALL = peopleUsernames(1, PEOPLE);
const MARKER = "plugin = 'local_ldap2moodle' AND name = 'state'";

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

beforeAll(async () => {
  await dropStaleTestDatabases();
});

interface Site {
  readonly t: Target;
  readonly ws: Workspace;
  readonly spec: string;
  readonly statePath: string;
}

type SpecOverrides = Parameters<typeof writePeopleSpec>[3];

async function freshSite(target: TargetName, overrides: SpecOverrides = {}): Promise<Site> {
  const t = await createTarget(target);
  cleanups.push(() => t.drop());
  const ws = await workspace();
  cleanups.push(() => ws.remove());
  const spec = await writePeopleSpec(ws, t, peopleLdif(PEOPLE), overrides);
  return { t, ws, spec, statePath: ws.path(STATE_FILE) };
}

/** The tool in this process: the assertions' connection is let go first. */
async function apply(site: Site, options: ApplyOptions = {}) {
  await site.t.release();
  const result = await applySpec(await loadSpec(site.spec), options);
  if (result.applied) await afterApply(site.t);
  return result;
}

/** A site after a first apply of the 12 people, whose directory then renames person 2 and adds person 13. */
async function appliedSite(target: TargetName, overrides: SpecOverrides = {}): Promise<Site> {
  const site = await freshSite(target, overrides);
  const first = await apply(site);
  expect(first.state.serial).toBe(1);
  await writeFile(site.ws.path(PEOPLE_LDIF), peopleLdif(PEOPLE + 1, { renamed: [2] }));
  return site;
}

interface Snapshot {
  readonly tables: Record<string, unknown>;
  readonly state: Buffer | null;
}

const tablesOf = (site: Site) => applyTablesSnapshot(site.t);

async function snapshot(site: Site): Promise<Snapshot> {
  return { tables: await tablesOf(site), state: await fileBytes(site.statePath) };
}

async function expectUnchanged(site: Site, before: Snapshot): Promise<void> {
  expect(await tablesOf(site)).toEqual(before.tables);
  expect(await fileBytes(site.statePath)).toEqual(before.state);
  expect(await fileBytes(`${site.statePath}.pending`)).toBeNull();
}

async function applyError(site: Site, options: ApplyOptions = {}): Promise<UserError> {
  const error = await apply(site, options).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(UserError);
  return error as UserError;
}

const describeError = (e: UserError): string => [e.message, ...e.diagnostics.map(formatDiagnostic)].join('\n');

/** A second session on the site's database, to hold locks in an open transaction. */
async function locker(site: Site): Promise<TargetSession> {
  if (site.t.openSession === undefined) throw new Error(`${site.t.name} has no second session`);
  const session = await site.t.openSession();
  cleanups.push(() => session.close().catch(() => undefined));
  return session;
}

/**
 * The apply's statement that waits for the marker row held by `holdMarker`: its SELECT … FOR UPDATE on
 * MariaDB (a gap lock covers the row not yet committed); on PostgreSQL the SELECT does not see an
 * uncommitted row, so on a fresh site it is the marker's INSERT that waits, on the unique key.
 */
const MARKER_WAIT = '%mdl_config_plugins%';

/** Holds the marker row (or, on a fresh site, the place where it goes) in an open transaction. */
async function holdMarker(conn: TargetSession, fresh: boolean): Promise<void> {
  await conn.query('START TRANSACTION');
  if (fresh) {
    await conn.query("INSERT INTO mdl_config_plugins (plugin, name, value) VALUES ('local_ldap2moodle', 'state', 'x')");
  } else {
    await conn.query(`SELECT id FROM mdl_config_plugins WHERE ${MARKER} FOR UPDATE`);
  }
}

describe.each(TARGETS)('failures on %s', (target) => {
  const embedded = target === 'embedded';

  // The embedded Moodle's single connection belongs to the tool: no other session can hold a lock or kill it.
  describe.skipIf(embedded)('the connection ended while the apply waits inside its transaction', () => {
    /** What the driver reports when the server ends the session (MariaDB KILL, pg_terminate_backend). */
    const lost: Record<string, string> = {
      mariadb: 'failed: Connection lost: The server closed the connection. The transaction',
      postgres: 'failed: terminating connection due to administrator command. The transaction',
    };
    for (const fresh of [true, false]) {
      it(`${fresh ? 'first' : 'second'} apply: APPLY_FAILED, nothing written, the next apply converges`, async () => {
        const site = fresh ? await freshSite(target) : await appliedSite(target);
        const before = await snapshot(site);
        const conn = await locker(site);
        await holdMarker(conn, fresh);

        const failed = applyError(site);
        const waiter = await lockWaiter(site.t, MARKER_WAIT);
        await killSession(site.t, waiter.id);
        const error = await failed;
        await conn.query('ROLLBACK');

        expect(error.code, describeError(error)).toBe('APPLY_FAILED');
        expect(error.message).toContain(site.t.label);
        expect(error.message).toContain(lost[target]);
        expect(error.message).toContain('nothing was written');
        // Ended before COMMIT: the transaction rolled back and the apply removed its pending file itself.
        await expectUnchanged(site, before);

        await apply(site);
        const people = fresh ? ALL : peopleUsernames(1, PEOPLE + 1);
        expect(await convergenceProblems(site.t, site.statePath, { active: people })).toEqual([]);
      });
    }
  });

  describe.skipIf(embedded)('lock waits', () => {
    it('a lock held past every attempt: APPLY_FAILED after 3 attempts, nothing written', async () => {
      const site = await freshSite(target, { moodle: { lockTimeout: 1 } });
      const before = await snapshot(site);
      const conn = await locker(site);
      await holdMarker(conn, true);

      const started = performance.now();
      const error = await applyError(site);
      const ms = performance.now() - started;
      await conn.query('ROLLBACK');

      expect(error.code, describeError(error)).toBe('APPLY_FAILED');
      expect(error.message).toContain('after 3 attempts');
      // MariaDB: "Lock wait timeout exceeded" (1205); PostgreSQL: "canceling statement due to lock timeout".
      expect(error.message).toMatch(/lock (wait )?timeout/i);
      const cause = error.cause as { errno?: number; code?: string };
      expect(target === 'mariadb' ? cause.errno : cause.code).toBe(target === 'mariadb' ? 1205 : '55P03');
      // Three waits of lockTimeout (1 s) each.
      expect(ms).toBeGreaterThan(2_900);
      await expectUnchanged(site, before);
    });

    it('a lock held ~1.5 s with lockTimeout 1: the second attempt succeeds', async () => {
      const site = await freshSite(target, { moodle: { lockTimeout: 1 } });
      const conn = await locker(site);
      await holdMarker(conn, true);

      const applying = apply(site);
      const { waitedMs } = await lockWaiter(site.t, MARKER_WAIT);
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, 1_500 - waitedMs)));
      await conn.query('ROLLBACK');
      const result = await applying;

      expect(result.applied).toBe(true);
      expect(result.attempts).toBe(2);
      expect(await convergenceProblems(site.t, site.statePath, { active: ALL })).toEqual([]);
    });
  });

  describe('Moodle changed between plan and apply', () => {
    // Writes during the confirmation: on the embedded Moodle the tool holds the only connection meanwhile.
    it.skipIf(embedded)('a username taken by hand: PLAN_STALE naming it, nothing written', async () => {
      const site = await freshSite(target);
      let before: Snapshot | undefined;
      const error = await applyError(site, {
        confirm: async () => {
          await site.t.insert('user', {
            auth: 'manual',
            username: 'p0000003',
            firstname: 'Hand',
            lastname: 'Made',
            email: '',
            mnethostid: 1,
            confirmed: 1,
          });
          before = await snapshot(site);
          return true;
        },
      });
      expect(error.code, describeError(error)).toBe('PLAN_STALE');
      expect(describeError(error)).toContain('username "p0000003" was taken');
      await expectUnchanged(site, before as Snapshot);
    });

    it.skipIf(embedded)(
      'a username inserted by a concurrent transaction: MOODLE_CONFLICT at the insert, nothing written',
      async () => {
        const site = await freshSite(target);
        const before = await snapshot(site);
        const conn = await locker(site);
        await conn.query('START TRANSACTION');
        await conn.query(
          "INSERT INTO mdl_user (auth, username, firstname, lastname, email, mnethostid, confirmed) VALUES ('manual', 'p0000003', 'Other', 'Writer', '', 1, 1)",
        );

        // The re-check cannot see the uncommitted row; the apply's INSERT waits on the unique key, then fails.
        const failed = applyError(site);
        await lockWaiter(site.t, '%INSERT INTO _mdl_user_%');
        await conn.query('COMMIT');
        const error = await failed;
        expect(error.code, describeError(error)).toBe('MOODLE_CONFLICT');
        expect(error.message).toContain('p0000003');

        await site.t.execute("DELETE FROM mdl_user WHERE username = 'p0000003'");
        await expectUnchanged(site, before);
      },
    );

    it.skipIf(embedded)('a managed column edited by hand: PLAN_STALE, nothing written', async () => {
      const site = await appliedSite(target);
      let before: Snapshot | undefined;
      const error = await applyError(site, {
        confirm: async () => {
          await site.t.execute("UPDATE mdl_user SET firstname = 'Handmade' WHERE username = 'p0000002'");
          before = await snapshot(site);
          return true;
        },
      });
      expect(error.code, describeError(error)).toBe('PLAN_STALE');
      expect(describeError(error)).toMatch(/firstname is now "Handmade", the plan saw "\w+"/);
      await expectUnchanged(site, before as Snapshot);
    });

    it.skipIf(embedded)('a login (lastaccess, lastip) is not a change: the apply succeeds and keeps them', async () => {
      const site = await appliedSite(target);
      const result = await apply(site, {
        confirm: async () => {
          await site.t.execute(
            "UPDATE mdl_user SET lastaccess = 1767600000, lastip = '10.1.2.3' WHERE username = 'p0000002'",
          );
          return true;
        },
      });
      expect(result.applied).toBe(true);
      const rows = await site.t.query("SELECT lastname, lastaccess, lastip FROM mdl_user WHERE username = 'p0000002'");
      expect(rows).toEqual([
        { lastname: expect.stringMatching(/-renamed$/), lastaccess: 1767600000, lastip: '10.1.2.3' },
      ]);
      const people = peopleUsernames(1, PEOPLE + 1);
      expect(await convergenceProblems(site.t, site.statePath, { active: people })).toEqual([]);
    });

    it('a second apply meanwhile: refused at once (STATE_LOCKED; MOODLE_LOCKED embedded); the first goes on', async () => {
      const site = await appliedSite(target);
      let refused: unknown;
      const result = await apply(site, {
        confirm: async () => {
          refused = await applySpec(await loadSpec(site.spec)).catch((e: unknown) => e);
          return true;
        },
      });
      // The embedded Moodle is opened before the state is locked, and admits one holder: its lock refuses first.
      expect((refused as UserError).code).toBe(embedded ? 'MOODLE_LOCKED' : 'STATE_LOCKED');
      expect((refused as UserError).message).toContain(`process ${process.pid}`);
      expect(result.applied).toBe(true);
      const people = peopleUsernames(1, PEOPLE + 1);
      expect(await convergenceProblems(site.t, site.statePath, { active: people })).toEqual([]);
    });

    // A second apply through its own copy of the state (another machine, no shared state lock) meets the
    // database's apply lock at once.
    it.skipIf(embedded)(
      'another apply with its own copy of the state meanwhile: MOODLE_LOCKED at once, naming the holder; the first goes on',
      async () => {
        const site = await appliedSite(target);
        const otherState = site.ws.path('other.state.json');
        const otherSpec = site.ws.path('other.yaml');
        let refused: unknown;
        const result = await apply(site, {
          confirm: async () => {
            await copyFile(site.statePath, otherState);
            await writeFile(otherSpec, `${await readFile(site.spec, 'utf8')}\nstate:\n  path: other.state.json\n`);
            refused = await applySpec(await loadSpec(otherSpec)).catch((e: unknown) => e);
            return true;
          },
        });
        expect((refused as UserError).code, describeError(refused as UserError)).toBe('MOODLE_LOCKED');
        expect((refused as UserError).message).toContain(`held by process ${process.pid} on ${hostname()}`);
        expect(result.applied).toBe(true);
        expect(await fileBytes(`${otherState}.pending`)).toBeNull();
      },
    );

    // Behind the lock, the apply marker: a plan computed before another apply committed is refused at COMMIT
    // time even if the lock was not there (another tool version, a lock row removed by hand).
    it.skipIf(embedded)(
      'a plan computed before another apply committed: PLAN_STALE at the marker re-check, nothing written',
      async () => {
        const site = await appliedSite(target);
        await site.t.release();
        const loaded = await loadSpec(site.spec);
        const planned = await withSpecResources(loaded, (source, db) =>
          readAndPlan(loaded, source, db, { repair: true }),
        );
        const otherState = site.ws.path('other.state.json');
        const otherSpec = site.ws.path('other.yaml');
        await copyFile(site.statePath, otherState);
        await writeFile(otherSpec, `${await readFile(site.spec, 'utf8')}\nstate:\n  path: other.state.json\n`);
        await writeFile(site.ws.path(PEOPLE_LDIF), peopleLdif(PEOPLE + 2, { without: [PEOPLE + 1] }));
        const concurrent = await applySpec(await loadSpec(otherSpec));
        expect(concurrent.state.serial).toBe(2);
        const other = await snapshot(site);
        const db = await openSpecMoodle(loaded);
        const error = await commitPlan(loaded.hash, db, planned, {}).then(
          () => undefined,
          (e: unknown) => e,
        );
        await db.close();
        expect((error as UserError).code, describeError(error as UserError)).toBe('PLAN_STALE');
        expect((error as UserError).message).toContain('another apply committed');
        await expectUnchanged(site, other);
        const people = [...ALL, ...peopleUsernames(PEOPLE + 2, PEOPLE + 2)];
        expect(await convergenceProblems(site.t, otherState, { active: people })).toEqual([]);
      },
    );
  });

  describe('the state cannot be written', () => {
    const isRoot = process.getuid?.() === 0;
    const cases: { name: string; path: string; prepare: (ws: Workspace) => Promise<void>; skip?: boolean }[] = [
      {
        name: 'its parent is a regular file',
        path: 'not-a-directory/site.state.json',
        prepare: (ws) => writeFile(ws.path('not-a-directory'), 'a file\n'),
      },
      { name: 'its directory does not exist', path: 'missing/site.state.json', prepare: async () => {} },
      {
        // root writes through any mode: there the other two cases stand for it.
        name: 'its directory is read-only (0500)',
        path: 'locked/site.state.json',
        prepare: async (ws) => {
          await mkdir(ws.path('locked'), { mode: 0o500 });
        },
        skip: isRoot,
      },
    ];
    for (const c of cases) {
      it.skipIf(c.skip === true)(`${c.name}: STATE_WRITE before Moodle is touched`, async () => {
        const site = await freshSite(target, { state: { path: c.path } });
        await c.prepare(site.ws);
        const before = await snapshot(site);
        const error = await applyError(site);
        expect(error.code, describeError(error)).toBe('STATE_WRITE');
        expect(error.message).toContain(site.ws.path(c.path.split('/')[0] as string));
        expect(error.message).toContain('nothing was applied');
        await expectUnchanged(site, before);
        expect((await siteFacts(site.t)).marker).toBeNull();
      });
    }

    it('the state file cannot be replaced after the commit: STATE_WRITE says so, the next run records it', async () => {
      const site = await freshSite(target);
      const error = await applyError(site, {
        // A directory where the state file goes: the rename of the pending file over it fails.
        confirm: async () => {
          await mkdir(`${site.statePath}/in-the-way`, { recursive: true });
          return true;
        },
      });
      expect(error.code, describeError(error)).toBe('STATE_WRITE');
      expect(error.message).toContain('the changes were committed');
      expect(error.message).toContain(`${site.statePath}.pending`);
      expect((await siteFacts(site.t)).users.size).toBe(PEOPLE);

      await rm(site.statePath, { recursive: true });
      const next = await apply(site);
      expect(next.applied).toBe(false);
      expect(await convergenceProblems(site.t, site.statePath, { active: ALL })).toEqual([]);
    });
  });

  // MyISAM is MariaDB's: every PostgreSQL table (the embedded one's too) is transactional.
  it.skipIf(target !== 'mariadb')('MyISAM tables: MOODLE_UNSUPPORTED before writing', async () => {
    const site = await freshSite(target);
    await site.t.mariadb?.query('ALTER TABLE mdl_user ENGINE = MyISAM; ALTER TABLE mdl_context ENGINE = MyISAM');
    const before = await snapshot(site);
    const error = await applyError(site);
    expect(error.code, describeError(error)).toBe('MOODLE_UNSUPPORTED');
    expect(error.message).toContain('mdl_user (MyISAM)');
    expect(error.message).toContain('mdl_context (MyISAM)');
    await expectUnchanged(site, before);
    expect((await siteFacts(site.t)).marker).toBeNull();
  });
});
