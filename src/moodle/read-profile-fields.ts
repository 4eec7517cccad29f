/**
 * Reads custom user profile fields (user_info_field), their categories (user_info_category) and the values
 * of chosen fields (user_info_data). Fields are few (one row per field of the site): read whole; values are
 * many: read only those of the fields the spec manages.
 */
import { selectIn } from './batches.js';
import type { Queryable } from './database.js';
import { typedRows } from './read-categories.js';

export interface MoodleProfileCategoryRow {
  readonly id: number;
  readonly name: string;
  readonly sortorder: number;
}

export interface MoodleProfileFieldRow {
  readonly id: number;
  readonly shortname: string;
  readonly name: string;
  readonly datatype: string;
  readonly categoryid: number;
  readonly sortorder: number;
  readonly locked: number;
  /** 0 none, 1 private (the user), 2 everyone, 3 teachers. */
  readonly visible: number;
  readonly required: number;
  readonly forceunique: number;
  readonly signup: number;
  /** For text fields: display size, maximum length, password flag (as text, as Moodle stores them). */
  readonly param1: string | null;
  readonly param2: string | null;
  readonly param3: string | null;
}

export interface MoodleProfileFields {
  readonly categories: readonly MoodleProfileCategoryRow[];
  readonly fields: readonly MoodleProfileFieldRow[];
}

export interface MoodleProfileDataRow {
  readonly id: number;
  readonly userid: number;
  readonly fieldid: number;
  readonly data: string;
}

const FIELD_KINDS = {
  id: 'number',
  shortname: 'string',
  name: 'string',
  datatype: 'string',
  categoryid: 'number',
  sortorder: 'number',
  locked: 'number',
  visible: 'number',
  required: 'number',
  forceunique: 'number',
  signup: 'number',
  param1: 'string?',
  param2: 'string?',
  param3: 'string?',
} as const;

export async function readProfileFields(db: Queryable): Promise<MoodleProfileFields> {
  const categories = typedRows<MoodleProfileCategoryRow>(
    'user_info_category',
    await db.query('SELECT id, name, sortorder FROM {user_info_category} ORDER BY sortorder, id'),
    { id: 'number', name: 'string', sortorder: 'number' },
  );
  const fields = typedRows<MoodleProfileFieldRow>(
    'user_info_field',
    await db.query(`SELECT ${Object.keys(FIELD_KINDS).join(', ')} FROM {user_info_field} ORDER BY id`),
    FIELD_KINDS,
  );
  return { categories, fields };
}

/** The values of these fields, every user, in id order. */
export async function readProfileData(
  db: Queryable,
  fieldIds: readonly number[],
  budget: number,
): Promise<MoodleProfileDataRow[]> {
  const rows = await selectIn(
    db,
    (list) => `SELECT id, userid, fieldid, data FROM {user_info_data} WHERE fieldid IN (${list})`,
    [],
    [...new Set(fieldIds)],
    budget,
  );
  return typedRows<MoodleProfileDataRow>('user_info_data', rows, {
    id: 'number',
    userid: 'number',
    fieldid: 'number',
    data: 'string',
  }).sort((a, b) => a.id - b.id);
}
