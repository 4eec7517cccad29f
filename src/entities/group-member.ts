/**
 * Group memberships, keyed `<group key>/<user key>`. They have no state of their own: the tool owns the members
 * of the groups it owns and still syncs, and of those only the rows without a component (component '',
 * itemid 0: what groups_add_member() writes for a hand-made membership). Rows a plugin owns — `enrol_cohort`
 * fills the group of a cohort enrolment method — are that plugin's: never created, deleted or counted here,
 * though a desired member already present through one is satisfied (groups_members is unique per user and
 * group).
 */
import type { Change } from '../model/change.js';
import { addressOf, pairKey } from '../model/change.js';
import type { CurrentIndex } from '../model/current.js';
import type { MoodleGroupMemberRow } from '../moodle/read-groups.js';
import { readGroupMembers } from '../moodle/read-groups.js';
import { writeGroupMemberChanges } from '../moodle/write-group-members.js';
import type { DiffInput, Entity, EntityDiff } from './entity.js';
import { byKey } from './entity.js';
import { createChange } from './keyed-diff.js';
import { recheckCatalogued } from './recheck.js';

export type GroupMemberRow = MoodleGroupMemberRow;

/** A membership the tool may own: one no plugin claims. */
export const isPlainMember = (row: GroupMemberRow): boolean => row.component === '';

/** The pure membership diff. */
export function diffGroupMembers(input: DiffInput<GroupMemberRow>): EntityDiff {
  const { index, owned, wanted } = input;
  // Members are removed only from groups the tool owns and still syncs (a kept group keeps its members), and
  // whose rules give members: a group of a `members: false` rule (filled by a cohort sync, or by teachers) has
  // none desired, and the people added to it by hand stay, as Moodle's own sync would leave them.
  const withMembers = new Set(input.desired.map((d) => String(d.values.group)));
  const synced = (group: string): boolean => owned('group', group) && wanted('group', group) && withMembers.has(group);
  const desiredKeys = new Set(input.desired.map((d) => d.key));
  const present = new Set<string>();
  const changes: Change[] = [];

  const remove = (row: GroupMemberRow, group: string, user: string, key: string, reason: string): void => {
    changes.push({
      entity: 'group_member',
      address: addressOf('group_member', key),
      action: 'delete',
      key,
      moodleId: row.id,
      dn: null,
      before: { group, user },
      after: {},
      sourceDigest: null,
      reason,
    });
  };

  for (const row of input.current) {
    const group = index.key('group', row.groupid);
    // A group without idnumber (or of a course without key) cannot be the tool's.
    if (group === undefined) continue;
    const user = index.key('user', row.userid);
    if (!isPlainMember(row)) {
      // The plugin's row: it satisfies a desired member, and is left to the plugin.
      if (user !== undefined) present.add(pairKey(group, user));
      continue;
    }
    if (user === undefined) {
      // A deleted (or foreign) account: its membership means nothing to the tool's group.
      if (synced(group)) {
        const label = `#${row.userid}`;
        remove(row, group, label, pairKey(group, label), `Moodle user id ${row.userid} is deleted or unknown`);
      }
      continue;
    }
    const key = pairKey(group, user);
    present.add(key);
    if (!desiredKeys.has(key) && synced(group)) remove(row, group, user, key, 'no longer in the directory');
  }

  for (const desired of input.desired) {
    if (present.has(desired.key)) continue;
    changes.push(createChange('group_member', desired));
  }

  changes.sort(byKey);
  return { changes, conflicts: [], warnings: [] };
}

const keyOf = (row: GroupMemberRow, index: CurrentIndex): string | null => {
  const group = index.key('group', row.groupid);
  const user = index.key('user', row.userid);
  return group === undefined || user === undefined ? null : pairKey(group, user);
};

/** The group member entity of one run. */
export function groupMemberEntity(): Entity<GroupMemberRow> {
  return {
    type: 'group_member',
    // The members of the groups read before.
    read: async (db, context) => ({
      rows: await readGroupMembers(db, context.index.ids('group'), context.budget),
      facts: undefined,
    }),
    identify: (row, { index }) => {
      const key = keyOf(row, index);
      return key === null ? null : { id: row.id, key };
    },
    diff: (input) => diffGroupMembers(input),
    recheck: (tx, planned, changes, budget, context) =>
      recheckCatalogued('group_member', tx, planned, changes, budget, context),
    write: (tx, context, changes) => writeGroupMemberChanges(tx, context, changes),
  };
}
