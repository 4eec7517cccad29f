/**
 * The apply lock in the database (src/moodle/apply-lock.ts): one apply at a time per Moodle, across processes
 * and state files; released after success, failure and crash; `force-unlock`; one lock per database+prefix.
 */
import { hostname } from 'node:os';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { openSpecMoodle } from '../../src/index.js';
import type { HeldApplyLock } from '../../src/moodle/apply-lock.js';
import { acquireApplyLock, applyLockName, forceUnlock } from '../../src/moodle/apply-lock.js';
import type { MoodleDatabase, ServerConnectionOptions } from '../../src/moodle/database.js';
import { MysqlDatabase, mysqlLockName } from '../../src/moodle/dialects/mysql.js';
import { PostgresDatabase, postgresLockKey } from '../../src/moodle/dialects/postgres.js';
import type { ApplySite } from '../helpers/apply-specs.js';
import { applySite, people, usersSection } from '../helpers/apply-specs.js';
import { ensureBuilt, runApplyChild } from '../helpers/child-apply.js';
import { writeSpec } from '../helpers/spec-files.js';
import { killSession } from '../helpers/target-locks.js';
import { TARGETS } from '../helpers/targets.js';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
});

beforeAll(async () => {
  await ensureBuilt();
}, 180_000);

async function site(target: (typeof TARGETS)[number], n = 3): Promise<ApplySite> {
  const s = await applySite(target, people(n));
  cleanups.push(() => s.remove());
  return s;
}

/** A second spec on the same Moodle with a state file of its own (another machine's, in effect). */
function otherSpec(s: ApplySite): Promise<string> {
  return writeSpec(
    s.ws,
    {
      version: 1,
      source: { ldif: 'directory.ldif' },
      moodle: s.t.moodleSection(s.ws.dir),
      state: { path: 'other.state.json' },
      users: usersSection(),
    },
    'other.yaml',
  );
}

type LockRow = {
  readonly name: string;
  readonly value: string;
};

const lockRows = (s: ApplySite): Promise<LockRow[]> =>
  s.t.query<LockRow>(
    "SELECT name, value FROM mdl_config_plugins WHERE plugin = 'local_ldap2moodle' AND name IN ('lock', 'lock_holder') ORDER BY name",
  );

/** The tool's own database on the site, with the lock `mode` held; closed after the test. */
async function holdLock(
  s: ApplySite,
  mode: 'auto' | 'row' = 'auto',
): Promise<{ db: MoodleDatabase; lock: HeldApplyLock }> {
  const db = await openSpecMoodle(await s.load());
  const lock = await acquireApplyLock(db, { mode });
  cleanups.push(async () => {
    await lock.release().catch(() => undefined);
    await db.close();
  });
  return { db, lock };
}

