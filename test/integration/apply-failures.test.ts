/**
 * `apply` when things go wrong, against real MariaDB databases (a fresh Moodle 4.5 per test): its connection
 * killed mid-transaction, lock waits, Moodle changing between plan and apply, a concurrent apply, a state
 * directory that cannot be written, MyISAM tables. Each failure must leave Moodle's tables and the state file
 * exactly as they were (checksums and bytes), and the next apply must converge.
 */
import { copyFile, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import type { Connection } from 'mysql2/promise';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type ApplyOptions, applySpec } from '../../src/apply/apply.js';
import { formatDiagnostic, UserError } from '../../src/errors.js';
import { loadSpec } from '../../src/spec/load.js';
import {
  APPLY_TABLES,
  convergenceProblems,
  fileBytes,
  PEOPLE_LDIF,
  peopleLdif,
  peopleUsernames,
  siteFacts,
  writePeopleSpec,
} from '../helpers/child-apply.js';
import {
  adminConnection,
  createMoodleDatabase,
  dropStaleTestDatabases,
  type TestMoodle,
  tableChecksums,
} from '../helpers/mariadb.js';
import { STATE_FILE, type Workspace, workspace } from '../helpers/spec-files.js';

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
  readonly t: TestMoodle;
  readonly ws: Workspace;
  readonly spec: string;
  readonly statePath: string;
}

type SpecOverrides = Parameters<typeof writePeopleSpec>[3];

async function freshSite(overrides: SpecOverrides = {}): Promise<Site> {
  const t = await createMoodleDatabase();
  cleanups.push(() => t.drop());
  const ws = await workspace();
  cleanups.push(() => ws.remove());
  const spec = await writePeopleSpec(ws, t.options, peopleLdif(PEOPLE), overrides);
  return { t, ws, spec, statePath: ws.path(STATE_FILE) };
}

/** A site after a first apply of the 12 people, whose directory then renames person 2 and adds person 13. */
async function appliedSite(overrides: SpecOverrides = {}): Promise<Site> {
  const site = await freshSite(overrides);
  const first = await applySpec(await loadSpec(site.spec));
  expect(first.state.serial).toBe(1);
  await writeFile(site.ws.path(PEOPLE_LDIF), peopleLdif(PEOPLE + 1, { renamed: [2] }));
  return site;
}

interface Snapshot {
  readonly tables: Record<string, number | null>;
  readonly state: Buffer | null;
}

async function snapshot(site: Site): Promise<Snapshot> {
  return {
    tables: await tableChecksums(site.t.admin, site.t.name, APPLY_TABLES),
    state: await fileBytes(site.statePath),
  };
}

async function expectUnchanged(site: Site, before: Snapshot): Promise<void> {
  expect(await tableChecksums(site.t.admin, site.t.name, APPLY_TABLES)).toEqual(before.tables);
  expect(await fileBytes(site.statePath)).toEqual(before.state);
  expect(await fileBytes(`${site.statePath}.pending`)).toBeNull();
}

async function applyError(site: Site, options: ApplyOptions = {}): Promise<UserError> {
  const error = await applySpec(await loadSpec(site.spec), options).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(UserError);
  return error as UserError;
}

const describeError = (e: UserError): string => [e.message, ...e.diagnostics.map(formatDiagnostic)].join('\n');

/** A second admin connection on the site's database, to hold locks in an open transaction. */
async function locker(site: Site): Promise<Connection> {
  const conn = await adminConnection(site.t.name);
  cleanups.push(() => conn.end().catch(() => undefined));
  return conn;
}

/**
 * Waits until a connection of the site's database has been running a statement matching `sql` (a LIKE
 * pattern) for over 200 ms: on these tiny tables, only a statement waiting for a row lock takes that long.
 * (INNODB_TRX does not list a transaction waiting on the implicit lock of an uncommitted insert.) Returns its
 * thread id and how long it has waited.
 */
async function lockWaiter(site: Site, sql: string, timeoutMs = 15_000): Promise<{ id: number; waitedMs: number }> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const [rows] = await site.t.admin.query(
      `SELECT ID AS id, TIME_MS AS waitedMs FROM information_schema.PROCESSLIST
        WHERE DB = ? AND COMMAND = 'Query' AND INFO LIKE ? AND TIME_MS > 200 AND ID <> CONNECTION_ID()`,
      [site.t.name, sql],
    );
    const [row] = rows as { id: number; waitedMs: number }[];
    if (row !== undefined) return { id: row.id, waitedMs: Number(row.waitedMs) };
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`no connection of ${site.t.name} waited on ${sql} within ${timeoutMs} ms`);
}

/** The apply's statement that waits for the marker row held by `holdMarker`. */
const MARKER_LOCK = '%mdl_config_plugins%FOR UPDATE';

