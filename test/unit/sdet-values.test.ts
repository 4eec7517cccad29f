/**
 * The SDET building blocks (src/rules/sdet/): structure references in every form, composite values, dates,
 * national profiles — on the real entries of small.ldif and on hand-made edge cases.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { nationalProfile, profileOfFunction, profilesOf } from '../../src/rules/sdet/profiles.js';
import {
  buildStructureIndex,
  type Establishment,
  isValidUaiKey,
  normalizeUai,
} from '../../src/rules/sdet/structures.js';
import {
  parseFrenchDate,
  parseFunction,
  parseJointure,
  parseRelation,
  parseStructureValue,
} from '../../src/rules/sdet/values.js';
import { type LdapEntry, values } from '../../src/source/entry.js';
import { parseLdif } from '../../src/source/ldif/parse-ldif.js';

const SMALL = 'test/fixtures/ldap/small.ldif';
const ENTRIES = parseLdif(readFileSync(SMALL, 'utf8'), SMALL);
const INDEX = buildStructureIndex(ENTRIES);

const CLG_DN = 'ENTStructureSIREN=19450001400015,ou=structures,dc=ent,dc=example';
const LYC_DN = 'ENTStructureSIREN=19450002200018,ou=structures,dc=ent,dc=example';
const LP_DN = 'ENTStructureSIREN=19450003000011,ou=structures,dc=ent,dc=example';

function person(uid: string): LdapEntry {
  const entry = ENTRIES.find((e) => values(e, 'uid')[0] === uid);
  if (entry === undefined) throw new Error(`no ${uid} in ${SMALL}`);
  return entry;
}

/** A hand-made entry: attribute name → values. */
function entry(attributes: Record<string, string[]>, dn = 'uid=X,ou=people,dc=ent,dc=example'): LdapEntry {
  return { dn, attributes: Object.fromEntries(Object.entries(attributes).map(([k, v]) => [k.toLowerCase(), v])) };
}

const uaiOf = (e: Establishment | undefined) => e?.uai;

describe('UAIs', () => {
  it('normalises case and spaces, and refuses what is not a UAI', () => {
    expect(normalizeUai('0450001A')).toBe('0450001A');
    expect(normalizeUai(' 0450001a  ')).toBe('0450001A');
    expect(normalizeUai('450001A')).toBeNull();
    expect(normalizeUai('04500011')).toBeNull();
    expect(normalizeUai('0450001AB')).toBeNull();
    expect(normalizeUai('')).toBeNull();
  });

  it('checks the key letter (digits mod 23), for information only', () => {
    expect(isValidUaiKey('0450001G')).toBe(true);
    expect(isValidUaiKey('0450002h')).toBe(true);
    expect(isValidUaiKey('0450003J')).toBe(true);
    // The fixture's UAIs have wrong keys and are still indexed.
    expect(isValidUaiKey('0450001A')).toBe(false);
    expect(isValidUaiKey('not a UAI')).toBe(false);
    expect(INDEX.byUai('0450001A')?.uai).toBe('0450001A');
  });
});

