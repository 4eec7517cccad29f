/**
 * The model back from the entries of a generated directory (an LDIF written by `generate`, or a slapcat of
 * it): what churn starts from. Only what the model stores is read; derived values (isMemberOf, ESCOUAI,
 * groups' members) are recomputed when writing. An entry that does not look generated is an error naming it.
 */
import { type Diagnostic, UserError } from '../errors.js';
import { type LdapEntry, values } from '../source/entry.js';
import { FORMATIONS, SUBJECTS } from './catalog.js';
import { TYPES } from './entries.js';
import type {
  Directory,
  Establishment,
  EstablishmentKind,
  ParentLink,
  Person,
  RefStyle,
  StaffFunction,
  Teaching,
} from './model.js';
import { aafIdOf, seqOf } from './model.js';

const KINDS = new Map<string, EstablishmentKind>(Object.entries(TYPES).map(([k, v]) => [v, k as EstablishmentKind]));
const MEFS = new Map(Object.entries(FORMATIONS).map(([key, f]) => [f.mef, key]));
const DISCIPLINES = new Map(Object.entries(SUBJECTS).map(([code, s]) => [s.discipline, code]));
const STAFF_CODES = new Set<string>(['DIR', 'ADF', 'EDU', 'DOC', 'ADA']);

class NotGenerated extends Error {}

const one = (entry: LdapEntry, attribute: string): string => {
  const value = values(entry, attribute)[0];
  if (value === undefined) throw new NotGenerated(`it has no ${attribute}`);
  return value;
};
const has = (entry: LdapEntry, attribute: string, value: string): boolean =>
  values(entry, attribute).some((v) => v.toLowerCase() === value.toLowerCase());

export function readModel(entries: readonly LdapEntry[], file = 'the directory'): Directory {
  const establishments: Establishment[] = [];
  const bySiret = new Map<string, Establishment>();
  const uais = new Set<string>();
  const problems: Diagnostic[] = [];
  const guard = <T>(entry: LdapEntry, read: () => T): T | undefined => {
    try {
      return read();
    } catch (error) {
      if (!(error instanceof NotGenerated)) throw error;
      problems.push({ dn: entry.dn, message: error.message });
      return undefined;
    }
  };
  for (const entry of entries) {
    if (!has(entry, 'objectClass', 'ENTEtablissement')) continue;
    const etab = guard(entry, () => readEstablishment(entry));
    if (etab === undefined) continue;
    establishments.push(etab);
    bySiret.set(etab.siret, etab);
    uais.add(etab.uai);
  }
  const reader = new RefReader(bySiret, uais);
  const people: Person[] = [];
  for (const entry of entries) {
    if (!has(entry, 'objectClass', 'ENTPerson')) continue;
    const person = guard(entry, () => readPerson(entry, reader));
    if (person !== undefined) people.push(person);
  }
  for (const etab of establishments) {
    const attached = etab.attachedTo === undefined ? undefined : bySiret.get(etab.attachedTo);
    (etab as { attachedTo?: string }).attachedTo = attached?.uai;
    if (attached === undefined) delete (etab as { attachedTo?: string }).attachedTo;
  }
  if (problems.length > 0 || people.length === 0) {
    const first = problems[0];
    throw new UserError(
      'ENTRY_INVALID',
      `${file} is not a directory written by "ldap2moodle generate" (${first ? `${first.dn}: ${first.message}` : 'it has no people'}). ` +
        'Churn works on generated directories only: generate one with "ldap2moodle generate --seed N --people N".',
      problems.slice(0, 50),
    );
  }
  return { establishments, people };
}

function readEstablishment(entry: LdapEntry): Establishment {
  const kind = KINDS.get(one(entry, 'ENTStructureTypeStruct'));
  if (kind === undefined) throw new NotGenerated(`unknown ENTStructureTypeStruct`);
  const siret = one(entry, 'ENTStructureSIREN');
  const fctl = one(entry, 'ENTEtablissementStructRattachFctl');
  const fctlSiret = /^ENTStructureSIREN=(\d{14}),/i.exec(fctl)?.[1];
  const name = /^(?:CLG|LYC|LP)-(.+)-ac-ORLEANS-TOURS$/.exec(one(entry, 'ENTStructureNomCourant'))?.[1];
  if (name === undefined) throw new NotGenerated('ENTStructureNomCourant is not "<type>-<name>-ac-ORLEANS-TOURS"');
  const classes = values(entry, 'ENTStructureClasses').map((v) => {
    const [code, , mef] = v.split('$');
    const formation = MEFS.get(mef ?? '');
    if (code === undefined || formation === undefined) throw new NotGenerated(`unknown class "${v}"`);
    return { code, formation };
  });
  const groups = values(entry, 'ENTStructureGroupes').map((v) => {
    const [code = '', label = '', ...list] = v.split('$');
    return { code, label, classes: list };
  });
  return {
    uai: one(entry, 'ENTStructureUAI'),
    siret,
    jointure: one(entry, 'ENTStructureJointure'),
    kind,
    name,
    court: one(entry, 'ESCOStructureNomCourt'),
    street: one(entry, 'street'),
    postalCode: one(entry, 'postalCode'),
    city: one(entry, 'l'),
    // The SIRET for now; turned into the UAI once every structure is known.
    ...(fctlSiret !== undefined && fctlSiret !== siret ? { attachedTo: fctlSiret } : {}),
    classes,
    groups,
  };
}

