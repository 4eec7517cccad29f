/**
 * Making people: unique uids, logins and mails, names, birth dates. Shared by the generator and by churn
 * (arrivals), so that a new student of tomorrow looks like one of today.
 */
import { FORMATIONS, GIVEN_F, GIVEN_M, GROUP_TEMPLATES, SPECIALITIES, STREETS, SURNAMES } from './catalog.js';
import type { Establishment, Parent, ParentLink, Person, RefStyle, SchoolClass, Student } from './model.js';
import { ascii, seqOf, uidOf } from './model.js';
import type { Random } from './random.js';

/** Students born on or before this day are adults (ENTEleveMajeur O): the start of school year 2025. */
const MAJORITY_BORN_BY = 20070901;

const DOMAINS: Record<Person['kind'], string> = {
  student: 'ent.example',
  parent: 'famille.example',
  teacher: 'ac-orleans-tours.example',
  staff: 'ac-orleans-tours.example',
};
/** Share of people without mail, and with two, per kind. */
const NO_MAIL: Record<Person['kind'], number> = { student: 0.05, parent: 0.1, teacher: 0.01, staff: 0.01 };
const TWO_MAILS: Record<Person['kind'], number> = { student: 0.03, parent: 0.04, teacher: 0.05, staff: 0.05 };
/** Share of people whose values use another form than their establishment's usual one. */
const OTHER_REF_STYLE = 0.05;
const REF_STYLES: readonly RefStyle[] = ['dn', 'uai', 'uai-lower'];

const pad2 = (n: number): string => String(n).padStart(2, '0');

export function birthDate(rng: Random, year: number): string {
  return `${pad2(rng.int(1, 28))}/${pad2(rng.int(1, 12))}/${year}`;
}

/** `dd/mm/yyyy` → yyyymmdd as a number, for comparisons. */
const dateKey = (date: string): number => {
  const [d, m, y] = date.split('/');
  return Number(`${y}${m}${d}`);
};

export const isAdult = (birth: string | undefined): boolean =>
  birth !== undefined && dateKey(birth) <= MAJORITY_BORN_BY;

/** The login part of a name: ASCII, lower case, only letters, digits, `.` and `-` (`le gall` → `legall`). */
const loginPart = (name: string): string =>
  ascii(name)
    .toLowerCase()
    .replace(/[^a-z0-9-]/g, '');

export function refStyleFor(usual: RefStyle, rng: Random): RefStyle {
  return rng.chance(OTHER_REF_STYLE) ? rng.pick(REF_STYLES.filter((s) => s !== usual)) : usual;
}

/** The groups of `etab` a student of `schoolClass` joins: one LV2, the specialities, options by chance. */
export function chooseGroups(etab: Establishment, schoolClass: SchoolClass, rng: Random): string[] {
  const available = new Set(etab.groups.map((group) => group.code));
  const templates = (GROUP_TEMPLATES[schoolClass.formation] ?? []).filter((t) => available.has(t.code));
  const chosen: string[] = [];
  const lv2 = templates.filter((t) => t.choice === 'lv2');
  if (lv2.length > 0) {
    chosen.push(
      rng.weighted(
        lv2.map((t) => t.code),
        lv2.map((t) => t.share),
      ),
    );
  }
  const spe = templates.filter((t) => t.choice === 'spe');
  const picks = SPECIALITIES[schoolClass.formation] ?? 0;
  chosen.push(...rng.sample(spe, picks).map((t) => t.code));
  for (const t of templates) if (t.choice === 'option' && rng.chance(t.share)) chosen.push(t.code);
  return chosen.sort();
}

/** Hands out uids, logins and mails, each unique in the directory (including the people it started with). */
export class PeopleFactory {
  private nextSeq: number;
  private readonly logins = new Set<string>();
  private readonly mails = new Set<string>();

  constructor(existing: readonly Person[] = []) {
    let last = 36 ** 4 - 1; // uids start at F4510000
    for (const person of existing) {
      last = Math.max(last, seqOf(person.uid) ?? 0);
      this.logins.add(person.login.toLowerCase());
      for (const mail of person.mails) this.mails.add(mail.toLowerCase());
    }
    this.nextSeq = last + 1;
  }

  uid(): string {
    const uid = uidOf(this.nextSeq);
    this.nextSeq += 1;
    return uid;
  }

