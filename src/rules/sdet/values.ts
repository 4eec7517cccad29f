/**
 * Parsers of SDET composite values (`$`-separated) and dates. Pure functions: they never throw on odd input,
 * they return `undefined`/null parts and leave the decision (skip, report) to the caller.
 */
import type { Establishment, StructureIndex } from './structures.js';

/** A value `<structure reference>$<part>$<part>…` (ENTEleveClasses, ENTAuxEnsClassesMatieres, ENTPersonFonctions…). */
export interface StructureValue {
  /** The establishment the reference names; undefined when the directory does not know it. */
  readonly structure: Establishment | undefined;
  /** The reference as written (a DN, a UAI or a structure id), trimmed. */
  readonly ref: string;
  /** The fields after the reference, each trimmed; empty when the value has no `$`. */
  readonly parts: readonly string[];
  /** Everything after the first `$`, trimmed (the class or group of a two-field value, `$` and all). */
  readonly rest: string;
}

/**
 * Splits a structure value. The reference ends at the first `$`: DNs hold commas and `=` but no `$`, and
 * UAIs and ids hold neither, so no other split is needed. Each field keeps its case and inner spaces
 * (`2PRO MELEC`) but loses leading and trailing white space: directories pad values, and MariaDB compares
 * strings ignoring trailing spaces while PostgreSQL does not, so a padded class must not become a second key.
 */
export function parseStructureValue(value: string, index: StructureIndex): StructureValue {
  const dollar = value.indexOf('$');
  const ref = (dollar < 0 ? value : value.slice(0, dollar)).trim();
  const tail = dollar < 0 ? undefined : value.slice(dollar + 1);
  return {
    structure: index.resolve(ref),
    ref,
    parts: tail === undefined ? [] : tail.split('$').map((p) => p.trim()),
    rest: tail?.trim() ?? '',
  };
}

/** ENTPersonFonctions: `<ref>$<function code>$<function label>$<discipline code>$<discipline label>`. */
export interface FunctionValue {
  readonly structure: Establishment | undefined;
  readonly ref: string;
  /** AAF function code (`ENS`, `DIR`, `DOC`, `ADF`, `EDU`…), upper-cased; '' when missing. */
  readonly code: string;
  readonly label: string | undefined;
  /** Discipline code and label; undefined for `-` (staff) or missing fields. */
  readonly disciplineCode: string | undefined;
  readonly disciplineLabel: string | undefined;
}

/** A field, or undefined when empty or `-` (SDET's "not applicable"). */
const field = (value: string | undefined): string | undefined =>
  value === undefined || value === '' || value === '-' ? undefined : value;

export function parseFunction(value: string, index: StructureIndex): FunctionValue {
  const { structure, ref, parts } = parseStructureValue(value, index);
  return {
    structure,
    ref,
    code: (field(parts[0]) ?? '').toUpperCase(),
    label: field(parts[1]),
    disciplineCode: field(parts[2]),
    disciplineLabel: field(parts[3]),
  };
}

/** ENTPersonJointure / ENTStructureJointure: `<source>$<key>`. */
export interface Jointure {
  /** Who issued the key (`AC-ORLEANS-TOURS`, `ENT`…). */
  readonly source: string;
  readonly key: string;
}

/** `AC-ORLEANS-TOURS$7100001` → `{ source, key }`; null without a `$` or with an empty key. */
export function parseJointure(value: string): Jointure | null {
  const dollar = value.indexOf('$');
  if (dollar < 0) return null;
  const source = value.slice(0, dollar).trim();
  const key = value.slice(dollar + 1).trim();
  return key === '' ? null : { source, key };
}

/**
 * ENTElevePersRelEleve: `<relative's join key>$<relation>$<financial>$<legal>$<contact>$<payment>`. Codes as
 * the AAF exports them (and as edificeio/entcore's feeder reads them): relation `1`/`2` is a parent,
 * legal `1`/`2` is a holder of parental authority, the other flags are `1` when set.
 */
export interface Relation {
  /** The relative's ENTPersonJointure key (without its source). */
  readonly key: string;
  /** Relation code as written. */
  readonly relation: string;
  /** Relation code 1 or 2: a parent (not another relative or a third party). */
  readonly parent: boolean;
  readonly financial: boolean;
  /** Legal code as written (`1`/`2` = first/second legal guardian, `0` or empty = none). */
  readonly legal: string;
  readonly legalGuardian: boolean;
  readonly contact: boolean;
  readonly payment: boolean;
}

/** `8200002$1$1$1$1$1` → a Relation; null when there is no key or no relation code. Missing flags are unset. */
export function parseRelation(value: string): Relation | null {
  const [key = '', relation = '', financial, legal = '', contact, payment] = value.split('$').map((p) => p.trim());
  if (key === '' || relation === '') return null;
  return {
    key,
    relation,
    parent: relation === '1' || relation === '2',
    financial: financial === '1',
    legal,
    legalGuardian: legal === '1' || legal === '2',
    contact: contact === '1',
    payment: payment === '1',
  };
}

const FRENCH_DATE = /^(\d{1,2})\/(\d{1,2})\/(\d{4})$/;

/** `14/02/2014` (dd/mm/yyyy, ENTPersonDateNaissance) → `2014-02-14`; null for anything else or an impossible date. */
export function parseFrenchDate(value: string): string | null {
  const match = FRENCH_DATE.exec(value.trim());
  if (match === null) return null;
  const [day, month, year] = [Number(match[1]), Number(match[2]), Number(match[3])];
  const date = new Date(Date.UTC(year, month - 1, day));
  if (date.getUTCFullYear() !== year || date.getUTCMonth() !== month - 1 || date.getUTCDate() !== day) return null;
  return `${String(year).padStart(4, '0')}-${String(month).padStart(2, '0')}-${String(day).padStart(2, '0')}`;
}
