/**
 * The state after an apply, computed purely from the state before, the plan, what was desired and the ids
 * the objects have after the apply (those the plan read, plus those the apply created).
 */

import { factsOf } from '../entities/catalog.js';
import type { EntityReading } from '../entities/reading.js';
import { InternalError } from '../errors.js';
import type { Change, EntityType } from '../model/change.js';
import { addressOf } from '../model/change.js';
import type { DesiredObject } from '../model/desired.js';
import type { State, StateObject } from '../model/state.js';
import { STATE_FORMAT_VERSION } from '../model/state.js';
import type { ObjectIds } from '../moodle/write-context.js';

export interface NextStateInput {
  readonly previous: State;
  readonly changes: readonly Change[];
  readonly desired: ReadonlyMap<EntityType, readonly DesiredObject[]>;
  /** What the plan read (to forget managed rows deleted by hand). */
  readonly readings: readonly EntityReading[];
  /** Ids after the apply, by entity and key. */
  readonly ids: ObjectIds;
  readonly lineage: string;
  readonly toolVersion: string;
  readonly specHash: string;
  /** A scoped run's establishments: what others own keeps its record as it was (plan/scope.ts). */
  readonly scope?: readonly string[];
}

const byAddress = (a: StateObject, b: StateObject): number =>
  a.address < b.address ? -1 : a.address > b.address ? 1 : 0;

function nextObjects(input: NextStateInput, reading: EntityReading): StateObject[] {
  const type = reading.type;
  const previous = input.previous.objects.filter((o) => o.type === type);
  const changes = input.changes.filter((c) => c.entity === type);
  const changeByKey = new Map(changes.filter((c) => c.dn !== null).map((c) => [c.key, c]));
  const suspended = new Set(changes.filter((c) => c.action === 'suspend').map((c) => c.moodleId));
  const forgotten = new Set(
    changes.filter((c) => c.action === 'release' || c.action === 'delete').map((c) => c.moodleId),
  );
  const live = new Set(reading.keys.keys());
  const objects: StateObject[] = [];
  const owned = new Set<number>();
  const scope = input.scope === undefined ? undefined : new Set(input.scope);
  const previousByKey = new Map(previous.map((o) => [o.key, o]));
  // The entry an object was made from, for objects whose key names no person (a user, a cohort, a course): a
  // later run holds them when that entry is in the directory with an error (plan/hold.ts). Objects keyed by a
  // person (an enrolment) are held through their person.
  const { key: personalKey } = factsOf(type).personal;
  const recordsDn = personalKey === 'none' || personalKey === 'user';

  const ours = (establishments: readonly string[] | undefined): boolean =>
    (establishments ?? []).length > 0 && (establishments ?? []).every((u) => scope?.has(u) === true);
  for (const object of input.desired.get(type) ?? []) {
    const before = previousByKey.get(object.key);
    if (scope !== undefined && !ours(before?.establishments ?? object.establishments)) {
      // Owned by other establishments too (or by none): a scoped run leaves its record as it was…
      if (before !== undefined) {
        owned.add(before.id);
        objects.push(before);
        continue;
      }
      // …and records a new one only if it made it (a role or a profile field no establishment owns).
      if (changeByKey.get(object.key)?.action !== 'create') continue;
    }
    const change = changeByKey.get(object.key);
    if (change?.action === 'held') {
      // Its entry has an error: the object stays as the last run left it (or, never made, unrecorded).
      if (before !== undefined) {
        owned.add(before.id);
        objects.push(before);
      }
      continue;
    }
    const id = change?.moodleId ?? input.ids.get(type, object.key) ?? undefined;
    if (id === undefined) throw new InternalError(`${addressOf(type, object.key)}: no Moodle id after the apply`);
    owned.add(id);
    objects.push({
      address: addressOf(type, object.key),
      type,
      id,
      key: object.key,
      source_digest: object.sourceDigest,
      values: { ...object.values },
      ...(recordsDn && object.dn !== '' ? { dn: object.dn } : {}),
      ...(object.profile === undefined ? {} : { profile: object.profile }),
      ...(object.establishments === undefined || object.establishments.length === 0
        ? {}
        : { establishments: [...object.establishments] }),
    });
  }
  // Managed objects the directory no longer asks for stay managed (suspended, or kept), unless the plan
  // released or deleted them, or Moodle lost their row.
  for (const object of previous) {
    if (owned.has(object.id) || forgotten.has(object.id) || !live.has(object.id)) continue;
    objects.push(suspended.has(object.id) ? { ...object, suspended_by_tool: true } : object);
  }
  return objects;
}

export function nextState(input: NextStateInput): State {
  const stateful = input.readings.filter((r) => factsOf(r.type).stateful);
  const handled = new Set(stateful.map((r) => r.type));
  // Objects of entities this run does not plan (a spec that dropped cohorts…) are kept as they were.
  const others = input.previous.objects.filter((o) => !handled.has(o.type));
  const objects = stateful.flatMap((r) => nextObjects(input, r));
  return {
    format_version: STATE_FORMAT_VERSION,
    serial: input.previous.serial + 1,
    lineage: input.lineage,
    tool_version: input.toolVersion,
    spec_hash: input.specHash,
    objects: [...others, ...objects].sort(byAddress),
  };
}
