/**
 * Rendering is separate from planning: every output format implements one view over the same `Plan`.
 */
import { CATALOG } from '../entities/catalog.js';
import type { EntityType } from '../model/change.js';
import type { Plan, PlanHeader } from '../model/plan.js';

/** Plural titles of the entities, as every view heads their sections (from the entity catalogue). */
export const ENTITY_TITLES: Readonly<Record<EntityType, string>> = Object.fromEntries(
  Object.entries(CATALOG).map(([entity, facts]) => [entity, facts.title]),
) as Record<EntityType, string>;

export interface PlanView {
  render(plan: Plan, header: PlanHeader): string;
}
