import type { Entry } from 'ldapts';
import { describe, expect, it } from 'vitest';
import { invalidUtf8Attributes, normalizeEntry } from '../../src/source/ldap/ldap-source.js';

describe('values a server sends that are not UTF-8', () => {
  it('are the Buffers ldapts hands over: listed by attribute, read with U+FFFD', () => {
    // ldapts decodes an attribute's values to strings when all are UTF-8, else hands all of them as Buffers.
    const entry: Entry = {
      dn: 'uid=A1,dc=example',
      givenName: Buffer.from([0x4e, 0x6f, 0xff]),
      sn: 'Dupont',
      mail: [Buffer.from('a@b.fr'), Buffer.from([0xc3])],
    };
    expect(invalidUtf8Attributes(entry)).toEqual(['givenname', 'mail']);
    expect(normalizeEntry(entry).attributes.givenname).toEqual(['No\uFFFD']);
    expect(normalizeEntry(entry).attributes.mail).toEqual(['a@b.fr', '\uFFFD']);
    expect(invalidUtf8Attributes({ dn: 'uid=B2,dc=example', sn: 'Martin', cn: ['a', 'b'] })).toEqual([]);
  });
});
