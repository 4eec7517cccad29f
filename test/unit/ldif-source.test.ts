import { describe, expect, it } from 'vitest';
import { type LdapEntry, values } from '../../src/source/entry.js';
import { LdifSource } from '../../src/source/ldif/ldif-source.js';
import { parseLdif } from '../../src/source/ldif/parse-ldif.js';
import type { SearchRequest } from '../../src/source/source.js';

const SMALL = 'test/fixtures/ldap/small.ldif';
const SIREN_CLG = 'ENTStructureSIREN=19450001400015,ou=structures,dc=ent,dc=example';

async function search(source: LdifSource, request: Partial<SearchRequest>): Promise<LdapEntry[]> {
  const full: SearchRequest = {
    base: 'dc=ent,dc=example',
    scope: 'sub',
    filter: '(objectClass=*)',
    attributes: [],
    ...request,
  };
  const found: LdapEntry[] = [];
  for await (const entry of source.search(full)) found.push(entry);
  return found;
}

describe('LdifSource on small.ldif', () => {
  it('opens the file and describes itself by its path', async () => {
    const source = await LdifSource.open(SMALL);
    expect(source.description).toBe(SMALL);
    await source.close();
  });

  it('searches a subtree, a level and a base', async () => {
    const source = await LdifSource.open(SMALL);
    expect(await search(source, {})).toHaveLength(61);
    expect(await search(source, { base: 'ou=people,dc=ent,dc=example' })).toHaveLength(42);
    const people = await search(source, { base: 'ou=people,dc=ent,dc=example', scope: 'one' });
    expect(people).toHaveLength(41);
    expect(people.every((e) => e.dn.endsWith(',ou=people,dc=ent,dc=example'))).toBe(true);
    expect((await search(source, { scope: 'one' })).map((e) => e.dn)).toEqual([
      'ou=people,dc=ent,dc=example',
      'ou=structures,dc=ent,dc=example',
      'ou=groups,dc=ent,dc=example',
    ]);
    expect((await search(source, { scope: 'base' })).map((e) => e.dn)).toEqual(['dc=ent,dc=example']);
    expect(await search(source, { base: SIREN_CLG, scope: 'one' })).toEqual([]);
  });

  it('compares the base as a DN: case and spaces do not matter', async () => {
    const source = await LdifSource.open(SMALL);
    const found = await search(source, { base: 'OU=People, DC=ENT, DC=Example', scope: 'one' });
    expect(found).toHaveLength(41);
    const [structure] = await search(source, {
      base: 'entstructuresiren=19450001400015,ou=structures,dc=ent,dc=example',
      scope: 'base',
    });
    expect(structure?.dn).toBe(SIREN_CLG);
  });

  it('applies the filter', async () => {
    const source = await LdifSource.open(SMALL);
    const base = 'ou=people,dc=ent,dc=example';
    expect(await search(source, { base, filter: '(objectClass=ENTEleve)' })).toHaveLength(21);
    expect(await search(source, { base, filter: '(objectClass=ENTAuxEnseignant)' })).toHaveLength(8);
    const sixth = await search(source, {
      base,
      filter: '(&(objectClass=ENTEleve)(ENTEleveClasses=*$6EME1))',
    });
    expect(sixth.map((e) => values(e, 'uid')[0])).toEqual(['F4500111', 'F4500122']);
    const noMail = await search(source, { base, filter: '(&(objectClass=ENTEleve)(!(mail=*)))' });
    expect(noMail.map((e) => values(e, 'uid')[0])).toEqual(['F4500166']);
    const groups = await search(source, {
      base: 'ou=groups,dc=ent,dc=example',
      filter: '(objectClass=ENTGroupe)',
    });
    expect(groups).toHaveLength(4);
  });

  it('returns only the requested attributes, any case, with objectClass and subtypes kept', async () => {
    const source = await LdifSource.open(SMALL);
    const [eloise] = await search(source, {
      filter: '(uid=F4500111)',
      attributes: ['UID', 'givenName', 'absent'],
    });
    expect(eloise?.dn).toBe('uid=F4500111,ou=people,dc=ent,dc=example');
    expect(Object.keys(eloise?.attributes ?? {}).sort()).toEqual(['givenname', 'objectclass', 'uid']);
    expect(values(eloise as LdapEntry, 'givenName')).toEqual(['Éloïse']);
    const [all] = await search(source, { filter: '(uid=F4500111)', attributes: ['*'] });
    expect(Object.keys(all?.attributes ?? {}).length).toBeGreaterThan(30);
    const [none] = await search(source, { filter: '(uid=F4500111)', attributes: ['1.1'] });
    expect(Object.keys(none?.attributes ?? {})).toEqual(['objectclass']);
  });

  it('refuses an unknown base like a server (noSuchObject), naming the file and its top entry', async () => {
    const source = await LdifSource.open(SMALL);
    await expect(search(source, { base: 'ou=nobody,dc=ent,dc=example' })).rejects.toMatchObject({
      code: 'LDAP_SEARCH',
      message: `search base "ou=nobody,dc=ent,dc=example" does not exist in ${SMALL} (its top entries are "dc=ent,dc=example"): fix the base DN in the spec, or the file.`,
    });
  });

  it('refuses a bad filter', async () => {
    const source = await LdifSource.open(SMALL);
    await expect(search(source, { filter: '(uid=F4500111' })).rejects.toMatchObject({ code: 'SPEC_INVALID' });
  });
});

