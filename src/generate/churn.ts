/**
 * One day of directory life: from a generated directory and a seed, the next day's directory with about
 * `share` of its people changed — students moving class, leaving (with the parents they leave alone) or
 * arriving (with new parents), surnames and mails changing, teachers gaining or losing a class. Links stay
 * consistent both ways; a summary counts what changed, per kind and in people whose entry differs.
 */
import type { LdapEntry } from '../source/entry.js';
import { parseLdif } from '../source/ldif/parse-ldif.js';
import { CLASS_MAX } from './build-establishments.js';
import { distinctClasses, TEACHER_MAX_CLASSES, TEACHER_MIN_CLASSES } from './build-teachers.js';
import { SURNAMES } from './catalog.js';
import type { Directory, Establishment, Person, Student, Teacher } from './model.js';
import { link, PeopleFactory, relationOf } from './people.js';
import { Random } from './random.js';
import { readModel } from './read-model.js';

export interface ChurnOptions {
  readonly seed: string | number;
  /** Share of the people to change, in (0, 1]: 0.05 changes about 5% of the entries under ou=people. */
  readonly share: number;
  /** Where the input comes from, for error messages (a file name). */
  readonly source?: string;
}

export interface ChurnSummary {
  readonly peopleBefore: number;
  readonly peopleAfter: number;
  /** People whose entry was added, removed or modified (side effects included: a moved student's parents). */
  readonly peopleChanged: number;
  readonly classMoves: number;
  readonly studentsLeft: number;
  readonly parentsLeft: number;
  readonly studentsArrived: number;
  readonly parentsArrived: number;
  readonly renames: number;
  readonly mailChanges: number;
  readonly teacherClassesGained: number;
  readonly teacherClassesLost: number;
}

type Counter = Exclude<keyof ChurnSummary, 'peopleBefore' | 'peopleAfter' | 'peopleChanged'>;
type Event = 'move' | 'leave' | 'arrive' | 'rename' | 'mail' | 'teacher';
const EVENTS: readonly Event[] = ['move', 'leave', 'arrive', 'rename', 'mail', 'teacher'];
const WEIGHTS: readonly number[] = [3, 2, 2, 1, 2, 1];

/** `input`: LDIF text, parsed entries, or a model (which is not modified). */
export function churnDirectory(
  input: string | readonly LdapEntry[] | Directory,
  options: ChurnOptions,
): { directory: Directory; summary: ChurnSummary } {
  if (!(options.share > 0 && options.share <= 1))
    throw new RangeError(`churn: share must be in (0, 1], got ${options.share}`);
  const name = options.source ?? 'the churn input';
  const dir: Directory =
    typeof input === 'string'
      ? readModel(parseLdif(input, name), name)
      : Array.isArray(input)
        ? readModel(input as readonly LdapEntry[], name)
        : structuredClone(input as Directory);
  return new Day(dir, new Random(options.seed)).run(options.share);
}

class Day {
  private readonly counts: Record<Counter, number> = {
    classMoves: 0,
    studentsLeft: 0,
    parentsLeft: 0,
    studentsArrived: 0,
    parentsArrived: 0,
    renames: 0,
    mailChanges: 0,
    teacherClassesGained: 0,
    teacherClassesLost: 0,
  };
  private readonly touched = new Set<string>();
  private readonly removed = new Set<string>();
  private readonly children = new Map<string, Set<string>>();
  private readonly sizes = new Map<string, number>();
  private readonly etabs = new Map<string, Establishment>();
  private readonly factory: PeopleFactory;
  private readonly added: Person[] = [];

  constructor(
    private readonly dir: Directory,
    private readonly rng: Random,
  ) {
    this.factory = new PeopleFactory(dir.people);
    for (const e of dir.establishments) this.etabs.set(e.uai, e);
    for (const p of dir.people) {
      if (p.kind !== 'student') continue;
      this.sizes.set(`${p.rattach}$${p.class}`, (this.sizes.get(`${p.rattach}$${p.class}`) ?? 0) + 1);
      for (const l of p.parents) this.children.set(l.uid, (this.children.get(l.uid) ?? new Set()).add(p.uid));
    }
  }

  run(share: number): { directory: Directory; summary: ChurnSummary } {
    const before = this.dir.people.length;
    const target = Math.max(1, Math.round(share * before));
    // Each event draws from the people it can happen to; arrivals are never drawn (already changed).
    const everyone = [...this.dir.people];
    const students = everyone.filter((p): p is Student => p.kind === 'student');
    const teachers = everyone.filter((p): p is Teacher => p.kind === 'teacher');
    for (let attempt = 0; this.touched.size < target && attempt < target * 50; attempt++) {
      const event = this.rng.weighted(EVENTS, WEIGHTS);
      const pool = event === 'teacher' ? teachers : event === 'rename' || event === 'mail' ? everyone : students;
      if (pool.length === 0) continue;
      const person = this.rng.pick<Person>(pool);
      if (!this.touched.has(person.uid)) this.apply(event, person);
    }
    const people = [...this.dir.people.filter((p) => !this.removed.has(p.uid)), ...this.added];
    const directory: Directory = { establishments: this.dir.establishments, people };
    return {
      directory,
      summary: { peopleBefore: before, peopleAfter: people.length, peopleChanged: this.touched.size, ...this.counts },
    };
  }

