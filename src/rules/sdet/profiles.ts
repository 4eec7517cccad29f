/**
 * The SDET national profiles of a person (SDET annexe opérationnelle §4.7): from `ENTPersonProfils` when it
 * holds any, otherwise from the entry's object classes and AAF function codes.
 */
import { type LdapEntry, values } from '../../source/entry.js';

export const NATIONAL_PROFILES = [
  'National_ELV',
  'National_TUT',
  'National_ENS',
  'National_DIR',
  'National_EVS',
  'National_ETA',
  'National_ACA',
  'National_DOC',
  'National_COL',
] as const;

/**
 * ELV student, TUT parent or legal guardian, ENS teacher, DIR management, EVS vie scolaire, ETA administrative,
 * technical or medical staff, ACA rectorat / academic services, DOC documentalist, COL local-authority staff.
 */
export type NationalProfile = (typeof NATIONAL_PROFILES)[number];

const BY_LOWER = new Map<string, NationalProfile>(NATIONAL_PROFILES.map((p) => [p.toLowerCase(), p]));

/** A national profile code in its canonical spelling (`national_elv` → `National_ELV`), or null. */
export function nationalProfile(value: string): NationalProfile | null {
  return BY_LOWER.get(value.trim().toLowerCase()) ?? null;
}

/**
 * AAF function codes (ENTPersonFonctions' second field, ESCOPersonProfils) → profile, as the Rennes academy
 * maps them for the GAR (AC-Rennes-OpenSource/alambic, GARHelper); `ELEVE` is ESCO's local student code.
 */
const FUNCTION_PROFILES: Readonly<Record<string, NationalProfile>> = {
  ADA: 'National_ETA',
  ADE: 'National_EVS',
  ADF: 'National_ETA',
  ADM: 'National_ETA',
  AED: 'National_EVS',
  AES: 'National_EVS',
  ALB: 'National_ETA',
  ASE: 'National_ETA',
  ASH: 'National_ETA',
  BED: 'National_ENS',
  CFC: 'National_ETA',
  COLTER: 'National_COL',
  CPD: 'National_ETA',
  CTR: 'National_ETA',
  DEC: 'National_DIR',
  DECPR: 'National_DIR',
  DIR: 'National_DIR',
  DOC: 'National_DOC',
  DSES: 'National_DIR',
  EAP: 'National_ENS',
  EDU: 'National_EVS',
  ELE: 'National_ELV',
  ELEVE: 'National_ELV',
  ENS: 'National_ENS',
  FCA: 'National_ENS',
  FCP: 'National_ENS',
  FIJ: 'National_ENS',
  INJ: 'National_ACA',
  INS: 'National_ACA',
  IS: 'National_ENS',
  ISES: 'National_ENS',
  LAB: 'National_ETA',
  MDS: 'National_ETA',
  ORI: 'National_ETA',
  OUV: 'National_ETA',
  PPA: 'National_ENS',
  PSY: 'National_ETA',
  RH1D: 'National_ENS',
  RPL: 'National_ENS',
  SUR: 'National_EVS',
  TEC: 'National_ETA',
  UPI: 'National_ENS',
};

/** The profile of an AAF function code, or null for an unknown code. */
export function profileOfFunction(code: string): NationalProfile | null {
  return FUNCTION_PROFILES[code.trim().toUpperCase()] ?? null;
}

export interface Profiles {
  /** Unique, in the order of NATIONAL_PROFILES. */
  readonly profiles: readonly NationalProfile[];
  /** Where they came from; `none` when the entry gave no profile at all. */
  readonly from: 'ENTPersonProfils' | 'objectClass' | 'none';
  /**
   * Values that gave no profile, as written: ENTPersonProfils codes that are not national ones (legacy
   * `National_1`, `National_3`, `National_6`, local codes), and function codes no profile is known for.
   */
  readonly ignored: readonly string[];
}

const inOrder = (set: ReadonlySet<NationalProfile>): NationalProfile[] => NATIONAL_PROFILES.filter((p) => set.has(p));

/** AAF function codes of an entry: ENTPersonFonctions' code field, then ESCOPersonProfils. */
function functionCodes(entry: LdapEntry): string[] {
  const codes = values(entry, 'ENTPersonFonctions').map((v) => (v.split('$')[1] ?? '').trim().toUpperCase());
  codes.push(...values(entry, 'ESCOPersonProfils').map((v) => v.trim().toUpperCase()));
  return [...new Set(codes.filter((c) => c !== '' && c !== '-'))];
}

/**
 * The national profiles of a person. `ENTPersonProfils` is authoritative when it holds at least one national
 * code (the documentalist is `ENTAuxEnseignant` with `National_DOC`: DOC, not ENS); other values are ignored,
 * never an error. Without one, the object classes decide: ENTEleve → ELV, ENTAuxPersRelEleve → TUT,
 * ENTAuxEnseignant → the profiles of its function codes or ENS, ENTAuxNonEnsEtab → the profiles of its
 * function codes or ETA (the catch-all staff profile).
 */
export function profilesOf(entry: LdapEntry): Profiles {
  const declared = new Set<NationalProfile>();
  const ignored: string[] = [];
  for (const value of values(entry, 'ENTPersonProfils')) {
    const profile = nationalProfile(value);
    if (profile === null) ignored.push(value);
    else declared.add(profile);
  }
  if (declared.size > 0) return { profiles: inOrder(declared), from: 'ENTPersonProfils', ignored };

  const classes = new Set(values(entry, 'objectClass').map((c) => c.trim().toLowerCase()));
  const derived = new Set<NationalProfile>();
  if (classes.has('enteleve')) derived.add('National_ELV');
  if (classes.has('entauxpersreleleve')) derived.add('National_TUT');
  const teacher = classes.has('entauxenseignant');
  const staff = classes.has('entauxnonensetab');
  if (teacher || staff) {
    const fromFunctions = new Set<NationalProfile>();
    for (const code of functionCodes(entry)) {
      const profile = profileOfFunction(code);
      // ESCO's local student code on a staff entry says nothing about the person's job.
      if (profile === 'National_ELV') continue;
      if (profile === null) ignored.push(code);
      else fromFunctions.add(profile);
    }
    if (fromFunctions.size === 0) fromFunctions.add(teacher ? 'National_ENS' : 'National_ETA');
    for (const p of fromFunctions) derived.add(p);
  }
  if (derived.size === 0) return { profiles: [], from: 'none', ignored };
  return { profiles: inOrder(derived), from: 'objectClass', ignored };
}
