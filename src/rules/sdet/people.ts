/**
 * The people of a directory, indexed so that a reference to a person in the forms SDET directories write —
 * a DN (`ENTEleveParents`, `ENTAuxPersRelEleveEleve`: whatever its escaping or case) or a join key
 * (`ENTElevePersRelEleve`'s first part: the key of the relative's `ENTPersonJointure`, with or without its
 * source) — resolves to one person, with the profiles the rules gave them. Pure: built from entries already read.
 */
import { type LdapEntry, normalizeDn, values } from '../../source/entry.js';

export interface PersonRef {
  /** The entry's DN as the directory gave it. */
  readonly dn: string;
  /** The profiles the spec's rules gave the person (student, parent, …). */
  readonly profiles: readonly string[];
}

export interface PersonIndex {
  /** A DN or a join key → the person; undefined when unknown, or when a join key names several people. */
  resolve(ref: string): PersonRef | undefined;
}

/** Join keys compare case-insensitively, spaces trimmed. */
const joinKey = (value: string): string => value.trim().toUpperCase();

export function buildPersonIndex(
  people: readonly { readonly entry: LdapEntry; readonly profiles: readonly string[] }[],
): PersonIndex {
  const byDn = new Map<string, PersonRef>();
  const byKey = new Map<string, PersonRef | null>();
  const addKey = (key: string, person: PersonRef): void => {
    const found = byKey.get(key);
    // A key two people share names neither.
    byKey.set(key, found === undefined || found === person ? person : null);
  };
  for (const { entry, profiles } of people) {
    const person: PersonRef = { dn: entry.dn, profiles };
    byDn.set(normalizeDn(entry.dn), person);
    for (const jointure of values(entry, 'ENTPersonJointure')) {
      addKey(joinKey(jointure), person);
      const dollar = jointure.indexOf('$');
      if (dollar >= 0) addKey(joinKey(jointure.slice(dollar + 1)), person);
    }
  }
  return {
    resolve(ref) {
      if (ref.includes('=')) return byDn.get(normalizeDn(ref));
      return byKey.get(joinKey(ref)) ?? undefined;
    },
  };
}