  private apply(event: Event, person: Person): void {
    if (event === 'move' && person.kind === 'student') this.move(person);
    else if (event === 'leave' && person.kind === 'student') this.leave(person);
    else if (event === 'arrive' && person.kind === 'student') this.arrive(person);
    else if (event === 'rename') this.rename(person);
    else if (event === 'mail') this.mail(person);
    else if (event === 'teacher' && person.kind === 'teacher') this.teacher(person);
  }

  private touch(...uids: readonly string[]): void {
    for (const uid of uids) this.touched.add(uid);
  }

  /** To another class of the same formation with room; the parents' Parents_<class> groups change too. */
  private move(s: Student): void {
    const etab = this.etabs.get(s.rattach) as Establishment;
    const formation = etab.classes.find((c) => c.code === s.class)?.formation;
    const options = etab.classes.filter(
      (c) =>
        c.formation === formation && c.code !== s.class && (this.sizes.get(`${etab.uai}$${c.code}`) ?? 0) < CLASS_MAX,
    );
    if (options.length === 0) return;
    const to = this.rng.pick(options).code;
    this.resize(etab.uai, s.class, -1);
    this.resize(etab.uai, to, 1);
    s.class = to;
    this.counts.classMoves++;
    this.touch(s.uid, ...s.parents.map((l) => l.uid));
  }

  /** The student leaves; a parent left with no child leaves too, the others lose the link. */
  private leave(s: Student): void {
    this.removed.add(s.uid);
    this.resize(s.rattach, s.class, -1);
    this.counts.studentsLeft++;
    this.touch(s.uid);
    for (const l of s.parents) {
      const kids = this.children.get(l.uid);
      kids?.delete(s.uid);
      this.touch(l.uid);
      if (kids === undefined || kids.size > 0) continue;
      this.removed.add(l.uid);
      this.counts.parentsLeft++;
    }
  }

  /** A new student in the class of `classmate` (or one of its formation with room), with 1–2 new parents. */
  private arrive(classmate: Student): void {
    const etab = this.etabs.get(classmate.rattach) as Establishment;
    const formation = etab.classes.find((c) => c.code === classmate.class)?.formation;
    const options = etab.classes.filter(
      (c) => c.formation === formation && (this.sizes.get(`${etab.uai}$${c.code}`) ?? 0) < CLASS_MAX,
    );
    if (options.length === 0) return;
    const schoolClass = this.rng.pick(options);
    const count = this.rng.chance(0.6) ? 2 : 1;
    const family = this.factory.family(this.rng, [etab.city, etab.postalCode], count);
    const student = this.factory.student(this.rng, { etab, schoolClass, sn: family.sn, ref: classmate.ref });
    for (const [i, p] of family.parents.entries()) link(student, p, relationOf(this.rng, i > 0));
    this.resize(etab.uai, schoolClass.code, 1);
    this.added.push(student, ...family.parents);
    this.counts.studentsArrived++;
    this.counts.parentsArrived += family.parents.length;
    this.touch(student.uid, ...family.parents.map((p) => p.uid));
  }

  /** A new surname (marriage, correction); the login and mails stay. */
  private rename(p: Person): void {
    const sn = this.rng.pick(SURNAMES.filter((n) => n !== p.sn));
    p.sn = sn;
    this.counts.renames++;
    this.touch(p.uid);
  }

  /** A new first mail (or a first one for someone without). */
  private mail(p: Person): void {
    const mail = this.factory.newMail(p);
    p.mails = p.mails.length === 0 ? [mail] : [mail, ...p.mails.slice(1)];
    this.counts.mailChanges++;
    this.touch(p.uid);
  }

  /** A teacher gains a class of their establishment, or loses one they are not principal of. */
  private teacher(t: Teacher): void {
    const count = distinctClasses(t.classes);
    const gain = count < TEACHER_MAX_CLASSES && (count <= TEACHER_MIN_CLASSES || this.rng.chance(0.5));
    if (gain) {
      const etab = this.etabs.get(t.rattach) as Establishment;
      const free = etab.classes.filter((c) => !t.classes.some((x) => x.uai === etab.uai && x.code === c.code));
      if (free.length === 0) return;
      t.classes.push({ uai: etab.uai, code: this.rng.pick(free).code, subject: t.discipline });
      this.counts.teacherClassesGained++;
    } else {
      const candidates = t.classes.filter((c) => !t.principal.some((p) => p.uai === c.uai && p.code === c.code));
      if (candidates.length === 0) return;
      const lost = this.rng.pick(candidates);
      t.classes.splice(t.classes.indexOf(lost), 1);
      this.counts.teacherClassesLost++;
    }
    this.touch(t.uid);
  }

  private resize(uai: string, code: string, by: number): void {
    this.sizes.set(`${uai}$${code}`, (this.sizes.get(`${uai}$${code}`) ?? 0) + by);
  }
}