/** Holds the marker row (or, on a fresh site, the place where it goes) in an open transaction. */
async function holdMarker(conn: Connection, fresh: boolean): Promise<void> {
  await conn.query('START TRANSACTION');
  if (fresh) {
    await conn.query("INSERT INTO mdl_config_plugins (plugin, name, value) VALUES ('local_ldap2moodle', 'state', 'x')");
  } else {
    await conn.query(`SELECT id FROM mdl_config_plugins WHERE ${MARKER} FOR UPDATE`);
  }
}

describe('the connection killed while the apply waits inside its transaction', () => {
  for (const fresh of [true, false]) {
    it(`${fresh ? 'first' : 'second'} apply: APPLY_FAILED, nothing written, the next apply converges`, async () => {
      const site = fresh ? await freshSite() : await appliedSite();
      const before = await snapshot(site);
      const conn = await locker(site);
      await holdMarker(conn, fresh);

      const failed = applyError(site);
      const waiter = await lockWaiter(site, MARKER_LOCK);
      await site.t.admin.query(`KILL ${Number(waiter.id)}`);
      const error = await failed;
      await conn.query('ROLLBACK');

      expect(error.code, describeError(error)).toBe('APPLY_FAILED');
      expect(error.message).toContain(site.t.name);
      expect(error.message).toContain('failed: Connection lost: The server closed the connection. The transaction');
      expect(error.message).toContain('nothing was written');
      // Killed before COMMIT: the transaction rolled back and the apply removed its pending file itself.
      await expectUnchanged(site, before);

      await applySpec(await loadSpec(site.spec));
      const people = fresh ? ALL : peopleUsernames(1, PEOPLE + 1);
      expect(await convergenceProblems(site.t.admin, site.statePath, { active: people })).toEqual([]);
    });
  }
});

describe('lock waits', () => {
  it('a lock held past every attempt: APPLY_FAILED after 3 attempts, nothing written', async () => {
    const site = await freshSite({ moodle: { lockTimeout: 1 } });
    const before = await snapshot(site);
    const conn = await locker(site);
    await holdMarker(conn, true);

    const started = performance.now();
    const error = await applyError(site);
    const ms = performance.now() - started;
    await conn.query('ROLLBACK');

    expect(error.code, describeError(error)).toBe('APPLY_FAILED');
    expect(error.message).toContain('after 3 attempts');
    expect(error.message).toMatch(/lock wait timeout/i);
    expect((error.cause as { errno?: number }).errno).toBe(1205);
    // Three waits of lockTimeout (1 s) each.
    expect(ms).toBeGreaterThan(2_900);
    await expectUnchanged(site, before);
  });

  it('a lock held ~1.5 s with lockTimeout 1: the second attempt succeeds', async () => {
    const site = await freshSite({ moodle: { lockTimeout: 1 } });
    const conn = await locker(site);
    await holdMarker(conn, true);

    const applying = applySpec(await loadSpec(site.spec));
    const { waitedMs } = await lockWaiter(site, MARKER_LOCK);
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, 1_500 - waitedMs)));
    await conn.query('ROLLBACK');
    const result = await applying;

    expect(result.applied).toBe(true);
    expect(result.attempts).toBe(2);
    expect(await convergenceProblems(site.t.admin, site.statePath, { active: ALL })).toEqual([]);
  });
});

