/**
 * Who teaches what: every class gets a teacher per subject of its formation, each teacher 3–6 classes of
 * their discipline (subjects taught in fewer than 3 classes go to colleagues with room), groups go to
 * teachers of their discipline, each class gets a principal teacher, and some teachers also teach in a
 * second establishment.
 */
import { FORMATIONS, GROUP_TEMPLATES } from './catalog.js';
import type { Establishment, Teacher, Teaching } from './model.js';
import type { Random } from './random.js';

export const TEACHER_MIN_CLASSES = 3;
export const TEACHER_MAX_CLASSES = 6;
/** Classes per teacher aimed at when splitting a subject's classes. */
const TARGET_CLASSES = 4.5;

/** What one teacher of an establishment will teach, before the person exists. */
export interface TeachingPlan {
  readonly discipline: string;
  readonly classes: Teaching[];
  readonly groups: Teaching[];
  readonly principal: { uai: string; code: string }[];
}

export const distinctClasses = (teachings: readonly Teaching[]): number =>
  new Set(teachings.map((t) => `${t.uai}$${t.code}`)).size;

export function planTeaching(etab: Establishment): TeachingPlan[] {
  const bySubject = new Map<string, string[]>();
  for (const schoolClass of etab.classes) {
    for (const subject of FORMATIONS[schoolClass.formation]?.subjects ?? []) {
      const list = bySubject.get(subject) ?? [];
      list.push(schoolClass.code);
      bySubject.set(subject, list);
    }
  }
  const plans: TeachingPlan[] = [];
  const leftovers: Teaching[] = [];
  const newPlan = (discipline: string): TeachingPlan => {
    const plan: TeachingPlan = { discipline, classes: [], groups: [], principal: [] };
    plans.push(plan);
    return plan;
  };
  for (const subject of [...bySubject.keys()].sort()) {
    const classes = bySubject.get(subject) as string[];
    if (classes.length < TEACHER_MIN_CLASSES) {
      leftovers.push(...classes.map((code) => ({ uai: etab.uai, code, subject })));
      continue;
    }
    // Contiguous chunks: classes are opened level after level, so a teacher gets one class of each level.
    const n = Math.max(1, Math.round(classes.length / TARGET_CLASSES));
    for (let k = 0; k < n; k++) {
      const plan = newPlan(subject);
      const from = Math.floor((k * classes.length) / n);
      const to = Math.floor(((k + 1) * classes.length) / n);
      for (const code of classes.slice(from, to)) plan.classes.push({ uai: etab.uai, code, subject });
    }
  }
  for (const slot of leftovers) {
    const free = plans
      .filter((p) => distinctClasses(p.classes) < TEACHER_MAX_CLASSES && !p.classes.some((t) => t.code === slot.code))
      .sort((a, b) => distinctClasses(a.classes) - distinctClasses(b.classes))[0];
    (free ?? newPlan(slot.subject)).classes.push(slot);
  }
  assignGroups(etab, plans);
  assignPrincipals(etab, plans);
  return plans;
}

function assignGroups(etab: Establishment, plans: TeachingPlan[]): void {
  for (const group of etab.groups) {
    const template = group.classes
      .flatMap((code) => GROUP_TEMPLATES[etab.classes.find((c) => c.code === code)?.formation ?? ''] ?? [])
      .find((t) => t.code === group.code);
    if (template === undefined) continue;
    const teachesGroupClass = (p: TeachingPlan) => p.classes.some((t) => group.classes.includes(t.code));
    const candidates = plans.filter((p) => p.discipline === template.teacherDiscipline);
    const pool = candidates.length > 0 ? candidates : plans.filter(teachesGroupClass);
    const chosen = [...pool].sort((a, b) => a.groups.length - b.groups.length)[0];
    chosen?.groups.push({ uai: etab.uai, code: group.code, subject: template.subject });
  }
}

function assignPrincipals(etab: Establishment, plans: TeachingPlan[]): void {
  for (const schoolClass of etab.classes) {
    const teaching = plans.filter((p) => p.classes.some((t) => t.code === schoolClass.code));
    const chosen = teaching.find((p) => p.principal.length === 0) ?? teaching[0];
    chosen?.principal.push({ uai: etab.uai, code: schoolClass.code });
  }
}

/**
 * Some teachers of `etab` take one class of their discipline from a colleague of `other` (who keeps at
 * least 3), so they teach in two establishments.
 */
export function shareTeachers(teachers: readonly Teacher[], etab: string, other: string, rng: Random): void {
  const inEtab = (t: Teacher, uai: string) =>
    t.rattach === uai && t.classes.every((c) => c.uai === uai) && t.groups.every((g) => g.uai === uai);
  const ours = teachers.filter((t) => inEtab(t, etab) && distinctClasses(t.classes) < TEACHER_MAX_CLASSES);
  const theirs = teachers.filter((t) => t.rattach === other);
  const count = Math.max(1, Math.round(ours.length * 0.06));
  for (const teacher of rng.sample(ours, count)) {
    for (const colleague of rng.shuffle(theirs.filter((t) => t.discipline === teacher.discipline))) {
      if (distinctClasses(colleague.classes) <= TEACHER_MIN_CLASSES) continue;
      const index = colleague.classes.findIndex(
        (c) =>
          c.uai === other &&
          c.subject === teacher.discipline &&
          !colleague.principal.some((p) => p.uai === c.uai && p.code === c.code) &&
          colleague.classes.filter((d) => d.uai === c.uai && d.code === c.code).length === 1,
      );
      if (index < 0) continue;
      const [moved] = colleague.classes.splice(index, 1);
      if (moved !== undefined) teacher.classes.push(moved);
      break;
    }
  }
}
