/**
 * A hostile directory among healthy entries (the collège example, examples/college): values too long for
 * Moodle's columns, a NUL byte, HTML in names, a non-address as e-mail, invalid UTF-8, uids `admin` and `guest`.
 * On every target: every healthy person is created, every hostile entry is reported with its DN (a skipped
 * entry, a held change, or a warning saying what was cleaned), and nothing blocks the school.
 */
import { readFile } from 'node:fs/promises';
import { beforeAll, describe, expect, it } from 'vitest';
import { redactPlan } from '../../src/render/redact.js';
import { dropStaleTestDatabases } from '../helpers/mariadb.js';
import { COLLEGE_LDIF, classLine, collegeSites, editEntry, personDn, replaceLine } from '../helpers/sdet-college.js';
import { TARGETS } from '../helpers/targets.js';

beforeAll(async () => {
  await dropStaleTestDatabases();
});

/** A class code of 10,000 characters: too long for cohort, course and group idnumbers and names. */
const LONG_CLASS = 'X'.repeat(10_000);
const base64 = (bytes: Buffer): string => bytes.toString('base64');

/** Each hostile edit, on one person of the collège (their DN stays; the values change). */
function hostile(ldif: string): string {
  let out = ldif;
  // F4500188 (3EME2) is in a class whose code is 10 kB.
  out = editEntry(out, 'F4500188', (b) => replaceLine(b, classLine('3EME2'), classLine(LONG_CLASS)));
  // F4500177: a NUL byte in the given name (PostgreSQL refuses it in a text column).
  out = editEntry(out, 'F4500177', (b) =>
    replaceLine(b, 'givenName: Chloé', `givenName:: ${base64(Buffer.from('Chl\u0000oé', 'utf8'))}`),
  );
  // F4500166 and F4500155: the uids of Moodle's admin and guest accounts.
  out = editEntry(out, 'F4500166', (b) => replaceLine(b, 'uid: F4500166', 'uid: admin'));
  out = editEntry(out, 'F4500155', (b) => replaceLine(b, 'uid: F4500155', 'uid: guest'));
  // F4500144: HTML in the family name (Moodle declares names PARAM_NOTAGS).
  out = editEntry(out, 'F4500144', (b) => replaceLine(b, 'sn: MOREAU', 'sn: MOREAU<img src=x onerror=alert(1)>'));
  // F4500133: an e-mail that is no address.
  out = editEntry(out, 'F4500133', (b) =>
    replaceLine(b, 'mail: ines.dalmeida@ent.example', 'mail: ines dalmeida at ent'),
  );
  // F4500122: invalid UTF-8 in the given name (decoded as U+FFFD).
  out = editEntry(out, 'F4500122', (b) =>
    replaceLine(b, 'givenName: Noé', `givenName:: ${base64(Buffer.from([0x4e, 0x6f, 0xff]))}`),
  );
  return out;
}