describe('the structure index of small.ldif', () => {
  it('holds the three establishments, the LP attached to the lycée', () => {
    expect(INDEX.skipped).toEqual([]);
    expect(INDEX.establishments).toEqual([
      { uai: '0450001A', dn: CLG_DN, name: 'CLG-LE GRAND CEDRE-ac-ORLEANS-TOURS', siren: '19450001400015' },
      { uai: '0450002B', dn: LYC_DN, name: 'LYC-DES TILLEULS-ac-ORLEANS-TOURS', siren: '19450002200018' },
      {
        uai: '0450003C',
        dn: LP_DN,
        name: 'LP-DES TILLEULS-ac-ORLEANS-TOURS',
        siren: '19450003000011',
        parentUai: '0450002B',
      },
    ]);
  });

  it('links the cité scolaire (self-links mean no parent)', () => {
    const [clg, lyc, lp] = INDEX.establishments as [Establishment, Establishment, Establishment];
    expect(INDEX.parentOf(lp)).toBe(lyc);
    expect(INDEX.parentOf(lyc)).toBeUndefined();
    expect(INDEX.parentOf(clg)).toBeUndefined();
    expect(INDEX.citeOf(lp).map((e) => e.uai)).toEqual(['0450002B', '0450003C']);
    expect(INDEX.citeOf(lyc).map((e) => e.uai)).toEqual(['0450002B', '0450003C']);
    expect(INDEX.citeOf(clg).map((e) => e.uai)).toEqual(['0450001A']);
  });

  it('resolves a DN in any case, spacing or escaping', () => {
    expect(uaiOf(INDEX.resolve(CLG_DN))).toBe('0450001A');
    expect(uaiOf(INDEX.resolve('entstructuresiren=19450001400015,OU=Structures,DC=ENT,DC=Example'))).toBe('0450001A');
    expect(uaiOf(INDEX.resolve('ENTStructureSIREN = 19450002200018, ou=structures, dc=ent, dc=example'))).toBe(
      '0450002B',
    );
    expect(uaiOf(INDEX.resolve('ENTStructureSIREN=\\31\\39450003000011,ou=structures,dc=ent,dc=example'))).toBe(
      '0450003C',
    );
  });

  it('resolves a UAI (any case, trailing spaces) and the structure ids (SIRET, jointure)', () => {
    expect(uaiOf(INDEX.resolve('0450002b  '))).toBe('0450002B');
    expect(uaiOf(INDEX.resolve('19450003000011'))).toBe('0450003C');
    expect(uaiOf(INDEX.resolve('1101'))).toBe('0450001A');
    expect(uaiOf(INDEX.byUai(' 0450003c'))).toBe('0450003C');
  });

  it('resolves nothing for an unknown structure', () => {
    expect(INDEX.resolve('ENTStructureSIREN=19999999900000,ou=structures,dc=ent,dc=example')).toBeUndefined();
    expect(INDEX.resolve('0759999Z')).toBeUndefined();
    expect(INDEX.resolve('19999999900000')).toBeUndefined();
    expect(INDEX.resolve('')).toBeUndefined();
  });

  it('skips structures without a UAI or with a taken one, and resolves no id two of them share', () => {
    const index = buildStructureIndex([
      entry({ objectClass: ['ENTStructure'], ENTStructureSIREN: ['111'] }, 'ENTStructureSIREN=111,dc=x'),
      entry({ objectClass: ['ENTEtablissement'], ENTStructureUAI: ['bad'] }, 'ENTStructureSIREN=222,dc=x'),
      entry({ ENTStructureUAI: ['0450001A'], ENTStructureJointure: ['AC$9'] }, 'ENTStructureSIREN=333,dc=x'),
      entry({ ENTStructureUAI: ['0450001a'] }, 'ENTStructureSIREN=444,dc=x'),
      entry({ ENTStructureUAI: ['0450002B'], ENTStructureJointure: ['OTHER$9'] }, 'ENTStructureSIREN=555,dc=x'),
      entry({ objectClass: ['inetOrgPerson'], uid: ['someone'] }),
    ]);
    expect(index.skipped).toEqual([
      { dn: 'ENTStructureSIREN=111,dc=x', reason: 'no ENTStructureUAI' },
      { dn: 'ENTStructureSIREN=222,dc=x', reason: 'not a UAI: "bad"' },
      { dn: 'ENTStructureSIREN=444,dc=x', reason: 'UAI 0450001A is already the one of ENTStructureSIREN=333,dc=x' },
    ]);
    expect(index.establishments.map((e) => [e.uai, e.name])).toEqual([
      ['0450001A', '0450001A'],
      ['0450002B', '0450002B'],
    ]);
    expect(index.resolve('9')).toBeUndefined();
    expect(uaiOf(index.resolve('AC$9'))).toBe('0450001A');
  });
});

