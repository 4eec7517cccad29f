/**
 * Rendering is separate from planning: every output format implements one view over the same `Plan`.
 */
import { CATALOG } from '../entities/catalog.js';
import type { EntityType } from '../model/change.js';
import type { Plan, PlanHeader } from '../model/plan.js';
import { allowanceOptions, allowanceToLift } from '../plan/guards.js';

/** Plural titles of the entities, as every view heads their sections (from the entity catalogue). */
export const ENTITY_TITLES: Readonly<Record<EntityType, string>> = Object.fromEntries(
  Object.entries(CATALOG).map(([entity, facts]) => [entity, facts.title]),
) as Record<EntityType, string>;

export interface PlanView {
  render(plan: Plan, header: PlanHeader): string;
}

/**
 * The refusal every view shows when the guards refuse the plan: a heading, each guard with its code and
 * figures, and the options that allow it for one run. Empty when the plan is not refused.
 */
export function refusalLines(plan: Plan): { heading: string; violations: string[]; allow: string } | null {
  const violations = plan.guards?.violations ?? [];
  if (plan.guards === undefined || violations.length === 0) return null;
  const n = violations.length;
  return {
    heading: `REFUSED by ${n === 1 ? 'a safety guard' : `${n} safety guards`}: nothing of this plan is applied as it is.`,
    violations: violations.map((v) => `[${v.code}] ${v.message}`),
    allow: `If the plan is right, run again with ${allowanceOptions(allowanceToLift(plan.guards))}.`,
  };
}
