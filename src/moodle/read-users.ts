/**
 * Reads every user of this site (all of `mnethostid = mnet_localhost_id`, deleted ones included, since the
 * unique key (mnethostid, username) covers them too) in one query. Nothing is compared in SQL: MariaDB's
 * collation ignores case, accents and trailing spaces, so matching is the planner's job, in code.
 */
import { InternalError } from '../errors.js';
import type { Queryable } from './database.js';
import type { MoodleSite } from './site.js';

export interface MoodleUserRow {
  readonly id: number;
  readonly username: string;
  readonly idnumber: string;
  readonly auth: string;
  /** 0 or 1. */
  readonly deleted: number;
  /** 0 or 1. */
  readonly suspended: number;
  readonly firstname: string;
  readonly lastname: string;
  readonly email: string;
  /** Nullable in Moodle's schema: NULL and '' are kept apart so that no write is planned for nothing. */
  readonly middlename: string | null;
  readonly alternatename: string | null;
  readonly institution: string;
  readonly department: string;
  readonly city: string;
  readonly country: string;
  readonly timemodified: number;
}

const NUMBER_COLUMNS = ['id', 'deleted', 'suspended', 'timemodified'] as const;
const STRING_COLUMNS = [
  'username',
  'idnumber',
  'auth',
  'firstname',
  'lastname',
  'email',
  'institution',
  'department',
  'city',
  'country',
] as const;
const NULLABLE_COLUMNS = ['middlename', 'alternatename'] as const;
const COLUMNS = [...NUMBER_COLUMNS, ...STRING_COLUMNS, ...NULLABLE_COLUMNS];

export async function readUsers(db: Queryable, site: MoodleSite): Promise<MoodleUserRow[]> {
  const rows = await db.query(`SELECT ${COLUMNS.join(', ')} FROM {user} WHERE mnethostid = ? ORDER BY id`, [
    site.mnetLocalhostId,
  ]);
  for (const row of rows) checkRow(row);
  return rows as unknown as MoodleUserRow[];
}

/** The dialect promises numbers for integer columns; a surprise here is a bug, not bad data. */
function checkRow(row: Record<string, unknown>): void {
  const bad =
    NUMBER_COLUMNS.find((c) => typeof row[c] !== 'number') ??
    STRING_COLUMNS.find((c) => typeof row[c] !== 'string') ??
    NULLABLE_COLUMNS.find((c) => row[c] !== null && typeof row[c] !== 'string');
  if (bad !== undefined) {
    throw new InternalError(`user row ${String(row.id)}: column ${bad} came back as ${typeof row[bad]}`);
  }
}
