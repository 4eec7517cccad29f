/**
 * The establishments of an SDET directory, indexed so that a structure reference in any of the forms real
 * directories write — a structure DN, a UAI, or a structure id (SIREN/SIRET, ENTStructureJointure key) —
 * resolves to one establishment. Pure: built from entries already read, no I/O.
 */
import { type LdapEntry, normalizeDn, values } from '../../source/entry.js';

/** One establishment (ENTEtablissement entry). */
export interface Establishment {
  /** Normalised UAI (`0450001A`). */
  readonly uai: string;
  /** The entry's DN as the directory gave it. */
  readonly dn: string;
  /** ENTStructureNomCourant (the UAI when the entry has none). */
  readonly name: string;
  /** ENTStructureSIREN (a 14-digit SIRET in practice), '' when absent. */
  readonly siren: string;
  /** Cité scolaire: UAI of the establishment this one is attached to (ENTEtablissementStructRattachFctl). */
  readonly parentUai?: string;
}

/** A structure entry that could not become an establishment. */
export interface SkippedStructure {
  readonly dn: string;
  readonly reason: string;
}

export interface StructureIndex {
  /** In directory order. */
  readonly establishments: readonly Establishment[];
  readonly skipped: readonly SkippedStructure[];
  /** A structure DN, a UAI or a structure id → its establishment; undefined when unknown (or ambiguous). */
  resolve(ref: string): Establishment | undefined;
  byUai(uai: string): Establishment | undefined;
  /** The establishment `e` is attached to in a cité scolaire, if any. */
  parentOf(e: Establishment): Establishment | undefined;
  /** The whole cité scolaire of `e`: its root establishment first, then those attached to it (directory order). */
  citeOf(e: Establishment): readonly Establishment[];
}

const UAI = /^\d{7}[A-Z]$/;
const UAI_KEYS = 'ABCDEFGHJKLMNPRSTUVWXYZ';

/** A UAI in its canonical form (trimmed, key letter upper-cased), or null when the value is not one. */
export function normalizeUai(value: string): string | null {
  const uai = value.trim().toUpperCase();
  return UAI.test(uai) ? uai : null;
}

/**
 * Whether the UAI's key letter is the one its digits give (`"ABCDEFGHJKLMNPRSTUVWXYZ"[digits mod 23]`).
 * Informative only: real and test directories carry UAIs with wrong keys, which must still be accepted.
 */
export function isValidUaiKey(uai: string): boolean {
  const normal = normalizeUai(uai);
  if (normal === null) return false;
  return UAI_KEYS[Number(normal.slice(0, 7)) % 23] === normal[7];
}

const STRUCTURE_CLASSES = new Set(['entstructure', 'entetablissement']);

/** Whether an entry describes a structure (by its object classes, or by carrying a UAI). */
export function isStructureEntry(entry: LdapEntry): boolean {
  return (
    values(entry, 'objectClass').some((c) => STRUCTURE_CLASSES.has(c.trim().toLowerCase())) ||
    values(entry, 'ENTStructureUAI').length > 0
  );
}

/** Id keys compare case-insensitively, spaces trimmed. */
const idKey = (value: string): string => value.trim().toUpperCase();

/** The ids an entry can be referred to by: SIREN, and each ENTStructureJointure as written and by its key. */
function idsOf(entry: LdapEntry): string[] {
  const ids = values(entry, 'ENTStructureSIREN').map(idKey);
  for (const jointure of values(entry, 'ENTStructureJointure')) {
    ids.push(idKey(jointure));
    const dollar = jointure.indexOf('$');
    if (dollar >= 0) ids.push(idKey(jointure.slice(dollar + 1)));
  }
  return ids.filter((id) => id !== '');
}

/**
 * Indexes the establishments among `entries` (other entries are ignored, so a whole directory may be given).
 * A structure without a valid UAI, or with a UAI already taken, is listed in `skipped`. An id shared by two
 * establishments resolves to neither: guessing would put people in the wrong school.
 */
export function buildStructureIndex(entries: Iterable<LdapEntry>): StructureIndex {
  const skipped: SkippedStructure[] = [];
  const records: { entry: LdapEntry; establishment: Establishment }[] = [];
  const byUai = new Map<string, Establishment>();
  for (const entry of entries) {
    if (!isStructureEntry(entry)) continue;
    const raw = values(entry, 'ENTStructureUAI')[0];
    const uai = raw === undefined ? null : normalizeUai(raw);
    if (uai === null) {
      skipped.push({ dn: entry.dn, reason: raw === undefined ? 'no ENTStructureUAI' : `not a UAI: "${raw}"` });
      continue;
    }
    const taken = byUai.get(uai);
    if (taken !== undefined) {
      skipped.push({ dn: entry.dn, reason: `UAI ${uai} is already the one of ${taken.dn}` });
      continue;
    }
    const establishment: Establishment = {
      uai,
      dn: entry.dn,
      name: values(entry, 'ENTStructureNomCourant')[0]?.trim() || uai,
      siren: values(entry, 'ENTStructureSIREN')[0]?.trim() ?? '',
    };
    byUai.set(uai, establishment);
    records.push({ entry, establishment });
  }

  const byDn = new Map<string, string>();
  // null marks an id two establishments claim.
  const byId = new Map<string, string | null>();
  for (const { entry, establishment } of records) {
    byDn.set(normalizeDn(entry.dn), establishment.uai);
    for (const id of idsOf(entry)) {
      const known = byId.get(id);
      byId.set(id, known === undefined || known === establishment.uai ? establishment.uai : null);
    }
  }

  // The cité scolaire link: a DN (self-references are common and mean "no parent").
  for (const { entry, establishment } of records) {
    const link = values(entry, 'ENTEtablissementStructRattachFctl')[0];
    const parent = link === undefined ? undefined : byDn.get(normalizeDn(link));
    if (parent !== undefined && parent !== establishment.uai) {
      byUai.set(establishment.uai, { ...establishment, parentUai: parent });
    }
  }
  const establishments = records.map((r) => byUai.get(r.establishment.uai) as Establishment);

  const lookUp = (uai: string | null | undefined) => (uai == null ? undefined : byUai.get(uai));
  const parentOf = (e: Establishment) => lookUp(e.parentUai);
  const rootOf = (e: Establishment): Establishment => {
    const seen = new Set([e.uai]);
    let current = e;
    for (let up = parentOf(current); up !== undefined && !seen.has(up.uai); up = parentOf(up)) {
      seen.add(up.uai);
      current = up;
    }
    return current;
  };

  return {
    establishments,
    skipped,
    byUai: (uai) => lookUp(normalizeUai(uai)),
    parentOf,
    citeOf(e) {
      const root = rootOf(e);
      return [root, ...establishments.filter((other) => other.uai !== root.uai && rootOf(other).uai === root.uai)];
    },
    resolve(ref) {
      const text = ref.trim();
      if (text === '') return undefined;
      // Only a DN holds `=`; UAIs and ids never do.
      if (text.includes('=')) return lookUp(byDn.get(normalizeDn(text)));
      const uai = normalizeUai(text);
      if (uai !== null && byUai.has(uai)) return byUai.get(uai);
      return lookUp(byId.get(idKey(text)));
    },
  };
}
