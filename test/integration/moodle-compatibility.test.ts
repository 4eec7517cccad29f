import { afterEach, describe, expect, it } from 'vitest';
import { UserError } from '../../src/errors.js';
import { readSite } from '../../src/moodle/site.js';
import type { TestMoodle } from '../helpers/mariadb.js';
import { createMoodleDatabase } from '../helpers/mariadb.js';
import type { PostgresMoodle } from '../helpers/postgres.js';
import { createPostgresMoodle } from '../helpers/postgres.js';

const drops: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(drops.splice(0).map((d) => d()));
});

const error = (p: Promise<unknown>): Promise<UserError> =>
  p.then(
    () => {
      throw new Error('expected a UserError');
    },
    (e: unknown) => {
      expect(e).toBeInstanceOf(UserError);
      return e as UserError;
    },
  );

describe('which Moodle (MariaDB)', () => {
  async function site(): Promise<TestMoodle> {
    const t = await createMoodleDatabase();
    drops.push(() => t.drop());
    return t;
  }

  it('accepts 4.5 without a warning', async () => {
    const t = await site();
    expect((await readSite(t.db)).warnings).toEqual([]);
  });

  it('accepts another 4.x or 5.x release with a warning when the columns check out', async () => {
    const t = await site();
    await t.admin.query("UPDATE mdl_config SET value = '5.0.2 (Build: 20250601)' WHERE name = 'release'");
    expect((await readSite(t.db)).warnings).toEqual([
      'Moodle 5.0.2 (Build: 20250601) is not the tested release (4.5 LTS); its columns check out, so ldap2moodle goes on',
    ]);
  });

  it('refuses a release whose columns do not check out, naming the missing column', async () => {
    const t = await site();
    await t.admin.query("UPDATE mdl_config SET value = '5.1 (Build: 20251001)' WHERE name = 'release'");
    await t.admin.query('ALTER TABLE mdl_user DROP COLUMN trustbitmask');
    const e = await error(readSite(t.db));
    expect(e.code).toBe('MOODLE_UNSUPPORTED');
    expect(e.message).toContain('mdl_user.trustbitmask is missing');
  });

  it('refuses Moodle 3.x', async () => {
    const t = await site();
    await t.admin.query("UPDATE mdl_config SET value = '3.11.4 (Build: 20211108)' WHERE name = 'release'");
    const e = await error(readSite(t.db));
    expect(e.message).toContain('supports Moodle 4.x and 5.x');
  });
});

describe('which Moodle (PostgreSQL)', () => {
  it('names a column of the wrong type', async () => {
    const t: PostgresMoodle = await createPostgresMoodle();
    drops.push(() => t.drop());
    await t.admin.query('ALTER TABLE mdl_context ALTER COLUMN depth TYPE varchar(10)');
    const e = await error(readSite(t.db));
    expect(e.message).toContain('mdl_context.depth is varchar, expected an integer');
  });
});
