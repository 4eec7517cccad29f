/**
 * The cohort entity, keyed by idnumber. A cohort lives in the system context or in a category's context; its
 * `component` is the ownership marker Moodle's UI shows (members not editable by hand). A managed cohort the
 * rules no longer produce is released (component cleared, members kept), deleted, or kept: `cohorts.onRemoved`.
 */
import type { DesiredObject } from '../model/desired.js';
import { CONTEXT_SYSTEM } from '../moodle/read-categories.js';
import type { MoodleCohortRow } from '../moodle/read-cohorts.js';
import { readCohorts } from '../moodle/read-cohorts.js';
import { writeCohortChanges } from '../moodle/write-cohorts.js';
import type { DiffInput, Entity, EntityDiff } from './entity.js';
import type { ExtraDelta, Removal } from './keyed-diff.js';
import { columnValues, diffKeyed } from './keyed-diff.js';
import { recheckCatalogued } from './recheck.js';

export type CohortRow = MoodleCohortRow;

export type CohortOnRemoved = 'release' | 'delete' | 'keep';

export interface CohortOptions {
  /** `cohorts.adopt`. */
  readonly adopt: 'never' | 'matching';
  /** `cohorts.onRemoved`. */
  readonly onRemoved: CohortOnRemoved;
}

/** `context` of a move to the system context (what the cohort writer reads). */
const SYSTEM = 'system';

/** Columns the rules set (the context aside). */
const COMPARED = ['name', 'component', 'description', 'visible'] as const;

const keyOf = (row: CohortRow): string | null => (row.idnumber ? row.idnumber : null);

export const describeCohort = (row: CohortRow): string =>
  `Moodle cohort id ${row.id} "${row.name}" (idnumber ${row.idnumber})`;

/** The pure cohort diff. */
export function diffCohorts(input: DiffInput<CohortRow>, options: CohortOptions): EntityDiff {
  const { index, owned } = input;

  const categoryProblem = (desired: DesiredObject): string | null => {
    const key = desired.refs?.category?.key;
    if (key === undefined || index.id('category', key) !== undefined || owned('category', key)) return null;
    return `the category of cohort "${desired.key}", "${key}", is neither produced by the rules nor in Moodle`;
  };

  /** Where the row lives now, as `context` reads in the plan: `system`, `category <key>`. */
  const currentContext = (row: CohortRow): string => {
    if (row.categoryId !== null) {
      const key = index.key('category', row.categoryId);
      return key === undefined ? `category id ${row.categoryId}` : `category ${key}`;
    }
    return row.contextLevel === CONTEXT_SYSTEM ? SYSTEM : `context id ${row.contextid}`;
  };

  const context = (desired: DesiredObject, row: CohortRow): string | ExtraDelta | null => {
    const problem = categoryProblem(desired);
    if (problem !== null) return problem;
    const ref = desired.refs?.category;
    const target = ref === undefined ? null : index.id('category', ref.key);
    // undefined: the category is created by this plan, so the cohort cannot be in it yet.
    if (target === null ? row.contextLevel === CONTEXT_SYSTEM : target === row.categoryId) return null;
    // The writer moves the cohort to refs.category's context, or to the system one on `context: system`.
    return {
      before: { context: currentContext(row) },
      after: { context: ref === undefined ? SYSTEM : `category ${ref.key}` },
      ...(ref === undefined ? {} : { refs: { category: ref } }),
    };
  };

  const removed = (_: unknown, row: CohortRow): Removal => {
    const reason = `no longer in the directory (cohorts.onRemoved: ${options.onRemoved})`;
    switch (options.onRemoved) {
      case 'keep':
        return {};
      case 'release':
        return {
          change: { action: 'release', before: { component: row.component }, after: { component: '' }, reason },
        };
      case 'delete':
        return {
          change: { action: 'delete', before: columnValues(row, ['idnumber', ...COMPARED]), after: {}, reason },
        };
    }
  };

  return diffKeyed(input, {
    entity: 'cohort',
    keyOf,
    describe: describeCohort,
    compared: COMPARED,
    adopt: options.adopt,
    checkCreate: categoryProblem,
    checkExisting: context,
    removed,
  });
}

/** The cohort entity of one run. */
export function cohortEntity(options: CohortOptions): Entity<CohortRow> {
  return {
    type: 'cohort',
    read: async (db) => ({ rows: await readCohorts(db), facts: undefined }),
    identify: (row) => {
      const key = keyOf(row);
      return key === null ? null : { id: row.id, key };
    },
    diff: (input) => diffCohorts(input, options),
    recheck: (tx, planned, changes, budget, context) =>
      recheckCatalogued('cohort', tx, planned, changes, budget, context),
    write: (tx, context, changes) => writeCohortChanges(tx, context, changes),
  };
}
