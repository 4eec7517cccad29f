import { afterEach, describe, expect, it } from 'vitest';
import { UserError } from '../../src/errors.js';
import { openMoodle } from '../../src/moodle/connect.js';
import { readUsers } from '../../src/moodle/read-users.js';
import { readSite } from '../../src/moodle/site.js';
import type { PostgresMoodle } from '../helpers/postgres.js';
import { createPostgresMoodle } from '../helpers/postgres.js';

const open: PostgresMoodle[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((m) => m.drop()));
});
async function fresh(schema?: string): Promise<PostgresMoodle> {
  const m = await createPostgresMoodle(schema === undefined ? {} : { schema });
  open.push(m);
  return m;
}

describe('PostgreSQL Moodle', () => {
  it('reads the site and its users with ids as numbers', async () => {
    const { db } = await fresh();
    const site = await readSite(db);
    expect(site.release).toMatch(/^4\.5\.6/);
    expect(site.mnetLocalhostId).toBe(1);
    expect(site.siteAdminIds).toEqual([2]);
    expect(site.userColumns.get('username')).toEqual({ name: 'username', type: 'varchar', maxLength: 100 });
    expect(site.userColumns.get('id')).toEqual({ name: 'id', type: 'bigint', maxLength: null });
    const users = await readUsers(db, site);
    expect(users.map((u) => [u.id, u.username, u.deleted])).toEqual([
      [1, 'guest', 0],
      [2, 'admin', 0],
    ]);
  });

  it('finds a Moodle in another schema only when told', async () => {
    const moved = await fresh('moodle');
    const site = await readSite(moved.db);
    expect(site.release).toMatch(/^4\.5/);
    const withoutSchema = await openMoodle({ ...moved.options, schema: undefined });
    try {
      const error = await readSite(withoutSchema).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(UserError);
      expect((error as UserError).code).toBe('MOODLE_NOT_FOUND');
      expect((error as UserError).message).toContain('schema public');
    } finally {
      await withoutSchema.close();
    }
  });

  it('refuses a database that is not a Moodle, and wrong credentials, clearly', async () => {
    const { options } = await fresh();
    const empty = await openMoodle({ ...options, database: 'postgres' });
    try {
      const error = await readSite(empty).catch((e: unknown) => e);
      expect((error as UserError).code).toBe('MOODLE_NOT_FOUND');
    } finally {
      await empty.close();
    }
    const missing = await openMoodle({ ...options, database: 'l2m_no_such_db' }).catch((e: unknown) => e);
    expect((missing as UserError).code).toBe('MOODLE_CONNECT');
    expect((missing as UserError).message).toContain('l2m_no_such_db');
    const closed = await openMoodle({ ...options, port: 1 }).catch((e: unknown) => e);
    expect((closed as UserError).code).toBe('MOODLE_CONNECT');
  });

  it('rolls back and commits transactions', async () => {
    const { db, admin } = await fresh();
    await db
      .transaction(async (tx) => {
        await tx.execute('UPDATE {user} SET firstname = ? WHERE id = ?', ['Changed', 2]);
        throw new Error('stop');
      })
      .catch(() => undefined);
    expect((await admin.query('SELECT firstname FROM mdl_user WHERE id = 2')).rows[0].firstname).toBe('Admin');
    await db.transaction((tx) => tx.execute('UPDATE {user} SET firstname = ? WHERE id = ?', ['Changed', 2]));
    expect((await admin.query('SELECT firstname FROM mdl_user WHERE id = 2')).rows[0].firstname).toBe('Changed');
  });
});
