import { describe, expect, it } from 'vitest';
import { UserError } from '../../src/errors.js';
import type { LdapEntry } from '../../src/source/entry.js';
import { compileFilter } from '../../src/source/filter.js';

const SIREN_DN = 'ENTStructureSIREN=19450001400015,ou=structures,dc=ent,dc=example';

const eloise: LdapEntry = {
  dn: 'uid=F4500111,ou=people,dc=ent,dc=example',
  attributes: {
    objectclass: ['inetOrgPerson', 'ENTPerson', 'ENTEleve'],
    uid: ['F4500111'],
    sn: ['MARTIN-DUBOIS'],
    // NFC "É" (U+00C9) followed by "ï" (U+00EF).
    givenname: ['\u00c9lo\u00efse'],
    cn: ['MARTIN-DUBOIS  ÉLOÏSE'],
    'cn;lang-fr': ['Éloïse la Française'],
    entpersonstructrattach: [SIREN_DN],
    enteleveclasses: [`${SIREN_DN}$6EME1`],
    entelevestructrattachid: ['1000007'],
    entpersondatenaissance: ['14/02/2014'],
    description: ['a (b) * c \\ d'],
    mail: ['eloise.martin-dubois@ent.example'],
  },
};

const teacher: LdapEntry = {
  dn: 'uid=F45001mm,ou=people,dc=ent,dc=example',
  attributes: {
    objectclass: ['inetOrgPerson', 'ENTPerson', 'ENTAuxEnseignant'],
    uid: ['F45001mm'],
    sn: ['ROUSSEAU'],
    entelevestructrattachid: ['999'],
    entauxensclasses: [`${SIREN_DN}$3EME1`, 'ENTStructureSIREN=19450002200018,ou=structures,dc=ent,dc=example$1G1'],
  },
};

const matches = (filter: string, entry: LdapEntry = eloise) => compileFilter(filter)(entry);

function errorOf(filter: string): UserError {
  try {
    compileFilter(filter);
  } catch (error) {
    expect(error).toBeInstanceOf(UserError);
    return error as UserError;
  }
  throw new Error(`expected ${filter} to be refused`);
}

