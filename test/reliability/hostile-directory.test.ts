/**
 * The hostile directory, second part (the first is test/integration/hostile-directory.test.ts): new entries
 * added among the healthy people of the collège — SQL-looking names, uids with spaces, in upper case, Unicode
 * look-alikes of an existing uid, NFC and NFD forms of an accented name, two entries with one uid, a 100 kB DN
 * and a 2,000-level DN. On every target: every healthy person is created exactly once, every hostile entry is
 * either created with its value stored byte for byte or reported with its DN, the run is never blocked, and
 * the next plan has nothing to write.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { dropStaleTestDatabases } from '../helpers/mariadb.js';
import { COLLEGE_LDIF, collegeSites, personDn } from '../helpers/sdet-college.js';
import { startSlapd } from '../helpers/slapd.js';
import { ldapSource } from '../helpers/spec-files.js';
import { TARGETS } from '../helpers/targets.js';

beforeAll(async () => {
  await dropStaleTestDatabases();
});

const PEOPLE = 'ou=people,dc=ent,dc=example';
const b64 = (value: string): string => Buffer.from(value, 'utf8').toString('base64');

/** Values written base64 in the LDIF, so that quotes, backslashes and combining marks arrive as they are. */
const SQL_LASTNAME = "'; DROP TABLE mdl_user; --";
const SQL_FIRSTNAME = "\\' OR 1=1";
const LIKE_LASTNAME = '100% _sure\\ C:\\x\\';
const LIKE_FIRSTNAME = 'a_b%c\\\\d';
const NFC_NAME = 'Éloïse'.normalize('NFC');
const NFD_NAME = 'Éloïse'.normalize('NFD');

interface Hostile {
  readonly dn: string;
  readonly uid: string;
  readonly sn?: string;
  readonly givenName?: string;
}

/**
 * A new student of 6EME1 shaped like Éloïse (F4500111), under `dn` with `uid`: a fresh jointure, login and
 * e-mail so that only the hostile value sets it apart (no parent link: nobody points to it).
 */
function student(template: string, h: Hostile): string {
  // Numbered by its place in HOSTILE: the same entry gets the same values in every LDIF made of it.
  const n = String(9001 + HOSTILE.indexOf(h));
  return template
    .split('\n')
    .filter((l) => !l.startsWith('ENTEleveParents:') && !l.startsWith('ENTElevePersRelEleve:'))
    .map((l) => {
      if (l.startsWith('dn: ')) return `dn:: ${b64(h.dn)}`;
      if (l.startsWith('uid: ')) return `uid:: ${b64(h.uid)}`;
      if (l.startsWith('ENTPersonJointure: ')) return `ENTPersonJointure: AC-ORLEANS-TOURS$790${n}`;
      if (l.startsWith('ENTPersonLogin: ')) return `ENTPersonLogin: hostile.${n}`;
      if (l.startsWith('mail: ')) return `mail: hostile.${n}@ent.example`;
      if (l.startsWith('sn: ') && h.sn !== undefined) return `sn:: ${b64(h.sn)}`;
      if (l.startsWith('givenName: ') && h.givenName !== undefined) return `givenName:: ${b64(h.givenName)}`;
      return l;
    })
    .join('\n');
}

/** A 2,000-level DN below ou=people, and one of 100 kB. */
const DEEP_DN = `uid=F4509910,${Array.from({ length: 2000 }, (_, i) => `ou=l${i}`).join(',')},${PEOPLE}`;
const LONG_DN = `uid=F4509911,ou=${'L'.repeat(100_000)},${PEOPLE}`;

const HOSTILE: readonly Hostile[] = [
  { dn: personDn('F4509901'), uid: 'F4509901', sn: SQL_LASTNAME, givenName: SQL_FIRSTNAME },
  { dn: personDn('F4509902'), uid: 'F4509902', sn: LIKE_LASTNAME, givenName: LIKE_FIRSTNAME },
  // A uid with spaces: no Moodle username can hold it.
  { dn: personDn('F45 99 03'), uid: 'F45 99 03' },
  // Upper case only: lower-cased as every uid of the collège is.
  { dn: personDn('HOSTILEUPPER'), uid: 'HOSTILEUPPER' },
  // The lower-case twin of a healthy uid: the same Moodle username.
  { dn: `uid=f4500122,ou=twins,${PEOPLE}`, uid: 'f4500122' },
  // Cyrillic а (U+0430) in place of the Latin a of F45001aa.
  { dn: personDn('F45001\u0430a'), uid: 'F45001\u0430a' },
  // The same name, composed and decomposed.
  { dn: personDn('F4509906'), uid: 'F4509906', givenName: NFC_NAME },
  { dn: personDn('F4509907'), uid: 'F4509907', givenName: NFD_NAME },
  // Two entries with one uid.
  { dn: personDn('F4509908'), uid: 'F4509908' },
  { dn: `uid=F4509908,ou=again,${PEOPLE}`, uid: 'F4509908' },
  { dn: DEEP_DN, uid: 'F4509910' },
  { dn: LONG_DN, uid: 'F4509911' },
];

