/**
 * A data error never looks like a departure (issue 27, item 1), on every target: once the collège is applied,
 * a managed student whose entry comes back with an error — a missing givenName, a 132-character mail, a uid
 * with a trailing space, a uid claimed by a second entry, a class naming a structure the directory lacks, a
 * class in no known form — is held: the plan shows `held` changes naming the entry and the reason and nothing
 * else of theirs; the apply writes none of their rows (checksums of every row keyed by them are unchanged) and
 * the next plan holds them again. The same student absent from the directory is a leaver (control).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Change } from '../../src/model/change.js';
import { dropStaleTestDatabases } from '../helpers/mariadb.js';
import {
  addLines,
  type CollegeSite,
  classLine,
  collegeSite,
  editEntry,
  personDn,
  removeEntry,
  replaceLine,
} from '../helpers/sdet-college.js';
import { TARGETS } from '../helpers/targets.js';

const STUDENT = 'F4500111';
const USERNAME = 'f4500111';
const MISSING_DN = 'ENTStructureSIREN=99999999999999,ou=structures,dc=ent,dc=example';

/** Each kind of data error, as an edit of the collège's LDIF. */
const ERRORS: readonly (readonly [string, (ldif: string) => string, RegExp])[] = [
  ['a missing givenName', (l) => editEntry(l, STUDENT, (b) => b.replace('givenName: Éloïse\n', '')), /firstname/],
  [
    'a 132-character mail',
    (l) => editEntry(l, STUDENT, (b) => addLines(b, [`mail: ${'x'.repeat(120)}@ent.example`])),
    /email/,
  ],
  [
    'a uid with a trailing space',
    (l) => editEntry(l, STUDENT, (b) => replaceLine(b, `uid: ${STUDENT}`, `uid: ${STUDENT} `)),
    /username/,
  ],
  [
    'a second entry with the same uid',
    (l) => {
      // Another student's entry, under another DN, claiming the same uid.
      const start = l.indexOf(`dn: ${personDn('F4500122')}\n`);
      const end = l.indexOf('\n\n', start);
      const twin = l
        .slice(start, end)
        .replace(`dn: ${personDn('F4500122')}`, `dn: uid=${STUDENT}-TWIN,ou=people,dc=ent,dc=example`)
        .replace('uid: F4500122', `uid: ${STUDENT}`);
      return `${l.trimEnd()}\n\n${twin}\n`;
    },
    /also produced by/,
  ],
  [
    'a class naming a structure the directory lacks',
    (l) => editEntry(l, STUDENT, (b) => replaceLine(b, classLine('6EME1'), classLine('6EME1', MISSING_DN))),
    /is not in the directory/,
  ],
  [
    'a class in no known form',
    (l) => editEntry(l, STUDENT, (b) => replaceLine(b, classLine('6EME1'), 'ENTEleveClasses: 6EME1')),
    /in no known form/,
  ],
];

/** Every Moodle row keyed by the student, as text, table by table. */
async function rowsOf(site: CollegeSite, username: string): Promise<Record<string, string>> {
  const [user] = await site.t.query<{ id: number }>('SELECT id FROM mdl_user WHERE username = ?', [username]);
  if (user === undefined) throw new Error(`no user ${username}`);
  const out: Record<string, string> = {};
  for (const table of [
    'user',
    'cohort_members',
    'user_enrolments',
    'role_assignments',
    'groups_members',
    'user_info_data',
  ]) {
    const column = table === 'user' ? 'id' : 'userid';
    const rows = await site.t.query(`SELECT * FROM mdl_${table} WHERE ${column} = ? ORDER BY id`, [Number(user.id)]);
    out[table] = JSON.stringify(rows);
  }
  await site.t.release();
  return out;
}

const touches = (c: Change): boolean => c.key.includes(USERNAME) || c.address.includes(USERNAME);

describe.each(TARGETS)('a managed person whose entry has an error is held (%s)', (target) => {
  let site: CollegeSite;
  let example: string;
  beforeAll(async () => {
    await dropStaleTestDatabases();
    site = await collegeSite(target);
    expect((await site.apply()).applied).toBe(true);
    example = await site.ldif();
  }, 120_000);
  afterAll(async () => {
    await site?.remove();
  });

  it.each(ERRORS)('%s: held with everything keyed by them, nothing written of theirs', async (_name, edit, reason) => {
    await site.writeLdif(edit(example));
    const before = await rowsOf(site, USERNAME);
    const planned = await site.plan();
    const theirs = planned.plan.changes.filter(touches);
    expect(theirs.length).toBeGreaterThan(0);
    for (const change of theirs) {
      expect(change.action, change.address).toBe('held');
      expect(change.reason).toMatch(reason);
      expect(change.reason).toContain(personDn(STUDENT));
    }
    // Nothing else moves: the rest of the collège is as the last apply left it.
    expect(planned.plan.changes.filter((c) => !touches(c))).toEqual([]);
    const applied = await site.apply();
    expect(applied.applied).toBe(false);
    expect(await rowsOf(site, USERNAME)).toEqual(before);
    // Still held the next night.
    expect((await site.plan()).plan.changes.filter(touches).every((c) => c.action === 'held')).toBe(true);
    await site.writeLdif(example);
    expect((await site.plan()).plan.changes).toEqual([]);
  });

  it('the same person absent from the directory is a leaver: suspended, enrolments and memberships follow', async () => {
    await site.writeLdif(removeEntry(example, STUDENT));
    // Over the guard of a 17-user site (the student, and a parent whose only child she was).
    const planned = await site.plan({ allowRemovals: 10 });
    const user = planned.plan.changes.find((c) => c.address === `user["${USERNAME}"]`);
    expect(user?.action).toBe('suspend');
    expect(planned.plan.changes.filter(touches).some((c) => c.action === 'held')).toBe(false);
    await site.writeLdif(example);
  });
});
