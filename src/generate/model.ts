/**
 * The synthetic directory as plain data: establishments (with their classes and groups) and people. The
 * LDIF is a pure function of this model (src/generate/entries.ts), and the model can be read back from that
 * LDIF (src/generate/read-model.ts), which is how `churn` works on yesterday's file.
 *
 * Everything that varies from person to person (which value form they use, their mails, legacy profile
 * codes) is stored here explicitly; everything else (isMemberOf, ESCOUAI, group members, links from parents
 * back to children) is derived when writing.
 */

export const BASE_DN = 'dc=ent,dc=example';
export const PEOPLE_DN = `ou=people,${BASE_DN}`;
export const STRUCTURES_DN = `ou=structures,${BASE_DN}`;
export const GROUPS_DN = `ou=groups,${BASE_DN}`;
/** The AAF source of every join key (`AC-ORLEANS-TOURS$7000123`). */
export const JOIN_SOURCE = 'AC-ORLEANS-TOURS';

export type EstablishmentKind = 'CLG' | 'LYC' | 'LP';

/**
 * How a person's composite values name an establishment: `<structure DN>$…` (as small.ldif), `<UAI>$…`,
 * or `<UAI with a lower-case key letter>$…` (`0450004d$6EME1`), all three seen in real directories.
 */
export type RefStyle = 'dn' | 'uai' | 'uai-lower';

export interface SchoolClass {
  readonly code: string;
  /** Key of FORMATIONS (src/generate/catalog.ts): MEF, level, subjects. */
  readonly formation: string;
}

export interface SchoolGroup {
  readonly code: string;
  readonly label: string;
  /** Codes of the classes the group draws its students from. */
  readonly classes: readonly string[];
}

export interface Establishment {
  readonly uai: string;
  /** 14 digits, Luhn-valid; the RDN of the structure entry. */
  readonly siret: string;
  readonly jointure: string;
  readonly kind: EstablishmentKind;
  /** Grouper name part: upper case, no accents or apostrophes (`DE L ETANG`). */
  readonly name: string;
  /** ESCOStructureNomCourt, accented (`COLLÈGE DE L'ÉTANG`). */
  readonly court: string;
  readonly street: string;
  readonly postalCode: string;
  readonly city: string;
  /** UAI of the establishment this one is functionally attached to (the lycée of a cité scolaire's LP). */
  readonly attachedTo?: string;
  readonly classes: SchoolClass[];
  readonly groups: SchoolGroup[];
}

interface PersonBase {
  /** `F45` + base-36 sequence number (`F4500a3k`); the sequence also makes the join key. */
  readonly uid: string;
  readonly login: string;
  given: string;
  sn: string;
  readonly sex: 'F' | 'M';
  /** `dd/mm/yyyy`; parents have none. */
  readonly birth?: string;
  /** `mail` values, in order; empty for a person without mail. */
  mails: string[];
  readonly ref: RefStyle;
  /** UAI of the establishment the person belongs to (ENTPersonStructRattach); parents have none. */
  readonly rattach?: string;
}

/** People who belong to an establishment: everyone but parents. */
interface Member extends PersonBase {
  readonly birth: string;
  readonly rattach: string;
}

export interface ParentLink {
  readonly uid: string;
  /** ENTElevePersRelEleve after the join key: relation $ financial $ legal $ contact $ payment. */
  readonly rel: string;
}

export interface Student extends Member {
  readonly kind: 'student';
  class: string;
  readonly groups: string[];
  readonly legacyProfile: boolean;
  /** Set for a student who moved from another establishment (ESCOUAICourant still names it). */
  readonly previousUai?: string;
  readonly parents: ParentLink[];
}

/** A class or group taught, in one establishment, with the subject code. */
export interface Teaching {
  readonly uai: string;
  readonly code: string;
  readonly subject: string;
}

export interface Teacher extends Member {
  readonly kind: 'teacher';
  /** Subject code of the discipline (SUBJECTS in catalog.ts). */
  readonly discipline: string;
  readonly classes: Teaching[];
  readonly groups: Teaching[];
  readonly principal: { readonly uai: string; readonly code: string }[];
  readonly legacyProfile: boolean;
}

/** Function codes of non-teaching staff; DOC (documentalist) is written as an ENTAuxEnseignant. */
export type StaffFunction = 'DIR' | 'ADF' | 'EDU' | 'DOC' | 'ADA';

export interface Staff extends Member {
  readonly kind: 'staff';
  readonly functions: { readonly uai: string; readonly code: StaffFunction }[];
  readonly localAdmin: boolean;
}

export interface Parent extends PersonBase {
  readonly kind: 'parent';
  readonly address: { readonly street: string; readonly postalCode: string; readonly city: string };
}

export type Person = Student | Teacher | Staff | Parent;

export interface Directory {
  readonly establishments: Establishment[];
  /** Any order: writers sort by uid. */
  people: Person[];
}

const UAI_KEYS = 'ABCDEFGHJKLMNPRSTUVWXYZ';

/** The UAI for 7 digits: the digits and their key letter, `"ABCDEFGHJKLMNPRSTUVWXYZ"[digits mod 23]`. */
export function uaiOf(digits: string): string {
  if (!/^\d{7}$/.test(digits)) throw new RangeError(`uaiOf: expected 7 digits, got ${digits}`);
  return digits + UAI_KEYS[Number(digits) % 23];
}

/** True for a UAI whose key letter (either case) matches its digits. */
export function isValidUai(uai: string): boolean {
  return /^\d{7}[A-Za-z]$/.test(uai) && uaiOf(uai.slice(0, 7)) === uai.toUpperCase();
}

/** `prefix` followed by the digit that makes the whole Luhn-valid (a SIRET). */
export function luhnComplete(prefix: string): string {
  for (let check = 0; check < 10; check++) {
    const candidate = `${prefix}${check}`;
    if (isLuhnValid(candidate)) return candidate;
  }
  throw new Error('unreachable: one check digit always works');
}

export function isLuhnValid(digits: string): boolean {
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = Number(digits[digits.length - 1 - i]);
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return /^\d+$/.test(digits) && sum % 10 === 0;
}

export const structureDn = (siret: string): string => `ENTStructureSIREN=${siret},${STRUCTURES_DN}`;
export const personDn = (uid: string): string => `uid=${uid},${PEOPLE_DN}`;

/** The uid of sequence number `seq`. */
export const uidOf = (seq: number): string => `F45${seq.toString(36).padStart(5, '0')}`;

/** The sequence number of a uid written by `uidOf`, or undefined. */
export function seqOf(uid: string): number | undefined {
  const match = /^F45([0-9a-z]{5,})$/.exec(uid);
  return match?.[1] === undefined ? undefined : Number.parseInt(match[1], 36);
}

/** Join key prefix per kind, followed by the 6-digit sequence: unique, and stable across churn. */
const JOIN_PREFIX: Record<Person['kind'], string> = { student: '7', parent: '8', teacher: '4', staff: '5' };

export function aafIdOf(person: Pick<Person, 'kind' | 'uid'>): string {
  const seq = seqOf(person.uid);
  if (seq === undefined) throw new RangeError(`aafIdOf: ${person.uid} is not a generated uid`);
  return JOIN_PREFIX[person.kind] + String(seq).padStart(6, '0');
}

/** Without accents (NFD, combining marks dropped). */
export const ascii = (text: string): string => text.normalize('NFD').replace(/[\u0300-\u036f]/g, '');
