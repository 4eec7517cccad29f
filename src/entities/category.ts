/**
 * The course category entity, keyed by idnumber. Categories are created and renamed, never moved (a move
 * rewrites the paths of every context below it: left to Moodle) and never deleted (courses live in them).
 */
import type { DesiredObject } from '../model/desired.js';
import type { MoodleCategoryRow } from '../moodle/read-categories.js';
import { readCategories } from '../moodle/read-categories.js';
import { writeCategoryChanges } from '../moodle/write-categories.js';
import type { DiffInput, Entity, EntityDiff } from './entity.js';
import type { KeyedDiffSpec } from './keyed-diff.js';
import { diffKeyed } from './keyed-diff.js';
import { recheckCatalogued } from './recheck.js';

export type CategoryRow = MoodleCategoryRow;

export interface CategoryOptions {
  /** `categories.adopt`. */
  readonly adopt: 'never' | 'matching';
}

const keyOf = (row: CategoryRow): string | null => (row.idnumber ? row.idnumber : null);

export const describeCategory = (row: CategoryRow): string =>
  `Moodle category id ${row.id} "${row.name}" (idnumber ${row.idnumber})`;

const parentKey = (desired: DesiredObject): string | undefined => desired.refs?.parent?.key;

/** The pure category diff. */
export function diffCategories(input: DiffInput<CategoryRow>, options: CategoryOptions): EntityDiff {
  const desiredByKey = new Map(input.desired.map((d) => [d.key, d]));
  const rowsByKey = new Map<string, CategoryRow[]>();
  for (const row of input.current) {
    const key = keyOf(row);
    if (key !== null) rowsByKey.set(key, [...(rowsByKey.get(key) ?? []), row]);
  }
  const byId = new Map(input.current.map((row) => [row.id, row]));

  /** Why the parent cannot be resolved, or null. */
  const parentProblem = (desired: DesiredObject): string | null => {
    const key = parentKey(desired);
    if (key === undefined) return null;
    // Parents to create that loop could be created in no order (one already in Moodle ends the chain).
    const chain = [desired.key];
    for (let at = desiredByKey.get(key); at !== undefined; at = desiredByKey.get(parentKey(at) ?? '')) {
      const looped = chain.includes(at.key);
      chain.push(at.key);
      if (looped) return `category parents loop: ${chain.map((k) => `"${k}"`).join(' → ')}`;
      if ((rowsByKey.get(at.key) ?? []).length > 0) break;
    }
    const rows = rowsByKey.get(key) ?? [];
    if (rows.length > 1) {
      return `parent category "${key}" is held by several Moodle categories (${rows.map(describeCategory).join(', ')}); make its idnumber unique in Moodle first`;
    }
    if (rows.length === 0 && !desiredByKey.has(key)) {
      return `parent category "${key}" is neither produced by the rules nor in Moodle`;
    }
    return null;
  };

  const where = (parent: number): string => {
    if (parent === 0) return 'at the top level';
    const row = byId.get(parent);
    return row === undefined ? `under category id ${parent}` : `under "${row.idnumber || row.name}"`;
  };

  const spec: KeyedDiffSpec<CategoryRow> = {
    entity: 'category',
    keyOf,
    describe: describeCategory,
    compared: ['name', 'description'],
    adopt: options.adopt,
    checkCreate: parentProblem,
    checkExisting: (desired, row) => {
      const problem = parentProblem(desired);
      if (problem !== null) return problem;
      const key = parentKey(desired);
      const expected = key === undefined ? 0 : rowsByKey.get(key)?.[0]?.id;
      if (expected === row.parent) return null;
      return (
        `${describeCategory(row)} is ${where(row.parent)} in Moodle, the rules put it ${key === undefined ? 'at the top level' : `under "${key}"`}: ` +
        'moving categories is not supported; move it in Moodle first'
      );
    },
    removed: (managed, row) => ({
      warning: `${managed.address}: no longer produced by the rules; ${describeCategory(row)} stays as it is (categories are never deleted: courses live in them)`,
    }),
  };
  return diffKeyed(input, spec);
}

/** The category entity of one run. */
export function categoryEntity(options: CategoryOptions): Entity<CategoryRow> {
  return {
    type: 'category',
    read: async (db) => ({ rows: await readCategories(db), facts: undefined }),
    identify: (row) => {
      const key = keyOf(row);
      return key === null ? null : { id: row.id, key };
    },
    diff: (input) => diffCategories(input, options),
    recheck: (tx, planned, changes, budget, context) =>
      recheckCatalogued('category', tx, planned, changes, budget, context),
    write: (tx, context, changes) => writeCategoryChanges(tx, context, changes),
  };
}
