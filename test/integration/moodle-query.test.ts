/**
 * `moodle-query` is read-only because the server says so, not because of a regex: the query runs in a
 * read-only transaction with a statement timeout, on a session of its own. `setval` and a data-modifying WITH
 * are refused (PostgreSQL, embedded), `SLEEP`/`pg_sleep` beyond --timeout is stopped, a GET_LOCK does not outlive
 * the command, `INTO OUTFILE` is refused before connecting; each refusal is MOODLE_QUERY_FAILED (or a usage
 * error), and nothing stays written.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dropStaleTestDatabases } from '../helpers/mariadb.js';
import { COLLEGE_LDIF, collegeUsers, type TestSite, testSite, writeSpec } from '../helpers/spec-files.js';
import { TARGETS } from '../helpers/targets.js';

beforeAll(async () => {
  await dropStaleTestDatabases();
});

const expectRefused = (run: { code: number; stderr: string }, why: RegExp): void => {
  expect(run.code, run.stderr).toBe(1);
  expect(run.stderr).toMatch(/^Error \[MOODLE_QUERY_FAILED\]: the database refused the query \(read-only, at most /);
  expect(run.stderr).toMatch(why);
  expect(run.stderr).not.toMatch(/Internal error/);
};

describe.each(TARGETS)('moodle-query on %s', (target) => {
  let s: TestSite;
  let spec: string;
  const query = (sql: string, ...options: string[]) => s.cli(['moodle-query', '--spec', spec, ...options, sql]);

  beforeAll(async () => {
    s = await testSite(target);
    spec = await writeSpec(s.ws, {
      version: 1,
      source: { ldif: COLLEGE_LDIF },
      moodle: s.t.moodleSection(s.ws.dir),
      users: await collegeUsers(),
    });
  }, 120_000);
  afterAll(async () => s?.remove());

  it('prints the rows of a SELECT', async () => {
    const run = await query('SELECT username FROM {user} ORDER BY id');
    expect(run.stderr).toBe('');
    expect(run.stdout).toBe('username\n--------\nguest\nadmin\n(2 rows)\n');
  });

  it('refuses INTO OUTFILE before connecting', async () => {
    const run = await query("SELECT username FROM {user} INTO OUTFILE '/tmp/l2m-users.txt'");
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/does not write files on the database server/);
  });

  it.skipIf(target === 'mariadb')(
    'setval, a data-modifying WITH and FOR UPDATE are refused; nothing persists',
    async () => {
      const before = await s.t.query<{ last_value: string | number }>('SELECT last_value FROM {user_id_seq}');
      expectRefused(
        await query(`SELECT setval(pg_get_serial_sequence('${s.t.prefix}user', 'id'), 987654)`),
        /read-only transaction/,
      );
      expect(await s.t.query('SELECT last_value FROM {user_id_seq}')).toEqual(before);

      expectRefused(
        await query(
          "WITH changed AS (UPDATE {user} SET firstname = 'Mallory' RETURNING id) SELECT count(*) FROM changed",
        ),
        /read-only transaction/,
      );
      expect(await s.t.query("SELECT id FROM {user} WHERE firstname = 'Mallory'")).toEqual([]);
      expectRefused(await query('SELECT id FROM {user} WHERE id = 1 FOR UPDATE'), /read-only transaction/);
      await s.expectNothingWritten();
    },
  );

  it.skipIf(target !== 'postgres')('a query running past --timeout is stopped', async () => {
    const started = Date.now();
    expectRefused(await query('SELECT pg_sleep(20)', '--timeout', '1s'), /statement timeout/);
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it.skipIf(target !== 'mariadb')(
    'SLEEP past --timeout is stopped; FOR UPDATE is refused; GET_LOCK does not outlive the command',
    async () => {
      const started = Date.now();
      expectRefused(await query('SELECT SLEEP(20)', '--timeout', '1s'), /max_statement_time|interrupted/i);
      expect(Date.now() - started).toBeLessThan(10_000);

      const locked = await query("SELECT GET_LOCK('l2m-moodle-query-test', 0) AS got");
      expect(locked.stdout).toContain('got');
      const [free] = await s.t.query<{ free: number }>("SELECT IS_FREE_LOCK('l2m-moodle-query-test') AS free");
      expect(Number(free?.free)).toBe(1);

      // A locking read is refused in a read-only transaction, and no row lock survives the command.
      expectRefused(await query('SELECT id FROM {user} WHERE id = 1 FOR UPDATE'), /READ ONLY transaction/);
      expect(await s.t.execute('UPDATE {user} SET lastaccess = lastaccess WHERE id = 1')).toBeGreaterThanOrEqual(0);

      expectRefused(
        await query(
          'SELECT id FROM {user} WHERE id = (SELECT 1 FROM DUAL WHERE (SELECT SLEEP(20)) = 0)',
          '--timeout',
          '1s',
        ),
        /max_statement_time|interrupted/i,
      );
      await s.expectNothingWritten();
    },
  );
});
