/**
 * The plan: a pure function of (desired, current, state). It never reads or writes anything itself.
 */
import type { Conflict } from '../entities/entity.js';
import type { UserDiffOptions } from '../entities/user.js';
import { userEntity } from '../entities/user.js';
import { UserError } from '../errors.js';
import type { MoodleUserRow } from '../moodle/read-users.js';
import type { DesiredUsers, SkippedEntry } from '../rules/users.js';
import type { State } from '../state/state.js';
import type { Change, ChangeAction, EntityType } from './change.js';
import { ACTION_ORDER } from './change.js';

export interface PlanInput {
  readonly users: DesiredUsers;
  readonly moodleUsers: readonly MoodleUserRow[];
  readonly state: State;
  readonly userOptions: UserDiffOptions;
  /** Notes from earlier stages (e.g. the auth plugin is not enabled). */
  readonly warnings?: readonly string[];
}

export interface Plan {
  readonly changes: readonly Change[];
  /** Directory entries left out, each with its reason (users.onInvalidEntry: skip). */
  readonly skipped: readonly SkippedEntry[];
  readonly warnings: readonly string[];
  /** Desired objects per entity (for the summary: "41 in the directory"). */
  readonly desiredCounts: Readonly<Partial<Record<EntityType, number>>>;
}

/** Computes the plan; conflicts with Moodle (an unmanaged account in the way…) fail it, all listed at once. */
export function computePlan(input: PlanInput): Plan {
  const managed = input.state.objects.filter((o) => o.type === 'user');
  const users = userEntity.diff({
    desired: input.users.users,
    current: input.moodleUsers,
    managed,
    options: input.userOptions,
  });
  const conflicts: Conflict[] = [...users.conflicts];
  if (conflicts.length > 0) {
    throw new UserError(
      'MOODLE_CONFLICT',
      `${conflicts.length} directory entr${conflicts.length === 1 ? 'y conflicts' : 'ies conflict'} with existing Moodle accounts; nothing was planned`,
      conflicts,
    );
  }
  return {
    changes: users.changes,
    skipped: input.users.skipped,
    warnings: [...(input.warnings ?? []), ...users.warnings],
    desiredCounts: { user: input.users.users.length },
  };
}

export type PlanSummary = Readonly<Record<ChangeAction, number>>;

export function summarize(changes: readonly Change[]): PlanSummary {
  const counts = Object.fromEntries(ACTION_ORDER.map((a) => [a, 0])) as Record<ChangeAction, number>;
  for (const change of changes) counts[change.action] += 1;
  return counts;
}
