/**
 * `plan` end to end from an LDIF file into each Moodle target (a fresh Moodle 4.5 per test): the example
 * collège on a fresh site, then sites that already hold some of its people, then directory entries that
 * cannot become users. Nothing is mocked, and every test checks that nothing was written.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { formatDiagnostic, UserError } from '../../src/errors.js';
import type { Change } from '../../src/model/change.js';
import { summaryLine } from '../../src/render/human.js';
import { dropStaleTestDatabases } from '../helpers/mariadb.js';
import {
  CAS_WARNING_ONLY,
  COLLEGE_LDIF,
  collegeSpec,
  STATE_FILE,
  type TestSite,
  TOUCHED_TABLES,
  testSite,
  userErrorParagraph,
  withoutStageLines,
  writeAppliedState,
} from '../helpers/spec-files.js';
import { TARGETS, type Target } from '../helpers/targets.js';

const COLLEGE = '0450001A';
const KINDS = ['ENTEleve', 'ENTAuxEnseignant', 'ENTAuxNonEnsEtab'];

beforeAll(async () => {
  await dropStaleTestDatabases();
});

/**
 * The collège's people straight from the LDIF text, without the code under test: entries of ou=people with
 * an `ESCOUAI: 0450001A` line and one of the three object classes (the example's filter).
 */
async function collegeUidsFromLdif(): Promise<string[]> {
  const text = await readFile(COLLEGE_LDIF, 'utf8');
  const uids: string[] = [];
  for (const block of text.split(/\n\s*\n/)) {
    const lines = block.split('\n');
    const dn = lines.find((l) => l.startsWith('dn: '));
    if (dn === undefined || !/^dn: uid=[^,]+,ou=people,dc=ent,dc=example$/.test(dn)) continue;
    const classes = lines.filter((l) => l.startsWith('objectClass: ')).map((l) => l.slice(13).trim());
    const uais = lines.filter((l) => l.startsWith('ESCOUAI: ')).map((l) => l.slice(9).trim());
    if (uais.includes(COLLEGE) && classes.some((c) => KINDS.includes(c))) uids.push(dn.slice(8, dn.indexOf(',')));
  }
  return uids;
}

/** Inserts a user row of this site (mnethostid 1) and returns its id. */
function insertUser(t: Target, values: Record<string, string | number>): Promise<number> {
  return t.insert('user', { auth: 'manual', confirmed: 1, mnethostid: 1, ...values });
}

/** Éloïse MARTIN-DUBOIS as the example spec wants her in Moodle. */
const ELOISE = {
  auth: 'cas',
  username: 'f4500111',
  idnumber: '7100001',
  firstname: 'Éloïse',
  lastname: 'MARTIN-DUBOIS',
  email: 'eloise.martin-dubois@ent.example',
  institution: COLLEGE,
};
const ELOISE_DN = 'uid=F4500111,ou=people,dc=ent,dc=example';

const PEOPLE_OU = 'dn: ou=people,dc=ent,dc=example\nobjectClass: organizationalUnit\nou: people';

/** A crafted person (`rdn` when two entries share a uid). */
function person(uid: string, extra: Record<string, string> = {}, rdn = `uid=${uid}`): string {
  const attrs = { sn: `SN${uid}`, givenName: 'Given', mail: `${uid}@ent.example`, ...extra };
  return [
    `dn: ${rdn},ou=people,dc=ent,dc=example`,
    'objectClass: inetOrgPerson',
    `uid: ${uid}`,
    `cn: ${uid}`,
    ...Object.entries(attrs).map(([k, v]) => `${k}: ${v}`),
  ].join('\n');
}

async function specWithPeople(s: TestSite, people: string[], onInvalidEntry: 'skip' | 'fail'): Promise<string> {
  const ldif = s.ws.path('people.ldif');
  await writeFile(ldif, `${[PEOPLE_OU, person('valid'), ...people].join('\n\n')}\n`);
  const users = {
    search: { base: 'ou=people,dc=ent,dc=example', filter: '(objectClass=inetOrgPerson)' },
    onInvalidEntry,
  };
  return collegeSpec(s.ws, s.t, { ldif, users });
}

