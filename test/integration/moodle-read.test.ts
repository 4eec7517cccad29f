import { createServer } from 'node:net';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { InternalError, UserError } from '../../src/errors.js';
import { openMoodle } from '../../src/moodle/connect.js';
import type { ServerConnectionOptions } from '../../src/moodle/database.js';
import { MysqlDatabase } from '../../src/moodle/dialects/mysql.js';
import { readUsers } from '../../src/moodle/read-users.js';
import { readSite } from '../../src/moodle/site.js';
import {
  createMoodleDatabase,
  dropStaleTestDatabases,
  mariadbServer,
  type TestMoodle,
  tableChecksums,
} from '../helpers/mariadb.js';

const created: TestMoodle[] = [];
async function fresh(options: { prefix?: string } = {}): Promise<TestMoodle> {
  const t = await createMoodleDatabase(options);
  created.push(t);
  return t;
}

beforeAll(async () => {
  await dropStaleTestDatabases();
});

afterEach(async () => {
  for (const t of created.splice(0)) await t.drop();
});

/** Runs `fn`, expecting a UserError; returns it. */
async function userError(fn: () => Promise<unknown>): Promise<UserError> {
  try {
    await fn();
  } catch (error) {
    expect(error).toBeInstanceOf(UserError);
    return error as UserError;
  }
  throw new Error('expected a UserError, got none');
}

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

function serverOptions(overrides: Partial<ServerConnectionOptions>): ServerConnectionOptions {
  const s = mariadbServer();
  return {
    driver: 'mariadb',
    host: s.host,
    port: s.port,
    user: s.user,
    password: s.password,
    database: 'mysql',
    prefix: 'mdl_',
    ...overrides,
  };
}

describe('readSite', () => {
  it('reads config, auth and user columns of the Moodle 4.5 dump', async () => {
    const { db } = await fresh();
    const site = await readSite(db);
    expect(site.release).toBe('4.5.6 (Build: 20250811)');
    expect(site.version).toBe('2024100706');
    expect(site.mnetLocalhostId).toBe(1);
    expect(site.siteAdminIds).toEqual([2]);
    expect(site.siteGuestId).toBe(1);
    expect(site.enabledAuth).toEqual(['manual', 'nologin', 'email']);
    expect(site.lang).toBe('en');
    expect(site.calendarType).toBe('gregorian');
    expect(site.timezone).toBe('Europe/London');
    expect(site.extendedUsernameChars).toBe(false);
    expect(site.userColumns.get('username')).toEqual({ name: 'username', type: 'varchar', maxLength: 100 });
    expect(site.userColumns.get('auth')).toEqual({ name: 'auth', type: 'varchar', maxLength: 20 });
    expect(site.userColumns.get('country')).toEqual({ name: 'country', type: 'varchar', maxLength: 2 });
    expect(site.userColumns.get('id')).toEqual({ name: 'id', type: 'bigint', maxLength: null });
    expect(site.userColumns.get('description')).toEqual({ name: 'description', type: 'longtext', maxLength: null });
  });

  it('honours mnet_localhost_id, siteadmins lists and auth lists as configured', async () => {
    const { db, admin } = await fresh();
    await admin.query(
      `UPDATE mdl_config SET value = CASE name WHEN 'mnet_localhost_id' THEN '3' WHEN 'siteadmins' THEN '2, 5'
         WHEN 'auth' THEN 'ldap,,cas,email' WHEN 'extendedusernamechars' THEN '1' END
       WHERE name IN ('mnet_localhost_id', 'siteadmins', 'auth', 'extendedusernamechars')`,
    );
    const site = await readSite(db);
    expect(site.mnetLocalhostId).toBe(3);
    expect(site.siteAdminIds).toEqual([2, 5]);
    expect(site.enabledAuth).toEqual(['manual', 'nologin', 'ldap', 'cas', 'email']);
    expect(site.extendedUsernameChars).toBe(true);
  });

  it('works with another table prefix, and refuses a prefix that holds no Moodle', async () => {
    const t = await fresh({ prefix: 'm45_' });
    expect((await readSite(t.db)).release).toMatch(/^4\.5\.6 /);
    const [tables] = await t.admin.query("SHOW TABLES LIKE 'mdl\\_%'");
    expect(tables).toEqual([]);

    const wrong = await openMoodle({ ...t.options, prefix: 'mdl_' });
    try {
      const error = await userError(() => readSite(wrong));
      expect(error.code).toBe('MOODLE_NOT_FOUND');
      expect(error.message).toContain(`no Moodle found in database ${t.name} with prefix "mdl_"`);
      expect(error.message).toContain('mdl_config, mdl_user missing');
      expect(error.message).toContain('moodle.prefix');
    } finally {
      await wrong.close();
    }
  });

  it('refuses tables that are not InnoDB', async () => {
    const { db, admin } = await fresh();
    await admin.query('ALTER TABLE mdl_sessions ENGINE=MyISAM ROW_FORMAT=DEFAULT');
    const error = await userError(() => readSite(db));
    expect(error.code).toBe('MOODLE_UNSUPPORTED');
    expect(error.message).toContain('mdl_sessions (MyISAM)');
    expect(error.message).not.toContain('mdl_user ');
  });
});

