/**
 * The enrolments cohort-sync methods make, keyed `<method key>/<user key>`. They have no state of their own:
 * the tool owns the enrolments of the methods it owns and still syncs (managed, or created/adopted by this
 * plan), as cohort members are owned through their cohort. The plan brings them where Moodle's own cohort
 * sync would, at once:
 *
 * - a cohort member not enrolled is enrolled (with the method's role, and into its group); a suspended one is
 *   made active again; one missing the method's role or group membership gets them back;
 * - someone the method enrols who left the cohort is treated as Moodle's setting `enrol_cohort/unenrolaction`
 *   says: 0 (Moodle's default) unenrols, 3 suspends and removes the method's roles. `onMemberRemoved` other
 *   than `moodle` must agree with it, since Moodle's hourly sync would undo anything else;
 * - role assignments and group memberships the method owns (component enrol_cohort) for a user it does not
 *   enrol are deleted, as the sync deletes them.
 *
 * A method the tool owns but the rules no longer ask for (disabled, or kept) is still one of its cohort's
 * methods for Moodle: its `member_removed` handler and the sync's "unenrol as necessary" query ignore the
 * method's status, so someone who left the cohort is unenrolled (or suspended) from it just the same. And the
 * sync removes every role a disabled method gave (unenrolaction 0 and 3 alike): the plan lists them, user by
 * user, when the method is disabled.
 */
import type { Change, Fields, ObjectRef } from '../model/change.js';
import { addressOf, pairKey } from '../model/change.js';
import type { CurrentIndex } from '../model/current.js';
import type { DesiredObject } from '../model/desired.js';
import type { MoodleCohortEnrolmentRow } from '../moodle/read-cohort-enrol.js';
import { readCohortEnrolments } from '../moodle/read-cohort-enrol.js';
import { writeCohortEnrolmentChanges } from '../moodle/write-cohort-enrolment.js';
import type { Conflict, DiffInput, Entity, EntityDiff } from './entity.js';
import { byKey } from './entity.js';
import { createChange } from './keyed-diff.js';
import { recheckCatalogued } from './recheck.js';

export type CohortEnrolmentRow = MoodleCohortEnrolmentRow;

export type OnMemberRemoved = 'moodle' | 'unenrol' | 'suspend' | 'keep';

export interface CohortEnrolmentOptions {
  /** `enrolments.cohorts.onMemberRemoved`. */
  readonly onMemberRemoved: OnMemberRemoved;
  /** Moodle's `enrol_cohort/unenrolaction` (`site.pluginConfig`); undefined when unset (Moodle's default, 0). */
  readonly unenrolAction: string | undefined;
}

type Policy = 'unenrol' | 'suspend';

/** What happens to the enrolment of someone who left the cohort, or why the spec and Moodle disagree. */
export function removalPolicy(options: CohortEnrolmentOptions): { policy: Policy } | { problem: string } {
  const action = options.unenrolAction?.trim() || '0';
  const moodle: Policy | undefined = action === '0' ? 'unenrol' : action === '3' ? 'suspend' : undefined;
  if (moodle === undefined) {
    return {
      problem:
        `Moodle's enrol_cohort/unenrolaction is ${JSON.stringify(action)}: ldap2moodle follows only 0 (unenrol) and ` +
        '3 (suspend and remove roles); set "External unenrol action" of Cohort sync (Site administration > Plugins > ' +
        'Enrolments > Cohort sync) to one of them',
    };
  }
  const { onMemberRemoved } = options;
  if (onMemberRemoved === 'moodle' || onMemberRemoved === moodle) return { policy: moodle };
  const does = moodle === 'unenrol' ? 'unenrols' : 'suspends (and removes the roles of)';
  if (onMemberRemoved === 'keep') {
    return {
      problem:
        `enrolments.cohorts.onMemberRemoved: keep cannot hold: Moodle's cohort sync has no "keep", its hourly task ${does} ` +
        `whoever leaves the cohort (enrol_cohort/unenrolaction ${action}) and would undo it; use moodle`,
    };
  }
  const wanted = onMemberRemoved === 'unenrol' ? '0 (unenrol)' : '3 (suspend and remove roles)';
  return {
    problem:
      `enrolments.cohorts.onMemberRemoved: ${onMemberRemoved} disagrees with Moodle's enrol_cohort/unenrolaction ${action}: ` +
      `Moodle's own hourly cohort sync ${does} whoever leaves the cohort and would undo it; set that Moodle setting to ` +
      `${wanted}, or use onMemberRemoved: moodle`,
  };
}

