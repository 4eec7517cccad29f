/**
 * Profile field values (user_info_data), keyed `<shortname>/<user key>`. They have no state of their own: the
 * tool owns the data of the fields it owns and the spec lists, for the users it syncs. An empty directory value
 * is no desired object (the rules drop it), so a stored value then goes. Values of other fields, and of users
 * the tool does not sync, are never touched; nor is the data of a field the spec dropped (the field stays).
 */
import type { Change } from '../model/change.js';
import { addressOf, pairKey } from '../model/change.js';
import type { DesiredObject } from '../model/desired.js';
import type { MoodleProfileDataRow } from '../moodle/read-profile-fields.js';
import { readProfileData } from '../moodle/read-profile-fields.js';
import { writeProfileDataChanges } from '../moodle/write-profile-fields.js';
import type { DiffInput, Entity, EntityDiff } from './entity.js';
import { byKey } from './entity.js';
import { createChange } from './keyed-diff.js';
import { recheckCatalogued } from './recheck.js';

export type ProfileDataRow = MoodleProfileDataRow;

export interface ProfileDataOptions {
  /** Shortnames of the fields the spec lists (enabled): only their data is read and kept in step. */
  readonly fields: readonly string[];
}

/** The pure profile data diff. */
export function diffProfileData(input: DiffInput<ProfileDataRow>, options: ProfileDataOptions): EntityDiff {
  const { index, owned, wanted } = input;
  const listed = new Set(options.fields);
  const desiredByKey = new Map<string, DesiredObject>(input.desired.map((d) => [d.key, d]));
  const usersWithData = new Set(input.desired.flatMap((d) => (d.refs?.user === undefined ? [] : [d.refs.user.key])));
  const present = new Set<string>();
  const changes: Change[] = [];

  for (const row of input.current) {
    const field = index.key('profile_field', row.fieldid);
    const user = index.key('user', row.userid);
    if (field === undefined || user === undefined) continue;
    const key = pairKey(field, user);
    present.add(key);
    const address = addressOf('profile_data', key);
    const desired = desiredByKey.get(key);
    if (desired !== undefined) {
      const data = String(desired.values.data ?? '');
      if (data === (row.data ?? '')) continue;
      changes.push({
        entity: 'profile_data',
        address,
        action: 'update',
        key,
        moodleId: row.id,
        dn: desired.dn,
        before: { data: row.data ?? '' },
        after: { data },
        sourceDigest: desired.sourceDigest,
        reason: 'directory value differs from Moodle',
      });
      continue;
    }
    // A user synced in this run without a value for a field the tool owns: the value went empty. Users who
    // left the directory keep their last values.
    const synced = usersWithData.has(user) || wanted('user', user);
    if (!synced || !listed.has(field) || !owned('profile_field', field)) continue;
    changes.push({
      entity: 'profile_data',
      address,
      action: 'delete',
      key,
      moodleId: row.id,
      dn: null,
      before: { data: row.data ?? '' },
      after: {},
      sourceDigest: null,
      reason: 'no value in the directory any more',
    });
  }

  for (const desired of input.desired) {
    if (present.has(desired.key)) continue;
    changes.push(createChange('profile_data', desired));
  }

  changes.sort(byKey);
  return { changes, conflicts: [], warnings: [] };
}

/** The profile data entity of one run. */
export function profileDataEntity(options: ProfileDataOptions): Entity<ProfileDataRow> {
  return {
    type: 'profile_data',
    read: async (db, context) => {
      // The values of the fields read before, for the users read before.
      const ids = options.fields.flatMap((shortname) => context.index.id('profile_field', shortname) ?? []);
      return { rows: await readProfileData(db, ids, context.budget), facts: undefined };
    },
    identify: (row, { index }) => {
      const field = index.key('profile_field', row.fieldid);
      const user = index.key('user', row.userid);
      return field === undefined || user === undefined ? null : { id: row.id, key: pairKey(field, user) };
    },
    diff: (input) => diffProfileData(input, options),
    recheck: (tx, planned, changes, budget, context) =>
      recheckCatalogued('profile_data', tx, planned, changes, budget, context),
    write: (tx, context, changes) => writeProfileDataChanges(tx, context, changes),
  };
}
