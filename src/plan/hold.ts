/**
 * A data error must never look like a departure. A person of Moodle whose directory entry is in the source
 * read but cannot be used as the rules ask (a missing or invalid attribute, an unknown structure, a transcoding
 * miss, a uid claimed twice…) is **held**: every change to their user and to everything keyed by them
 * (memberships, enrolments, role assignments, profile values, group memberships) becomes a `held` change, which
 * writes nothing — their objects stay exactly as they are in Moodle until the entry is fixed. A person not yet
 * in Moodle has nothing to lose: what their entry allows is created, the rest left out and listed. Any other
 * object whose recorded source entry has an error is held rather than removed. Only a person absent from a
 * complete read is a leaver.
 *
 * Pure: it reads the plan's changes, the rules' skipped entries and the state (the entry each managed object
 * was last made from, `StateObject.dn`).
 */
import { containerKeyOf, contextUserOf, factsOf, userPartOf } from '../entities/catalog.js';
import type { Change } from '../model/change.js';
import { ACTIONS, addressOf } from '../model/change.js';
import type { DesiredObject } from '../model/desired.js';
import type { SkippedEntry } from '../model/skipped.js';
import type { State } from '../model/state.js';

export interface HoldInput {
  /** What the rules could not use: entries that cannot become a user, values left out; each with its DN. */
  readonly troubled: readonly SkippedEntry[];
  /** Objects left out for naming objects that exist nowhere: their removal is held, their person is not. */
  readonly leftOut: readonly SkippedEntry[];
  readonly state: State;
  /** The users the rules produce (a person with a data error may still produce one). */
  readonly users: readonly DesiredObject[];
  /** Whether a user (by key) is in Moodle now. */
  readonly inMoodle: (userKey: string) => boolean;
  /**
   * Users (by key) the diff left out, who are not in Moodle and will not be created (an idnumber another account
   * has): changes about them (a membership, an enrolment) are dropped, since they would point at no account.
   */
  readonly notCreated?: ReadonlySet<string>;
}

/** The changes, those of troubled people and objects turned into `held` ones (same order). */
export function holdTroubled(all: readonly Change[], input: HoldInput): Change[] {
  let changes = all;
  const reasons = new Map<string, string>();
  // A person named who is not in the directory is someone who left, not an error of the entry naming them.
  for (const s of input.troubled) if (s.absent !== true && !reasons.has(s.dn)) reasons.set(s.dn, s.reason);
  const objectReasons = new Map(reasons);
  for (const s of input.leftOut) if (!objectReasons.has(s.dn)) objectReasons.set(s.dn, s.reason);
  const notCreated = input.notCreated ?? new Set<string>();
  if (notCreated.size > 0) {
    changes = changes.filter((change) => change.entity === 'user' || !usersOf(change).some((u) => notCreated.has(u)));
  }
  if (objectReasons.size === 0) return [...changes];

  // The people held, by user key: those in Moodle the rules still make a user of, and those the state knows by
  // entry (managed, so in Moodle).
  const heldUsers = new Map<string, string>();
  for (const user of input.users) {
    if (reasons.has(user.dn) && input.inMoodle(user.key)) heldUsers.set(user.key, user.dn);
  }
  for (const object of input.state.objects) {
    if (object.type === 'user' && object.dn !== undefined && reasons.has(object.dn))
      heldUsers.set(object.key, object.dn);
  }
  const recordedDn = new Map<string, string>();
  for (const object of input.state.objects) if (object.dn !== undefined) recordedDn.set(object.address, object.dn);

  const out: Change[] = [];
  // Held objects by address, with the entry and reason: a change that follows from one (a disabled method's
  // role removals, a member of a cohort not created) is held with it. Changes come in write order, so an
  // object's change is seen before those that point at it.
  const heldObjects = new Map<string, { readonly dn: string; readonly reason: string }>();
  const hold = (change: Change, dn: string, reason: string): void => {
    heldObjects.set(change.address, { dn, reason });
    out.push(held(change, dn, reason));
  };
  for (const change of changes) {
    const person = usersOf(change).find((user) => heldUsers.has(user));
    if (person !== undefined) {
      const dn = heldUsers.get(person) as string;
      hold(change, dn, reasons.get(dn) ?? '');
      continue;
    }
    const source = recordedDn.get(change.address);
    const reason = source === undefined ? undefined : objectReasons.get(source);
    if (ACTIONS[change.action].removes && source !== undefined && reason !== undefined) {
      hold(change, source, reason);
      continue;
    }
    const follows = Object.values(change.refs ?? {})
      .map((ref) => (ref === undefined ? undefined : heldObjects.get(addressOf(ref.entity, ref.key))))
      .find((found) => found !== undefined);
    if (follows !== undefined) {
      hold(change, follows.dn, follows.reason);
      continue;
    }
    out.push(change);
  }
  return out;
}

/** The user keys a change is about: in its key, its refs, its `user` value, a user's role context. */
function usersOf(change: Change): string[] {
  const users: string[] = [];
  const part = userPartOf(change.entity, change.key, containerKeyOf(change));
  if (part !== null) {
    users.push(part.user);
    const head = factsOf(change.entity).personal.key;
    const context = typeof head === 'object' && head.head === 'context' ? contextUserOf(part.head) : undefined;
    if (context !== undefined) users.push(context);
  }
  for (const ref of Object.values(change.refs ?? {})) if (ref?.entity === 'user') users.push(ref.key);
  for (const values of [change.before ?? {}, change.after]) {
    const { user, context } = values;
    if (typeof user === 'string') users.push(user);
    const contextUser = typeof context === 'string' ? contextUserOf(context) : undefined;
    if (contextUser !== undefined) users.push(contextUser);
  }
  return users;
}

function held(change: Change, dn: string, reason: string): Change {
  return {
    ...change,
    action: 'held',
    dn,
    before: {},
    after: {},
    sourceDigest: null,
    reason: `not ${pastOf(change)}: its directory entry ${dn} has an error (${reason}); left as it is until the entry is fixed`,
  };
}

/** "created", "suspended", … : what the held change would have done. */
function pastOf(change: Change): string {
  const verb = ACTIONS[change.action].verb;
  return verb.endsWith('e') ? `${verb}d` : `${verb}ed`;
}
