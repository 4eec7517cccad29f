/**
 * A fresh Moodle on one target with the tool's own `MoodleDatabase` open on it, for tests that call the
 * writers directly (inside `db.transaction`) rather than through a whole apply; and the reference-row symbols
 * of the entities beyond users (categories, profile fields and values, cohorts, members), which
 * reference-rows.ts leaves for each entity to add.
 *
 * Assertions read through the target's own connection on the servers (independent of the code under test);
 * the embedded Moodle admits one connection, so there they read through the opened database.
 */

import type { Change, EntityType, Fields, ObjectRef } from '../../src/model/change.js';
import { addressOf } from '../../src/model/change.js';
import { openMoodle } from '../../src/moodle/connect.js';
import type { MoodleConnectionOptions, MoodleDatabase, Queryable } from '../../src/moodle/database.js';
import { EmbeddedDatabase } from '../../src/moodle/dialects/embedded.js';
import { readSite } from '../../src/moodle/site.js';
import { ObjectIds, type WriteContext } from '../../src/moodle/write-context.js';
import {
  diffSnapshots,
  ID_COLUMNS,
  PATH_COLUMNS,
  type RefRow,
  type RefUpdate,
  type RefValue,
  referenceStep,
  type Snapshot,
  snapshotTables,
  type TableWrites,
  type Writes,
} from './reference-rows.js';
import type { Row, SqlParam, SqlReader } from './target-sql.js';
import { createTarget, type Target, type TargetName } from './targets.js';

export interface WriterSite {
  readonly t: Target;
  readonly db: MoodleDatabase;
  /** Reads for assertions (snapshots, integrity, rows). */
  readonly reader: SqlReader;
  /** A write context at unix time `now` over `ids` (a fresh registry by default). */
  context(now: number, ids?: ObjectIds): Promise<WriteContext>;
  snapshot(): Promise<Snapshot>;
  rows<T extends Row = Row>(sql: string, params?: readonly SqlParam[]): Promise<T[]>;
  close(): Promise<void>;
}

export async function writerSite(name: TargetName): Promise<WriterSite> {
  const t = await createTarget(name);
  let db: MoodleDatabase;
  let reader: SqlReader;
  try {
    if (name === 'embedded') {
      await t.release();
      const opened = await EmbeddedDatabase.open(t.label, t.prefix);
      db = opened;
      reader = { family: 'postgres', prefix: t.prefix, query: (sql, params) => opened.query(sql, params) };
    } else {
      db = await openMoodle(t.moodleSection('.') as unknown as MoodleConnectionOptions);
      reader = t;
    }
  } catch (error) {
    await t.drop();
    throw error;
  }
  const site = await readSite(db);
  const [system] = await db.query<{ id: number; path: string }>(
    'SELECT id, path FROM {context} WHERE contextlevel = 10',
  );
  if (system === undefined) throw new Error('no system context');
  const budget = await db.statementBudget();
  return {
    t,
    db,
    reader,
    context: async (now, ids = new ObjectIds()) => ({
      site,
      systemContextPath: system.path,
      systemContextId: system.id,
      now,
      budget,
      ids,
    }),
    snapshot: () => snapshotTables(reader),
    rows: (sql, params) => reader.query(sql, params),
    async close() {
      await db.close().catch(() => undefined);
      await t.drop();
    },
  };
}

/** A planned change as the planner makes them (only what the writers read matters). */
export function change(
  entity: EntityType,
  action: Change['action'],
  key: string,
  after: Fields,
  extra: { moodleId?: number; refs?: Readonly<Record<string, ObjectRef>> } = {},
): Change {
  return {
    entity,
    address: addressOf(entity, key),
    action,
    key,
    moodleId: extra.moodleId ?? null,
    dn: null,
    before: null,
    after,
    ...(extra.refs !== undefined ? { refs: extra.refs } : {}),
    sourceDigest: null,
    reason: 'test',
  };
}

// ---- symbols ------------------------------------------------------------------------------------------

type IdTarget = string | ((row: Readonly<Record<string, unknown>>) => string | undefined);

