/**
 * Reads the cohorts of the site (all of them: their idnumbers are not unique in the schema, so the planner
 * must see every holder of a key) and the members of chosen cohorts. A cohort lives in the system context or
 * in a category's (level 40); which one is found here in code from the context rows.
 */
import { selectIn } from './batches.js';
import type { Queryable } from './database.js';
import { CONTEXT_CATEGORY, typedRows } from './read-categories.js';

export interface MoodleCohortRow {
  readonly id: number;
  readonly contextid: number;
  readonly name: string;
  /** Nullable in the schema. */
  readonly idnumber: string | null;
  /** Non-empty: the cohort is owned by a plugin (read-only in Moodle's UI). */
  readonly component: string;
  readonly visible: number;
  readonly description: string | null;
  /** Level of its context (10 system, 40 category); null when the context row is missing. */
  readonly contextLevel: number | null;
  /** The category whose context holds the cohort; null for the system context (or any other). */
  readonly categoryId: number | null;
}

export interface MoodleCohortMemberRow {
  readonly id: number;
  readonly cohortid: number;
  readonly userid: number;
}

const COHORT_KINDS = {
  id: 'number',
  contextid: 'number',
  name: 'string',
  idnumber: 'string?',
  component: 'string',
  visible: 'number',
  description: 'string?',
} as const;

/** Statement size for the context ids: small enough for any server's packet limit, large enough for one. */
const SMALL_BUDGET = 256 * 1024;

export async function readCohorts(db: Queryable): Promise<MoodleCohortRow[]> {
  const cohorts = typedRows<Omit<MoodleCohortRow, 'contextLevel' | 'categoryId'>>(
    'cohort',
    await db.query(`SELECT ${Object.keys(COHORT_KINDS).join(', ')} FROM {cohort} ORDER BY id`),
    COHORT_KINDS,
  );
  if (cohorts.length === 0) return [];
  // Cohorts sit in few contexts (system, a category each): read those, by id.
  const contextIds = [...new Set(cohorts.map((c) => c.contextid))];
  const contexts = typedRows<{ id: number; contextlevel: number; instanceid: number }>(
    'context',
    await selectIn(
      db,
      (list) => `SELECT id, contextlevel, instanceid FROM {context} WHERE id IN (${list})`,
      [],
      contextIds,
      SMALL_BUDGET,
    ),
    { id: 'number', contextlevel: 'number', instanceid: 'number' },
  );
  const byId = new Map(contexts.map((c) => [c.id, c]));
  return cohorts.map((cohort) => {
    const context = byId.get(cohort.contextid);
    return {
      ...cohort,
      contextLevel: context?.contextlevel ?? null,
      categoryId: context?.contextlevel === CONTEXT_CATEGORY ? context.instanceid : null,
    };
  });
}

/** The members of these cohorts only, in id order. */
export async function readCohortMembers(
  db: Queryable,
  cohortIds: readonly number[],
  budget: number,
): Promise<MoodleCohortMemberRow[]> {
  const rows = await selectIn(
    db,
    (list) => `SELECT id, cohortid, userid FROM {cohort_members} WHERE cohortid IN (${list})`,
    [],
    [...new Set(cohortIds)],
    budget,
  );
  return typedRows<MoodleCohortMemberRow>('cohort_members', rows, {
    id: 'number',
    cohortid: 'number',
    userid: 'number',
  }).sort((a, b) => a.id - b.id);
}
