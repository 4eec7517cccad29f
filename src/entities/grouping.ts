/**
 * Groupings, keyed `<course key>/<grouping idnumber>` and planned as groups are (group.ts), and the groups
 * they hold (`grouping_group`, keyed `<grouping key>/<group idnumber>`). Those links have no state of their
 * own: the tool owns the links of the groupings it owns and still syncs, and only those, as it owns the
 * members of its cohorts.
 */
import type { Change } from '../model/change.js';
import { addressOf, pairKey } from '../model/change.js';
import type { CurrentIndex } from '../model/current.js';
import type { MoodleGroupingGroupRow, MoodleGroupingRow } from '../moodle/read-groups.js';
import { readGroupingGroups, readGroupings } from '../moodle/read-groups.js';
import { writeGroupingChanges, writeGroupingGroupChanges } from '../moodle/write-groups.js';
import type { DiffInput, Entity, EntityDiff } from './entity.js';
import { byKey } from './entity.js';
import type { GroupOptions } from './group.js';
import { courseScopedKey, diffCourseScoped } from './group.js';
import { createChange } from './keyed-diff.js';
import { recheckCatalogued } from './recheck.js';

export type GroupingRow = MoodleGroupingRow;
export type GroupingGroupRow = MoodleGroupingGroupRow;

/** `groupings.adopt`, `groupings.onRemoved` and the install's schema, as for groups. */
export type GroupingOptions = GroupOptions;

/** The pure grouping diff. */
export function diffGroupings(input: DiffInput<GroupingRow>, options: Pick<GroupingOptions, 'adopt' | 'onRemoved'>) {
  return diffCourseScoped(input, options, 'grouping');
}

/** The grouping entity of one run. */
export function groupingEntity(options: GroupingOptions): Entity<GroupingRow> {
  return {
    type: 'grouping',
    // The groupings of the courses read before.
    read: async (db, context) => ({
      rows: await readGroupings(db, context.index.ids('course'), context.budget),
      facts: undefined,
    }),
    identify: (row, { index }) => {
      const key = courseScopedKey(row, index);
      return key === null ? null : { id: row.id, key };
    },
    diff: (input) => diffGroupings(input, options),
    recheck: (tx, planned, changes, budget, context) =>
      recheckCatalogued('grouping', tx, planned, changes, budget, context),
    write: (tx, context, changes) => writeGroupingChanges(tx, context, changes, options.schema),
  };
}

// ---- groups of groupings ----------------------------------------------------------------------------------

/**
 * The key of a link: its grouping's key and the group's idnumber, when the group is one the tool can know (a
 * group with idnumber, of the grouping's own course); null otherwise.
 */
function linkKey(row: GroupingGroupRow, index: CurrentIndex): string | null {
  const grouping = index.key('grouping', row.groupingid);
  const group = index.key('group', row.groupid);
  if (grouping === undefined || group === undefined || row.groupidnumber === null) return null;
  if (row.groupcourse !== row.groupingcourse) return null;
  return pairKey(grouping, row.groupidnumber);
}

/** The pure diff of the groups in groupings. */
export function diffGroupingGroups(input: DiffInput<GroupingGroupRow>): EntityDiff {
  const { index, owned, wanted } = input;
  // Links are removed only from groupings the tool owns and still syncs (a kept grouping keeps its groups).
  const synced = (grouping: string): boolean => owned('grouping', grouping) && wanted('grouping', grouping);
  const desiredKeys = new Set(input.desired.map((d) => d.key));
  const present = new Set<string>();
  const changes: Change[] = [];

  const remove = (row: GroupingGroupRow, grouping: string, group: string, key: string, reason: string): void => {
    changes.push({
      entity: 'grouping_group',
      address: addressOf('grouping_group', key),
      action: 'delete',
      key,
      moodleId: row.id,
      dn: null,
      before: { grouping, group },
      after: {},
      sourceDigest: null,
      reason,
    });
  };

  for (const row of input.current) {
    const grouping = index.key('grouping', row.groupingid);
    if (grouping === undefined) continue;
    const key = linkKey(row, index);
    if (key === null) {
      // A group without idnumber, of another course, or gone: nothing the rules can ask for.
      if (synced(grouping)) {
        const label = `#${row.groupid}`;
        remove(
          row,
          grouping,
          label,
          pairKey(grouping, label),
          `Moodle group id ${row.groupid} is not one of its course's keyed groups`,
        );
      }
      continue;
    }
    if (present.has(key)) {
      // The same group twice in one grouping (no unique index): the extra link goes.
      if (synced(grouping))
        remove(row, grouping, index.key('group', row.groupid) ?? '', `${key}#${row.id}`, 'duplicate link');
      continue;
    }
    present.add(key);
    if (!desiredKeys.has(key) && synced(grouping)) {
      remove(row, grouping, index.key('group', row.groupid) ?? '', key, 'no longer in the directory');
    }
  }

  for (const desired of input.desired) {
    if (present.has(desired.key)) continue;
    changes.push(createChange('grouping_group', desired));
  }

  changes.sort(byKey);
  return { changes, conflicts: [], warnings: [] };
}

/** The grouping-group link entity of one run. */
export function groupingGroupEntity(): Entity<GroupingGroupRow> {
  return {
    type: 'grouping_group',
    // The links of the groupings read before.
    read: async (db, context) => ({
      rows: await readGroupingGroups(db, context.index.ids('grouping'), context.budget),
      facts: undefined,
    }),
    identify: (row, { index }) => {
      const key = linkKey(row, index);
      return key === null ? null : { id: row.id, key };
    },
    diff: (input) => diffGroupingGroups(input),
    recheck: (tx, planned, changes, budget, context) =>
      recheckCatalogued('grouping_group', tx, planned, changes, budget, context),
    write: (tx, context, changes) => writeGroupingGroupChanges(tx, context, changes),
  };
}