describe.each(TARGETS)('plan on %s', (target) => {
  const sites: TestSite[] = [];
  afterEach(async () => {
    await Promise.all(sites.splice(0).map((s) => s.remove()));
  });

  async function setup(prepare?: (t: Target) => Promise<void>): Promise<TestSite> {
    const site = await testSite(target, prepare);
    sites.push(site);
    return site;
  }

  async function plan(s: TestSite, specPath: string) {
    return (await s.plan(specPath)).plan;
  }

  async function planError(s: TestSite, specPath: string): Promise<UserError> {
    const error = await plan(s, specPath).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(UserError);
    return error as UserError;
  }

  describe('plan of the example collège on a fresh Moodle', () => {
    it('creates exactly the collège’s students, teachers and staff, and writes nothing', async () => {
      const s = await setup();
      const result = await s.plan(await collegeSpec(s.ws, s.t));
      const { plan } = result;
      const expected = (await collegeUidsFromLdif()).map((uid) => `user["${uid.toLowerCase()}"]`).sort();
      expect(expected.length).toBeGreaterThan(10);
      expect(plan.changes.map((c) => c.address)).toEqual(expected);
      expect(plan.changes.every((c) => c.action === 'create' && c.before === null && c.moodleId === null)).toBe(true);
      expect(plan.skipped).toEqual([]);
      expect(summaryLine(plan)).toBe(`Plan: ${expected.length} to create.`);
      expect(plan.warnings).toEqual([expect.stringContaining('the auth plugin "cas" is not enabled in Moodle')]);
      expect(result.header.target).toContain(s.t.label);

      const byUid = new Map(plan.changes.map((c) => [c.key, c]));
      // Accents kept as written (NFC), hyphenated surname.
      expect(byUid.get('f4500111')).toMatchObject({ dn: ELOISE_DN, after: ELOISE });
      expect(byUid.get('f4500111')?.after.firstname).toBe('Éloïse'.normalize('NFC'));
      // No mail attribute at all: email "" (default("")), not a skipped entry.
      expect(byUid.get('f4500166')?.after).toEqual({
        auth: 'cas',
        username: 'f4500166',
        idnumber: '7100006',
        firstname: 'Lucas',
        lastname: 'PETIT',
        email: '',
        institution: COLLEGE,
      });
      // Teaches in two unrelated establishments, this one included.
      expect(byUid.get('f45001mm')?.after).toMatchObject({ firstname: 'Hélène', lastname: 'ROUSSEAU' });
      // The documentalist (two ENTPersonJointure values) works in the lycée and the LP only.
      expect(byUid.has('f45001ss')).toBe(false);
      await s.expectNothingWritten();
    });

    it('keeps the first of two ENTPersonJointure values for the documentalist (all establishments)', async () => {
      const s = await setup();
      const filter = '(|(objectClass=ENTEleve)(objectClass=ENTAuxEnseignant)(objectClass=ENTAuxNonEnsEtab))';
      const spec = await collegeSpec(s.ws, s.t, {
        users: { search: { base: 'ou=people,dc=ent,dc=example', filter } },
      });
      const nathalie = (await plan(s, spec)).changes.find((c) => c.key === 'f45001ss');
      expect(nathalie?.after).toEqual({
        auth: 'cas',
        username: 'f45001ss',
        idnumber: '45007',
        firstname: 'Nathalie',
        lastname: 'ROCHE',
        email: 'nathalie.roche@ac-orleans-tours.example',
        institution: '0450002B',
      });
      await s.expectNothingWritten();
    });
  });

  describe('plan on a Moodle that already holds some of the people', () => {
    it('refuses an unmanaged account in the way (adopt: never), naming the DN and the Moodle user id', async () => {
      let id = 0;
      const s = await setup(async (t) => {
        id = await insertUser(t, { ...ELOISE, auth: 'manual', email: 'eloise@old.example' });
      });
      const error = await planError(s, await collegeSpec(s.ws, s.t));
      expect(error.code).toBe('MOODLE_CONFLICT');
      expect(error.message).toContain('nothing was planned');
      expect(error.diagnostics).toHaveLength(1);
      const line = formatDiagnostic(error.diagnostics[0] ?? { message: '' });
      expect(line).toContain(ELOISE_DN);
      expect(line).toContain(`Moodle user id ${id} "f4500111"`);
      expect(line).toContain('users.adopt');
      // The same through the CLI: exit 1, the paragraph, then the conflict as `dn: message`.
      const run = await s.cli(['plan', '--spec', s.ws.path('ldap2moodle.yaml')]);
      expect(userErrorParagraph(run, 'MOODLE_CONFLICT')).toBe(error.message);
      expect(run.stderr).toContain(`\n  ${line}\n`);
      await s.expectNothingWritten();
    });

    it('adopts a matching account with adopt: matching, listing only the fields that differ', async () => {
      let id = 0;
      const s = await setup(async (t) => {
        id = await insertUser(t, { ...ELOISE, auth: 'manual', idnumber: '', institution: 'Old school' });
      });
      const { changes } = await plan(s, await collegeSpec(s.ws, s.t, { users: { adopt: 'matching' } }));
      const adopted = changes.filter((c) => c.action === 'adopt');
      expect(adopted).toEqual([
        expect.objectContaining({
          address: 'user["f4500111"]',
          moodleId: id,
          dn: ELOISE_DN,
          before: { auth: 'manual', idnumber: '', institution: 'Old school' },
          after: { auth: 'cas', idnumber: '7100001', institution: COLLEGE },
        }),
      ]);
      expect(changes.filter((c) => c.action !== 'create')).toHaveLength(1);
      await s.expectNothingWritten();
    });

    it('reports a deleted row that holds a wanted username, even with adopt: matching', async () => {
      const s = await setup(async (t) => {
        await insertUser(t, { ...ELOISE, username: 'f4500122', deleted: 1 });
      });
      const error = await planError(s, await collegeSpec(s.ws, s.t, { users: { adopt: 'matching' } }));
      expect(error.code).toBe('MOODLE_CONFLICT');
      const [diagnostic] = error.diagnostics;
      expect(diagnostic?.dn).toBe('uid=F4500122,ou=people,dc=ent,dc=example');
      expect(diagnostic?.message).toContain('deleted');
      expect(diagnostic?.message).toContain('unique key (mnethostid, username)');
      await s.expectNothingWritten();
    });

    it('never takes over a site administrator, even with adopt: matching: that entry left out by DN, the rest planned', async () => {
      const s = await setup(async (t) => {
        const id = await insertUser(t, { ...ELOISE, username: 'f4500133', idnumber: '' });
        await t.execute("UPDATE mdl_config SET value = ? WHERE name = 'siteadmins'", [`2,${id}`]);
      });
      const { skipped, changes } = await plan(s, await collegeSpec(s.ws, s.t, { users: { adopt: 'matching' } }));
      expect(skipped).toEqual([
        {
          entity: 'user',
          dn: 'uid=F4500133,ou=people,dc=ent,dc=example',
          reason: expect.stringContaining('a site administrator or the guest account, which ldap2moodle never touches'),
        },
      ]);
      expect(changes.filter((c) => c.key === 'f4500133')).toEqual([]);
      expect(changes.find((c) => c.key === 'f4500111')?.action).toBe('create');
      await s.expectNothingWritten();
    });

    it('suspends a managed user who left the directory and updates a managed user whose email changed', async () => {
      let eloiseId = 0;
      let goneId = 0;
      const s = await setup(async (t) => {
        eloiseId = await insertUser(t, { ...ELOISE, email: 'old@ent.example' });
        goneId = await insertUser(t, { ...ELOISE, username: 'f4599999', idnumber: '7199999' });
      });
      const managed = (id: number, key: string) => ({
        address: `user["${key}"]`,
        type: 'user' as const,
        id,
        key,
        source_digest: 'sha256:0',
        values: { ...ELOISE, username: key },
      });
      const objects = [managed(eloiseId, 'f4500111'), managed(goneId, 'f4599999')];
      await writeAppliedState(s.ws, s.t, objects);
      const before = await readFile(s.ws.path(STATE_FILE), 'utf8');
      const checksums = await s.t.checksums(TOUCHED_TABLES);
      // One of two managed users leaving: within the users' default count (10), as a site this small needs.
      const spec = await collegeSpec(s.ws, s.t);
      const { changes } = await plan(s, spec);
      const notCreates = changes.filter((c) => c.action !== 'create');
      expect(notCreates).toEqual([
        expect.objectContaining<Partial<Change>>({
          address: 'user["f4500111"]',
          action: 'update',
          moodleId: eloiseId,
          before: { email: 'old@ent.example' },
          after: { email: ELOISE.email },
        }),
        expect.objectContaining<Partial<Change>>({
          address: 'user["f4599999"]',
          action: 'suspend',
          moodleId: goneId,
          dn: null,
          before: { suspended: 0 },
          after: { suspended: 1 },
        }),
      ]);
      expect(await s.t.checksums(TOUCHED_TABLES)).toEqual(checksums);
      expect(await readFile(s.ws.path(STATE_FILE), 'utf8')).toBe(before);
    });
  });

  describe('entries that cannot become users, through the CLI', () => {
    const dnOf = (rdn: string) => `${rdn.includes('=') ? rdn : `uid=${rdn}`},ou=people,dc=ent,dc=example`;
    // Two entries, one username: Moodle lower-cases usernames, so JDupont and jdupont are the same account.
    const twins = [person('jdupont'), person('JDupont', {}, 'cn=Jean Dupont')];

    it('skip: two entries with the same username are both listed as skipped, with each other’s DN', async () => {
      const s = await setup();
      const run = await s.cli(['plan', '--no-color', '--spec', await specWithPeople(s, twins, 'skip')]);
      expect(run.code).toBe(0);
      expect(withoutStageLines(run.stderr)).toMatch(CAS_WARNING_ONLY);
      expect(run.stdout).toContain('Skipped directory entries (2):');
      expect(run.stdout).toContain(
        `- ${dnOf('cn=Jean Dupont')}: username "jdupont" is also produced by ${dnOf('jdupont')}`,
      );
      expect(run.stdout).toContain(
        `- ${dnOf('jdupont')}: username "jdupont" is also produced by ${dnOf('cn=Jean Dupont')}`,
      );
      expect(run.stdout).toContain('Plan: 1 to create.');
      await s.expectNothingWritten();
    });

    it('fail: two entries with the same username stop the run, listing both DNs', async () => {
      const s = await setup();
      const run = await s.cli(['plan', '--spec', await specWithPeople(s, twins, 'fail')]);
      const paragraph = userErrorParagraph(run, 'ENTRY_INVALID');
      expect(paragraph).toContain('2 directory entries cannot become Moodle users');
      expect(paragraph).toContain('users.onInvalidEntry is "fail"');
      expect(run.stderr).toContain(
        `  ${dnOf('cn=Jean Dupont')}: username "jdupont" is also produced by ${dnOf('jdupont')}`,
      );
      expect(run.stderr).toContain(
        `  ${dnOf('jdupont')}: username "jdupont" is also produced by ${dnOf('cn=Jean Dupont')}`,
      );
      await s.expectNothingWritten();
    });

    it('fail: a value longer than its Moodle column names the DN and the column', async () => {
      const s = await setup();
      const run = await s.cli([
        'plan',
        '--spec',
        await specWithPeople(s, [person('long', { sn: 'L'.repeat(101) })], 'fail'),
      ]);
      expect(userErrorParagraph(run, 'ENTRY_INVALID')).toMatch(/^1 directory entry cannot become a Moodle user \(/);
      expect(run.stderr).toContain(
        `  ${dnOf('long')}: lastname is 101 characters long, more than the 100 of Moodle's user.lastname column`,
      );
      await s.expectNothingWritten();
    });

    for (const onInvalidEntry of ['skip', 'fail'] as const) {
      it(`${onInvalidEntry}: a username Moodle would reject`, async () => {
        const s = await setup();
        const spec = await specWithPeople(s, [person('josé')], onInvalidEntry);
        const run = await s.cli(['plan', '--no-color', '--spec', spec]);
        const reason = `${dnOf('josé')}: username "josé" has characters Moodle refuses`;
        if (onInvalidEntry === 'skip') {
          expect(run.code).toBe(0);
          expect(withoutStageLines(run.stderr)).toMatch(CAS_WARNING_ONLY);
          expect(run.stdout).toContain(`Skipped directory entries (1):\n  - ${reason}`);
          expect(run.stdout).toContain('Plan: 1 to create.');
        } else {
          userErrorParagraph(run, 'ENTRY_INVALID');
          expect(run.stderr).toContain(`  ${reason}`);
        }
        await s.expectNothingWritten();
      });
    }

    it('a state file that is not JSON stops the run before anything is read', async () => {
      const s = await setup();
      await writeFile(s.ws.path(STATE_FILE), '{"format_version": 1, serial: oops');
      const run = await s.cli(['plan', '--spec', await collegeSpec(s.ws, s.t)]);
      const paragraph = userErrorParagraph(run, 'STATE_INVALID');
      expect(paragraph).toContain(`the state file ${s.ws.path(STATE_FILE)} is not valid JSON`);
      expect(paragraph).toContain('restore it from its backup');
      expect(await readFile(s.ws.path(STATE_FILE), 'utf8')).toBe('{"format_version": 1, serial: oops');
      expect(await s.t.checksums(TOUCHED_TABLES)).toEqual(s.before);
    });
  });
});