describe('readUsers', () => {
  it('returns guest and admin with numbers for ids and flags', async () => {
    const { db } = await fresh();
    const users = await readUsers(db, await readSite(db));
    expect(users.map((u) => [u.id, u.username])).toEqual([
      [1, 'guest'],
      [2, 'admin'],
    ]);
    const admin = users[1];
    expect(admin).toEqual({
      id: 2,
      username: 'admin',
      idnumber: '',
      auth: 'manual',
      deleted: 0,
      suspended: 0,
      firstname: 'Admin',
      lastname: 'User',
      email: 'admin@example.org',
      middlename: null,
      alternatename: null,
      institution: '',
      department: '',
      city: '',
      country: '',
      timemodified: 1795418311,
    });
  });

  it('returns deleted users of this site and no users of other MNet hosts', async () => {
    const { db, admin } = await fresh();
    await admin.query(
      `INSERT INTO mdl_user (id, auth, deleted, mnethostid, username, email, idnumber, timemodified)
       VALUES (7, 'ldap', 1, 1, 'old.pupil@example.org.1700000000', '', 'S123', 1700000000),
              (8, 'ldap', 0, 3, 'remote', 'remote@example.org', '', 0)`,
    );
    const users = await readUsers(db, await readSite(db));
    expect(users.map((u) => u.username)).toEqual(['guest', 'admin', 'old.pupil@example.org.1700000000']);
    expect(users[2]).toMatchObject({
      id: 7,
      deleted: 1,
      auth: 'ldap',
      idnumber: 'S123',
      timemodified: 1700000000,
    });
  });

  it('reads the users of mnet_localhost_id 3 when the site says so', async () => {
    const { db, admin } = await fresh();
    await admin.query(
      `UPDATE mdl_config SET value = '3' WHERE name = 'mnet_localhost_id';
       INSERT INTO mdl_user (id, mnethostid, username) VALUES (9, 3, 'local3')`,
    );
    const users = await readUsers(db, await readSite(db));
    expect(users.map((u) => [u.id, u.username])).toEqual([[9, 'local3']]);
  });

  it('returns ids up to 2^53 - 1 exactly and refuses larger ones', async () => {
    const { db, admin } = await fresh();
    const site = await readSite(db);
    await admin.query(`INSERT INTO mdl_user (id, mnethostid, username) VALUES (9007199254740991, 1, 'max')`);
    expect((await readUsers(db, site)).at(-1)?.id).toBe(Number.MAX_SAFE_INTEGER);
    await admin.query(`INSERT INTO mdl_user (id, mnethostid, username) VALUES (9007199254740993, 1, 'over')`);
    const error = await userError(() => readUsers(db, site));
    expect(error.code).toBe('MOODLE_UNSUPPORTED');
    expect(error.message).toContain('9007199254740993');
  });
});

describe('openMoodle errors', () => {
  it('reports an unknown database', async () => {
    const error = await userError(() => openMoodle(serverOptions({ database: 'l2m_no_such_database' })));
    expect(error.code).toBe('MOODLE_CONNECT');
    expect(error.message).toContain('l2m_no_such_database');
    expect(error.message).toContain('moodle.database');
  });

  it('reports a wrong password without the password', async () => {
    const password = 'Wr0ng-Secret-7f3a';
    const error = await userError(() => openMoodle(serverOptions({ password })));
    expect(error.code).toBe('MOODLE_CONNECT');
    expect(error.message).toMatch(/access denied for user ".*" \(password given: yes\)/);
    expect(error.message).not.toContain(password);
  });

  it('reports a closed port and an unknown host', async () => {
    const port = await closedPort();
    const refused = await userError(() =>
      openMoodle(serverOptions({ host: '127.0.0.1', port, password: 'Secret-on-closed-port' })),
    );
    expect(refused.code).toBe('MOODLE_CONNECT');
    expect(refused.message).toContain(`127.0.0.1:${port}`);
    expect(refused.message).toContain('connection refused');
    expect(refused.message).not.toContain('Secret-on-closed-port');

    const unknown = await userError(() => openMoodle(serverOptions({ host: 'no-such-host.invalid' })));
    expect(unknown.code).toBe('MOODLE_CONNECT');
    expect(unknown.message).toContain('unknown host no-such-host.invalid');
  });

  it('keeps the password out of the description', async () => {
    const db = new MysqlDatabase(serverOptions({ user: 'moodle', password: 'Hidden-42', database: 'moodle' }));
    const s = mariadbServer();
    expect(db.description).toBe(`mariadb://moodle@${s.host}:${s.port}/moodle`);
    await db.close();
  });
});