/** The collège with `entries` added (all the hostile ones by default), after `units` (LDIF entries) if any. */
async function hostileLdif(entries: readonly Hostile[] = HOSTILE, units = ''): Promise<string> {
  const ldif = await readFile(COLLEGE_LDIF, 'utf8');
  const start = ldif.indexOf(`\ndn: ${personDn('F4500111')}\n`) + 1;
  const template = ldif.slice(start, ldif.indexOf('\n\n', start));
  const added = [...(units === '' ? [] : [units]), ...entries.map((h) => student(template, h))];
  return `${ldif.trimEnd()}\n\n${added.join('\n\n')}\n`;
}

/** The organisational units the hostile entries sit under, for a server that wants every parent to exist. */
function parentUnits(entries: readonly Hostile[]): string {
  const units = new Set<string>();
  for (const h of entries) {
    const rdns = h.dn
      .slice(0, -PEOPLE.length - 1)
      .split(',')
      .slice(1);
    for (let i = rdns.length - 1; i >= 0; i -= 1) units.add(`${rdns.slice(i).join(',')},${PEOPLE}`);
  }
  return [...units]
    .map((dn) => `dn:: ${b64(dn)}\nobjectClass: organizationalUnit\nou:: ${b64(dn.slice(3, dn.indexOf(',')))}`)
    .join('\n\n');
}

