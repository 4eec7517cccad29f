/**
 * Safety analysers run on every plan, before anything is written. Each refusal has a stable reason and says
 * how to lift it for one run. A broken source must never turn into mass suspensions.
 */
import { ENTITY_ORDER, factsOf } from '../entities/catalog.js';
import { UserError } from '../errors.js';
import type { Plan } from '../model/plan.js';
import type { StateObject } from '../model/state.js';

export interface GuardLimits {
  /** People entries the source returned (0 = the source looks broken). */
  readonly sourceEntries: number;
  /** What the state manages now. */
  readonly managed: readonly StateObject[];
  readonly maxRemovals: { readonly count: number; readonly percent: number };
  /** `--allow-empty-source`. */
  readonly allowEmptySource: boolean;
  /** `--allow-removals N`: up to N removals per entity allowed in this run, whatever the limits. */
  readonly allowRemovals?: number;
}

export const DEFAULT_MAX_REMOVALS = { count: 100, percent: 10 } as const;

/** Throws `PLAN_REFUSED` when the plan looks like the result of a broken source or spec. */
export function checkGuards(plan: Plan, limits: GuardLimits): void {
  const managedUsers = limits.managed.filter((o) => o.type === 'user').length;
  if (limits.sourceEntries === 0 && limits.managed.length > 0 && !limits.allowEmptySource) {
    throw new UserError(
      'PLAN_REFUSED',
      `the directory returned no users while ldap2moodle manages ${managedUsers}` +
        (limits.managed.length > managedUsers ? ` (and ${limits.managed.length - managedUsers} other objects)` : '') +
        '; this looks like a broken ' +
        'source or search filter, so nothing is applied. If the directory is really empty, run again with --allow-empty-source.',
    );
  }
  for (const entity of ENTITY_ORDER) {
    const removal = factsOf(entity).removals;
    if (removal === null) continue;
    const removals = plan.changes.filter((ch) => ch.entity === entity && removal.actions.includes(ch.action)).length;
    if (removals === 0) continue;
    // Objects owned through a parent (cohort enrolments) are not in the state: count what the plan saw.
    const managed =
      removal.managed === 'plan'
        ? (plan.desiredCounts[entity] ?? 0) + removals
        : limits.managed.filter((o) => o.type === entity).length;
    const { verb } = removal;
    if (limits.allowRemovals !== undefined) {
      if (removals <= limits.allowRemovals) continue;
      throw new UserError(
        'PLAN_REFUSED',
        `the plan would ${verb} ${removals} ${removal.noun}, more than the ${limits.allowRemovals} allowed by --allow-removals; nothing is applied.`,
      );
    }
    const byPercent = (managed * limits.maxRemovals.percent) / 100;
    if (removals > limits.maxRemovals.count || (removals > byPercent && removals > removal.floor)) {
      const share = managed > 0 ? ` (${((100 * removals) / managed).toFixed(1)}% of the ${managed} managed)` : '';
      throw new UserError(
        'PLAN_REFUSED',
        `the plan would ${verb} ${removals} ${removal.noun}${share}, over the limit of users.maxRemovals ` +
          `(count ${limits.maxRemovals.count}, percent ${limits.maxRemovals.percent}); a filter mistake must never ` +
          `${verb} a whole school's ${removal.noun}. Check the plan, then run again with --allow-removals ${removals} if it is right.`,
      );
    }
  }
}