describe('LdifSource scope details', () => {
  const entries = parseLdif(
    [
      'dn: dc=x\ndc: x',
      'dn: ou=a\\,b,dc=x\nou: a,b',
      'dn: cn=child,ou=a\\,b,dc=x\ncn: child',
      'dn: ou=b,dc=x\nou: b',
      'dn: cn=child,ou=b,dc=x\ncn: child',
    ].join('\n\n'),
    'scope.ldif',
  );
  const source = new LdifSource('scope.ldif', entries);

  it('handles escaped commas in RDNs when finding parents', async () => {
    const one = await search(source, { base: 'ou=a\\2Cb,dc=x', scope: 'one' });
    expect(one.map((e) => e.dn)).toEqual(['cn=child,ou=a\\,b,dc=x']);
    const top = await search(source, { base: 'dc=x', scope: 'one' });
    expect(top.map((e) => e.dn)).toEqual(['ou=a\\,b,dc=x', 'ou=b,dc=x']);
    const sub = await search(source, { base: 'ou=b,dc=x', scope: 'sub' });
    expect(sub.map((e) => e.dn)).toEqual(['ou=b,dc=x', 'cn=child,ou=b,dc=x']);
  });
});

describe('LdifSource and invalid UTF-8', () => {
  it('names the entry and attribute of a base64 value that is not UTF-8, for the attributes a search returns', async () => {
    const bad = Buffer.from([0x4e, 0x6f, 0xff]).toString('base64');
    const photo = Buffer.from([0xff, 0xd8, 0xff]).toString('base64');
    const text = [
      'dn: dc=example',
      'objectClass: domain',
      '',
      'dn: uid=A1,dc=example',
      'objectClass: person',
      `givenName:: ${bad}`,
      `jpegPhoto:: ${photo}`,
      `sn:: ${Buffer.from('Dupont').toString('base64')}`,
      '',
    ].join('\n');
    const invalid = new Map<string, Set<string>>();
    const entries = parseLdif(text, 't.ldif', invalid);
    expect(values(entries[1] as LdapEntry, 'givenname')).toEqual(['No\uFFFD']);
    expect(invalid).toEqual(new Map([['uid=A1,dc=example', new Set(['givenname', 'jpegphoto'])]]));
    const source = new LdifSource('t.ldif', entries, invalid);
    const request: SearchRequest = {
      base: 'dc=example',
      scope: 'sub',
      filter: '(objectClass=person)',
      attributes: ['givenName', 'sn'],
    };
    for await (const _ of source.search(request)) void _;
    // The photo was not asked for: nothing to say about it.
    expect(source.warnings()).toEqual([
      'uid=A1,dc=example: givenname has a value that is not valid UTF-8 in t.ldif; it was read with U+FFFD in place of the bad bytes',
    ]);
  });
});