/** Splits composite values (`<structure DN or UAI>$a$b`) into their establishment, form and fields. */
class RefReader {
  constructor(
    private readonly bySiret: ReadonlyMap<string, Establishment>,
    private readonly uais: ReadonlySet<string>,
  ) {}
  read(value: string): { uai: string; style: RefStyle; fields: string[] } {
    const [head = '', ...fields] = value.split('$');
    const siret = /^ENTStructureSIREN=(\d{14}),/i.exec(head)?.[1];
    if (siret !== undefined) {
      const etab = this.bySiret.get(siret);
      if (etab === undefined) throw new NotGenerated(`"${value}" names an unknown structure`);
      return { uai: etab.uai, style: 'dn', fields };
    }
    if (!this.uais.has(head.toUpperCase())) throw new NotGenerated(`"${value}" names an unknown establishment`);
    return { uai: head.toUpperCase(), style: head === head.toUpperCase() ? 'uai' : 'uai-lower', fields };
  }
  teaching(value: string): Teaching {
    const { uai, fields } = this.read(value);
    return { uai, code: fields[0] ?? '', subject: fields[1] ?? '' };
  }
  uaiOfDn(dn: string): string {
    const siret = /^ENTStructureSIREN=(\d{14}),/i.exec(dn)?.[1];
    const etab = siret === undefined ? undefined : this.bySiret.get(siret);
    if (etab === undefined) throw new NotGenerated(`"${dn}" is not a known structure`);
    return etab.uai;
  }
}

const uidOfDn = (dn: string): string => {
  const uid = /^uid=([^,]+),/i.exec(dn)?.[1];
  if (uid === undefined) throw new NotGenerated(`"${dn}" is not a person DN`);
  return uid;
};

function readPerson(entry: LdapEntry, refs: RefReader): Person {
  const uid = one(entry, 'uid');
  if (seqOf(uid) === undefined) throw new NotGenerated(`uid ${uid} is not F45 + base 36`);
  const base = {
    uid,
    login: one(entry, 'ENTPersonLogin'),
    given: one(entry, 'givenName'),
    sn: one(entry, 'sn'),
    sex: one(entry, 'ENTPersonSexe') === 'F' ? ('F' as const) : ('M' as const),
    mails: [...values(entry, 'mail')],
  };
  const birth = one.bind(null, entry, 'ENTPersonDateNaissance');
  const rattach = () => refs.uaiOfDn(one(entry, 'ENTPersonStructRattach'));
  const legacy = (code: string) => has(entry, 'ENTPersonProfils', code);
  if (has(entry, 'objectClass', 'ENTEleve')) {
    const classes = refs.read(one(entry, 'ENTEleveClasses'));
    const rels = new Map(
      values(entry, 'ENTElevePersRelEleve').map((v) => [v.slice(0, v.indexOf('$')), v.slice(v.indexOf('$') + 1)]),
    );
    const parents = values(entry, 'ENTEleveParents').map((dn): ParentLink => {
      const parentUid = uidOfDn(dn);
      const rel = rels.get(aafIdOf({ kind: 'parent', uid: parentUid }));
      if (rel === undefined) throw new NotGenerated(`no ENTElevePersRelEleve for its parent ${parentUid}`);
      return { uid: parentUid, rel };
    });
    const current = rattach();
    const courant = one(entry, 'ESCOUAICourant').toUpperCase();
    return {
      kind: 'student',
      ...base,
      birth: birth(),
      ref: classes.style,
      rattach: current,
      class: classes.fields[0] ?? '',
      groups: values(entry, 'ENTEleveGroupes').map((v) => refs.read(v).fields[0] ?? ''),
      legacyProfile: legacy('National_1'),
      ...(courant !== current ? { previousUai: courant } : {}),
      parents,
    };
  }
  if (has(entry, 'objectClass', 'ENTAuxPersRelEleve')) {
    return {
      kind: 'parent',
      ...base,
      ref: 'dn',
      address: {
        street: one(entry, 'ENTPersonAdresse'),
        postalCode: one(entry, 'ENTPersonCodePostal'),
        city: one(entry, 'ENTPersonVille'),
      },
    };
  }
  const fonctions = values(entry, 'ENTPersonFonctions').map((v) => refs.read(v));
  const first = fonctions[0];
  if (first === undefined) throw new NotGenerated('it has no ENTPersonFonctions');
  if (first.fields[0] === 'ENS') {
    const discipline = DISCIPLINES.get(first.fields[2] ?? '');
    if (discipline === undefined)
      throw new NotGenerated(`unknown discipline in "${values(entry, 'ENTPersonFonctions')[0]}"`);
    return {
      kind: 'teacher',
      ...base,
      birth: birth(),
      ref: first.style,
      rattach: rattach(),
      discipline,
      classes: values(entry, 'ENTAuxEnsClassesMatieres').map((v) => refs.teaching(v)),
      groups: values(entry, 'ENTAuxEnsGroupesMatieres').map((v) => refs.teaching(v)),
      principal: values(entry, 'ENTAuxEnsClassesPrincipal').map((v) => {
        const { uai, fields } = refs.read(v);
        return { uai, code: fields[0] ?? '' };
      }),
      legacyProfile: legacy('National_3'),
    };
  }
  const functions = fonctions.map(({ uai, fields }) => {
    const code = fields[0] ?? '';
    if (!STAFF_CODES.has(code)) throw new NotGenerated(`unknown function code ${code}`);
    return { uai, code: code as StaffFunction };
  });
  return {
    kind: 'staff',
    ...base,
    birth: birth(),
    ref: first.style,
    rattach: rattach(),
    functions,
    localAdmin: values(entry, 'isMemberOf').some((v) => v.startsWith('esco:admin:local:')),
  };
}
