/**
 * Safety analysers run on every plan, before anything is written. Each refusal has a stable reason and says
 * how to lift it for one run. A broken source must never turn into mass suspensions.
 */
import { UserError } from '../errors.js';
import type { Plan } from './plan.js';

export interface GuardLimits {
  /** Entries the source returned for users (0 = the source looks broken). */
  readonly sourceEntries: number;
  /** Users the state manages now. */
  readonly managedUsers: number;
  readonly maxRemovals: { readonly count: number; readonly percent: number };
  /** `--allow-empty-source`. */
  readonly allowEmptySource: boolean;
  /** `--allow-removals N`: up to N removals allowed in this run, whatever the limits. */
  readonly allowRemovals?: number;
}

export const DEFAULT_MAX_REMOVALS = { count: 100, percent: 10 } as const;

/** Throws `PLAN_REFUSED` when the plan looks like the result of a broken source or spec. */
export function checkGuards(plan: Plan, limits: GuardLimits): void {
  if (limits.sourceEntries === 0 && limits.managedUsers > 0 && !limits.allowEmptySource) {
    throw new UserError(
      'PLAN_REFUSED',
      `the directory returned no users while ldap2moodle manages ${limits.managedUsers}; this looks like a broken ` +
        'source or search filter, so nothing is applied. If the directory is really empty, run again with --allow-empty-source.',
    );
  }
  const removals = plan.changes.filter((ch) => ch.action === 'suspend').length;
  if (removals === 0) return;
  if (limits.allowRemovals !== undefined) {
    if (removals <= limits.allowRemovals) return;
    throw new UserError(
      'PLAN_REFUSED',
      `the plan would suspend ${removals} users, more than the ${limits.allowRemovals} allowed by --allow-removals; nothing is applied.`,
    );
  }
  const byPercent = (limits.managedUsers * limits.maxRemovals.percent) / 100;
  if (removals > limits.maxRemovals.count || removals > byPercent) {
    const share =
      limits.managedUsers > 0
        ? ` (${((100 * removals) / limits.managedUsers).toFixed(1)}% of the ${limits.managedUsers} managed)`
        : '';
    throw new UserError(
      'PLAN_REFUSED',
      `the plan would suspend ${removals} users${share}, over the limit of users.maxRemovals ` +
        `(count ${limits.maxRemovals.count}, percent ${limits.maxRemovals.percent}); a filter mistake must never ` +
        `suspend a whole school. Check the plan, then run again with --allow-removals ${removals} if it is right.`,
    );
  }
}