describe('compileFilter: matching', () => {
  it('matches equality with case-insensitive names and values, objectClass included', () => {
    expect(matches('(uid=F4500111)')).toBe(true);
    expect(matches('(UID=f4500111)')).toBe(true);
    expect(matches('(objectclass=enteleve)')).toBe(true);
    expect(matches('(objectClass=ENTAuxEnseignant)')).toBe(false);
    expect(matches('(uid=F4500112)')).toBe(false);
    expect(matches('(absent=x)')).toBe(false);
  });

  it('accepts a filter without its outer parentheses, and surrounding whitespace', () => {
    expect(matches('uid=F4500111')).toBe(true);
    expect(matches('  (uid=F4500111)\n')).toBe(true);
  });

  it('compares accented values after NFC and lower-casing', () => {
    // Decomposed "E" + U+0301 equals the stored precomposed "É".
    expect(matches('(givenName=E\u0301lo\u00efse)')).toBe(true);
    expect(matches('(givenName=éloïse)')).toBe(true);
    expect(matches('(givenName=eloise)')).toBe(false);
  });

  it('folds runs of spaces, as case-ignore matching does', () => {
    expect(matches('(cn=martin-dubois éloïse)')).toBe(true);
  });

  it('matches presence, and treats objectClass as always present', () => {
    expect(matches('(mail=*)')).toBe(true);
    expect(matches('(mail=*)', teacher)).toBe(false);
    expect(matches('(objectClass=*)', { dn: 'dc=x', attributes: {} })).toBe(true);
  });

  it('matches substrings: initial, any, final', () => {
    expect(matches('(sn=MARTIN*)')).toBe(true);
    expect(matches('(sn=*DUBOIS)')).toBe(true);
    expect(matches('(sn=*TIN-DU*)')).toBe(true);
    expect(matches('(sn=M*R*N*S)')).toBe(true);
    expect(matches('(sn=m*d*s)')).toBe(true);
    expect(matches('(sn=*DUBOIS*MARTIN*)')).toBe(false);
    expect(matches('(sn=DUBOIS*)')).toBe(false);
    // Initial and final must not overlap: "MARTIN-DUBOIS" is not "MARTIN-DUBOIS" + "-DUBOIS".
    expect(matches('(sn=MARTIN-DUBOIS*-DUBOIS)')).toBe(false);
    expect(matches('(sn=**)')).toBe(true);
  });

  it('matches SDET "$" values with substrings and equality', () => {
    expect(matches('(ENTEleveClasses=*$6EME1)')).toBe(true);
    expect(matches('(ENTEleveClasses=*$6EME2)')).toBe(false);
    expect(matches(`(ENTEleveClasses=${SIREN_DN}$6EME1)`)).toBe(true);
    expect(matches('(ENTEleveClasses=ENTStructureSIREN=19450001400015,*)')).toBe(true);
    expect(matches('(ENTAuxEnsClasses=*$1G1)', teacher)).toBe(true);
  });

  it('decodes escapes: \\2a \\28 \\29 \\5c are literal characters, and multi-byte UTF-8 escapes work', () => {
    expect(matches('(description=a \\28b\\29 \\2a c \\5c d)')).toBe(true);
    expect(matches('(description=*\\2a*)')).toBe(true);
    expect(matches('(description=a \\28b\\29 x c \\5c d)')).toBe(false);
    expect(matches('(givenName=\\c3\\89lo\\c3\\afse)')).toBe(true);
    expect(matches('(sn=MARTIN\\2a)')).toBe(false);
  });

  it('compares DN values as DNs, whatever their spacing and case', () => {
    expect(
      matches('(ENTPersonStructRattach=entstructuresiren=19450001400015, ou=structures, dc=ent, dc=example)'),
    ).toBe(true);
  });

  it('matches a bare attribute type against its subtypes with options, and an option exactly', () => {
    expect(matches('(cn=*Française)')).toBe(true);
    expect(matches('(cn;lang-fr=*Française)')).toBe(true);
    expect(matches('(cn;lang-fr=MARTIN*)')).toBe(false);
  });

  it('orders numerically when both sides are numbers, lexicographically otherwise', () => {
    expect(matches('(ENTEleveStructRattachId>=999)')).toBe(true);
    expect(matches('(ENTEleveStructRattachId<=999)')).toBe(false);
    expect(matches('(ENTEleveStructRattachId<=999)', teacher)).toBe(true);
    expect(matches('(ENTEleveStructRattachId>=999)', teacher)).toBe(true);
    expect(matches('(sn>=M)')).toBe(true);
    expect(matches('(sn<=m)')).toBe(false);
    expect(matches('(sn<=N)')).toBe(true);
  });

  it('treats approximate match as equality', () => {
    expect(matches('(sn~=martin-dubois)')).toBe(true);
    expect(matches('(sn~=martin)')).toBe(false);
  });

  it('combines with and, or, not (and the empty RFC 4526 forms)', () => {
    expect(matches('(&(objectClass=ENTEleve)(ENTEleveClasses=*$6EME1))')).toBe(true);
    expect(matches('(&(objectClass=ENTEleve)(ENTEleveClasses=*$6EME1))', teacher)).toBe(false);
    expect(matches('(|(objectClass=ENTAuxEnseignant)(uid=F4500111))')).toBe(true);
    expect(matches('(|(objectClass=ENTAuxEnseignant)(uid=nobody))')).toBe(false);
    expect(matches('(!(mail=*))')).toBe(false);
    expect(matches('(!(mail=*))', teacher)).toBe(true);
    expect(matches('(&(|(sn=ROUSSEAU)(sn=MARTIN*))(!(objectClass=ENTEleve)))', teacher)).toBe(true);
    expect(matches('(&(|(sn=ROUSSEAU)(sn=MARTIN*))(!(objectClass=ENTEleve)))')).toBe(false);
    expect(matches('(&)')).toBe(true);
    expect(matches('(|)')).toBe(false);
  });

  it('matches empty values only against empty values', () => {
    const entry: LdapEntry = { dn: 'dc=x', attributes: { description: [''], l: ['x'] } };
    expect(matches('(description=)', entry)).toBe(true);
    expect(matches('(l=)', entry)).toBe(false);
  });
});

describe('compileFilter: refusals', () => {
  it.each([
    ['(uid=a', 'expected ")" but found the end of the filter at character 7'],
    ['(&(uid=a)', 'expected ")" but found the end of the filter at character 10'],
    ['(!(uid=a)', 'expected ")" but found the end of the filter at character 10'],
    ['(uid=a))', 'unexpected text after the end of the filter at character 8'],
    ['(uid=a)(uid=b)', 'unexpected text after the end of the filter at character 8'],
    ['(uid=a(b)', 'unescaped "(" in a value (write it as \\28) at character 7'],
    ['(uid=\\zz)', '"\\" must be followed by two hex digits (\\5c for a backslash) at character 6'],
    ['(uid=\\c3)', 'escaped bytes in a value are not valid UTF-8 at character 9'],
    ['(=a)', 'expected an attribute name at character 2'],
    ['(bad_name=a)', 'expected "=" but found "_" at character 5'],
    ['(uid>=a*)', '"*" is not allowed in a ">=" value (escape it as \\2a) at character 8'],
    ['', 'expected an attribute name at character 1'],
    ['uid', 'expected "=" but found ")" at character 4'],
  ])('refuses %j: %s', (filter, detail) => {
    const error = errorOf(filter);
    expect(error.code).toBe('SPEC_INVALID');
    expect(error.message).toMatch(/^invalid LDAP filter "/);
    expect(error.diagnostics.map((d) => d.message)).toEqual([detail]);
  });

  it('refuses extensible matches with a message saying the LDIF source cannot evaluate them', () => {
    for (const filter of ['(cn:caseExactMatch:=Éloïse)', '(:dn:2.5.13.5:=x)', '(&(uid=a)(ou:dn:=people))']) {
      const error = errorOf(filter);
      expect(error.code).toBe('SPEC_INVALID');
      expect(error.message).toMatch(/uses an extensible match \(":="\) at character \d+, which the LDIF source cannot/);
    }
    expect(errorOf('(&(uid=a)(ou:dn:=people))').diagnostics[0]?.message).toBe(
      'an extensible match (":=") is not supported at character 11',
    );
  });
});