  login(given: string, sn: string): string {
    const base = `${loginPart(given)}.${loginPart(sn)}`;
    let login = base;
    for (let n = 2; this.logins.has(login); n++) login = `${base}${n}`;
    this.logins.add(login);
    return login;
  }

  /** `local@domain`, or `local2@domain`, … when taken (mails compare without case). */
  mail(local: string, domain: string): string {
    let mail = `${local}@${domain}`;
    for (let n = 2; this.mails.has(mail.toLowerCase()); n++) mail = `${local}${n}@${domain}`;
    this.mails.add(mail.toLowerCase());
    return mail;
  }

  /** Mails of a new person: usually one, sometimes none, sometimes a second one on the ENT's domain. */
  mailsFor(kind: Person['kind'], login: string, given: string, sn: string, rng: Random): string[] {
    const draw = rng.float();
    if (draw < NO_MAIL[kind]) return [];
    const mails = [this.mail(login, DOMAINS[kind])];
    if (draw > 1 - TWO_MAILS[kind])
      mails.push(this.mail(`${loginPart(given).charAt(0)}.${loginPart(sn)}`, 'ent.example'));
    return mails;
  }

  /** A changed mail: on another provider's domain, still unique. */
  newMail(person: Person): string {
    return this.mail(person.login, person.kind === 'student' ? 'eleves.ent.example' : 'nouveau.example');
  }

  /** What every new person has: uid, login, names, mails. */
  base(kind: Person['kind'], rng: Random, sn: string, sex: 'F' | 'M') {
    const given = rng.pick(sex === 'F' ? GIVEN_F : GIVEN_M);
    const login = this.login(given, sn);
    return { uid: this.uid(), login, given, sn, sex, mails: this.mailsFor(kind, login, given, sn, rng) };
  }

  student(
    rng: Random,
    options: { etab: Establishment; schoolClass: SchoolClass; sn: string; ref: RefStyle; previousUai?: string },
  ): Student {
    const formation = FORMATIONS[options.schoolClass.formation];
    if (formation === undefined) throw new RangeError(`unknown formation ${options.schoolClass.formation}`);
    return {
      kind: 'student',
      ...this.base('student', rng, options.sn, rng.chance(0.5) ? 'F' : 'M'),
      // One student in eight is a year older (repeated a year).
      birth: birthDate(rng, formation.birthYear - (rng.chance(0.12) ? 1 : 0)),
      ref: options.ref,
      rattach: options.etab.uai,
      class: options.schoolClass.code,
      groups: chooseGroups(options.etab, options.schoolClass, rng),
      legacyProfile: rng.chance(0.4),
      ...(options.previousUai !== undefined ? { previousUai: options.previousUai } : {}),
      parents: [],
    };
  }

  parent(rng: Random, options: { sn: string; sex: 'F' | 'M'; city: readonly [string, string] }): Parent {
    return {
      kind: 'parent',
      ...this.base('parent', rng, options.sn, options.sex),
      ref: 'dn',
      address: {
        street: `${rng.int(1, 120)} ${rng.pick(STREETS)}`,
        postalCode: options.city[1],
        city: options.city[0],
      },
    };
  }

  /** A family's parents: 1–2 (the second one sometimes with another surname); `sn` is the children's. */
  family(rng: Random, city: readonly [string, string], parents: number): { sn: string; parents: Parent[] } {
    const sn = rng.pick(SURNAMES);
    const first = this.parent(rng, { sn, sex: rng.chance(0.6) ? 'F' : 'M', city });
    const list = [first];
    if (parents > 1) {
      const sex = first.sex === 'F' ? 'M' : 'F';
      list.push(this.parent(rng, { sn: rng.chance(0.3) ? rng.pick(SURNAMES) : sn, sex, city }));
    }
    return { sn, parents: list };
  }
}

/** ENTElevePersRelEleve after the join key: mostly full legal guardians, some partial, a few tutors. */
export function relationOf(rng: Random, second: boolean): string {
  if (rng.chance(0.03)) return '2$1$1$1$1';
  return second && rng.chance(0.3) ? '1$0$1$1$0' : '1$1$1$1$1';
}

export function link(student: Student, parent: Parent, rel: string): void {
  (student.parents as ParentLink[]).push({ uid: parent.uid, rel });
}
