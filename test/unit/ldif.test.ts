import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { type Diagnostic, formatDiagnostic, UserError } from '../../src/errors.js';
import { type LdapEntry, values } from '../../src/source/entry.js';
import { parseLdif, readLdifFile } from '../../src/source/ldif/parse-ldif.js';

const FILE = 'test.ldif';
const SMALL = 'test/fixtures/ldap/small.ldif';
const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');

/** The single entry of a text. */
function one(text: string): LdapEntry {
  const entries = parseLdif(text, FILE);
  expect(entries).toHaveLength(1);
  return entries[0] as LdapEntry;
}

/** The LDIF_INVALID error of a text, its diagnostics formatted as `file:line:col: message`. */
function problems(text: string): string[] {
  try {
    parseLdif(text, FILE);
  } catch (error) {
    expect(error).toBeInstanceOf(UserError);
    const e = error as UserError;
    expect(e.code).toBe('LDIF_INVALID');
    return e.diagnostics.map((d: Diagnostic) => formatDiagnostic(d));
  }
  throw new Error('expected parseLdif to throw');
}

describe('parseLdif: content', () => {
  it('reads a record: lower-cased names, arrays of values, dn kept as written', () => {
    const entry = one('dn: uid=A,ou=People,dc=x\nobjectClass: top\nobjectClass: inetOrgPerson\nUID: A\n');
    expect(entry.dn).toBe('uid=A,ou=People,dc=x');
    expect({ ...entry.attributes }).toEqual({ objectclass: ['top', 'inetOrgPerson'], uid: ['A'] });
  });

  it('accepts a version line, directly followed by a record or by a blank line', () => {
    expect(parseLdif('version: 1\ndn: dc=x\ndc: x\n', FILE).map((e) => e.dn)).toEqual(['dc=x']);
    expect(parseLdif('version: 1\n\ndn: dc=x\ndc: x\n', FILE).map((e) => e.dn)).toEqual(['dc=x']);
  });

  it('skips comments, including folded comment continuations and comments inside a record', () => {
    // A space-led line after a comment continues the comment, so it is ignored too.
    const entry = one('# header\n continued: header\ndn: dc=x\n# inside\n more inside\ndc: x\n');
    expect({ ...entry.attributes }).toEqual({ dc: ['x'] });
  });

  it('reads a "#" on a continuation line as part of the value, not as a comment', () => {
    expect(values(one('dn: dc=x\ndc: x\n  # not a comment\n'), 'dc')).toEqual(['x # not a comment']);
  });

  it('unfolds lines, removing exactly one leading space of each continuation', () => {
    const entry = one('dn: cn=long\n ,dc=x\ndescription: abc\n def\n  ghi\n');
    expect(entry.dn).toBe('cn=long,dc=x');
    expect(values(entry, 'description')).toEqual(['abcdef ghi']);
  });

  it('decodes base64 values and DNs as UTF-8', () => {
    const entry = one(`dn:: ${b64('cn=Éloïse,dc=x')}\nsn:: ${b64('NOËL ')}\ncn::${b64('Éloïse')}\n`);
    expect(entry.dn).toBe('cn=Éloïse,dc=x');
    expect(values(entry, 'sn')).toEqual(['NOËL ']);
    expect(values(entry, 'cn')).toEqual(['Éloïse']);
  });

  it('decodes a folded base64 value', () => {
    const encoded = b64('a fairly long value, with accents: àéîõü, that needs folding');
    const folded = `${encoded.slice(0, 20)}\n ${encoded.slice(20)}`;
    const entry = one(`dn: dc=x\ndescription:: ${folded}\n`);
    expect(values(entry, 'description')).toEqual(['a fairly long value, with accents: àéîõü, that needs folding']);
  });

  it('handles CRLF line endings and a byte-order mark', () => {
    const entries = parseLdif(
      '\uFEFFversion: 1\r\n\r\ndn: dc=x\r\ndc: x\r\n description\r\n\r\ndn: dc=y\r\ndc: y\r\n',
      FILE,
    );
    expect(entries.map((e) => [e.dn, values(e, 'dc')])).toEqual([
      ['dc=x', ['xdescription']],
      ['dc=y', ['y']],
    ]);
  });

  it('keeps empty values, strips only the spaces after the colon and keeps trailing spaces', () => {
    const entry = one('dn: dc=x\ndescription:\nl:    Orléans  \ntitle: \n');
    expect(values(entry, 'description')).toEqual(['']);
    expect(values(entry, 'l')).toEqual(['Orléans  ']);
    expect(values(entry, 'title')).toEqual(['']);
  });

  it('keeps attribute options as part of the lower-cased name', () => {
    const entry = one('dn: dc=x\ncn;Lang-FR: Élève\ncn: Pupil\nuserCertificate;binary:: AAEC\n');
    expect(Object.keys(entry.attributes)).toEqual(['cn;lang-fr', 'cn', 'usercertificate;binary']);
    expect(values(entry, 'CN;LANG-fr')).toEqual(['Élève']);
  });

  it('accepts several blank lines between records and at both ends of the file', () => {
    const entries = parseLdif('\n\ndn: dc=x\ndc: x\n\n\n\ndn: dc=y\ndc: y\n\n\n', FILE);
    expect(entries.map((e) => e.dn)).toEqual(['dc=x', 'dc=y']);
  });

  it('gives a null-prototype attribute map, so names like "constructor" are safe', () => {
    const entry = one('dn: dc=x\ndc: x\n');
    expect(values(entry, 'constructor')).toEqual([]);
    expect(values(entry, 'toString')).toEqual([]);
  });

  it('returns no entries for an empty file or a file of comments', () => {
    expect(parseLdif('', FILE)).toEqual([]);
    expect(parseLdif('# nothing\n\n', FILE)).toEqual([]);
  });
});

