/**
 * Students and parents of one establishment, as families: siblings share a surname and their parents;
 * a family has one or two parents. The number of parents is given (what the budget leaves), so families
 * are shaped to fit it.
 */
import { CITIES } from './catalog.js';
import type { Establishment, Parent, RefStyle, SchoolClass, Student } from './model.js';
import { link, type PeopleFactory, refStyleFor, relationOf } from './people.js';
import type { Random } from './random.js';

export interface Family {
  readonly parents: Parent[];
  readonly children: Student[];
}

/** At most this many children per family. */
const MAX_CHILDREN = 4;
/** Share of students who moved in from another establishment this year. */
const MOVED_IN = 0.005;

/** True when `parents` parents can be spread over families of `students` students. */
export const familiesFit = (students: number, parents: number): boolean =>
  parents >= Math.ceil(students / MAX_CHILDREN) && parents <= 2 * students;

export function buildFamilies(
  etab: Establishment,
  sizes: readonly number[],
  parentCount: number,
  usualRef: RefStyle,
  otherUais: readonly string[],
  factory: PeopleFactory,
  rng: Random,
): Family[] {
  const seats: SchoolClass[] = etab.classes.flatMap((c, i) => Array.from({ length: sizes[i] ?? 0 }, () => c));
  rng.shuffle(seats); // siblings end up in different classes and levels
  const students = seats.length;
  const families = Math.min(
    Math.max(Math.round(students * 0.78), Math.ceil(parentCount / 2), Math.ceil(students / MAX_CHILDREN)),
    parentCount,
    students,
  );
  const children = new Array<number>(families).fill(1);
  const open = Array.from({ length: families }, (_, i) => i);
  for (let extra = students - families; extra > 0; extra--) {
    const at = rng.int(0, open.length - 1);
    const f = open[at] as number;
    children[f] = (children[f] as number) + 1;
    if (children[f] === MAX_CHILDREN) open.splice(at, 1);
  }
  const twoParents = new Set(
    rng.sample(
      Array.from({ length: families }, (_, i) => i),
      parentCount - families,
    ),
  );
  const result: Family[] = [];
  let seat = 0;
  for (let f = 0; f < families; f++) {
    const city = rng.chance(0.8) ? ([etab.city, etab.postalCode] as const) : rng.pick(CITIES);
    const { sn, parents } = factory.family(rng, city, twoParents.has(f) ? 2 : 1);
    const kids: Student[] = [];
    for (let k = 0; k < (children[f] as number); k++) {
      const schoolClass = seats[seat++] as SchoolClass;
      const moved = otherUais.length > 0 && rng.chance(MOVED_IN);
      const student = factory.student(rng, {
        etab,
        schoolClass,
        sn,
        ref: refStyleFor(usualRef, rng),
        ...(moved ? { previousUai: rng.pick(otherUais) } : {}),
      });
      for (const [i, parent] of parents.entries()) link(student, parent, relationOf(rng, i > 0));
      kids.push(student);
    }
    result.push({ parents, children: kids });
  }
  return result;
}

/**
 * Blended families across two establishments: two one-parent families become one two-parent family,
 * each parent linked to every child (siblings in a collège and a lycée).
 */
export function blendFamilies(a: readonly Family[], b: readonly Family[], rng: Random): void {
  // Single-parent families whose children were never blended (parents lists stay as built).
  const single = (list: readonly Family[]) =>
    list.filter((f) => f.parents.length === 1 && f.children.every((c) => c.parents.length === 1));
  const left = rng.sample(single(a), Math.max(1, Math.round(a.length * 0.01)));
  const right = rng.sample(single(b), left.length);
  right.forEach((fb, i) => {
    const fa = left[i] as Family;
    const [pa] = fa.parents as [Parent];
    const [pb] = fb.parents as [Parent];
    for (const child of fb.children) link(child, pa, relationOf(rng, true));
    for (const child of fa.children) link(child, pb, relationOf(rng, true));
  });
}