describe('structure values', () => {
  it('splits ENTEleveClasses of small.ldif (DN form)', () => {
    const [value] = values(person('F4500111'), 'ENTEleveClasses');
    expect(parseStructureValue(value as string, INDEX)).toEqual({
      structure: INDEX.byUai('0450001A'),
      ref: CLG_DN,
      parts: ['6EME1'],
      rest: '6EME1',
    });
  });

  it('accepts the UAI form with a lower-case key', () => {
    const parsed = parseStructureValue('0450001a$6EME1', INDEX);
    expect(uaiOf(parsed.structure)).toBe('0450001A');
    expect(parsed.ref).toBe('0450001a');
    expect(parsed.parts).toEqual(['6EME1']);
  });

  it('keeps a class with a space as written, and drops padding', () => {
    const value = values(person('F45001hh'), 'ENTEleveClasses')[0] as string;
    expect(parseStructureValue(value, INDEX)).toMatchObject({ parts: ['2PRO MELEC'], rest: '2PRO MELEC' });
    const padded = parseStructureValue(`${LP_DN}$2PRO MELEC  `, INDEX);
    expect(uaiOf(padded.structure)).toBe('0450003C');
    expect(padded.parts).toEqual(['2PRO MELEC']);
    expect(parseStructureValue('0450003C $ TBAC COM ', INDEX).parts).toEqual(['TBAC COM']);
  });

  it('names an unknown structure by its reference, with no establishment', () => {
    expect(parseStructureValue('0759999Z$3EME1', INDEX)).toEqual({
      structure: undefined,
      ref: '0759999Z',
      parts: ['3EME1'],
      rest: '3EME1',
    });
    expect(parseStructureValue('0450001A', INDEX)).toMatchObject({ ref: '0450001A', parts: [], rest: '' });
  });

  it('splits a teacher’s classes with subjects and groups (small.ldif)', () => {
    const teacher = person('F45001mm');
    const classes = values(teacher, 'ENTAuxEnsClassesMatieres').map((v) => parseStructureValue(v, INDEX));
    expect(classes.map((c) => [c.structure?.uai, ...c.parts])).toEqual([
      ['0450001A', '3EME1', '061300'],
      ['0450001A', '3EME2', '061300'],
      ['0450002B', 'TG1', '061300'],
    ]);
    const groups = values(teacher, 'ENTAuxEnsGroupes').map((v) => parseStructureValue(v, INDEX));
    expect(groups.map((g) => [g.structure?.uai, g.rest])).toEqual([['0450002B', '1G_SPE_MATHS']]);
  });

  it('reads functions, `-` meaning no discipline', () => {
    const [director] = values(person('F45001uu'), 'ENTPersonFonctions');
    expect(parseFunction(director as string, INDEX)).toEqual({
      structure: INDEX.byUai('0450001A'),
      ref: CLG_DN,
      code: 'DIR',
      label: 'DIRECTION',
      disciplineCode: undefined,
      disciplineLabel: undefined,
    });
    expect(parseFunction('0450002b$ens$ENSEIGNEMENT$L1300$MATHEMATIQUES', INDEX)).toMatchObject({
      code: 'ENS',
      disciplineCode: 'L1300',
      disciplineLabel: 'MATHEMATIQUES',
    });
  });

  it('follows the student who moved: his class says the lycée, ESCOUAICourant still the LP', () => {
    const yanis = person('F45001gg');
    expect(values(yanis, 'ESCOUAI').map((u) => uaiOf(INDEX.resolve(u)))).toEqual(['0450002B', '0450003C']);
    expect(uaiOf(INDEX.resolve(values(yanis, 'ESCOUAICourant')[0] as string))).toBe('0450003C');
    const classes = values(yanis, 'ENTEleveClasses').map((v) => parseStructureValue(v, INDEX));
    expect(classes.map((c) => [c.structure?.uai, c.rest])).toEqual([['0450002B', '2NDE1']]);
  });

  it('reads the documentalist’s functions; she has no classes', () => {
    const roche = person('F45001ss');
    expect(values(roche, 'ENTAuxEnsClasses')).toEqual([]);
    expect(values(roche, 'ENTAuxEnsClassesMatieres')).toEqual([]);
    const functions = values(roche, 'ENTPersonFonctions').map((v) => parseFunction(v, INDEX));
    expect(functions.map((f) => [f.structure?.uai, f.code, f.disciplineCode])).toEqual([
      ['0450002B', 'DOC', 'L0080'],
      ['0450003C', 'DOC', 'L0080'],
    ]);
    expect(values(roche, 'ENTPersonJointure').map(parseJointure)).toEqual([
      { source: 'AC-ORLEANS-TOURS', key: '45007' },
      { source: 'ENT', key: '45007-ROCHE' },
    ]);
  });
});

