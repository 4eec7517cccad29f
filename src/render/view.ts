/**
 * Rendering is separate from planning: every output format implements one view over the same `Plan`.
 */
import type { Plan } from '../plan/plan.js';

/** What the plan was computed from, for the heading (never holds a secret). */
export interface PlanHeader {
  readonly source: string;
  readonly target: string;
}

export interface PlanView {
  render(plan: Plan, header: PlanHeader): string;
}