describe('MysqlDatabase', () => {
  it('sets up a strict UTF-8, UTC session, so a too-long value is an error and not a truncation', async () => {
    const { db, admin } = await fresh();
    const [session] = await db.query<{ mode: string; tz: string; coll: string }>(
      'SELECT @@SESSION.sql_mode AS mode, @@SESSION.time_zone AS tz, @@SESSION.collation_connection AS coll',
    );
    expect(session?.mode.split(',')).toContain('STRICT_ALL_TABLES');
    expect(session?.tz).toBe('+00:00');
    expect(session?.coll).toBe('utf8mb4_unicode_ci');

    await expect(
      db.execute('INSERT INTO {user} (mnethostid, username) VALUES (?, ?)', [1, 'x'.repeat(101)]),
    ).rejects.toMatchObject({ code: 'ER_DATA_TOO_LONG' });
    const [rows] = await admin.query('SELECT COUNT(*) AS n FROM mdl_user');
    expect(rows).toEqual([{ n: 2 }]);
    // 100 characters of 4 bytes each fit: lengths are in characters.
    const fits = await db.execute('INSERT INTO {user} (mnethostid, username) VALUES (?, ?)', [1, '😀'.repeat(100)]);
    expect(fits.affectedRows).toBe(1);
  });

  it('commits a transaction on one connection, invisible to others until COMMIT', async () => {
    const { db, admin } = await fresh();
    const result = await db.transaction(async (tx) => {
      const update = await tx.execute('UPDATE {user} SET firstname = ? WHERE id IN (?, ?)', ['Changed', 1, 2]);
      const inside = await tx.query<{ firstname: string }>('SELECT firstname FROM {user} WHERE id = ?', [2]);
      const [outside] = await admin.query('SELECT firstname FROM mdl_user WHERE id = 2');
      return { affected: update.affectedRows, inside, outside };
    });
    expect(result).toEqual({
      affected: 2,
      inside: [{ firstname: 'Changed' }],
      outside: [{ firstname: 'Admin' }],
    });
    const [after] = await admin.query('SELECT firstname FROM mdl_user ORDER BY id');
    expect(after).toEqual([{ firstname: 'Changed' }, { firstname: 'Changed' }]);
  });

  it('rolls a transaction back when its function throws, leaving the tables as they were', async () => {
    const { db, admin, name } = await fresh();
    const tables = ['mdl_user', 'mdl_context', 'mdl_config'];
    const before = await tableChecksums(admin, name, tables);
    expect(Object.keys(before)).toEqual(tables);
    let leaked: Parameters<Parameters<typeof db.transaction>[0]>[0] | undefined;
    await expect(
      db.transaction(async (tx) => {
        leaked = tx;
        await tx.execute('UPDATE {user} SET firstname = ? WHERE id = ?', ['Gone', 2]);
        await tx.execute('INSERT INTO {context} (contextlevel, instanceid, path, depth) VALUES (30, 99, ?, 2)', [
          '/1/11',
        ]);
        await tx.execute("UPDATE {config} SET value = 'x' WHERE name = 'lang'");
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect(await tableChecksums(admin, name, tables)).toEqual(before);
    await expect(leaked?.query('SELECT 1')).rejects.toBeInstanceOf(InternalError);
  });

  it('expands {table} names and checks placeholders', async () => {
    const { db } = await fresh({ prefix: 'x_' });
    const rows = await db.query<{ n: number }>('SELECT COUNT(*) AS n FROM {user} WHERE username <> ?', ['?']);
    expect(rows).toEqual([{ n: 2 }]);
    await expect(db.query('SELECT 1 FROM {User}')).rejects.toBeInstanceOf(InternalError);
    await expect(db.query('SELECT id FROM {user} WHERE id = ?', [])).rejects.toBeInstanceOf(InternalError);
    await expect(db.query("SELECT '?' AS q")).resolves.toEqual([{ q: '?' }]);
    await expect(db.execute('SELECT 1')).rejects.toBeInstanceOf(InternalError);
    await expect(db.query('SELECT id FROM {user} WHERE id = ? AND ?', [2n, true])).resolves.toEqual([{ id: 2 }]);
    // affectedRows counts matched rows (FOUND_ROWS), as PostgreSQL does, not only changed ones.
    const same = await db.execute('UPDATE {user} SET auth = ? WHERE id IN (?, ?)', ['manual', 1, 2]);
    expect(same.affectedRows).toBe(2);
  });
});
