/**
 * Runs scoped to some establishments (`--establishment UAI`): the rules are evaluated for every served
 * establishment, as in any run, and a change is kept only when the object it touches belongs to the run's
 * establishments alone — by the establishments recorded in the state for a managed object, by
 * the desired object's for a new one, by its parent's for a membership, an enrolment a method makes or a
 * profile value. A person shared with an establishment out of scope keeps what comes from it: their account and
 * profile values are not changed; their memberships in the run's establishments are.
 */

import { factsOf } from '../entities/catalog.js';
import type { Change, EntityType } from '../model/change.js';
import { addressOf } from '../model/change.js';
import type { DesiredObject } from '../model/desired.js';
import type { State } from '../model/state.js';

export interface ScopedChanges {
  readonly kept: readonly Change[];
  readonly leftOut: readonly Change[];
}

export function scopeChanges(
  changes: readonly Change[],
  scope: readonly string[],
  state: State,
  desired: ReadonlyMap<EntityType, readonly DesiredObject[]>,
): ScopedChanges {
  const inScope = new Set(scope);
  const recorded = new Map(state.objects.map((o) => [o.address, o.establishments]));
  const wanted = new Map<string, readonly string[] | undefined>();
  for (const [entity, objects] of desired)
    for (const o of objects) wanted.set(addressOf(entity, o.key), o.establishments);

  /** The establishments an object belongs to: recorded, else desired; undefined when it belongs to none. */
  const owners = (entity: EntityType, key: string): readonly string[] | undefined => {
    const through = factsOf(entity).establishments;
    if (through !== 'own') return owners(through.entity, partOf(key, through.keyPart));
    // A record made before ownership was recorded says nothing: the desired object does.
    const address = addressOf(entity, key);
    return recorded.get(address) ?? wanted.get(address);
  };
  const kept: Change[] = [];
  const leftOut: Change[] = [];
  for (const change of changes) {
    const establishments = owners(change.entity, change.key) ?? [];
    const ours = establishments.every((uai) => inScope.has(uai));
    // Something no establishment owns (a role, a profile field) may be created, never changed, by a scoped run.
    const allowed = establishments.length === 0 ? change.action === 'create' : ours;
    (allowed ? kept : leftOut).push(change);
  }
  return { kept, leftOut };
}

/** The part of a key that is its parent's key: before the last `/` (a member's container), after the first (a user). */
function partOf(key: string, part: 'before-last' | 'after-first'): string {
  return part === 'before-last' ? key.slice(0, key.lastIndexOf('/')) : key.slice(key.indexOf('/') + 1);
}