describe('jointures, relations and dates', () => {
  it('splits join keys', () => {
    expect(parseJointure('AC-ORLEANS-TOURS$7100001')).toEqual({ source: 'AC-ORLEANS-TOURS', key: '7100001' });
    expect(parseJointure(values(person('F4500111'), 'ENTPersonJointure')[0] as string)).toEqual({
      source: 'AC-ORLEANS-TOURS',
      key: '7100001',
    });
    expect(parseJointure('7100001')).toBeNull();
    expect(parseJointure('AC$ ')).toBeNull();
  });

  it('reads student–relative relations', () => {
    expect(parseRelation(values(person('F4500111'), 'ENTElevePersRelEleve')[0] as string)).toEqual({
      key: '8200001',
      relation: '1',
      parent: true,
      financial: true,
      legal: '1',
      legalGuardian: true,
      contact: true,
      payment: true,
    });
    expect(parseRelation('8200009$3$0$0$1')).toEqual({
      key: '8200009',
      relation: '3',
      parent: false,
      financial: false,
      legal: '0',
      legalGuardian: false,
      contact: true,
      payment: false,
    });
    expect(parseRelation('8200002')).toBeNull();
    expect(parseRelation('$1$1$1$1$1')).toBeNull();
  });

  it('turns dd/mm/yyyy into ISO dates', () => {
    expect(parseFrenchDate('14/02/2014')).toBe('2014-02-14');
    expect(parseFrenchDate(values(person('F45001gg'), 'ENTPersonDateNaissance')[0] as string)).toBe('2009-04-05');
    expect(parseFrenchDate(' 1/9/2013 ')).toBe('2013-09-01');
    expect(parseFrenchDate('29/02/2012')).toBe('2012-02-29');
    expect(parseFrenchDate('29/02/2013')).toBeNull();
    expect(parseFrenchDate('31/04/2014')).toBeNull();
    expect(parseFrenchDate('2014-02-14')).toBeNull();
    expect(parseFrenchDate('')).toBeNull();
  });
});

