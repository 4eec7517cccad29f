/**
 * Person entries, in small.ldif's order of attributes: object classes, names and civil status, join keys and
 * profiles, the kind's own attributes, ESCO attributes, mails, then isMemberOf (Grouper names).
 */
import { DOC_SUBJECT, FORMATIONS, SUBJECTS } from './catalog.js';
import { Attrs, type EntryRecord, type Index, refOf } from './entry-index.js';
import type { Attr } from './ldif-writer.js';
import type { Parent, Person, Staff, StaffFunction, Student, Teacher } from './model.js';
import { aafIdOf, ascii, JOIN_SOURCE, personDn, seqOf, structureDn } from './model.js';
import { isAdult } from './people.js';

const PERSON_CLASSES = ['inetOrgPerson', 'ENTPerson'];
const STAFF: Record<StaffFunction, { profile: string; label: string }> = {
  DIR: { profile: 'National_DIR', label: 'DIRECTION' },
  ADF: { profile: 'National_ETA', label: 'PERSONNELS ADMINISTRATIFS' },
  EDU: { profile: 'National_EVS', label: 'EDUCATION' },
  DOC: { profile: 'National_DOC', label: 'DOCUMENTATION' },
  ADA: { profile: 'National_6', label: 'ADMINISTRATION' }, // legacy numeric code alone, as in ESCO data
};
const REGIMES = ["DEMI-PENSIONNAIRE DANS L'ETABLISSEMENT", 'EXTERNE LIBRE', 'INTERNE DANS L ETABLISSEMENT'];

export function personRecord(person: Person, index: Index): EntryRecord {
  switch (person.kind) {
    case 'student':
      return { dn: personDn(person.uid), attrs: studentAttrs(person, index) };
    case 'teacher':
      return { dn: personDn(person.uid), attrs: teacherAttrs(person, index) };
    case 'staff':
      return {
        dn: personDn(person.uid),
        attrs: person.functions[0]?.code === 'DOC' ? docAttrs(person, index) : staffAttrs(person, index),
      };
    case 'parent':
      return { dn: personDn(person.uid), attrs: parentAttrs(person, index) };
  }
}

/** Names, login, civil status and join key: the start of every person entry after its object classes. */
function common(a: Attrs, p: Person, index: Index): Attrs {
  a.add('cn', `${p.sn} ${p.given}`.toUpperCase()).add('sn', p.sn).add('givenName', p.given);
  a.add('displayName', `${p.given} ${p.sn}`).add('uid', p.uid).add('ENTPersonLogin', p.login);
  a.add('personalTitle', p.sex === 'F' ? 'Mme' : 'M').add('ENTPersonSexe', p.sex);
  a.add('ENTPersonNomPatro', p.sn).add('ENTPersonAutresPrenoms', p.given);
  if (p.birth !== undefined) a.add('ENTPersonDateNaissance', p.birth);
  if (p.rattach !== undefined) a.add('ENTPersonStructRattach', structureDn(index.etab(p.rattach).siret));
  return a.add('ENTPersonJointure', `${JOIN_SOURCE}$${aafIdOf(p)}`);
}

/** ESCOUAI…, ESCOSIREN…, account state, mails. */
function escoTail(a: Attrs, p: Person, uais: readonly string[], current: string, index: Index): Attrs {
  a.add('ESCOUAI', ...uais);
  if (p.rattach !== undefined) a.add('ESCOUAIRattachement', p.rattach);
  a.add('ESCOUAICourant', current);
  if (p.rattach !== undefined) {
    a.add('ESCOSIREN', ...uais.map((u) => index.etab(u).siret));
    a.add('ESCOSIRENCourant', index.etab(p.rattach).siret);
  }
  a.add('ESCOPersonEtatCompte', 'VALIDE').add('ESCODomaines', 'ent.example');
  return a.add('mail', ...p.mails);
}

