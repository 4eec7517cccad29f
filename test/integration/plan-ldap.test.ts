/**
 * `plan` end to end from a real slapd (test/fixtures/ldap/start-slapd.sh): the same directory read over LDAP
 * and from its LDIF file gives the same plan; a directory larger than the service account's size limit is
 * planned whole (paging); LDAP failures stop the run with their code, through the CLI. What is tested here is
 * the LDAP source, so one Moodle target is enough: the embedded one (when L2M_TARGETS has it), which shows
 * that the whole job runs with no database server at all.
 */
import { readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { generatedUid, generatePeopleLdif, PEOPLE_BASE_DN } from '../helpers/gen-people.js';
import { dropStaleTestDatabases } from '../helpers/mariadb.js';
import { type SlapdInstance, startSlapd } from '../helpers/slapd.js';
import {
  COLLEGE_SPEC,
  collegeUsers,
  copyCollegeSideFiles,
  ldapSource,
  SMALL_LDIF,
  type TestSite,
  testSite,
  userErrorParagraph,
  writeSpec,
} from '../helpers/spec-files.js';
import { TARGETS } from '../helpers/targets.js';

const TARGET = TARGETS.includes('embedded') ? 'embedded' : (TARGETS[0] ?? 'mariadb');

/** More than the 500 entries a plain search of cn=admin may return. */
const PEOPLE = 750;
/** The big server also refuses pages larger than this (olcLimits size.pr), as some ENT servers do. */
const MAX_PAGE = 100;

let small: SlapdInstance;
let big: SlapdInstance;
let bigLdif: string;

beforeAll(async () => {
  await dropStaleTestDatabases();
  bigLdif = join(tmpdir(), `ldap2moodle-plan-people-${process.pid}-${Date.now()}.ldif`);
  await writeFile(bigLdif, generatePeopleLdif(PEOPLE));
  [small, big] = await Promise.all([
    startSlapd(SMALL_LDIF),
    startSlapd(bigLdif, { LDAP_BULK: '1', LDAP_MAX_PAGESIZE: String(MAX_PAGE) }),
  ]);
});

afterAll(async () => {
  await Promise.all([small?.stop(), big?.stop()]);
  if (bigLdif !== undefined) await rm(bigLdif, { force: true });
});

const sites: TestSite[] = [];
afterEach(async () => {
  await Promise.all(sites.splice(0).map((s) => s.remove()));
});

async function setup(): Promise<TestSite> {
  const site = await testSite(TARGET);
  sites.push(site);
  return site;
}

/** Every person of small.ldif (parents included), not only the collège's. */
const EVERYONE = { search: { base: 'ou=people,dc=ent,dc=example', filter: '(objectClass=ENTPerson)' } };

describe(`plan from a real slapd (into ${TARGET})`, () => {
  for (const [name, users] of [
    ['the example collège', {}],
    ['every person of the directory', EVERYONE],
  ] as const) {
    it(`gives the same plan as the LDIF file for ${name}`, async () => {
      const s = await setup();
      const spec = async (file: string, source: Record<string, unknown>) =>
        writeSpec(
          s.ws,
          { version: 1, source, moodle: s.t.moodleSection(s.ws.dir), users: await collegeUsers(users) },
          file,
        );
      const fromLdap = await s.plan(await spec('ldap.yaml', ldapSource(small)));
      const fromLdif = await s.plan(await spec('ldif.yaml', { ldif: SMALL_LDIF }));
      expect(fromLdap.header.source).toBe(small.url);
      expect(fromLdap.plan.changes.length).toBeGreaterThan(10);
      expect(fromLdap.plan.changes).toEqual(fromLdif.plan.changes);
      expect(fromLdap.plan.skipped).toEqual(fromLdif.plan.skipped);
      expect(fromLdap.plan.warnings).toEqual(fromLdif.plan.warnings);
      await s.expectNothingWritten();
    });
  }

  it('gives the same plan as the LDIF file for the SDET collège, people and structures paged on one connection', async () => {
    const s = await setup();
    const example = parse(await readFile(COLLEGE_SPEC, 'utf8')) as Record<string, unknown>;
    await copyCollegeSideFiles(s.ws.dir);
    const spec = (file: string, source: Record<string, unknown>) =>
      writeSpec(s.ws, { ...example, source, moodle: s.t.moodleSection(s.ws.dir) }, file);
    // Pages of 4 entries: both searches span several pages (OpenLDAP refuses paged searches interleaved
    // on one connection, so the source must read them one after the other).
    const fromLdap = await s.plan(await spec('ldap.yaml', ldapSource(small, { pageSize: 4 })));
    const fromLdif = await s.plan(await spec('ldif.yaml', { ldif: SMALL_LDIF }));
    const entities = new Set(fromLdap.plan.changes.map((c) => c.entity));
    expect([...entities].sort()).toEqual([
      'category',
      'cohort',
      'cohort_enrol',
      'cohort_enrolment',
      'cohort_member',
      'course',
      'enrolment',
      'group',
      'group_member',
      'grouping',
      'grouping_group',
      'profile_data',
      'profile_field',
      'role',
      'role_assignment',
      'user',
    ]);
    expect(fromLdap.plan.changes).toEqual(fromLdif.plan.changes);
    expect(fromLdap.plan.skipped).toEqual(fromLdif.plan.skipped);
    await s.expectNothingWritten();
  });

  it(`plans all ${PEOPLE} people of a directory larger than the account's size limit, page by page`, async () => {
    const s = await setup();
    const users = {
      search: { base: PEOPLE_BASE_DN, filter: '(objectClass=ENTPerson)' },
      auth: 'cas',
      fields: {
        username: '{uid|lower}',
        idnumber: '{ENTPersonJointure|split("$", 2)}',
        firstname: '{givenName}',
        lastname: '{sn}',
        email: '{mail}',
      },
    };
    const spec = await writeSpec(s.ws, {
      version: 1,
      source: ldapSource(big, { pageSize: MAX_PAGE }),
      moodle: s.t.moodleSection(s.ws.dir),
      users,
    });
    const { plan } = await s.plan(spec);
    const expected = Array.from({ length: PEOPLE }, (_, i) => `user["${generatedUid(i + 1).toLowerCase()}"]`).sort();
    expect(plan.changes.map((c) => c.address)).toEqual(expected);
    expect(plan.changes.every((c) => c.action === 'create')).toBe(true);
    expect(plan.changes.at(-1)?.after).toMatchObject({ idnumber: String(PEOPLE), username: 'p0000750' });
    await s.expectNothingWritten();
  });
});

describe('LDAP failures through the CLI', () => {
  async function ldapSpec(s: TestSite, source: Record<string, unknown>): Promise<string> {
    return writeSpec(s.ws, { version: 1, source, moodle: s.t.moodleSection(s.ws.dir), users: await collegeUsers() });
  }

  it('an unreachable server: LDAP_CONNECT naming the URL', async () => {
    const s = await setup();
    const url = 'ldap://127.0.0.1:1';
    const run = await s.cli(['plan', '--spec', await ldapSpec(s, ldapSource(small, { url, timeout: 5000 }))]);
    const paragraph = userErrorParagraph(run, 'LDAP_CONNECT');
    expect(paragraph).toContain(url);
    await s.expectNothingWritten();
  });

  it('a wrong bind password: LDAP_BIND naming the bind DN, never the password', async () => {
    const s = await setup();
    const password = 'Wr0ng-B1nd-Pa55';
    const run = await s.cli(['plan', '--spec', await ldapSpec(s, ldapSource(small, { password }))]);
    const paragraph = userErrorParagraph(run, 'LDAP_BIND');
    expect(paragraph).toContain(small.bindDN);
    expect(paragraph).toContain('refused: invalid credentials');
    expect(run.stderr + run.stdout).not.toContain(password);
    await s.expectNothingWritten();
  });

  it("a page size over the server's cap: planned with smaller pages, a warning naming the size that worked", async () => {
    const s = await setup();
    const spec = await ldapSpec(s, ldapSource(big, { pageSize: 500 }));
    const { plan } = await s.plan(spec);
    // 500 → 250 → 125 → 62, the first size under the cap of 100.
    expect(plan.warnings).toContain(
      `the LDAP server ${big.url} refuses pages of 500 entries (adminLimitExceeded): the directory was read with pages of 62; set source.ldap.pageSize to 62 to spare the retries`,
    );
    const run = await s.cli(['plan', '--spec', spec, '--no-color']);
    expect(run.stderr).not.toContain('LDAP_SEARCH');
    expect(run.stdout + run.stderr).toContain('read with pages of 62');
    await s.expectNothingWritten();
  });
});
