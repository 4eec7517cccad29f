/**
 * Reads every course category with its context (level 40). The context is joined here in code, not in SQL:
 * the same plain SELECTs then mean the same thing on MariaDB, PostgreSQL and the embedded PGlite.
 * Nothing is compared in SQL (MariaDB's collation ignores case and accents): matching is the planner's job.
 */
import { InternalError } from '../errors.js';
import type { Queryable, Row } from './database.js';

export const CONTEXT_SYSTEM = 10;
export const CONTEXT_CATEGORY = 40;

export interface MoodleCategoryRow {
  readonly id: number;
  readonly name: string;
  /** NULL on categories made without one (Category 1 of a fresh site). */
  readonly idnumber: string | null;
  readonly description: string | null;
  /** 0 for a top-level category. */
  readonly parent: number;
  /** Category ids from the top: `/2/3`. */
  readonly path: string;
  readonly depth: number;
  readonly sortorder: number;
  readonly visible: number;
  /** Its context (level 40); null when Moodle has not created it (it does so lazily). */
  readonly contextId: number | null;
  readonly contextPath: string | null;
}

/** How each column of a row must come back: the dialects promise numbers for integer columns. */
export type ColumnKinds = Readonly<Record<string, 'number' | 'string' | 'string?' | 'number?'>>;

/**
 * Checks that every row has the types `kinds` says (a surprise is a bug of a dialect, not bad data) and
 * returns the rows typed as `T`.
 */
export function typedRows<T>(table: string, rows: readonly Row[], kinds: ColumnKinds): T[] {
  for (const row of rows) {
    for (const [column, kind] of Object.entries(kinds)) {
      const value = row[column];
      const nullable = kind.endsWith('?');
      if (nullable && value === null) continue;
      if (typeof value !== kind.replace('?', '')) {
        throw new InternalError(
          `${table} row ${String(row.id)}: column ${column} came back as ${value === null ? 'null' : typeof value}`,
        );
      }
    }
  }
  return rows as unknown as T[];
}

const CATEGORY_KINDS: ColumnKinds = {
  id: 'number',
  name: 'string',
  idnumber: 'string?',
  description: 'string?',
  parent: 'number',
  path: 'string',
  depth: 'number',
  sortorder: 'number',
  visible: 'number',
};

interface ContextRow {
  readonly id: number;
  readonly instanceid: number;
  readonly path: string | null;
}

export async function readCategories(db: Queryable): Promise<MoodleCategoryRow[]> {
  const categories = typedRows<Omit<MoodleCategoryRow, 'contextId' | 'contextPath'>>(
    'course_categories',
    await db.query(`SELECT ${Object.keys(CATEGORY_KINDS).join(', ')} FROM {course_categories} ORDER BY id`),
    CATEGORY_KINDS,
  );
  const contexts = typedRows<ContextRow>(
    'context',
    await db.query('SELECT id, instanceid, path FROM {context} WHERE contextlevel = ? ORDER BY id', [CONTEXT_CATEGORY]),
    { id: 'number', instanceid: 'number', path: 'string?' },
  );
  const byCategory = new Map(contexts.map((c) => [c.instanceid, c]));
  return categories.map((category) => {
    const context = byCategory.get(category.id);
    return { ...category, contextId: context?.id ?? null, contextPath: context?.path ?? null };
  });
}