describe('national profiles', () => {
  it('reads ENTPersonProfils and ignores the legacy numeric codes (small.ldif)', () => {
    expect(profilesOf(person('F4500111'))).toEqual({
      profiles: ['National_ELV'],
      from: 'ENTPersonProfils',
      ignored: ['National_1'],
    });
    expect(profilesOf(person('F45001mm'))).toEqual({
      profiles: ['National_ENS'],
      from: 'ENTPersonProfils',
      ignored: ['National_3'],
    });
    expect(profilesOf(person('F45001ss'))).toEqual({
      profiles: ['National_DOC'],
      from: 'ENTPersonProfils',
      ignored: [],
    });
    expect(profilesOf(person('F45001ww')).profiles).toEqual(['National_ETA']);
    expect(profilesOf(person('F45001xx')).profiles).toEqual(['National_EVS']);
    expect(profilesOf(person('F45001uu')).profiles).toEqual(['National_DIR']);
    expect(profilesOf(person('F45001zz')).profiles).toEqual(['National_TUT']);
  });

  it('gives every person of small.ldif exactly one profile', () => {
    const people = ENTRIES.filter((e) => e.dn.toLowerCase().includes(',ou=people,'));
    expect(people).toHaveLength(41);
    const counts: Record<string, number> = {};
    for (const p of people) {
      const { profiles, from } = profilesOf(p);
      expect(from).toBe('ENTPersonProfils');
      expect(profiles).toHaveLength(1);
      const key = profiles[0] as string;
      counts[key] = (counts[key] ?? 0) + 1;
    }
    expect(counts).toEqual({
      National_ELV: 21,
      National_ENS: 7,
      National_DOC: 1,
      National_DIR: 2,
      National_ETA: 1,
      National_EVS: 1,
      National_TUT: 8,
    });
  });

  it('spells codes canonically, ignores unknown ones, dedupes and orders', () => {
    expect(nationalProfile(' national_elv ')).toBe('National_ELV');
    expect(nationalProfile('National_XYZ')).toBeNull();
    expect(
      profilesOf(entry({ ENTPersonProfils: ['National_ENS', 'NATIONAL_DIR', 'National_ENS', 'National_9', 'ENS'] })),
    ).toEqual({ profiles: ['National_ENS', 'National_DIR'], from: 'ENTPersonProfils', ignored: ['National_9', 'ENS'] });
  });

  it('falls back on object classes and function codes when no national code is given', () => {
    // The ADA staff member of ESCO data: National_6 alone.
    expect(
      profilesOf(
        entry({ objectClass: ['ENTAuxNonEnsEtab'], ENTPersonProfils: ['National_6'], ESCOPersonProfils: ['ADA'] }),
      ),
    ).toEqual({ profiles: ['National_ETA'], from: 'objectClass', ignored: ['National_6'] });
    expect(profilesOf(entry({ objectClass: ['ENTEleve'], ENTPersonProfils: ['National_1'] })).profiles).toEqual([
      'National_ELV',
    ]);
    expect(profilesOf(entry({ objectClass: ['entauxpersreleleve'] })).profiles).toEqual(['National_TUT']);
    expect(profilesOf(entry({ objectClass: ['ENTAuxEnseignant'] })).profiles).toEqual(['National_ENS']);
    expect(
      profilesOf(entry({ objectClass: ['ENTAuxEnseignant'], ENTPersonFonctions: ['0450002B$DOC$DOCUMENTATION$-$-'] }))
        .profiles,
    ).toEqual(['National_DOC']);
    const staff = (codes: string[]) =>
      profilesOf(
        entry({ objectClass: ['ENTAuxNonEnsEtab'], ENTPersonFonctions: codes.map((c) => `0450001A$${c}$X$-$-`) }),
      );
    expect(staff(['DIR']).profiles).toEqual(['National_DIR']);
    expect(staff(['AED']).profiles).toEqual(['National_EVS']);
    expect(staff(['SUR']).profiles).toEqual(['National_EVS']);
    expect(staff(['LAB', 'OUV']).profiles).toEqual(['National_ETA']);
    expect(staff(['MDS', 'DOC']).profiles).toEqual(['National_ETA', 'National_DOC']);
    expect(staff(['ZZZ'])).toEqual({ profiles: ['National_ETA'], from: 'objectClass', ignored: ['ZZZ'] });
    expect(profileOfFunction(' edu ')).toBe('National_EVS');
  });

  it('gives no profile to an entry that says nothing', () => {
    expect(profilesOf(entry({ objectClass: ['inetOrgPerson'], ENTPersonProfils: ['National_1'] }))).toEqual({
      profiles: [],
      from: 'none',
      ignored: ['National_1'],
    });
  });
});
