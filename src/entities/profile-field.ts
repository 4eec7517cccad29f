/**
 * The custom profile field entity (user_info_field), keyed by shortname. Fields are created and kept in step
 * (name, locked, visible); a field the spec no longer lists stays, and so does its data.
 */
import type { MoodleProfileFieldRow } from '../moodle/read-profile-fields.js';
import { readProfileFields } from '../moodle/read-profile-fields.js';
import { writeProfileFieldChanges } from '../moodle/write-profile-fields.js';
import type { DiffInput, Entity, EntityDiff } from './entity.js';
import { diffKeyed } from './keyed-diff.js';
import { recheckCatalogued } from './recheck.js';

export type ProfileFieldRow = MoodleProfileFieldRow;

export interface ProfileFieldOptions {
  /** `profileFields.adopt`. */
  readonly adopt: 'never' | 'matching';
}

const keyOf = (row: ProfileFieldRow): string | null => (row.shortname ? row.shortname : null);

export const describeProfileField = (row: ProfileFieldRow): string =>
  `Moodle profile field id ${row.id} "${row.name}" (shortname ${row.shortname})`;

/** The pure profile field diff. */
export function diffProfileFields(input: DiffInput<ProfileFieldRow>, options: ProfileFieldOptions): EntityDiff {
  const result = diffKeyed(input, {
    entity: 'profile_field',
    keyOf,
    describe: describeProfileField,
    compared: ['name', 'locked', 'visible'],
    adopt: options.adopt,
    checkExisting: (desired, row) => {
      const datatype = String(desired.values.datatype ?? 'text');
      // Text is all the tool writes: filling a menu or a checkbox field with directory text would corrupt it.
      return row.datatype === datatype
        ? null
        : `${describeProfileField(row)} is a "${row.datatype}" field; ldap2moodle fills "${datatype}" fields only: rename one of them`;
    },
    removed: (managed, row) => ({
      warning: `${managed.address}: no longer in profileFields; ${describeProfileField(row)} and its data stay as they are`,
    }),
  });
  // Listed (and so created, one sortorder after the other) in the spec's order: the order Moodle shows them in.
  const position = new Map(input.desired.map((d, i) => [d.key, i]));
  const at = (key: string) => position.get(key) ?? input.desired.length;
  const changes = [...result.changes].sort(
    (a, b) => at(a.key) - at(b.key) || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0),
  );
  return { ...result, changes };
}

/** The profile field entity of one run. */
export function profileFieldEntity(options: ProfileFieldOptions): Entity<ProfileFieldRow> {
  return {
    type: 'profile_field',
    read: async (db) => ({ rows: (await readProfileFields(db)).fields, facts: undefined }),
    identify: (row) => {
      const key = keyOf(row);
      return key === null ? null : { id: row.id, key };
    },
    diff: (input) => diffProfileFields(input, options),
    recheck: (tx, planned, changes, budget, context) =>
      recheckCatalogued('profile_field', tx, planned, changes, budget, context),
    write: (tx, context, changes) => writeProfileFieldChanges(tx, context, changes),
  };
}