describe('parseLdif: refusals, each with its position', () => {
  it('refuses change records', () => {
    expect(problems('dn: dc=x\nchangetype: modify\nreplace: mail\nmail: a@b\n-\n')).toEqual([
      'test.ldif:2:1: change records are not supported: give content records (dn: followed by the attributes, as ldapsearch -L or slapcat write them)',
    ]);
    expect(problems('dn: dc=x\ncontrol: 1.2.840.113556.1.4.805 true\nchangetype: delete\n')[0]).toMatch(
      /^test\.ldif:2:1: change records are not supported/,
    );
  });

  it('refuses URL values', () => {
    expect(problems('dn: dc=x\njpegPhoto:< file:///tmp/photo.jpg\n')).toEqual([
      'test.ldif:2:11: URL values ("jpegPhoto:< …") are not supported: put the value inline, or base64-encode it with "jpegPhoto::"',
    ]);
  });

  it('refuses a record without a dn', () => {
    expect(problems('dn: dc=x\ndc: x\n\ncn: orphan\nsn: x\n')).toEqual([
      'test.ldif:4:1: record does not start with a "dn:" line: every entry must begin with "dn: <DN>"',
    ]);
  });

  it('refuses a line without a colon', () => {
    expect(problems('dn: dc=x\ndc: x\njust some text\n')).toEqual([
      'test.ldif:3:1: line has no colon: expected "attribute: value" (or a comment starting with #)',
    ]);
  });

  it('refuses invalid base64, pointing at the value even on a continuation line', () => {
    expect(problems('dn: dc=x\ncn:: not base64!\n')).toEqual(['test.ldif:2:6: invalid base64 value for "cn::"']);
    expect(problems('dn:: Y249eA=\n')).toEqual(['test.ldif:1:6: invalid base64 value for "dn::"']);
    expect(problems('dn: dc=x\ncn::\n  QUJD@\n')).toEqual(['test.ldif:3:3: invalid base64 value for "cn::"']);
  });

  it('refuses a continuation line at the start of the file or after a blank line', () => {
    expect(problems(' dn: dc=x\ndc: x\n')[0]).toBe(
      'test.ldif:1:1: continuation line (starting with a space) after the start of the file: there is no line for it to continue; remove the leading space',
    );
    expect(problems('dn: dc=x\ndc: x\n\n dc: y\n')).toEqual([
      'test.ldif:4:1: continuation line (starting with a space) after an empty line: there is no line for it to continue; remove the leading space',
    ]);
  });

  it('refuses an unsupported version, a bad attribute name, a second dn, a duplicate DN and an empty entry', () => {
    expect(problems('version: 2\ndn: dc=x\ndc: x\n')).toEqual([
      'test.ldif:1:1: unsupported LDIF version "2": only "version: 1" exists',
    ]);
    expect(problems('dn: dc=x\nbad_name: x\n')).toEqual([
      'test.ldif:2:1: invalid attribute name "bad_name" before the colon',
    ]);
    expect(problems('dn: dc=x\ndc: x\n \ndn: dc=y\ndc: y\n')[0]).toMatch(
      /^test\.ldif:4:1: second "dn:" line in one record/,
    );
    expect(problems('dn: dc=x\ndc: x\n\ndn: DC=X\ndc: x\n')).toEqual([
      'test.ldif:4:1: duplicate entry: DN "DC=X" already appears at line 1',
    ]);
    expect(problems('dn: dc=x\n\n')).toEqual(['test.ldif:1:1: entry "dc=x" has no attributes']);
  });

  it('collects every problem of the file in one error, with a summary naming the first', () => {
    const text = 'dn: dc=x\nno colon here\n\ncn: no dn\n\ndn: dc=y\nmail:< http://example/\n';
    let caught: unknown;
    try {
      parseLdif(text, FILE);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(UserError);
    const error = caught as UserError;
    expect(error.diagnostics.map((d) => d.position?.line)).toEqual([2, 4, 7]);
    expect(error.message).toMatch(
      /^LDIF file test\.ldif is invalid \(3 problems; the first at test\.ldif:2:1: line has no colon/,
    );
  });

  it('stops listing after 50 problems', () => {
    const text = `dn: dc=x\n${'oops\n'.repeat(80)}`;
    const list = problems(text);
    expect(list).toHaveLength(51);
    expect(list.at(-1)).toBe('too many problems: only the first 50 are listed');
  });
});

describe('readLdifFile', () => {
  it('reads small.ldif: exact counts by objectClass', async () => {
    const entries = await readLdifFile(SMALL);
    const count = (oc: string) =>
      entries.filter((e) => values(e, 'objectClass').some((v) => v.toLowerCase() === oc.toLowerCase())).length;
    expect(entries).toHaveLength(61);
    expect(count('ENTEtablissement')).toBe(3);
    expect(count('ENTPerson')).toBe(41);
    expect(count('ENTEleve')).toBe(21);
    expect(count('ENTAuxEnseignant')).toBe(8);
    expect(count('ENTAuxPersRelEleve')).toBe(8);
    expect(count('ENTAuxNonEnsEtab')).toBe(4);
    expect(count('groupOfNames')).toBe(13);
    expect(count('ENTClasse')).toBe(9);
    expect(count('ENTGroupe')).toBe(4);
    // The base entry, the three ou entries and the three establishments (which are also organizationalUnits).
    expect(count('organization')).toBe(1);
    expect(count('organizationalUnit')).toBe(6);
  });

  it('reads small.ldif: accented UTF-8 names and multi-valued attributes', async () => {
    const entries = await readLdifFile(SMALL);
    const byUid = (uid: string): LdapEntry => {
      const found = entries.find((e) => values(e, 'uid')[0] === uid);
      if (!found) throw new Error(`no entry with uid ${uid}`);
      return found;
    };
    const eloise = byUid('F4500111');
    expect(values(eloise, 'givenName')).toEqual(['Éloïse']);
    expect(values(eloise, 'sn')).toEqual(['MARTIN-DUBOIS']);
    expect(values(byUid('F45001vv'), 'sn')).toEqual(['ÉTIENNE']);
    expect(values(byUid('F45001ee'), 'mail')).toHaveLength(2);
    expect(values(byUid('F4500166'), 'mail')).toEqual([]);
    const withE = entries.filter((e) => [...values(e, 'sn'), ...values(e, 'givenName')].some((v) => v.includes('É')));
    expect(withE.map((e) => values(e, 'uid')[0]).sort()).toEqual(expect.arrayContaining(['F4500111', 'F45001vv']));
  });

  it('gives the same entries for the file re-encoded with base64 values, folding and CRLF', async () => {
    const original = await readLdifFile(SMALL);
    const lines: string[] = ['version: 1', ''];
    for (const e of original) {
      lines.push(`dn:: ${b64(e.dn)}`);
      for (const [name, list] of Object.entries(e.attributes)) {
        for (const v of list) {
          const encoded = `${name}:: ${b64(v)}`;
          // Fold at 40 characters, like (more or less) any LDIF writer.
          const parts = encoded.match(/.{1,40}/g) ?? [];
          lines.push(parts.join('\r\n '));
        }
      }
      lines.push('');
    }
    const dir = await mkdtemp(join(tmpdir(), 'ldif-'));
    try {
      const path = join(dir, 'b64.ldif');
      await writeFile(path, lines.join('\r\n'));
      const reencoded = await readLdifFile(path);
      expect(reencoded.map((e) => ({ dn: e.dn, a: { ...e.attributes } }))).toEqual(
        original.map((e) => ({ dn: e.dn, a: { ...e.attributes } })),
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('refuses a missing file and a file that is not UTF-8', async () => {
    await expect(readLdifFile('test/fixtures/ldap/missing.ldif')).rejects.toMatchObject({
      code: 'LDIF_INVALID',
      message: expect.stringMatching(/^cannot read LDIF file test\/fixtures\/ldap\/missing\.ldif: /),
    });
    const dir = await mkdtemp(join(tmpdir(), 'ldif-'));
    try {
      const path = join(dir, 'latin1.ldif');
      await writeFile(path, Buffer.concat([Buffer.from('dn: dc=x\nsn: NO'), Buffer.from([0xcb]), Buffer.from('L\n')]));
      await expect(readLdifFile(path)).rejects.toMatchObject({
        code: 'LDIF_INVALID',
        diagnostics: [{ position: { file: path, line: 2, column: 7 } }],
      });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
