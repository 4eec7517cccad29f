/**
 * Rendering is separate from planning: every output format implements one view over the same `Plan`.
 */
import { CATALOG, ENTITY_ORDER } from '../entities/catalog.js';
import type { ChangeAction, EntityType } from '../model/change.js';
import { ACTION_ORDER } from '../model/change.js';
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

/** The counts table the views share: the actions the plan uses, and a row per entity. */
export interface PlanCounts {
  readonly actions: readonly ChangeAction[];
  readonly rows: readonly {
    readonly entity: EntityType;
    /** Changes per action, in `actions`' order. */
    readonly counts: readonly number[];
    /** What the directory holds (undefined when the plan did not count it). */
    readonly desired: number | undefined;
  }[];
}

/**
 * Changes per entity and action in one pass over the plan; rows for the entities with changes, and also those
 * with desired objects when `withDesired` (the Markdown table lists what is in step too).
 */
export function planCounts(plan: Plan, withDesired: boolean): PlanCounts {
  const byEntity = new Map<EntityType, Map<ChangeAction, number>>();
  for (const { entity, action } of plan.changes) {
    const counts = byEntity.get(entity) ?? new Map<ChangeAction, number>();
    counts.set(action, (counts.get(action) ?? 0) + 1);
    byEntity.set(entity, counts);
  }
  const actions = ACTION_ORDER.filter((a) => [...byEntity.values()].some((counts) => counts.has(a)));
  const rows = ENTITY_ORDER.filter((e) => byEntity.has(e) || (withDesired && plan.desiredCounts[e] !== undefined)).map(
    (entity) => ({
      entity,
      counts: actions.map((a) => byEntity.get(entity)?.get(a) ?? 0),
      desired: plan.desiredCounts[entity],
    }),
  );
  return { actions, rows };
}