describe.each(TARGETS)('a hostile directory on %s', (target) => {
  const site = collegeSites(target);

  it('every healthy person created, every hostile entry reported with its DN, nothing blocks', async () => {
    const healthy = await site();
    const everyone = (await healthy.plan()).plan.changes
      .filter((c) => c.entity === 'user' && c.action === 'create')
      .map((c) => c.key)
      .sort();

    const s = await site(hostile(await readFile(COLLEGE_LDIF, 'utf8')));
    const result = await s.apply();
    expect(result.applied).toBe(true);
    await s.expectIntegrity();
    const { plan } = result.planned;

    // admin and guest: left out, each named by its DN; no other entry is left out as a user.
    const users = plan.skipped.filter((x) => x.entity === 'user');
    expect(users.map((x) => x.dn).sort()).toEqual([personDn('F4500155'), personDn('F4500166')]);
    for (const x of users) expect(x.reason).toContain('a site administrator or the guest account');
    // What their entries would have joined is held, never written to those accounts.
    for (const change of plan.changes.filter((c) => c.action === 'held'))
      expect([personDn('F4500155'), personDn('F4500166')]).toContain(change.dn);

    // The 10 kB class: its objects left out, each listed at the student's DN with the column it does not fit.
    const long = plan.skipped.filter((x) => x.dn === personDn('F4500188'));
    expect(long.length).toBeGreaterThan(0);
    for (const x of long) {
      expect(x.kind).toBe('data');
      // What does not fit its column, then what names it (left out by the plan, as for any missing object).
      expect(x.reason).toMatch(
        /characters long, more than the \d+ of Moodle's [a-z_]+\.[a-z]+ column; it is left out|is neither produced by the rules nor in Moodle; it is left out/,
      );
      expect(x.reason.length).toBeLessThan(400);
    }
    const tooLong = long.filter((x) => x.reason.includes('characters long')).map((x) => x.entity);
    expect(tooLong).toContain('cohort');
    expect(tooLong).toContain('group');
    expect(
      plan.skipped.every((x) => [personDn('F4500155'), personDn('F4500166'), personDn('F4500188')].includes(x.dn)),
    ).toBe(true);

    // Cleaned values: each reported with the DN and the field, never the value.
    const warned = (uid: string, text: string) =>
      expect(
        plan.warnings.some((w) => w.startsWith(`${personDn(uid)}: `) && w.includes(text)),
        `${uid}: ${text}\n${plan.warnings.join('\n')}`,
      ).toBe(true);
    warned('F4500177', 'firstname cleaned as Moodle');
    warned('F4500177', 'control characters removed');
    warned('F4500144', 'lastname cleaned as Moodle');
    warned('F4500144', 'HTML tags removed');
    warned('F4500133', 'email is not an address');
    warned('F4500122', 'U+FFFD');
    // Found where the file is decoded: the entry and the attribute.
    warned('F4500122', 'givenname has a value that is not valid UTF-8');
    expect(plan.warnings.join('\n')).not.toContain('onerror');
    // The warnings name people by DN: the redacted plan (merge-request comments) pseudonymises them.
    const redacted = redactPlan(plan).warnings.join('\n');
    for (const uid of ['F4500177', 'F4500144', 'F4500133', 'F4500122']) expect(redacted).not.toContain(uid);

    // Every healthy person is in Moodle, the hostile ones with what Moodle would have stored.
    const moodle = await s.read();
    const usernames = moodle.users.map((u) => u.username).sort();
    expect(usernames).toEqual(everyone.filter((u) => u !== 'f4500155' && u !== 'f4500166'));
    const user = (username: string) => moodle.users.find((u) => u.username === username);
    expect(user('f4500177')?.firstname).toBe('Chloé');
    expect(user('f4500144')?.lastname).toBe('MOREAU');
    expect(user('f4500133')?.email).toBe('');
    expect(user('f4500188')).toBeDefined();
    expect(moodle.cohorts.some((c) => c.idnumber.includes('XXXX'))).toBe(false);
    expect(moodle.members['0450001A-ELV']).toContain('f4500188');

    // The next night: the same reports, nothing more to write.
    const again = await s.plan();
    expect(again.plan.changes.filter((c) => c.action !== 'held')).toEqual([]);
    expect(again.plan.skipped).toEqual(plan.skipped);
  });
  it('a value that stops fitting on a later night: the existing objects left as they are, never removed or failed', async () => {
    const s = await site();
    expect((await s.apply()).applied).toBe(true);
    const before = await s.read();
    // The collège's name becomes 10 kB: its category and its "Vie scolaire" course no longer fit their columns.
    const ldif = await s.ldif();
    await s.writeLdif(
      ldif.replace(
        'ENTStructureNomCourant: CLG-LE GRAND CEDRE-ac-ORLEANS-TOURS',
        `ENTStructureNomCourant: CLG ${'N'.repeat(10_000)}`,
      ),
    );
    // Applied or nothing to write (everything held): either way, no error.
    const result = await s.apply();
    await s.expectIntegrity();
    const { plan } = result.planned;
    const structure = plan.skipped.filter((x) => x.dn.startsWith('ENTStructureSIREN=19450001400015,'));
    expect(structure.map((x) => x.entity).sort()).toEqual(['category', 'course']);
    for (const x of structure) expect(x.reason).toMatch(/characters long, more than the \d+ of Moodle's/);
    // Nothing is removed: what no longer fits stays as it is, held with the reason.
    const removing = plan.changes.filter(
      (c) => c.action !== 'held' && ['delete', 'release', 'suspend'].includes(c.action),
    );
    expect(removing).toEqual([]);
    // The category and the course are left as they are (kept, or held when the plan would remove them).
    expect(plan.changes.filter((c) => ['category', 'course'].includes(c.entity) && c.action !== 'held')).toEqual([]);
    const after = await s.read();
    expect(after.categories).toEqual(before.categories);
    expect(after.users).toEqual(before.users);
  });

  it('a new entry whose idnumber an existing account has: left out with its DN, that account untouched', async () => {
    const s = await site();
    expect((await s.apply()).applied).toBe(true);
    const before = await s.read();
    // A new person, F4500199 of another school moved in, carrying Éloïse's (F4500111) jointure.
    const ldif = await s.ldif();
    const eloise = /ENTPersonJointure: (AC-ORLEANS-TOURS\$7100001)/.exec(ldif)?.[1] ?? '';
    expect(eloise).not.toBe('');
    await s.writeLdif(
      editEntry(ldif, 'F4500122', (b) =>
        replaceLine(b, 'ENTPersonJointure: AC-ORLEANS-TOURS$7100002', `ENTPersonJointure: ${eloise}`),
      ),
    );
    const result = await s.apply();
    await s.expectIntegrity();
    const { plan } = result.planned;
    expect(plan.skipped).toContainEqual({
      entity: 'user',
      dn: personDn('F4500122'),
      reason: expect.stringMatching(
        /^its idnumber is already the idnumber of Moodle user id \d+ "f4500111"; it is left out$/,
      ),
    });
    const after = await s.read();
    expect(after.users).toEqual(before.users);
  });
  it('onDataError: fail: one ENTRY_INVALID listing the value that does not fit with its DN; nothing written', async () => {
    const s = await site(hostile(await readFile(COLLEGE_LDIF, 'utf8')), { append: 'onDataError: fail\n' });
    const before = await s.written();
    const error = await s.applyError();
    expect(error.code).toBe('ENTRY_INVALID');
    const listed = error.diagnostics.filter((d) => d.dn === personDn('F4500188')).map((d) => d.message);
    expect(listed.some((m) => /^cohort: cohort ".*: its idnumber is 10\d{3} characters long/.test(m))).toBe(true);
    expect(await s.written()).toEqual(before);
  });
});
