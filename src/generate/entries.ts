/**
 * The directory model as LDAP entries, in the forms of small.ldif plus the variations of real directories
 * (UAI-form values, lower-case key letters, legacy profile codes, several or no mails). Entries come out
 * parents first (suffix, ou=, structures, people by uid, groups), objectClass lines first in each, values
 * never repeated within an attribute (slapd refuses duplicates, compared without case).
 */
import { nomCourant } from './build-establishments.js';
import { FORMATIONS } from './catalog.js';
import { Attrs, type EntryRecord, Index, sortedPeople } from './entry-index.js';
import type { Directory, Establishment } from './model.js';
import { BASE_DN, GROUPS_DN, structureDn } from './model.js';
import { personRecord } from './person-entries.js';

export type { EntryRecord } from './entry-index.js';

const MINISTRY = "MINISTERE DE L'EDUCATION NATIONALE";

/** Every entry of the directory, in load order. */
export function* directoryRecords(dir: Directory): Generator<EntryRecord> {
  yield {
    dn: BASE_DN,
    attrs: [
      ['objectClass', 'dcObject'],
      ['objectClass', 'organization'],
      ['dc', 'ent'],
      ['o', 'ENT exemple (fictif)'],
    ],
  };
  for (const ou of ['people', 'structures', 'groups']) {
    yield {
      dn: `ou=${ou},${BASE_DN}`,
      attrs: [
        ['objectClass', 'organizationalUnit'],
        ['ou', ou],
      ],
    };
  }
  const index = new Index(dir);
  for (const etab of dir.establishments) yield structureRecord(etab, index);
  for (const person of sortedPeople(dir)) yield personRecord(person, index);
  for (const etab of dir.establishments) yield* groupRecords(etab, index);
}

function structureRecord(etab: Establishment, index: Index): EntryRecord {
  const a = new Attrs().add('objectClass', 'organizationalUnit', 'ENTStructure', 'ENTEtablissement');
  a.add('ou', nomCourant(etab)).add('ENTStructureSIREN', etab.siret).add('ENTStructureUAI', etab.uai);
  a.add('ENTStructureNomCourant', nomCourant(etab)).add('ENTStructureJointure', etab.jointure);
  a.add('ENTStructureTypeStruct', TYPES[etab.kind]).add('ENTEtablissementContrat', 'PU');
  a.add('ENTEtablissementMinistereTutelle', MINISTRY);
  a.add('ENTEtablissementStructRattachFctl', structureDn(index.etab(etab.attachedTo ?? etab.uai).siret));
  a.add('ESCOStructureNomCourt', etab.court).add('ESCODomaines', 'ent.example');
  a.add('street', etab.street).add('postalCode', etab.postalCode).add('l', etab.city);
  for (const c of etab.classes) a.add('ENTStructureClasses', `${c.code}$${c.code}$${FORMATIONS[c.formation]?.mef}`);
  for (const g of etab.groups) a.add('ENTStructureGroupes', [g.code, g.label, ...g.classes].join('$'));
  return { dn: structureDn(etab.siret), attrs: a.list };
}

export const TYPES = {
  CLG: 'COLLEGE',
  LYC: 'LYCEE D ENSEIGNEMENT GENERAL ET TECHNOLOGIQUE',
  LP: 'LYCEE PROFESSIONNEL',
} as const;

/** One ENTClasse per class and one ENTGroupe per group, named after their Grouper groups. */
function* groupRecords(etab: Establishment, index: Index): Generator<EntryRecord> {
  const g = index.grouper(etab.uai);
  // groupOfNames requires a member: an empty class (after churn) gets the empty DN, as in small.ldif.
  const members = (kind: string, code: string) => index.members.get(`${etab.uai}$${kind}$${code}`) ?? [''];
  for (const c of etab.classes) {
    const cn = `${g}:${index.level(etab.uai, c.code)}:Eleves_${c.code}`;
    const a = new Attrs().add('objectClass', 'groupOfNames', 'ENTClasse').add('cn', cn);
    a.add('description', `${etab.uai}$${c.code}`).add('member', ...members('class', c.code));
    yield { dn: `cn=${cn},${GROUPS_DN}`, attrs: a.list };
  }
  for (const group of etab.groups) {
    const cn = `${g}:Groupes:${group.code}`;
    const a = new Attrs().add('objectClass', 'groupOfNames', 'ENTGroupe').add('cn', cn);
    a.add('description', `${etab.uai}$${group.code}$${group.label}`).add('member', ...members('group', group.code));
    yield { dn: `cn=${cn},${GROUPS_DN}`, attrs: a.list };
  }
}
