/**
 * The state after an apply, computed purely from the state before, the plan, what was desired and the ids
 * of the rows the apply created.
 */
import { InternalError } from '../errors.js';
import type { MoodleUserRow } from '../moodle/read-users.js';
import type { Change } from '../plan/change.js';
import { addressOf } from '../plan/change.js';
import type { DesiredUser } from '../rules/users.js';
import type { State, StateObject } from './state.js';
import { STATE_FORMAT_VERSION } from './state.js';

export interface NextStateInput {
  readonly previous: State;
  readonly changes: readonly Change[];
  readonly desired: readonly DesiredUser[];
  /** Moodle's users as the plan read them (to forget managed rows deleted by hand). */
  readonly moodleUsers: readonly MoodleUserRow[];
  /** Ids of the users this apply created, by username. */
  readonly createdIds: ReadonlyMap<string, number>;
  readonly lineage: string;
  readonly toolVersion: string;
  readonly specHash: string;
}

export function nextState(input: NextStateInput): State {
  const previous = input.previous.objects.filter((o) => o.type === 'user');
  const others = input.previous.objects.filter((o) => o.type !== 'user');
  const prevByKey = new Map(previous.map((o) => [o.key, o]));
  const changeByKey = new Map(input.changes.filter((c) => c.dn !== null).map((c) => [c.key, c]));
  const suspendedIds = new Set(input.changes.filter((c) => c.action === 'suspend').map((c) => c.moodleId));
  const liveIds = new Set(input.moodleUsers.filter((u) => u.deleted === 0).map((u) => u.id));
  const objects: StateObject[] = [];
  const owned = new Set<number>();

  for (const user of input.desired) {
    const change = changeByKey.get(user.key);
    let id: number | undefined;
    if (change?.action === 'create') id = input.createdIds.get(String(user.values.username));
    else if (change !== undefined) id = change.moodleId ?? undefined;
    else id = prevByKey.get(user.key)?.id;
    if (id === undefined) throw new InternalError(`${addressOf('user', user.key)}: no Moodle id after the apply`);
    owned.add(id);
    objects.push({
      address: addressOf('user', user.key),
      type: 'user',
      id,
      key: user.key,
      source_digest: user.sourceDigest,
      values: { ...user.values },
    });
  }
  // Managed users who left the directory stay managed (suspended, or kept), unless Moodle lost their row.
  for (const object of previous) {
    if (owned.has(object.id) || !liveIds.has(object.id)) continue;
    objects.push(suspendedIds.has(object.id) ? { ...object, suspended_by_tool: true } : object);
  }
  objects.sort((a, b) => (a.address < b.address ? -1 : a.address > b.address ? 1 : 0));
  return {
    format_version: STATE_FORMAT_VERSION,
    serial: input.previous.serial + 1,
    lineage: input.lineage,
    tool_version: input.toolVersion,
    spec_hash: input.specHash,
    objects: [...others, ...objects],
  };
}
