/**
 * Generated directories load into a real slapd with the SDET schema: 2,000 people offline with slapadd
 * (LDAP_BULK=1, the strict loader), 200 people through ldapadd, and a churned next day. Read back through the
 * project's LDAP source, every entry is there with exactly the values the LDIF holds.
 */
import { rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { churnDirectory, directoryLdif, generateDirectory } from '../../src/generate/generate.js';
import { type LdapEntry, normalizeDn, values } from '../../src/source/entry.js';
import { LdapSource } from '../../src/source/ldap/ldap-source.js';
import { parseLdif } from '../../src/source/ldif/parse-ldif.js';
import { type SlapdInstance, startSlapd } from '../helpers/slapd.js';

const files: string[] = [];
const texts = new Map<string, string>();
let bulk: SlapdInstance;
let added: SlapdInstance;
let churned: SlapdInstance;
let churnedPeople = 0;

async function ldifFile(name: string, text: string): Promise<string> {
  const path = join(tmpdir(), `ldap2moodle-generate-${process.pid}-${name}.ldif`);
  await writeFile(path, text);
  files.push(path);
  texts.set(name, text);
  return path;
}

beforeAll(async () => {
  const big = directoryLdif(generateDirectory({ seed: 42, people: 2000, establishments: 3 }));
  const small = directoryLdif(generateDirectory({ seed: 9, people: 200 }));
  const next = churnDirectory(big, { seed: 7, share: 0.1 });
  churnedPeople = next.summary.peopleAfter;
  const [bigPath, smallPath, nextPath] = await Promise.all([
    ldifFile('big', big),
    ldifFile('small', small),
    ldifFile('next', directoryLdif(next.directory)),
  ]);
  [bulk, added, churned] = await Promise.all([
    startSlapd(bigPath, { LDAP_BULK: '1' }),
    startSlapd(smallPath),
    startSlapd(nextPath, { LDAP_BULK: '1' }),
  ]);
});

afterAll(async () => {
  await Promise.all([bulk?.stop(), added?.stop(), churned?.stop()]);
  await Promise.all(files.map((f) => rm(f, { force: true })));
});

/** Every entry of the server (paged), all user attributes, through the project's LDAP source. */
async function everything(slapd: SlapdInstance): Promise<LdapEntry[]> {
  const source = await LdapSource.connect({ url: slapd.url, bindDN: slapd.bindDN, password: slapd.password });
  try {
    const found: LdapEntry[] = [];
    for await (const entry of source.search({
      base: slapd.baseDN,
      scope: 'sub',
      filter: '(objectClass=*)',
      attributes: ['*'],
    })) {
      found.push(entry);
    }
    return found;
  } finally {
    await source.close();
  }
}

/** An entry as comparable data: normalised DN → attribute → sorted values. */
const comparable = (entries: readonly LdapEntry[]) =>
  new Map(
    entries.map((e) => [
      normalizeDn(e.dn),
      Object.fromEntries(
        Object.keys(e.attributes)
          .sort()
          .map((name) => [name, [...values(e, name)].sort()]),
      ),
    ]),
  );

async function expectLoaded(slapd: SlapdInstance, name: string, people: number): Promise<void> {
  const expected = comparable(parseLdif(texts.get(name) as string, `${name}.ldif`));
  const actual = comparable(await everything(slapd));
  actual.delete(normalizeDn(slapd.bindDN)); // the service account start-slapd.sh adds
  expect([...actual.keys()].sort()).toEqual([...expected.keys()].sort());
  const differing = [...expected].filter(([dn, attrs]) => JSON.stringify(actual.get(dn)) !== JSON.stringify(attrs));
  expect(differing.map(([dn]) => dn)).toEqual([]);
  const persons = [...actual.values()].filter((a) => (a.objectclass ?? []).includes('ENTPerson'));
  expect(persons).toHaveLength(people);
}

describe('generated directories in slapd', () => {
  it('2,000 people bulk-loaded with slapadd: every entry, every value', async () => {
    await expectLoaded(bulk, 'big', 2000);
  });

  it('200 people added with ldapadd: every entry, every value', async () => {
    await expectLoaded(added, 'small', 200);
  });

  it('the churned next day bulk-loads too', async () => {
    await expectLoaded(churned, 'next', churnedPeople);
  });
});
