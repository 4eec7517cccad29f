/**
 * The plan: every change an apply would make, what the rules left out, and notes for the reader. Renderers,
 * guards, plan files and the apply all read this one shape.
 */
import type { Change, EntityType } from './change.js';
import type { SkippedEntry } from './skipped.js';

export interface Plan {
  readonly changes: readonly Change[];
  /** Directory entries (or values) left out, each with its reason. */
  readonly skipped: readonly SkippedEntry[];
  readonly warnings: readonly string[];
  /** Desired objects per entity (for the summary: "41 in the directory"). */
  readonly desiredCounts: Readonly<Partial<Record<EntityType, number>>>;
  /** True when the apply writes rows Moodle caches (categories): a cache purge must follow. */
  readonly purgeNeeded: boolean;
  /** Set for a run scoped to these establishments (`--establishment`). */
  readonly scope?: readonly string[];
  /** The safety guards' verdict (plan/guards.ts); absent on plans nothing checked (a library caller's own). */
  readonly guards?: PlanGuards;
}

/**
 * A removal limit: a plan removing more than `count` objects of an entity **and** more than `percent` of the
 * managed ones is refused. `count` is what every site may remove (a small site's ordinary day), `percent` what
 * scales with the site.
 */
export interface RemovalLimit {
  readonly count: number;
  readonly percent: number;
}

/** What a run allows over the guards (`--allow-removals`, `--allow-empty-source`), recorded in saved plans. */
export interface GuardAllowance {
  /** `--allow-removals N`: up to N removals of every entity. */
  readonly all?: number;
  /** `--allow-removals users=200,cohort_enrolments=2000`: up to N removals of these entities (over `all`). */
  readonly entities?: Readonly<Partial<Record<EntityType, number>>>;
  /** `--allow-empty-source`. */
  readonly emptySource?: boolean;
}

/** One guard a plan trips: a stable code (`GUARD_USERS_REMOVALS`, `GUARD_EMPTY_SOURCE`), its figures, how to allow it. */
export interface GuardViolation {
  readonly code: string;
  /** The entity whose removals are over its limit; absent for the empty source. */
  readonly entity?: EntityType;
  /** Removals planned (for the empty source: the managed users the plan would suspend). */
  readonly removals: number;
  /** What the share is of: the managed objects of the entity (users, for the empty source). */
  readonly managed: number;
  /** The limit exceeded (absent for the empty source). */
  readonly limit?: RemovalLimit;
  /** An allowance given but too small. */
  readonly allowed?: number;
  /** What happened, with the figures. */
  readonly message: string;
  /** The option that allows it for one run: `--allow-removals users=194`. */
  readonly allow: string;
}

/** The guards' verdict on a plan: refused when `violations` is not empty. */
export interface PlanGuards {
  /** People entries the source returned (the empty-source guard; a saved plan re-checks with it). */
  readonly sourceEntries: number;
  readonly allowance: GuardAllowance;
  readonly violations: readonly GuardViolation[];
}

/** True when the guards refuse the plan: it may be shown and saved, never applied. */
export const isRefused = (plan: Plan): boolean => (plan.guards?.violations.length ?? 0) > 0;

/** What the plan was computed from, for the heading (never holds a secret). */
export interface PlanHeader {
  readonly source: string;
  readonly target: string;
  /** The state file the plan was made against (absent in plan files written before it was recorded). */
  readonly state?: string;
}