describe.each(TARGETS)('the apply lock on %s', (target) => {
  const server = target !== 'embedded';

  it('two applies at once in two processes: one proceeds, the other fails at once naming the holder', async () => {
    const s = await site(target);
    const other = await otherSpec(s);
    let held: () => void = () => undefined;
    const holding = new Promise<void>((resolve) => {
      held = resolve;
    });
    let go: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => {
      go = resolve;
    });
    // The first apply, in this process, waits at its confirmation: planned, lock held, nothing written yet.
    const first = s.apply({
      confirm: async () => {
        held();
        await gate;
        return true;
      },
    });
    await holding;
    try {
      let holderId = '';
      if (server) {
        const rows = await lockRows(s);
        expect(rows.map((r) => r.name)).toEqual(['lock_holder']);
        const holder = JSON.parse(rows[0]?.value ?? '{}') as { id: string; pid: number; host: string };
        expect(holder).toMatchObject({ pid: process.pid, host: hostname(), mode: 'advisory' });
        holderId = holder.id;
      }
      const second = await runApplyChild(other);
      expect(second.code, second.stderr).toBe(1);
      expect(second.stderr).toContain('Error [MOODLE_LOCKED]');
      expect(second.stderr).toContain(`process ${process.pid} on ${hostname()}`);
      if (server) {
        expect(second.stderr).toContain(`lock ${holderId}`);
        expect(second.stderr).toMatch(/since \d{4}-\d\d-\d\dT/);
        expect(second.stderr).toContain(`force-unlock --spec ${other} ${holderId}`);
        // "At once": no waiting on the holder.
        expect(second.ms).toBeLessThan(10_000);
      }
    } finally {
      go();
    }
    const result = await first;
    expect(result.applied).toBe(true);
    if (server) expect(await lockRows(s)).toEqual([]);
    await s.setPeople(people(4));
    expect((await s.apply()).applied).toBe(true);
  });

  it('is released after a failed apply and after a crashed one: the next apply works', async () => {
    const s = await site(target);
    // The confirmation fails: the apply ends with an error, after planning under the lock.
    const failed = await s
      .apply({
        confirm: async () => {
          throw new Error('the confirmation broke');
        },
      })
      .then(
        () => null,
        (error: unknown) => error as Error,
      );
    expect(failed?.message).toBe('the confirmation broke');
    if (server) expect(await lockRows(s)).toEqual([]);

    // Killed inside the transaction: the server ends its sessions, and with them the advisory lock.
    await s.t.release();
    const crashed = await runApplyChild(s.specPath, { failpoint: 'after-writes' });
    expect(crashed.signal).toBe('SIGKILL');
    // The server notices the closed connection asynchronously.
    await new Promise((resolve) => setTimeout(resolve, 300));
    if (server) expect((await lockRows(s)).map((r) => r.name)).toEqual(['lock_holder']); // stale record
    const result = await s.apply();
    expect(result.applied).toBe(true);
    if (server) expect(await lockRows(s)).toEqual([]);
  });

  it.skipIf(!server)(
    'force-unlock: a live session is named, not released; the right id removes a stale record',
    async () => {
      const s = await site(target);
      const { db, lock } = await holdLock(s);
      const id = lock.holder?.id ?? '';
      const session = await db.advisoryLockSession(applyLockName(db));
      expect(session).not.toBeNull();

      const wrong = await s.cli(['force-unlock', '--spec', s.specPath, '00000000-0000-0000-0000-000000000000']);
      expect(wrong.code).toBe(1);
      expect(wrong.stderr).toContain('Error [MOODLE_LOCKED]');
      expect(wrong.stderr).toContain('is not the current lock');
      expect(wrong.stderr).toContain(`lock ${id}, held by process ${process.pid} on ${hostname()}`);

      const live = await s.cli(['force-unlock', '--spec', s.specPath, id]);
      expect(live.code).toBe(1);
      expect(live.stderr).toContain("cannot release another session's advisory lock");
      expect(live.stderr).toContain(
        target === 'mariadb' ? `KILL ${session}` : `SELECT pg_terminate_backend(${session})`,
      );
      // How to find that session, in the server's terms (the GET_LOCK name as the server knows it).
      expect(live.stderr).toContain(
        target === 'mariadb'
          ? `SELECT IS_USED_LOCK('${mysqlLockName(applyLockName(db))}')\` (the connection id) and \`SHOW PROCESSLIST\``
          : `FROM pg_stat_activity WHERE pid = ${session}\``,
      );
      expect(await lockRows(s)).toHaveLength(1);

      // The holder's session ends (its process hung, an administrator kills it): only the record is left.
      await killSession(s.t, session ?? 0);
      await new Promise((resolve) => setTimeout(resolve, 200));
      const unlocked = await s.cli(['force-unlock', '--spec', s.specPath, id]);
      expect(unlocked.code, unlocked.stderr).toBe(0);
      expect(unlocked.stdout).toContain(`Removed the stale holder record`);
      expect(await lockRows(s)).toEqual([]);
      expect((await s.apply()).applied).toBe(true);
    },
  );

  it.skipIf(!server)(
    'the Galera fallback row: refuses other applies, force-unlock with the right id only',
    async () => {
      const s = await site(target);
      const { lock } = await holdLock(s, 'row');
      const holder = lock.holder;
      expect(holder?.mode).toBe('row');
      expect((await lockRows(s)).map((r) => r.name)).toEqual(['lock']);

      // An apply (another process) on a plain server honours the row too.
      const refused = await runApplyChild(s.specPath);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toContain('Error [MOODLE_LOCKED]');
      expect(refused.stderr).toContain(
        `lock ${holder?.id}, held by process ${process.pid} on ${hostname()} since ${holder?.started}`,
      );
      expect(refused.stderr).toContain(`force-unlock --spec ${s.specPath} ${holder?.id}`);
      // A second holder in row mode is refused as well (the unique key is the test-and-set).
      const db2 = await openSpecMoodle(await s.load());
      cleanups.push(() => db2.close());
      await expect(acquireApplyLock(db2, { mode: 'row' })).rejects.toMatchObject({ code: 'MOODLE_LOCKED' });

      const wrong = await s.cli(['force-unlock', '--spec', s.specPath, 'not-the-id']);
      expect(wrong.code).toBe(1);
      expect(wrong.stderr).toContain(`lock ${holder?.id}`);
      expect((await lockRows(s)).map((r) => r.name)).toEqual(['lock']);

      const right = await s.cli(['force-unlock', '--spec', s.specPath, holder?.id ?? '']);
      expect(right.code, right.stderr).toBe(0);
      expect(right.stdout).toContain('Removed the lock row');
      expect(await lockRows(s)).toEqual([]);
      expect((await s.apply()).applied).toBe(true);
    },
  );

  it.skipIf(server)('embedded: its directory lock is the lock; force-unlock has nothing to remove', async () => {
    const s = await site(target);
    await s.t.release();
    const run = await s.cli(['force-unlock', '--spec', s.specPath, 'any-id']);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain('nothing to unlock');
  });

  it.skipIf(server)(
    'embedded: forceUnlock itself says there is nothing to unlock; the Moodle stays usable',
    async () => {
      const s = await site(target);
      await s.t.release();
      const db = await openSpecMoodle(await s.load());
      try {
        expect(db.exclusive).toBe(true);
        const result = await forceUnlock(db, 'any-id');
        expect(result.removed).toEqual([]);
        expect(result.nothingRemoved).toBe(
          `${db.location} is locked only while a process has it open (its directory lock file), and none has: ` +
            'nothing to unlock.',
        );
      } finally {
        await db.close();
      }
      expect((await s.apply()).applied).toBe(true);
    },
  );

  it.skipIf(!server)('a row left by a dead process of this host is taken over', async () => {
    const s = await site(target);
    const dead = {
      id: 'dead-one',
      pid: 2 ** 22 + 12345,
      host: hostname(),
      started: 'x',
      tool_version: '0',
      mode: 'row',
    };
    await s.t.insert('config_plugins', { plugin: 'local_ldap2moodle', name: 'lock', value: JSON.stringify(dead) });
    expect((await s.apply()).applied).toBe(true);
    expect(await lockRows(s)).toEqual([]);
  });

  it.skipIf(!server)('two Moodles on one server (other database, other prefix) do not block each other', async () => {
    const a = await site(target);
    const b = await applySite(target, people(2), {}, { prefix: 'm2_' });
    cleanups.push(() => b.remove());
    const { db } = await holdLock(a);
    const dbB = await openSpecMoodle(await b.load());
    const nameA = applyLockName(db);
    const nameB = applyLockName(dbB);
    await dbB.close();
    expect(nameA).not.toBe(nameB);
    expect(nameA).toContain(a.t.label);
    // B (its own database, prefix m2_) applies while A is held; A stays held.
    expect((await b.apply()).applied).toBe(true);
    await expect(runApplyChild(a.specPath)).resolves.toMatchObject({ code: 1 });
  });
});