const STATUS_ENABLED = 0;

/** The role of a method: the last part of its key (role shortnames have no '/'). */
const roleOfMethod = (method: string): string => method.slice(method.lastIndexOf('/') + 1);

/** The pure enrolment diff. */
export function diffCohortEnrolments(
  input: DiffInput<CohortEnrolmentRow>,
  options: CohortEnrolmentOptions,
): EntityDiff {
  const { index, owned, wanted } = input;
  // Enrolments are removed only through methods the tool owns and still syncs (a kept method keeps its users).
  const synced = (method: string): boolean => owned('cohort_enrol', method) && wanted('cohort_enrol', method);
  const desiredByKey = new Map(input.desired.map((d) => [d.key, d]));
  const groupLabel = (id: number): string => index.key('group', id) ?? `#${id}`;
  const changes: Change[] = [];
  /** Keys enrolled now (a user_enrolments row): not created again. */
  const enrolled = new Set<string>();
  const resolved = removalPolicy(options);
  let inUse = input.desired.length > 0;
  const { cohortMethodsAfter: methodsAfter, cohortMembersAfter: membersAfter } = input.products;

  const change = (
    row: CohortEnrolmentRow,
    key: string,
    refs: Readonly<Record<string, ObjectRef>>,
    fields: Pick<Change, 'action' | 'before' | 'after' | 'reason'> & {
      dn?: string | null;
      sourceDigest?: string | null;
    },
  ): void => {
    changes.push({
      entity: 'cohort_enrolment',
      address: addressOf('cohort_enrolment', key),
      key,
      moodleId: row.id,
      refs,
      dn: null,
      sourceDigest: null,
      ...fields,
    });
  };

  const kept = (
    row: CohortEnrolmentRow,
    desired: DesiredObject,
    user: string,
    refs: Readonly<Record<string, ObjectRef>>,
  ) => {
    const role = String(desired.values.role ?? '');
    const group = String(desired.values.group ?? '');
    const groupId = group === '' ? undefined : index.id('group', group);
    const inGroup = group === '' || (groupId !== undefined && row.groups.includes(groupId));
    const stale = row.ownedGroups.filter((g) => g !== groupId);
    const now: Fields = {
      user,
      role: row.roleAssigned ? role : '',
      group: [...(group !== '' && inGroup ? [group] : []), ...stale.map(groupLabel)].join(', '),
    };
    const after: Fields = { user, role, group };
    const base = { dn: desired.dn, sourceDigest: desired.sourceDigest };
    if (row.status === 1) {
      change(row, desired.key, refs, {
        ...base,
        action: 'unsuspend',
        before: { ...now, status: 1 },
        after: { ...after, status: 0 },
        reason: "back in the cohort: Moodle's sync makes the enrolment active again",
      });
    } else if (!row.roleAssigned || !inGroup || stale.length > 0) {
      change(row, desired.key, refs, {
        ...base,
        action: 'update',
        before: now,
        after,
        reason: "the method's role or group membership is missing: Moodle's sync gives them back",
      });
    }
  };

  const removed = (
    row: CohortEnrolmentRow,
    method: string,
    user: string,
    refs: Readonly<Record<string, ObjectRef>>,
    disabled = false,
  ) => {
    const of = disabled ? ', from the disabled method: Moodle unenrols whatever its status' : '';
    const key = pairKey(method, user);
    const role = roleOfMethod(method);
    const now: Fields = {
      user,
      role: row.roleAssigned ? role : '',
      group: row.ownedGroups.map(groupLabel).join(', '),
    };
    if (row.id === null || row.status === null) {
      change(row, key, refs, {
        action: 'delete',
        before: { ...now, role: row.ownedRoles > 0 ? role : '' },
        after: {},
        reason: "rows of the method for a user it does not enrol: Moodle's cohort sync deletes them",
      });
      return;
    }
    if ('problem' in resolved) return;
    if (resolved.policy === 'unenrol') {
      change(row, key, refs, {
        action: 'delete',
        before: { ...now, status: row.status },
        after: {},
        reason: `no longer in the cohort (enrol_cohort unenrolaction 0: unenrol${of})`,
      });
    } else if (row.status === 0 || row.ownedRoles > 0) {
      change(row, key, refs, {
        action: row.status === 0 ? 'suspend' : 'update',
        before: { ...now, status: row.status },
        after: { ...now, role: '', status: 1 },
        reason: `no longer in the cohort (enrol_cohort unenrolaction 3: suspend and remove roles${of})`,
      });
    }
  };

  for (const row of input.current) {
    // A method without key (course or cohort without idnumber) cannot be the tool's.
    const method = index.key('cohort_enrol', row.enrolid);
    if (method === undefined) continue;
    const userKey = index.key('user', row.userid);
    const user = userKey ?? `#${row.userid}`;
    const key = pairKey(method, user);
    if (row.id !== null) enrolled.add(key);
    const refs: Record<string, ObjectRef> = { method: { entity: 'cohort_enrol', key: method } };
    if (userKey !== undefined) refs.user = { entity: 'user', key: userKey };
    const desired = desiredByKey.get(key);
    if (desired !== undefined) {
      if (row.id === null) continue; // created below, with the rows it already has
      kept(row, desired, user, refs);
      continue;
    }
    if (synced(method)) {
      inUse = true;
      removed(row, method, user, refs);
      continue;
    }
    // A method of the tool's the rules no longer ask for, still in Moodle after this plan.
    const after = methodsAfter?.get(method);
    if (!owned('cohort_enrol', method) || after === undefined || membersAfter === undefined) continue;
    const disabled = after.status !== STATUS_ENABLED;
    if (row.id === null || !membersAfter.has(pairKey(after.cohort, user))) {
      inUse = true;
      removed(row, method, user, refs, disabled);
    } else if (disabled && row.ownedRoles > 0) {
      inUse = true;
      if ('problem' in resolved) continue;
      const now: Fields = { user, role: roleOfMethod(method), group: row.ownedGroups.map(groupLabel).join(', ') };
      change(row, key, refs, {
        action: 'update',
        before: now,
        after: { ...now, role: '' },
        reason: `the method is disabled: Moodle's cohort sync removes the roles of a disabled method (enrol_cohort unenrolaction ${options.unenrolAction?.trim() || '0'})`,
      });
    }
  }

  for (const desired of input.desired) {
    if (!enrolled.has(desired.key)) changes.push(createChange('cohort_enrolment', desired));
  }

  const conflicts: Conflict[] =
    inUse && 'problem' in resolved ? [{ path: '/enrolments/cohorts/onMemberRemoved', message: resolved.problem }] : [];
  changes.sort(byKey);
  return { changes, conflicts, warnings: [] };
}