function studentAttrs(s: Student, index: Index): Attr[] {
  const etab = index.etab(s.rattach);
  const formation = FORMATIONS[etab.classes.find((c) => c.code === s.class)?.formation ?? ''];
  if (formation === undefined) throw new Error(`${s.uid}: class ${s.class} is not a class of ${etab.uai}`);
  const a = new Attrs().add('objectClass', ...PERSON_CLASSES, 'ENTEleve', 'ESCOAddons', 'ESCOEleveAddons', 'eduMember');
  common(a, s, index).add('ENTPersonProfils', 'National_ELV', ...(s.legacyProfile ? ['National_1'] : []));
  a.add('ESCOPersonProfils', 'ELEVE').add('ENTEleveStatutEleve', 'SCOLAIRE').add('ENTEleveMEF', formation.mef);
  a.add('ENTEleveLibelleMEF', formation.libMef).add('ENTEleveNivFormation', formation.niv);
  a.add('ENTEleveFiliere', formation.filiere).add('ENTEleveMajeur', isAdult(s.birth) ? 'O' : 'N');
  const ref = refOf(s, etab);
  a.add('ENTEleveClasses', `${ref}$${s.class}`).add('ENTEleveGroupes', ...s.groups.map((g) => `${ref}$${g}`));
  const seq = seqOf(s.uid) ?? 0;
  a.add('ENTEleveStructRattachId', String(1000000 + seq)).add('ENTEleveBoursier', seq % 5 === 0 ? 'O' : 'N');
  a.add('ENTEleveRegime', REGIMES[seq % REGIMES.length] as string).add('ENTEleveTransport', seq % 4 === 0 ? 'O' : 'N');
  const uais = s.previousUai === undefined ? [s.rattach] : [s.rattach, s.previousUai];
  escoTail(a, s, uais, s.previousUai ?? s.rattach, index);
  a.add('ENTEleveParents', ...s.parents.map((l) => personDn(l.uid)));
  a.add('ENTElevePersRelEleve', ...s.parents.map((l) => `${aafIdOf({ kind: 'parent', uid: l.uid })}$${l.rel}`));
  const g = index.grouper(s.rattach);
  a.add(
    'isMemberOf',
    `${g}:${index.level(s.rattach, s.class)}:Eleves_${s.class}`,
    `${g}:Eleves`,
    `${g}:Tous_${etab.name}`,
  );
  return a.list;
}

function teacherAttrs(t: Teacher, index: Index): Attr[] {
  const subject = SUBJECTS[t.discipline];
  if (subject === undefined) throw new Error(`${t.uid}: unknown discipline ${t.discipline}`);
  const uais = [...new Set([t.rattach, ...t.classes.map((c) => c.uai), ...t.groups.map((g) => g.uai)])];
  const ref = (uai: string) => refOf(t, index.etab(uai));
  const a = new Attrs().add('objectClass', ...PERSON_CLASSES, 'ENTAuxEnseignant', 'ESCOAddons', 'eduMember');
  common(a, t, index).add('ENTPersonProfils', 'National_ENS', ...(t.legacyProfile ? ['National_3'] : []));
  a.add('ESCOPersonProfils', 'ENS').add('ENTAuxEnsCategoDiscipline', subject.category);
  for (const u of uais)
    a.add('ENTPersonFonctions', `${ref(u)}$ENS$ENSEIGNEMENT$${subject.discipline}$${subject.disciplineLabel}`);
  a.add('ENTAuxEnsClasses', ...t.classes.map((c) => `${ref(c.uai)}$${c.code}`));
  a.add('ENTAuxEnsClassesMatieres', ...t.classes.map((c) => `${ref(c.uai)}$${c.code}$${c.subject}`));
  a.add('ENTAuxEnsGroupes', ...t.groups.map((g) => `${ref(g.uai)}$${g.code}`));
  a.add('ENTAuxEnsGroupesMatieres', ...t.groups.map((g) => `${ref(g.uai)}$${g.code}$${g.subject}`));
  a.add('ENTAuxEnsClassesPrincipal', ...t.principal.map((p) => `${ref(p.uai)}$${p.code}`));
  const taught = [...t.classes, ...t.groups].map((c) => [c.uai, c.subject] as const);
  const label = (code: string) => SUBJECTS[code]?.label ?? code;
  a.add('ENTAuxEnsMatiereEnseignEtab', ...taught.map(([u, code]) => `${ref(u)}$${label(code)}`));
  a.add('ESCOAuxEnsCodeMatiereEnseignEtab', ...taught.map(([u, code]) => `${ref(u)}$${code}$${label(code)}`));
  escoTail(a, t, uais, t.rattach, index);
  for (const c of t.classes)
    a.add('isMemberOf', `${index.grouper(c.uai)}:${index.level(c.uai, c.code)}:Profs_${c.code}`);
  for (const p of t.principal)
    a.add('isMemberOf', `${index.grouper(p.uai)}:${index.level(p.uai, p.code)}:Profs Principaux`);
  for (const p of t.principal) a.add('isMemberOf', `${index.grouper(p.uai)}:Profs Principaux`);
  for (const [u, code] of taught) a.add('isMemberOf', `${index.grouper(u)}:Enseignements:${label(code)}`);
  for (const u of uais)
    a.add('isMemberOf', `${index.grouper(u)}:Profs`, `${index.grouper(u)}:Tous_${index.etab(u).name}`);
  return a.list;
}