describe('lock names', () => {
  it('fit GET_LOCK (64 chars), digested only when too long, and differ per database and prefix', () => {
    const short = 'ldap2moodle:moodle/mdl_';
    expect(mysqlLockName(short)).toBe(short);
    const long = `ldap2moodle:${'d'.repeat(64)}/mdl_`;
    const other = `ldap2moodle:${'d'.repeat(64)}/m2_`;
    expect(mysqlLockName(long)).toHaveLength(64);
    expect(mysqlLockName(long)).not.toBe(mysqlLockName(other));
    expect(applyLockName({ lockScope: 'moodle/mdl_' })).not.toBe(applyLockName({ lockScope: 'moodle/m2_' }));
    expect(postgresLockKey('ldap2moodle:m/public/mdl_')).not.toBe(postgresLockKey('ldap2moodle:m/other/mdl_'));
    expect(postgresLockKey('x')).toBe(postgresLockKey('x'));
  });
});

describe('how to end the session holding the lock, per server dialect', () => {
  // Never connected: the pools connect on first use only.
  const options = (driver: ServerConnectionOptions['driver']): ServerConnectionOptions => ({
    driver,
    host: '127.0.0.1',
    port: 1,
    database: 'd'.repeat(64),
    user: 'u',
    prefix: 'mdl_',
  });

  it('MariaDB/MySQL: IS_USED_LOCK on the GET_LOCK name (digested when long), SHOW PROCESSLIST, KILL', async () => {
    const db = new MysqlDatabase(options('mariadb'));
    try {
      expect(db.exclusive).toBe(false);
      const name = applyLockName(db);
      expect(name.length).toBeGreaterThan(64);
      expect(db.lockSessionAdvice(name, 42)).toBe(
        `find it with \`SELECT IS_USED_LOCK('${mysqlLockName(name)}')\` (the connection id) and \`SHOW PROCESSLIST\`, ` +
          'and end it with `KILL 42`',
      );
      expect(mysqlLockName(name)).toHaveLength(64);
      expect(db.lockSessionAdvice(name, null)).toMatch(/`KILL ID`$/);
    } finally {
      await db.close();
    }
  });

  it('PostgreSQL: pg_stat_activity and pg_terminate_backend on the pid', async () => {
    const db = new PostgresDatabase(options('postgres'));
    try {
      expect(db.exclusive).toBe(false);
      const name = applyLockName(db);
      expect(db.lockSessionAdvice(name, 4242)).toBe(
        'find it with `SELECT pid, application_name, client_addr, backend_start FROM pg_stat_activity WHERE pid = 4242` ' +
          '(pg_locks lists it as an advisory lock), and end it with `SELECT pg_terminate_backend(4242)`',
      );
      expect(db.lockSessionAdvice(name, null)).toContain('WHERE pid = PID` ');
      expect(db.lockSessionAdvice(name, null)).toMatch(/`SELECT pg_terminate_backend\(PID\)`$/);
    } finally {
      await db.close();
    }
  });
});
