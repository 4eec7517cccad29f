/**
 * generateDirectory: N people over E establishments (about 1,700 each), deterministic for a seed.
 * Per establishment: staff, then students in classes, their teachers, and the parents the budget leaves,
 * grouped into families. Then what spans establishments: the cité scolaire's shared staff, teachers in two
 * establishments, blended families.
 */

import type { EstablishmentPlan } from './build-establishments.js';
import { classSizes, openClasses, planEstablishments } from './build-establishments.js';
import { blendFamilies, buildFamilies, type Family, familiesFit } from './build-families.js';
import { planTeaching, shareTeachers, type TeachingPlan } from './build-teachers.js';
import { SURNAMES } from './catalog.js';
import type { Directory, Establishment, Person, Staff, StaffFunction, Teacher } from './model.js';
import { birthDate, PeopleFactory, refStyleFor } from './people.js';
import { Random } from './random.js';

export interface GenerateOptions {
  readonly seed: string | number;
  readonly people: number;
  /** Default: ceil(people / 1700). */
  readonly establishments?: number;
}

export const PEOPLE_PER_ESTABLISHMENT = 1700;
/** Below this, an establishment cannot hold its staff, a class, its teachers and the class's parents. */
export const MIN_PEOPLE_PER_ESTABLISHMENT = 40;
/** Share of an establishment's people who are students (most of the rest are parents). */
const STUDENT_SHARE = 0.4;

interface Built {
  readonly plan: EstablishmentPlan;
  readonly staff: Staff[];
  readonly teachers: Teacher[];
  readonly families: Family[];
}

export function generateDirectory(options: GenerateOptions): Directory {
  const { people } = options;
  const count = options.establishments ?? Math.ceil(people / PEOPLE_PER_ESTABLISHMENT);
  if (!Number.isInteger(people) || !Number.isInteger(count) || count < 1) {
    throw new RangeError(
      `generateDirectory: people and establishments must be positive integers (${people}, ${count})`,
    );
  }
  if (people < count * MIN_PEOPLE_PER_ESTABLISHMENT) {
    throw new RangeError(
      `generateDirectory: ${people} people cannot fill ${count} establishments (at least ${MIN_PEOPLE_PER_ESTABLISHMENT} each)`,
    );
  }
  const rng = new Random(options.seed);
  const plans = planEstablishments(people, count, rng.fork('establishments'));
  const factory = new PeopleFactory();
  const built = plans.map((plan) => {
    const others = plans.filter((p) => p !== plan).map((p) => p.etab.uai);
    return buildEstablishment(plan, others, factory, rng.fork(`etab/${plan.index}`));
  });
  shareCiteStaff(built);
  const teachers = built.flatMap((b) => b.teachers);
  for (const b of built.slice(1)) {
    const other = b.plan.partner ?? (plans[b.plan.index - 1] as EstablishmentPlan).etab.uai;
    shareTeachers(teachers, b.plan.etab.uai, other, rng.fork(`share/${b.plan.index}`));
  }
  for (let i = 1; i < built.length; i++) {
    blendFamilies((built[i - 1] as Built).families, (built[i] as Built).families, rng.fork(`blend/${i}`));
  }
  const all: Person[] = built.flatMap((b) => [
    ...b.staff,
    ...b.teachers,
    ...b.families.flatMap((f) => [...f.parents, ...f.children]),
  ]);
  return { establishments: plans.map((p) => p.etab), people: all };
}

/** Function codes of an establishment's own staff (the LP of a cité shares the lycée's DIR, ADF and DOC). */
function staffFunctions(plan: EstablishmentPlan): StaffFunction[] {
  const { budget } = plan;
  const codes: StaffFunction[] = [];
  if (plan.etab.attachedTo === undefined) {
    codes.push('DIR', 'ADF', 'DOC');
    if (budget >= 1200) codes.push('DIR');
    if (budget >= 1000) codes.push('ADF');
  }
  for (let k = 0; k < 1 + Math.floor(budget / 900); k++) codes.push('EDU');
  if (plan.index % 5 === 4) codes.push('ADA'); // carries only the legacy profile National_6
  return codes;
}

/** Students (as class sizes) and teaching such that the parents the budget leaves can form families. */
function sizeStudents(
  plan: EstablishmentPlan,
  staff: number,
  rng: Random,
): { sizes: number[]; teaching: TeachingPlan[] } {
  let students = Math.round((plan.budget - staff) * STUDENT_SHARE);
  for (let attempt = 0; attempt < 30; attempt++) {
    const sizes = classSizes(students, rng.fork(`sizes/${attempt}`));
    const probe: Establishment = { ...plan.etab, classes: [], groups: [] };
    openClasses(probe, sizes);
    const teachers = planTeaching(probe).length;
    const parents = plan.budget - staff - teachers - students;
    if (familiesFit(students, parents)) {
      openClasses(plan.etab, sizes);
      return { sizes, teaching: planTeaching(plan.etab) };
    }
    students = Math.max(1, Math.round(students * (parents < students / 4 ? 0.85 : 1.1)));
  }
  throw new RangeError(`establishment ${plan.etab.uai}: no class layout fits a budget of ${plan.budget} people`);
}

function buildEstablishment(
  plan: EstablishmentPlan,
  otherUais: readonly string[],
  factory: PeopleFactory,
  rng: Random,
): Built {
  const { etab } = plan;
  const codes = staffFunctions(plan);
  const { sizes, teaching } = sizeStudents(plan, codes.length, rng.fork('sizes'));
  const r = rng.fork('staff');
  const common = () => ({ ref: refStyleFor(plan.usualRef, r), rattach: etab.uai });
  const base = (kind: 'staff' | 'teacher') => factory.base(kind, r, r.pick(SURNAMES), r.chance(0.5) ? 'F' : 'M');
  let hasAdmin = false;
  const staff = codes.map((code): Staff => {
    const localAdmin = code === 'DIR' && !hasAdmin; // the headteacher is the local ENT administrator
    hasAdmin ||= localAdmin;
    return {
      kind: 'staff',
      ...base('staff'),
      birth: birthDate(r, r.int(1960, 1995)),
      ...common(),
      functions: [{ uai: etab.uai, code }],
      localAdmin,
    };
  });
  const teachers = teaching.map(
    (t): Teacher => ({
      kind: 'teacher',
      ...base('teacher'),
      birth: birthDate(r, r.int(1962, 1998)),
      ...common(),
      ...t,
      legacyProfile: r.chance(0.4),
    }),
  );
  const parents = plan.budget - staff.length - teachers.length - sizes.reduce((sum, s) => sum + s, 0);
  const families = buildFamilies(etab, sizes, parents, plan.usualRef, otherUais, factory, rng.fork('families'));
  return { plan, staff, teachers, families };
}

/** The lycée's headteacher, admin officer and documentalist also hold their function in the cité's LP. */
function shareCiteStaff(built: readonly Built[]): void {
  for (const lp of built) {
    const lyceeUai = lp.plan.etab.attachedTo;
    const lycee = built.find((b) => b.plan.etab.uai === lyceeUai);
    if (lycee === undefined) continue;
    for (const code of ['DIR', 'ADF', 'DOC'] as const) {
      lycee.staff.find((s) => s.functions[0]?.code === code)?.functions.push({ uai: lp.plan.etab.uai, code });
    }
  }
}