describe('Moodle changed between plan and apply', () => {
  it('a username taken by hand: PLAN_STALE naming it, nothing written', async () => {
    const site = await freshSite();
    let before: Snapshot | undefined;
    const error = await applyError(site, {
      confirm: async () => {
        await site.t.admin.query(
          "INSERT INTO mdl_user (auth, username, firstname, lastname, email, mnethostid, confirmed) VALUES ('manual', 'p0000003', 'Hand', 'Made', '', 1, 1)",
        );
        before = await snapshot(site);
        return true;
      },
    });
    expect(error.code, describeError(error)).toBe('PLAN_STALE');
    expect(describeError(error)).toContain('username "p0000003" was taken');
    await expectUnchanged(site, before as Snapshot);
  });

  it('a username inserted by a concurrent transaction: MOODLE_CONFLICT at the insert, nothing written', async () => {
    const site = await freshSite();
    const before = await snapshot(site);
    const conn = await locker(site);
    await conn.query('START TRANSACTION');
    await conn.query(
      "INSERT INTO mdl_user (auth, username, firstname, lastname, email, mnethostid, confirmed) VALUES ('manual', 'p0000003', 'Other', 'Writer', '', 1, 1)",
    );

    // The re-check cannot see the uncommitted row; the apply's INSERT waits on the unique key, then fails.
    const failed = applyError(site);
    await lockWaiter(site, 'INSERT INTO `mdl_user`%');
    await conn.query('COMMIT');
    const error = await failed;
    expect(error.code, describeError(error)).toBe('MOODLE_CONFLICT');
    expect(error.message).toContain('p0000003');

    await site.t.admin.query("DELETE FROM mdl_user WHERE username = 'p0000003'");
    await expectUnchanged(site, before);
  });

  it('a managed column edited by hand: PLAN_STALE, nothing written', async () => {
    const site = await appliedSite();
    let before: Snapshot | undefined;
    const error = await applyError(site, {
      confirm: async () => {
        await site.t.admin.query("UPDATE mdl_user SET firstname = 'Handmade' WHERE username = 'p0000002'");
        before = await snapshot(site);
        return true;
      },
    });
    expect(error.code, describeError(error)).toBe('PLAN_STALE');
    expect(describeError(error)).toMatch(/firstname is now "Handmade", the plan saw "\w+"/);
    await expectUnchanged(site, before as Snapshot);
  });

  it('a login (lastaccess, lastip) is not a change: the apply succeeds and keeps them', async () => {
    const site = await appliedSite();
    const result = await applySpec(await loadSpec(site.spec), {
      confirm: async () => {
        await site.t.admin.query(
          "UPDATE mdl_user SET lastaccess = 1767600000, lastip = '10.1.2.3' WHERE username = 'p0000002'",
        );
        return true;
      },
    });
    expect(result.applied).toBe(true);
    const [rows] = await site.t.admin.query(
      "SELECT lastname, lastaccess, lastip FROM mdl_user WHERE username = 'p0000002'",
    );
    expect(rows).toEqual([
      { lastname: expect.stringMatching(/-renamed$/), lastaccess: 1767600000, lastip: '10.1.2.3' },
    ]);
    const people = peopleUsernames(1, PEOPLE + 1);
    expect(await convergenceProblems(site.t.admin, site.statePath, { active: people })).toEqual([]);
  });

  it('a second apply on the same state meanwhile: refused at once (STATE_LOCKED); the first goes on', async () => {
    const site = await appliedSite();
    let refused: unknown;
    const result = await applySpec(await loadSpec(site.spec), {
      confirm: async () => {
        refused = await applySpec(await loadSpec(site.spec)).catch((e: unknown) => e);
        return true;
      },
    });
    expect((refused as UserError).code).toBe('STATE_LOCKED');
    expect(result.applied).toBe(true);
    const people = peopleUsernames(1, PEOPLE + 1);
    expect(await convergenceProblems(site.t.admin, site.statePath, { active: people })).toEqual([]);
  });

  it('another apply with its own copy of the state committed meanwhile: PLAN_STALE, nothing written', async () => {
    const site = await appliedSite();
    // A second machine running the same spec with a copy of the state file (no shared state lock).
    const otherState = site.ws.path('other.state.json');
    const otherSpec = site.ws.path('other.yaml');
    let other: Snapshot | undefined;
    const error = await applyError(site, {
      confirm: async () => {
        await copyFile(site.statePath, otherState);
        await writeFile(otherSpec, `${await readFile(site.spec, 'utf8')}\nstate:\n  path: other.state.json\n`);
        await writeFile(site.ws.path(PEOPLE_LDIF), peopleLdif(PEOPLE + 2, { without: [PEOPLE + 1] }));
        const concurrent = await applySpec(await loadSpec(otherSpec));
        expect(concurrent.state.serial).toBe(2);
        other = await snapshot(site);
        return true;
      },
    });
    expect(error.code, describeError(error)).toBe('PLAN_STALE');
    expect(error.message).toContain('another apply committed');
    await expectUnchanged(site, other as Snapshot);
    const people = [...ALL, ...peopleUsernames(PEOPLE + 2, PEOPLE + 2)];
    expect(await convergenceProblems(site.t.admin, otherState, { active: people })).toEqual([]);
  });
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
      const site = await freshSite({ state: { path: c.path } });
      await c.prepare(site.ws);
      const before = await snapshot(site);
      const error = await applyError(site);
      expect(error.code, describeError(error)).toBe('STATE_WRITE');
      expect(error.message).toContain(site.ws.path(c.path.split('/')[0] as string));
      expect(error.message).toContain('nothing was applied');
      await expectUnchanged(site, before);
      expect((await siteFacts(site.t.admin)).marker).toBeNull();
    });
  }

  it('the state file cannot be replaced after the commit: STATE_WRITE says so, the next run records it', async () => {
    const site = await freshSite();
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
    expect((await siteFacts(site.t.admin)).users.size).toBe(PEOPLE);

    await rm(site.statePath, { recursive: true });
    const next = await applySpec(await loadSpec(site.spec));
    expect(next.applied).toBe(false);
    expect(await convergenceProblems(site.t.admin, site.statePath, { active: ALL })).toEqual([]);
  });
});

it('MyISAM tables: MOODLE_UNSUPPORTED before writing', async () => {
  const site = await freshSite();
  await site.t.admin.query('ALTER TABLE mdl_user ENGINE = MyISAM; ALTER TABLE mdl_context ENGINE = MyISAM');
  const before = await snapshot(site);
  const error = await applyError(site);
  expect(error.code, describeError(error)).toBe('MOODLE_UNSUPPORTED');
  expect(error.message).toContain('mdl_user (MyISAM)');
  expect(error.message).toContain('mdl_context (MyISAM)');
  await expectUnchanged(site, before);
  expect((await siteFacts(site.t.admin)).marker).toBeNull();
});