describe.each(TARGETS)('a hostile directory (second part) on %s', (target) => {
  const site = collegeSites(target);

  it('every healthy person created once; every hostile entry stored exactly or reported with its DN', async () => {
    const healthy = await site();
    const everyone = (await healthy.plan()).plan.changes
      .filter((c) => c.entity === 'user' && c.action === 'create')
      .map((c) => c.key);

    const s = await site(await hostileLdif());
    const result = await s.apply();
    expect(result.applied).toBe(true);
    await s.expectIntegrity();
    const { plan } = result.planned;
    const moodle = await s.read();
    const usernames = moodle.users.map((u) => u.username);

    // Healthy people: each exactly once, but for F4500122, whose lower-case twin claims the same username: no
    // entry can tell which of the two is the person, so both are left out, each naming the other's DN.
    const twin = `uid=f4500122,ou=twins,${PEOPLE}`;
    for (const username of everyone.filter((u) => u !== 'f4500122'))
      expect(usernames.filter((u) => u === username)).toEqual([username]);
    expect(usernames).not.toContain('f4500122');
    const clash = (dn: string, other: string) =>
      expect(plan.skipped).toContainEqual({
        entity: 'user',
        dn,
        reason: `username "f4500122" is also produced by ${other}`,
      });
    clash(personDn('F4500122'), twin);
    clash(twin, personDn('F4500122'));

    // Hostile entries: created (a user create at its DN) or reported at its DN.
    const created = new Map(
      plan.changes.filter((c) => c.entity === 'user' && c.action === 'create').map((c) => [c.dn, c.key]),
    );
    const reported = new Set([
      ...plan.skipped.map((x) => x.dn),
      ...plan.changes.filter((c) => c.action === 'held').map((c) => c.dn),
      ...plan.warnings.map((w) => HOSTILE.find((h) => w.startsWith(`${h.dn}: `))?.dn),
    ]);
    for (const h of HOSTILE) {
      const username = created.get(h.dn);
      expect(username !== undefined || reported.has(h.dn), `${h.dn.slice(0, 80)}: neither created nor reported`).toBe(
        true,
      );
      if (username !== undefined) {
        expect(usernames.filter((u) => u === username)).toEqual([username]);
        // Moodle usernames are lower case, and a look-alike never lands on the account it mimics.
        expect(username).toBe(username.toLowerCase());
        expect(username).toMatch(/^[-.@_a-z0-9]+$/);
      }
    }
    // No Moodle username was made twice, and no username was made from a look-alike or a twin of a healthy uid.
    expect(new Set(usernames).size).toBe(usernames.length);
    expect(created.get(twin)).toBeUndefined();
    expect(created.get(personDn('F45001\u0430a'))).toBeUndefined();
    expect(created.get(personDn('F45 99 03'))).toBeUndefined();

    // SQL strings are data: read back byte for byte.
    const user = (uid: string) => moodle.users.find((u) => u.username === uid.toLowerCase());
    expect(user('F4509901')?.lastname).toBe(SQL_LASTNAME);
    expect(user('F4509901')?.firstname).toBe(SQL_FIRSTNAME);
    expect(user('F4509902')?.lastname).toBe(LIKE_LASTNAME);
    expect(user('F4509902')?.firstname).toBe(LIKE_FIRSTNAME);
    // Upper case: lower-cased.
    expect(user('HOSTILEUPPER')).toBeDefined();
    // NFC and NFD: the rules compose every value (src/rules/template.ts), so the two forms of one name are one
    // value in Moodle and a directory that switches form rewrites nothing.
    expect(Buffer.from(user('F4509906')?.firstname ?? '')).toEqual(Buffer.from(NFC_NAME));
    expect(Buffer.from(user('F4509907')?.firstname ?? '')).toEqual(Buffer.from(NFC_NAME));

    // The deep and the long DN: plain people, created under their DN.
    expect(created.get(DEEP_DN)).toBe('f4509910');
    expect(created.get(LONG_DN)).toBe('f4509911');
    // Duplicates: both entries left out, neither account made.
    expect(usernames).not.toContain('f4509908');
    // Refused usernames: the reason says why, with the DN.
    for (const dn of [personDn('F45 99 03'), personDn('F45001\u0430a')])
      expect(plan.skipped.find((x) => x.dn === dn)?.reason).toContain('has characters Moodle refuses');
    // The next night: nothing to write.
    const again = await s.plan();
    expect(again.plan.changes.filter((c) => c.action !== 'held')).toEqual([]);
  });

  it('through the CLI: plan and apply print these DNs and end normally; the next plan has nothing to do', async () => {
    const s = await site(await hostileLdif());
    const plan = await s.cli(['plan', '--spec', s.specPath, '--no-color']);
    expect(plan.stderr).not.toMatch(/Internal error|Maximum call stack|RangeError/);
    expect(plan.code, plan.stderr).toBe(0);
    // The 100 kB DN never makes a 100 kB line: people are shown by username, left-out entries by their DN.
    expect(Math.max(...plan.stdout.split('\n').map((l) => l.length))).toBeLessThan(1_000);
    // Left-out entries are listed by DN (the refused uid with spaces among them).
    expect(plan.stdout).toContain('uid=F45 99 03,ou=people,dc=ent,dc=example');

    const apply = await s.cli(['apply', '--spec', s.specPath, '--auto-approve', '--json']);
    expect(apply.stderr).not.toMatch(/Internal error|Maximum call stack|RangeError/);
    expect(apply.code, apply.stderr).toBe(0);
    expect(JSON.parse(apply.stdout)).toMatchObject({ outcome: 'applied' });
    await s.expectIntegrity();

    const again = await s.cli(['plan', '--spec', s.specPath, '--detailed-exitcode']);
    expect(again.code, again.stderr).toBe(0);
  });

  // One target is enough for the source: what slapd returns goes through the same rules as the file. OpenLDAP
  // itself refuses the 2,000-level and the 100 kB DN ("invalid DN" at load), so those two are for files only.
  it.runIf(target === TARGETS[0])(
    'read from slapd: the same plan as from the LDIF file',
    async () => {
      const entries = HOSTILE.filter((h) => h.dn !== DEEP_DN && h.dn !== LONG_DN);
      const ldif = await hostileLdif(entries);
      const s = await site(ldif);
      const file = s.ws.path('slapd.ldif');
      await writeFile(file, await hostileLdif(entries, parentUnits(entries)));
      const slapd = await startSlapd(file, { LDAP_BULK: '1' });
      try {
        const source = stringify(ldapSource(slapd)).trimEnd().replace(/^/gm, '  ').trimStart();
        const spec = await s.writeVariant('ldap', ldif, {
          edits: [[`ldif: ${JSON.stringify(s.ws.path('ldap.ldif'))}`, source]],
        });
        const fromLdap = await s.plan({}, spec);
        const fromLdif = await s.plan();
        expect(fromLdap.plan.changes).toEqual(fromLdif.plan.changes);
        expect(fromLdap.plan.skipped).toEqual(fromLdif.plan.skipped);
        // The SQL-looking names came through the server too.
        expect(fromLdap.plan.changes.some((c) => c.dn === personDn('F4509901') && c.action === 'create')).toBe(true);
        expect(fromLdap.plan.skipped.length).toBeGreaterThanOrEqual(6);
      } finally {
        await slapd.stop();
      }
    },
    120_000,
  );
});
