/**
 * What a plan was computed from (saved with it by `plan --out`, compared again by `apply FILE`): the tool, the
 * spec, the state, and per entity a digest of the Moodle rows of the objects the plan is about.
 */
import type { MoodleSnapshot } from '../entities/read-moodle.js';
import type { EntityType } from '../model/change.js';
import type { Plan } from '../model/plan.js';
import type { State } from '../model/state.js';
import type { DesiredState } from '../rules/rules.js';
import type { LoadedSpec } from '../spec/load.js';
import { TOOL_VERSION } from '../version.js';
import type { PlanFingerprints } from './plan-file.js';

/** The fingerprints of a plan: tool, spec, state, and the digests of what was read. */
export function fingerprintsOf(
  loaded: LoadedSpec,
  moodle: MoodleSnapshot,
  state: State,
  sourceDigest: string,
  about: ReadonlyMap<EntityType, ReadonlySet<string>>,
): PlanFingerprints {
  return {
    tool_version: TOOL_VERSION,
    spec_hash: loaded.hash,
    state: { lineage: state.lineage, serial: state.serial },
    moodle: Object.fromEntries(moodle.readings.map((r) => [r.type, r.digestFor(about.get(r.type) ?? new Set())])),
    source: sourceDigest,
  };
}

/** The keys a plan is about, per entity: what the rules ask for, what the state manages, what changes. */
export function keysOfPlan(
  desired: Pick<DesiredState, 'objects'>,
  state: State,
  plan: Plan,
): Map<EntityType, Set<string>> {
  const keys = new Map<EntityType, Set<string>>();
  const add = (entity: EntityType, key: string) => {
    let set = keys.get(entity);
    if (set === undefined) {
      set = new Set();
      keys.set(entity, set);
    }
    set.add(key);
  };
  for (const [entity, objects] of desired.objects) for (const o of objects) add(entity, o.key);
  for (const o of state.objects) add(o.type, o.key);
  for (const c of plan.changes) add(c.entity, c.key);
  return keys;
}
