/**
 * The plan: a pure function of (desired, current, state). It never reads or writes anything itself.
 * Entities are diffed in ENTITY_ORDER; each sees which objects of the earlier ones the tool owns after this
 * plan (a cohort created now owns its members, a field adopted now owns its data).
 */

import { factsOf } from '../entities/catalog.js';
import type { Conflict, DiffProducts } from '../entities/entity.js';
import type { EntityReading } from '../entities/reading.js';
import { UserError } from '../errors.js';
import type { Change, ChangeAction, EntityType } from '../model/change.js';
import { ACTION_ORDER, writes } from '../model/change.js';
import type { CurrentIndex } from '../model/current.js';
import type { DesiredObject } from '../model/desired.js';
import type { Plan } from '../model/plan.js';
import type { SkippedEntry } from '../model/skipped.js';
import type { State } from '../model/state.js';
import { holdTroubled } from './hold.js';
import { dropDanglingReferences } from './references.js';
import { scopeChanges } from './scope.js';

export interface PlanInput {
  readonly desired: ReadonlyMap<EntityType, readonly DesiredObject[]>;
  /** What was read of Moodle, one reading per entity, in ENTITY_ORDER. */
  readonly readings: readonly EntityReading[];
  readonly index: CurrentIndex;
  readonly state: State;
  readonly skipped: readonly SkippedEntry[];
  /** Notes from earlier stages (e.g. the auth plugin is not enabled). */
  readonly warnings?: readonly string[];
  /** `onDataError`: an object naming one that exists nowhere is left out (skip) or stops the plan (fail). */
  readonly onDataError?: 'skip' | 'fail';
  /** A scoped run's establishments: changes to what others own are left out (plan/scope.ts). */
  readonly scope?: readonly string[];
  /** People the rules leave out on purpose, by normalised DN, with why (DesiredState.excluded). */
  readonly excluded?: ReadonlyMap<string, string>;
}

/** Computes the plan; conflicts with Moodle (an unmanaged account in the way…) fail it, all listed at once. */
export function computePlan(input: PlanInput): Plan {
  const checked = dropDanglingReferences(input.desired, input.index);
  if (input.onDataError === 'fail' && checked.skipped.length > 0) {
    throw new UserError(
      'ENTRY_INVALID',
      `${checked.skipped.length} object(s) name objects that exist nowhere (onDataError is "fail")`,
      checked.skipped.map((s) => ({ dn: s.dn, message: s.reason })),
    );
  }
  const desiredObjects = checked.desired;
  const ownedKeys = new Map<EntityType, Set<string>>();
  const ownedOf = (entity: EntityType): Set<string> => {
    let keys = ownedKeys.get(entity);
    if (keys === undefined) {
      keys = new Set();
      ownedKeys.set(entity, keys);
    }
    return keys;
  };
  for (const object of input.state.objects) ownedOf(object.type).add(object.key);
  const owned = (entity: EntityType, key: string): boolean => ownedKeys.get(entity)?.has(key) ?? false;
  const wantedKeys = new Map<EntityType, Set<string>>();
  for (const [entity, objects] of desiredObjects) wantedKeys.set(entity, new Set(objects.map((o) => o.key)));
  const wanted = (entity: EntityType, key: string): boolean => wantedKeys.get(entity)?.has(key) ?? false;

  const changes: Change[] = [];
  const conflicts: Conflict[] = [];
  const diffSkipped: SkippedEntry[] = [];
  const warnings: string[] = [...(input.warnings ?? [])];
  const desiredCounts: Partial<Record<EntityType, number>> = {};
  // What each diff hands to the ones after it (the catalogue's `uses` order them).
  let products: DiffProducts = {};
  for (const reading of input.readings) {
    const desired = desiredObjects.get(reading.type) ?? [];
    desiredCounts[reading.type] = desired.length;
    const managed = input.state.objects.filter((o) => o.type === reading.type);
    const result = reading.diff(desired, managed, input.index, owned, wanted, products, input.excluded);
    if (result.products !== undefined) products = { ...products, ...result.products };
    // Loops, not push(...list): a spread of 100,000+ changes overflows the call stack.
    for (const change of result.changes) changes.push(change);
    for (const conflict of result.conflicts) conflicts.push(conflict);
    for (const warning of result.warnings) warnings.push(warning);
    for (const entry of result.skipped ?? []) diffSkipped.push(entry);
    const keys = ownedOf(reading.type);
    for (const change of result.changes) {
      if (change.action === 'create' || change.action === 'adopt') keys.add(change.key);
      if (change.action === 'release' || change.action === 'delete') keys.delete(change.key);
    }
  }
  // What a data error touches is held, never removed (hold.ts).
  // Users the diff left out (Moodle's admin or guest, an idnumber taken): in Moodle, what is keyed by them is
  // held like any troubled person's; not in Moodle, it is dropped with them.
  const inMoodle = (key: string): boolean => input.index.id('user', key) !== undefined;
  const leftOutDns = new Set(diffSkipped.map((s) => s.dn));
  const notCreated = new Set(
    (desiredObjects.get('user') ?? []).filter((u) => leftOutDns.has(u.dn) && !inMoodle(u.key)).map((u) => u.key),
  );
  let planned: readonly Change[] = holdTroubled(changes, {
    troubled: [...input.skipped, ...diffSkipped],
    leftOut: checked.skipped,
    state: input.state,
    users: desiredObjects.get('user') ?? [],
    inMoodle,
    notCreated,
  });
  if (input.scope !== undefined) {
    const scoped = scopeChanges(planned, input.scope, input.state, desiredObjects);
    planned = scoped.kept;
    warnings.unshift(
      `this run is scoped to ${input.scope.join(', ')}: what other establishments own is left as it is` +
        (scoped.leftOut.length === 0
          ? ''
          : ` (${scoped.leftOut.length} change${scoped.leftOut.length === 1 ? '' : 's'} left for a run of every establishment, e.g. ${scoped.leftOut
              .slice(0, 3)
              .map((c) => `${c.action} ${c.address}`)
              .join(', ')})`),
    );
  }
  if (conflicts.length > 0) {
    throw new UserError(
      'MOODLE_CONFLICT',
      `${conflicts.length} conflict${conflicts.length === 1 ? '' : 's'} with existing Moodle objects; nothing was planned`,
      conflicts,
    );
  }
  return {
    changes: planned,
    skipped: [...input.skipped, ...checked.skipped, ...diffSkipped],
    warnings,
    desiredCounts,
    purgeNeeded: planned.filter(writes).some(purgeNeeded),
    ...(input.scope === undefined ? {} : { scope: input.scope }),
  };
}

/** Whether writing a change leaves Moodle's caches stale until a purge (the entity catalogue says which). */
function purgeNeeded(change: Change): boolean {
  const { purge } = factsOf(change.entity);
  return typeof purge === 'boolean' ? purge : purge(change);
}

export type PlanSummary = Readonly<Record<ChangeAction, number>>;

export function summarize(changes: readonly Change[]): PlanSummary {
  const counts = Object.fromEntries(ACTION_ORDER.map((a) => [a, 0])) as Record<ChangeAction, number>;
  for (const change of changes) counts[change.action] += 1;
  return counts;
}
