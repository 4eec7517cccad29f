/**
 * What writing an entry needs to know: attribute lists without repeated values, and an index of the whole
 * directory (establishments, each parent's children, each class's and group's members).
 */
import { FORMATIONS } from './catalog.js';
import type { Attr } from './ldif-writer.js';
import type { Directory, Establishment, Person, Student } from './model.js';
import { personDn, seqOf, structureDn } from './model.js';

export interface EntryRecord {
  readonly dn: string;
  readonly attrs: readonly Attr[];
}

/** Attribute values in order, each value once per attribute (case-insensitive, as slapd compares). */
export class Attrs {
  readonly list: Attr[] = [];
  private readonly seen = new Set<string>();
  add(name: string, ...values: readonly string[]): this {
    for (const value of values) {
      const key = `${name.toLowerCase()}\u0000${value.toLowerCase()}`;
      if (this.seen.has(key)) continue;
      this.seen.add(key);
      this.list.push([name, value]);
    }
    return this;
  }
}

/** What entries need to know about the whole directory. */
export class Index {
  readonly etabs = new Map<string, Establishment>();
  readonly children = new Map<string, Student[]>();
  readonly members = new Map<string, string[]>();
  constructor(readonly dir: Directory) {
    for (const e of dir.establishments) this.etabs.set(e.uai, e);
    for (const p of sortedPeople(dir)) {
      if (p.kind !== 'student') continue;
      for (const link of p.parents) push(this.children, link.uid, p);
      push(this.members, `${p.rattach}$class$${p.class}`, personDn(p.uid));
      for (const g of p.groups) push(this.members, `${p.rattach}$group$${g}`, personDn(p.uid));
    }
  }
  etab(uai: string): Establishment {
    const etab = this.etabs.get(uai);
    if (etab === undefined) throw new Error(`unknown establishment ${uai}`);
    return etab;
  }
  /** `esco:Etablissements:<NAME>_<UAI>` */
  grouper(uai: string): string {
    const e = this.etab(uai);
    return `esco:Etablissements:${e.name}_${e.uai}`;
  }
  level(uai: string, code: string): string {
    const formation = this.etab(uai).classes.find((c) => c.code === code)?.formation;
    return (FORMATIONS[formation ?? '']?.niv ?? 'AUTRE').replace(/&/g, 'et');
  }
}

function push<T>(map: Map<string, T[]>, key: string, value: T): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}

const bySeq = (a: Person, b: Person): number => (seqOf(a.uid) ?? 0) - (seqOf(b.uid) ?? 0) || (a.uid < b.uid ? -1 : 1);
export const sortedPeople = (dir: Directory): Person[] => [...dir.people].sort(bySeq);

/** The establishment part of a person's composite values, in the person's form. */
export function refOf(person: Person, etab: Establishment): string {
  if (person.ref === 'dn') return structureDn(etab.siret);
  return person.ref === 'uai' ? etab.uai : etab.uai.slice(0, 7) + etab.uai.slice(7).toLowerCase();
}
