/**
 * Cohort memberships, keyed `<cohort key>/<user key>`. They have no state of their own: the tool owns the
 * members of the cohorts it owns (managed, or created/adopted by this plan), and only those. Members of any
 * other cohort are never touched, even when the directory no longer lists the person.
 */
import type { Change } from '../model/change.js';
import { addressOf, pairKey } from '../model/change.js';
import type { CurrentIndex } from '../model/current.js';
import type { MoodleCohortMemberRow } from '../moodle/read-cohorts.js';
import { readCohortMembers } from '../moodle/read-cohorts.js';
import { writeCohortMemberChanges } from '../moodle/write-cohorts.js';
import type { DiffInput, Entity, EntityDiff } from './entity.js';
import { byKey } from './entity.js';
import { createChange } from './keyed-diff.js';
import { recheckCatalogued } from './recheck.js';

export type CohortMemberRow = MoodleCohortMemberRow;

/** The pure membership diff. */
export function diffCohortMembers(input: DiffInput<CohortMemberRow>): EntityDiff {
  const { index, owned, wanted } = input;
  // Members are removed only from cohorts the tool owns and still syncs (a kept cohort keeps its members).
  const synced = (cohort: string): boolean => owned('cohort', cohort) && wanted('cohort', cohort);
  const desiredKeys = new Set(input.desired.map((d) => d.key));
  const present = new Set<string>();
  const changes: Change[] = [];

  const remove = (row: CohortMemberRow, cohort: string, user: string, key: string, reason: string): void => {
    changes.push({
      entity: 'cohort_member',
      address: addressOf('cohort_member', key),
      action: 'delete',
      key,
      moodleId: row.id,
      dn: null,
      before: { cohort, user },
      after: {},
      sourceDigest: null,
      reason,
    });
  };

  for (const row of input.current) {
    const cohort = index.key('cohort', row.cohortid);
    // A cohort without idnumber cannot be the tool's.
    if (cohort === undefined) continue;
    const user = index.key('user', row.userid);
    if (user === undefined) {
      // A deleted (or foreign) account: its membership means nothing to the tool's cohort.
      if (synced(cohort)) {
        const label = `#${row.userid}`;
        remove(row, cohort, label, pairKey(cohort, label), `Moodle user id ${row.userid} is deleted or unknown`);
      }
      continue;
    }
    const key = pairKey(cohort, user);
    present.add(key);
    if (!desiredKeys.has(key) && synced(cohort)) {
      remove(row, cohort, user, key, 'no longer in the directory');
    }
  }

  for (const desired of input.desired) {
    if (present.has(desired.key)) continue;
    changes.push(createChange('cohort_member', desired));
  }

  changes.sort(byKey);
  return { changes, conflicts: [], warnings: [], products: { cohortMembersAfter: membersAfter(input, changes) } };
}

/** The memberships Moodle holds after these changes (what the cohort sync then compares enrolments with). */
function membersAfter(input: DiffInput<CohortMemberRow>, changes: readonly Change[]): Set<string> {
  const after = new Set<string>();
  for (const row of input.current) {
    const cohort = input.index.key('cohort', row.cohortid);
    if (cohort !== undefined) after.add(pairKey(cohort, input.index.key('user', row.userid) ?? `#${row.userid}`));
  }
  for (const change of changes) {
    if (change.action === 'delete') after.delete(change.key);
    if (change.action === 'create') after.add(change.key);
  }
  return after;
}

const keyOf = (row: CohortMemberRow, index: CurrentIndex): string | null => {
  const cohort = index.key('cohort', row.cohortid);
  const user = index.key('user', row.userid);
  return cohort === undefined || user === undefined ? null : pairKey(cohort, user);
};

/** The cohort member entity of one run. */
export function cohortMemberEntity(): Entity<CohortMemberRow> {
  return {
    type: 'cohort_member',
    // The members of the cohorts read before.
    read: async (db, context) => ({
      rows: await readCohortMembers(db, context.index.ids('cohort'), context.budget),
      facts: undefined,
    }),
    identify: (row, { index }) => {
      const key = keyOf(row, index);
      return key === null ? null : { id: row.id, key };
    },
    diff: (input) => diffCohortMembers(input),
    recheck: (tx, planned, changes, budget, context) =>
      recheckCatalogued('cohort_member', tx, planned, changes, budget, context),
    write: (tx, context, changes) => writeCohortMemberChanges(tx, context, changes),
  };
}