/** A documentalist: an ENTAuxEnseignant without classes (as in small.ldif), with a second join key. */
function docAttrs(s: Staff, index: Index): Attr[] {
  const doc = SUBJECTS[DOC_SUBJECT] as (typeof SUBJECTS)[string];
  const uais = [...new Set(s.functions.map((f) => f.uai))];
  const ref = (uai: string) => refOf(s, index.etab(uai));
  const a = new Attrs().add('objectClass', ...PERSON_CLASSES, 'ENTAuxEnseignant', 'ESCOAddons', 'eduMember');
  common(a, s, index).add(
    'ENTPersonJointure',
    `ENT$${aafIdOf(s)}-${ascii(s.sn)
      .toUpperCase()
      .replace(/[^A-Z]/g, '')}`,
  );
  a.add('ENTPersonProfils', 'National_DOC')
    .add('ESCOPersonProfils', 'DOC')
    .add('ENTAuxEnsCategoDiscipline', doc.category);
  for (const u of uais)
    a.add('ENTPersonFonctions', `${ref(u)}$DOC$DOCUMENTATION$${doc.discipline}$${doc.disciplineLabel}`);
  a.add('ENTAuxEnsMatiereEnseignEtab', ...uais.map((u) => `${ref(u)}$${doc.label}`));
  a.add('ESCOAuxEnsCodeMatiereEnseignEtab', ...uais.map((u) => `${ref(u)}$${DOC_SUBJECT}$${doc.label}`));
  escoTail(a, s, uais, s.rattach, index);
  for (const u of uais) a.add('isMemberOf', `${index.grouper(u)}:Enseignements:${doc.label}`);
  for (const u of uais)
    a.add('isMemberOf', `${index.grouper(u)}:Profs`, `${index.grouper(u)}:Tous_${index.etab(u).name}`);
  return a.list;
}

function staffAttrs(s: Staff, index: Index): Attr[] {
  const uais = [...new Set(s.functions.map((f) => f.uai))];
  const first = STAFF[s.functions[0]?.code ?? 'ADF'];
  const a = new Attrs().add('objectClass', ...PERSON_CLASSES, 'ENTAuxNonEnsEtab', 'ESCOAddons', 'eduMember');
  common(a, s, index)
    .add('ENTPersonProfils', first.profile)
    .add('ESCOPersonProfils', s.functions[0]?.code ?? 'ADF');
  for (const f of s.functions)
    a.add('ENTPersonFonctions', `${refOf(s, index.etab(f.uai))}$${f.code}$${STAFF[f.code].label}$-$-`);
  escoTail(a, s, uais, s.rattach, index);
  for (const f of s.functions) a.add('isMemberOf', `${index.grouper(f.uai)}:Administratifs:${STAFF[f.code].label}`);
  for (const u of uais) {
    a.add(
      'isMemberOf',
      `${index.grouper(u)}:Administratifs:Tous_Administratifs`,
      `${index.grouper(u)}:Tous_${index.etab(u).name}`,
    );
  }
  if (s.localAdmin) for (const u of uais) a.add('isMemberOf', `esco:admin:local:admin_${index.etab(u).name}_${u}`);
  return a.list;
}

function parentAttrs(p: Parent, index: Index): Attr[] {
  const kids = index.children.get(p.uid) ?? [];
  if (kids.length === 0) throw new Error(`parent ${p.uid} has no child (ENTAuxPersRelEleveEleve is required)`);
  const uais = [...new Set(kids.map((k) => k.rattach))];
  const a = new Attrs().add('objectClass', ...PERSON_CLASSES, 'ENTAuxPersRelEleve', 'ESCOAddons', 'eduMember');
  common(a, p, index).add('ENTPersonProfils', 'National_TUT');
  a.add('ENTAuxPersRelEleveEleve', ...kids.map((k) => personDn(k.uid)));
  a.add('ENTPersonAdresse', p.address.street).add('ENTPersonCodePostal', p.address.postalCode);
  a.add('ENTPersonVille', p.address.city);
  escoTail(a, p, uais, uais[0] as string, index);
  for (const k of kids)
    a.add('isMemberOf', `${index.grouper(k.rattach)}:${index.level(k.rattach, k.class)}:Parents_${k.class}`);
  for (const u of uais)
    a.add('isMemberOf', `${index.grouper(u)}:Parents`, `${index.grouper(u)}:Tous_${index.etab(u).name}`);
  return a.list;
}