const keyOf = (row: CohortEnrolmentRow, index: CurrentIndex): string | null => {
  if (row.id === null) return null;
  const method = index.key('cohort_enrol', row.enrolid);
  const user = index.key('user', row.userid);
  return method === undefined || user === undefined ? null : pairKey(method, user);
};

/** The cohort enrolment entity of one run. */
export function cohortEnrolmentEntity(options: CohortEnrolmentOptions): Entity<CohortEnrolmentRow> {
  return {
    type: 'cohort_enrolment',
    // The enrolments the methods read before make (and the cohort members they should make).
    read: async (db, context) => ({
      rows: await readCohortEnrolments(db, context.index.ids('cohort_enrol'), context.budget),
      facts: undefined,
    }),
    identify: (row, { index }) => {
      const key = keyOf(row, index);
      return key === null || row.id === null ? null : { id: row.id, key };
    },
    diff: (input) => diffCohortEnrolments(input, options),
    recheck: (tx, planned, changes, budget, context) =>
      recheckCatalogued(
        'cohort_enrolment',
        tx,
        // Rows without id are members the sync has not enrolled yet: nothing to re-read.
        planned.flatMap((row) => (row.id === null ? [] : [{ ...row, id: row.id }])),
        changes,
        budget,
        context,
      ),
    write: (tx, context, changes) => writeCohortEnrolmentChanges(tx, context, changes),
  };
}
