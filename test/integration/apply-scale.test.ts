/**
 * `apply` at the size of a big school: 3,000 people in one transaction, on each target. The number of SQL
 * statements must not grow with the number of users (multi-row statements sized in bytes), and every row must
 * be right. The times and statement counts are printed for the record, not asserted.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type ApplySite, applySite } from '../helpers/apply-specs.js';
import { generatedUid, generatePeopleLdif } from '../helpers/gen-people.js';
import { dropStaleTestDatabases } from '../helpers/mariadb.js';
import { TARGETS, type TargetName } from '../helpers/targets.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});
beforeAll(async () => {
  await dropStaleTestDatabases();
});

async function generatedSite(target: TargetName, n: number): Promise<ApplySite> {
  const s = await applySite(target, []);
  cleanups.push(() => s.remove());
  await s.setLdif(generatePeopleLdif(n));
  return s;
}

async function count(s: ApplySite, sql: string): Promise<number> {
  const [row] = await s.t.query<{ n: number }>(sql);
  return Number(row?.n);
}

/** Applies and times it. */
async function timedApply(s: ApplySite, now: number) {
  const started = performance.now();
  const result = await s.apply({ now: () => now * 1000 });
  return { result, ms: Math.round(performance.now() - started) };
}

describe.each(TARGETS)('apply at scale on %s', (target) => {
  it('3,000 users in one go: as few statements as for 300, every user and context right, then no changes', async () => {
    const now = Math.floor(Date.now() / 1000);
    const small = await generatedSite(target, 300);
    const smallRun = await timedApply(small, now);
    expect(smallRun.result.applied).toBe(true);
    expect((await small.users()).length).toBe(300);

    const s = await generatedSite(target, 3000);
    const { result, ms } = await timedApply(s, now);
    console.log(
      `${target}: apply of 3,000 users: ${ms} ms, ${result.statements} SQL statements ` +
        `(300 users: ${smallRun.ms} ms, ${smallRun.result.statements} statements)`,
    );
    expect(result.applied).toBe(true);
    expect(result.planned.plan.changes).toHaveLength(3000);
    expect(result.statements).toBeLessThan(100);
    // Ten times the users: at most a few more chunks (max_allowed_packet), never one per user.
    expect(result.statements - smallRun.result.statements).toBeLessThanOrEqual(6);

    const users = await s.users();
    expect(users).toHaveLength(3000);
    users.forEach((u, i) => {
      expect(u).toMatchObject({
        username: generatedUid(i + 1).toLowerCase(),
        idnumber: String(i + 1),
        auth: 'cas',
        mnethostid: 1,
        confirmed: 1,
        timecreated: now,
      });
    });
    const rightContexts = await count(
      s,
      `SELECT COUNT(*) AS n FROM mdl_user u JOIN mdl_context c ON c.contextlevel = 30 AND c.instanceid = u.id
        WHERE u.id > 2 AND c.path = CONCAT('/1/', c.id) AND c.depth = 2 AND c.locked = 0`,
    );
    expect(rightContexts).toBe(3000);
    expect(await count(s, 'SELECT COUNT(*) AS n FROM mdl_context WHERE contextlevel = 30')).toBe(3002);
    const state = await s.state();
    expect(state.objects).toHaveLength(3000);
    const ids = new Map(users.map((u) => [String(u.username), u.id]));
    expect(state.objects.every((o) => ids.get(o.key) === o.id)).toBe(true);

    const again = await s.plan();
    expect(again.plan.changes).toEqual([]);

    // A change to every user: still a handful of statements.
    await s.setLdif(generatePeopleLdif(3000).replaceAll('@ent.example', '@ent2.example'));
    const update = await timedApply(s, now + 60);
    console.log(`${target}: update of 3,000 users: ${update.ms} ms, ${update.result.statements} SQL statements`);
    expect(update.result.planned.plan.changes).toHaveLength(3000);
    expect(update.result.statements).toBeLessThan(100);
    expect(
      await count(s, "SELECT COUNT(*) AS n FROM mdl_user WHERE email LIKE '%@ent2.example' AND timemodified > 0"),
    ).toBe(3000);
  });
});
