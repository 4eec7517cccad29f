/**
 * The establishments of a generated directory and their classes and groups: kinds (a cité scolaire pair
 * every ten), UAIs with valid key letters, Luhn-valid SIRETs, classes of 25–35 students.
 */
import {
  CITIES,
  classCode,
  ESTABLISHMENT_NAMES,
  FORMATION_CYCLE,
  FORMATIONS,
  GROUP_TEMPLATES,
  STREETS,
} from './catalog.js';
import type { Establishment, EstablishmentKind, RefStyle, SchoolClass, SchoolGroup } from './model.js';
import { ascii, JOIN_SOURCE, luhnComplete, uaiOf } from './model.js';
import type { Random } from './random.js';

export const CLASS_MIN = 25;
export const CLASS_MAX = 35;

export interface EstablishmentPlan {
  readonly index: number;
  readonly etab: Establishment;
  /** People this establishment brings to the directory. */
  readonly budget: number;
  /** The form most of its people's values use. */
  readonly usualRef: RefStyle;
  /** UAI of the other half of its cité scolaire. */
  readonly partner?: string;
}

/** Kinds by position in each block of ten; positions 1–2 are the cité scolaire pair (lycée + LP). */
const BLOCK: readonly EstablishmentKind[] = ['CLG', 'LYC', 'LP', 'CLG', 'LYC', 'CLG', 'LP', 'CLG', 'LYC', 'CLG'];
const USUAL_REF: readonly RefStyle[] = ['dn', 'uai', 'dn', 'dn', 'uai-lower', 'dn'];
const TYPE_PREFIX: Record<EstablishmentKind, string> = { CLG: 'CLG', LYC: 'LYC', LP: 'LP' };
const COURT_PREFIX: Record<EstablishmentKind, string> = { CLG: 'COLLÈGE', LYC: 'LYCÉE', LP: 'LYCÉE PROFESSIONNEL' };

/** Grouper name part of an establishment name: upper case, no accents, apostrophes as spaces. */
export const grouperName = (name: string): string => ascii(name).toUpperCase().replace(/'/g, ' ');

export function planEstablishments(people: number, count: number, rng: Random): EstablishmentPlan[] {
  const plans: EstablishmentPlan[] = [];
  for (let i = 0; i < count; i++) {
    const position = i % 10;
    const lp = position === 2; // position 2 exists only if position 1 did: always the lycée's partner
    const kind = BLOCK[position] as EstablishmentKind;
    const partnerPlan = lp ? plans[i - 1] : undefined;
    const [city, postalCode] = partnerPlan ? [partnerPlan.etab.city, partnerPlan.etab.postalCode] : rng.pick(CITIES);
    const label = partnerPlan
      ? partnerPlan.etab.court.replace(/^LYCÉE /, '')
      : ESTABLISHMENT_NAMES[(i * 7) % ESTABLISHMENT_NAMES.length];
    const serial = String(1000 + ((i * 7919) % 9000));
    const digits = `0${postalCode.slice(0, 2)}${serial}`;
    const uai = uaiOf(digits);
    const name = grouperName(label as string);
    const etab: Establishment = {
      uai,
      siret: luhnComplete(`19${digits}0001`),
      jointure: `${JOIN_SOURCE}$${serial}`,
      kind,
      name,
      court: `${COURT_PREFIX[kind]} ${label}`,
      street: partnerPlan ? partnerPlan.etab.street : `${rng.int(1, 60)} ${rng.pick(STREETS)}`,
      postalCode,
      city,
      ...(partnerPlan ? { attachedTo: partnerPlan.etab.uai } : {}),
      classes: [],
      groups: [],
    };
    const budget = Math.floor(people / count) + (i < people % count ? 1 : 0);
    const partner = partnerPlan?.etab.uai;
    plans.push({
      index: i,
      etab,
      budget,
      usualRef: USUAL_REF[i % USUAL_REF.length] as RefStyle,
      ...(partner ? { partner } : {}),
    });
    if (partnerPlan) plans[i - 1] = { ...partnerPlan, partner: uai };
  }
  return plans;
}

/** ENTStructureNomCourant: `CLG-JEAN MOULIN-ac-ORLEANS-TOURS`. */
export const nomCourant = (etab: Establishment): string => `${TYPE_PREFIX[etab.kind]}-${etab.name}-ac-ORLEANS-TOURS`;

/**
 * Class sizes for `students`: drawn in 25–35; a remainder under 25 is spread over the classes while they
 * have room, so only a very small establishment ends with a class outside the range (its last one).
 */
export function classSizes(students: number, rng: Random): number[] {
  const sizes: number[] = [];
  let left = students;
  while (left > 0) {
    const size = Math.min(rng.int(CLASS_MIN, CLASS_MAX), left);
    sizes.push(size);
    left -= size;
  }
  const last = sizes[sizes.length - 1] ?? 0;
  const room = sizes.slice(0, -1).reduce((sum, size) => sum + (CLASS_MAX - size), 0);
  if (sizes.length > 1 && last < CLASS_MIN && room >= last) {
    sizes.pop();
    for (let k = 0, i = 0; k < last; i = (i + 1) % sizes.length) {
      if ((sizes[i] as number) < CLASS_MAX) {
        sizes[i] = (sizes[i] as number) + 1;
        k++;
      }
    }
  }
  return sizes;
}

/** Opens the classes (formations in FORMATION_CYCLE order) and the groups of their formations. */
export function openClasses(etab: Establishment, sizes: readonly number[]): void {
  const cycle = FORMATION_CYCLE[etab.kind];
  const opened = new Map<string, number>();
  sizes.forEach((_, i) => {
    const key = cycle[i % cycle.length] as string;
    const formation = FORMATIONS[key];
    if (formation === undefined) throw new Error(`unknown formation ${key}`);
    const n = (opened.get(key) ?? 0) + 1;
    opened.set(key, n);
    etab.classes.push({ code: classCode(formation, n), formation: key });
  });
  const groups = new Map<string, { label: string; classes: string[] }>();
  for (const schoolClass of etab.classes) {
    for (const template of GROUP_TEMPLATES[schoolClass.formation] ?? []) {
      const group = groups.get(template.code) ?? { label: template.label, classes: [] };
      group.classes.push(schoolClass.code);
      groups.set(template.code, group);
    }
  }
  for (const [code, group] of groups) etab.groups.push({ code, label: group.label, classes: group.classes });
}

export const findClass = (etab: Establishment, code: string): SchoolClass | undefined =>
  etab.classes.find((c) => c.code === code);

export const findGroup = (etab: Establishment, code: string): SchoolGroup | undefined =>
  etab.groups.find((g) => g.code === code);
