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
}

/** What the plan was computed from, for the heading (never holds a secret). */
export interface PlanHeader {
  readonly source: string;
  readonly target: string;
  /** The state file the plan was made against (absent in plan files written before it was recorded). */
  readonly state?: string;
}
