/**
 * Broken sources made from a generated directory, for the removal guards' tests and bench/guards.ts: one
 * establishment's people gone, or half of the people gone. Parents go with the last of their children (a parent
 * entry with no child is not a valid SDET entry).
 */
import type { Directory, Person } from '../../src/generate/model.js';

/** The directory without the people `lost` says (never parents), and the parents left with no child. */
function dropping(dir: Directory, lost: (p: Person, index: number) => boolean): Directory {
  const gone = new Set<string>();
  dir.people.forEach((p, i) => {
    if (p.kind !== 'parent' && lost(p, i)) gone.add(p.uid);
  });
  const kept = new Set<string>();
  for (const p of dir.people) if (p.kind === 'student' && !gone.has(p.uid)) for (const l of p.parents) kept.add(l.uid);
  for (const p of dir.people) if (p.kind === 'parent' && !kept.has(p.uid)) gone.add(p.uid);
  return { establishments: dir.establishments, people: dir.people.filter((p) => !gone.has(p.uid)) };
}

/** One establishment's people gone: students, teachers and staff attached to it, and the parents only they had. */
export const withoutEstablishment = (dir: Directory, index: number): Directory =>
  dropping(dir, (p) => p.kind !== 'parent' && p.rattach === dir.establishments[index]?.uai);

/** Half of the people gone: every other student, teacher and staff member, and the parents left with no child. */
export const halfTheDirectory = (dir: Directory): Directory => dropping(dir, (_, i) => i % 2 === 1);

/** The collège job of bench/scale.ts over a whole generated directory: every entity, every establishment served. */
export const SDET_JOB = {
  extends: 'sdet',
  directory: {
    people: { base: 'ou=people,dc=ent,dc=example' },
    structures: { base: 'ou=structures,dc=ent,dc=example' },
  },
  users: { profiles: { parent: { enabled: true } } },
  profileFields: {
    fields: { ent_uai: { enabled: true }, ent_profiles: { enabled: true }, ent_classes: { enabled: true } },
  },
  categories: { rules: { level: { enabled: true } } },
  courses: { rules: { classSubject: { enabled: true }, schoolLife: { enabled: true } } },
  groups: {
    rules: {
      classSubject: { enabled: true },
      schoolLifeClasses: { enabled: true },
      schoolLifeGroups: { enabled: true },
    },
  },
  enrolments: {
    cohorts: { rules: { classSubject: { enabled: true }, schoolLife: { enabled: true } } },
    manual: { rules: { classSubjectTeacher: { enabled: true } } },
  },
  roleAssignments: { rules: { headteacher: { enabled: true } } },
};