/** reference-rows' id columns, plus those of the entities written here. */
const ENTITY_ID_COLUMNS: Readonly<Record<string, Readonly<Record<string, IdTarget>>>> = {
  ...ID_COLUMNS,
  course_categories: { id: 'course_categories', parent: 'course_categories' },
  course: { id: 'course', category: 'course_categories' },
  cohort: { id: 'cohort', contextid: 'context' },
  cohort_members: { id: 'cohort_members', cohortid: 'cohort', userid: 'user' },
  user_info_category: { id: 'user_info_category' },
  user_info_field: { id: 'user_info_field', categoryid: 'user_info_category' },
  user_info_data: { id: 'user_info_data', userid: 'user', fieldid: 'user_info_field' },
};

const ENTITY_PATH_COLUMNS: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  ...PATH_COLUMNS,
  course_categories: { path: 'course_categories' },
};

export interface EntitySymbols {
  /** Per table: row id → symbol. */
  readonly ids: Readonly<Record<string, ReadonlyMap<string, string>>>;
  /** Unix times of the writes: `<now>`. */
  readonly now: readonly number[];
}

function symbolValue(table: string, column: string, value: RefValue, row: RefRow, s: EntitySymbols): RefValue {
  if (value === null) return null;
  const target = ENTITY_ID_COLUMNS[table]?.[column];
  const targetTable = typeof target === 'function' ? target(row) : target;
  if (targetTable !== undefined) return s.ids[targetTable]?.get(value) ?? value;
  const pathTable = ENTITY_PATH_COLUMNS[table]?.[column];
  if (pathTable !== undefined) {
    return value
      .split('/')
      .map((part) => (part === '' ? '' : (s.ids[pathTable]?.get(part) ?? part)))
      .join('/');
  }
  if (/^[0-9]+$/.test(value) && s.now.includes(Number(value))) return '<now>';
  return value;
}

const symbolRow = (table: string, row: RefRow, s: EntitySymbols, context: RefRow = row): RefRow =>
  Object.fromEntries(Object.entries(row).map(([c, v]) => [c, symbolValue(table, c, v, context, s)]));

/** `writes` in the reference's symbols (ids, paths, times); values are compared as they are. */
export function symboliseEntities(writes: Writes, s: EntitySymbols): Writes {
  const out: Record<string, TableWrites> = {};
  for (const [table, w] of Object.entries(writes)) {
    out[table] = {
      ...(w.inserted && { inserted: w.inserted.map((r) => symbolRow(table, r, s)) }),
      ...(w.deleted && { deleted: w.deleted.map((r) => symbolRow(table, r, s)) }),
      ...(w.updated && {
        updated: w.updated.map((u) => {
          const row = u.row ?? {};
          return {
            id: symbolValue(table, 'id', u.id, row, s),
            changed: Object.fromEntries(
              Object.entries(u.changed).map(([c, v]) => [
                c,
                { old: symbolValue(table, c, v.old, row, s), new: symbolValue(table, c, v.new, row, s) },
              ]),
            ),
          };
        }),
      }),
    };
  }
  return out;
}

/** The rows of several reference steps as one (the writers do in one call what the reference did in several). */
export function referenceRows(...keys: readonly string[]): Writes {
  const out: Record<string, { inserted: RefRow[]; updated: RefUpdate[]; deleted: RefRow[] }> = {};
  for (const key of keys) {
    for (const [table, w] of Object.entries(referenceStep(key).rows)) {
      const entry = out[table] ?? { inserted: [], updated: [], deleted: [] };
      out[table] = entry;
      entry.inserted.push(...(w.inserted ?? []));
      entry.updated.push(...(w.updated ?? []));
      entry.deleted.push(...(w.deleted ?? []));
    }
  }
  return Object.fromEntries(
    Object.entries(out).map(([table, e]) => [
      table,
      {
        ...(e.inserted.length > 0 && { inserted: e.inserted }),
        ...(e.updated.length > 0 && { updated: e.updated }),
        ...(e.deleted.length > 0 && { deleted: e.deleted }),
      },
    ]),
  );
}

/** Runs `fn` in a transaction of the site's database and returns what it wrote, table by table. */
export async function writesOf(w: WriterSite, fn: (tx: Queryable) => Promise<void>): Promise<Writes> {
  const before = await w.snapshot();
  await w.db.transaction(fn);
  return diffSnapshots(before, await w.snapshot());
}
