/**
 * Compares what ldap2moodle writes with what Moodle's own APIs write (test/fixtures/moodle/4.5/
 * reference-writes.json), row by row and column by column, for any entity:
 *
 * 1. snapshot every table before and after a step (`snapshotTables`), diff them (`diffSnapshots`) into the
 *    reference's shape: per table, rows inserted / updated (changed columns, old → new) / deleted;
 * 2. symbolise the diff as the reference is (`symbolise`): ids → `<user:jdupont>`, `<ctx:user:jdupont>`,
 *    context paths segment by segment, unix times of the step → `<now>`, and the values the test chose for
 *    the columns the reference says depend on the caller (`CALLER_COLUMNS`) → the reference's own values;
 * 3. `compareWrites` lists every difference; a test expects none.
 *
 * Values are compared as the reference stores them: strings, NULL as null.
 */
import { readFileSync } from 'node:fs';
import type { SqlReader } from './target-sql.js';
import { prefixedTables, quoteIdentifier } from './target-sql.js';

export type RefValue = string | null;
export type RefRow = Readonly<Record<string, RefValue>>;

export interface RefUpdate {
  readonly id: RefValue;
  readonly changed: Readonly<Record<string, { readonly old: RefValue; readonly new: RefValue }>>;
  /** Natural key of the row (after the update), e.g. `{ username: 'mmartin' }`. */
  readonly key?: RefRow | readonly never[];
  /** The whole row after the update (ldap2moodle's side only, not in the reference): context for symbols. */
  readonly row?: RefRow;
}

export interface TableWrites {
  readonly inserted?: readonly RefRow[];
  readonly updated?: readonly RefUpdate[];
  readonly deleted?: readonly RefRow[];
}

/** Per table (without prefix): what a step wrote. */
export type Writes = Readonly<Record<string, TableWrites>>;

export interface ReferenceStep {
  readonly n: number;
  readonly key: string;
  readonly title: string;
  readonly api: string;
  readonly rows: Writes;
  readonly must_reproduce: readonly string[];
  readonly may_skip: readonly string[];
}

interface ReferenceFile {
  readonly meta: { readonly symbols: Readonly<Record<string, Readonly<Record<string, string>>>> };
  readonly steps: readonly ReferenceStep[];
}

const REFERENCE = new URL('../fixtures/moodle/4.5/reference-writes.json', import.meta.url);
let reference: ReferenceFile | undefined;
const referenceFile = (): ReferenceFile => {
  reference ??= JSON.parse(readFileSync(REFERENCE, 'utf8')) as ReferenceFile;
  return reference;
};

export function referenceStep(key: string): ReferenceStep {
  const step = referenceFile().steps.find((s) => s.key === key);
  if (step === undefined) throw new Error(`no step ${key} in reference-writes.json`);
  return step;
}

/**
 * Columns whose values the reference's API call chose (its caller-supplied fields): the only ones a test may
 * map from its own values to the reference's. Extend per entity (cohort names, course shortnames…).
 */
export const CALLER_COLUMNS: Readonly<Record<string, readonly string[]>> = {
  user: ['username', 'idnumber', 'firstname', 'lastname', 'email'],
};

type Row = Readonly<Record<string, unknown>>;
type IdTarget = string | ((row: Row) => string | undefined);

/** Context levels → the table their `instanceid` points into. */
const CONTEXT_INSTANCE: Readonly<Record<string, string>> = {
  '10': 'system',
  '30': 'user',
  '40': 'course_categories',
  '50': 'course',
  '70': 'course_modules',
  '80': 'block_instances',
};

/** Which table an id column refers to, as the reference symbolises them. Extend per entity. */
export const ID_COLUMNS: Readonly<Record<string, Readonly<Record<string, IdTarget>>>> = {
  user: { id: 'user' },
  context: { id: 'context', instanceid: (row) => CONTEXT_INSTANCE[String(row.contextlevel)] },
  sessions: { id: 'sessions', userid: 'user' },
  config_plugins: { id: 'config_plugins' },
  cache_flags: { id: 'cache_flags', name: (row) => (row.flagtype === 'accesslib/dirtyusers' ? 'user' : undefined) },
};

/** Columns holding Moodle paths (`/1/17`): each segment an id of the named table. */
export const PATH_COLUMNS: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  context: { path: 'context' },
};

/** The columns naming an updated row in the reference's `key`. */
export const KEY_COLUMNS: Readonly<Record<string, readonly string[]>> = {
  user: ['username'],
  config: ['name'],
  cache_flags: ['flagtype', 'name'],
};

// ---- snapshots -------------------------------------------------------------------------------------------

/** Table (without prefix) → row id → row, values as the reference stores them. */
export type Snapshot = ReadonlyMap<string, ReadonlyMap<string, RefRow>>;

const asRef = (value: unknown): RefValue => {
  if (value === null || value === undefined) return null;
  if (Buffer.isBuffer(value)) return value.toString('utf8');
  return String(value);
};

/** Every row of every Moodle table of a target (or of `tables` only, names without prefix). */
export async function snapshotTables(reader: SqlReader, tables?: readonly string[]): Promise<Snapshot> {
  const { prefix } = reader;
  const names = tables?.map((t) => `${prefix}${t}`) ?? (await prefixedTables(reader));
  const snapshot = new Map<string, Map<string, RefRow>>();
  for (const name of names) {
    const rows = await reader.query(`SELECT * FROM ${quoteIdentifier(reader.family, name)}`);
    const byId = new Map<string, RefRow>();
    for (const row of rows) {
      byId.set(String(row.id), Object.fromEntries(Object.entries(row).map(([k, v]) => [k, asRef(v)])));
    }
    snapshot.set(name.slice(prefix.length), byId);
  }
  return snapshot;
}

/** The rows `after` has that `before` has not, those changed, those gone; tables without change left out. */
export function diffSnapshots(before: Snapshot, after: Snapshot): Writes {
  const writes: Record<string, TableWrites> = {};
  for (const table of new Set([...before.keys(), ...after.keys()])) {
    const old = before.get(table) ?? new Map<string, RefRow>();
    const now = after.get(table) ?? new Map<string, RefRow>();
    const inserted = [...now].filter(([id]) => !old.has(id)).map(([, row]) => row);
    const deleted = [...old].filter(([id]) => !now.has(id)).map(([, row]) => row);
    const updated: RefUpdate[] = [];
    for (const [id, row] of now) {
      const previous = old.get(id);
      if (previous === undefined) continue;
      const changed: Record<string, { old: RefValue; new: RefValue }> = {};
      for (const column of new Set([...Object.keys(previous), ...Object.keys(row)])) {
        const a = previous[column] ?? null;
        const b = row[column] ?? null;
        if (a !== b) changed[column] = { old: a, new: b };
      }
      if (Object.keys(changed).length === 0) continue;
      const keyColumns = KEY_COLUMNS[table];
      const key = keyColumns && Object.fromEntries(keyColumns.map((c) => [c, row[c] ?? null]));
      updated.push({ id, changed, ...(key !== undefined ? { key } : {}), row });
    }
    const entry: { inserted?: RefRow[]; updated?: RefUpdate[]; deleted?: RefRow[] } = {};
    if (inserted.length > 0) entry.inserted = inserted;
    if (updated.length > 0) entry.updated = updated;
    if (deleted.length > 0) entry.deleted = deleted;
    if (Object.keys(entry).length > 0) writes[table] = entry;
  }
  return writes;
}

// ---- symbols ---------------------------------------------------------------------------------------------

export interface Symbols {
  /** Per table: row id → symbol (`user` 3 → `<user:jdupont>`, `context` 1 → `<ctx:system>`). */
  readonly ids: Readonly<Record<string, ReadonlyMap<string, string>>>;
  /** Unix times (seconds) of the steps: written as `<now>`. */
  readonly now: readonly number[];
  /**
   * Per `table.column` of CALLER_COLUMNS: the test's value → the reference's value for the same role
   * (`'user.username': new Map([['f0000042', 'jdupont']])`).
   */
  readonly caller?: Readonly<Record<string, ReadonlyMap<string, string>>>;
}

/**
 * The reference's symbols of the fresh install's own rows (guest, admin, the system context, roles…): those
 * of its ids that exist in `fresh`, a snapshot of a fresh test database loaded from the same install.
 */
export function installSymbols(fresh: Snapshot): Record<string, Map<string, string>> {
  const out: Record<string, Map<string, string>> = {};
  for (const [table, symbols] of Object.entries(referenceFile().meta.symbols)) {
    const rows = fresh.get(table);
    if (rows === undefined) continue;
    out[table] = new Map(Object.entries(symbols).filter(([id]) => rows.has(id)));
  }
  return out;
}

/** `symbols` with more ids: `withIds(s, 'user', [[3, '<user:jdupont>']])`. */
export function withIds(
  ids: Readonly<Record<string, ReadonlyMap<string, string>>>,
  table: string,
  entries: readonly (readonly [unknown, string])[],
): Record<string, ReadonlyMap<string, string>> {
  return { ...ids, [table]: new Map([...(ids[table] ?? []), ...entries.map(([id, s]) => [String(id), s] as const)]) };
}

function checkCaller(symbols: Symbols): void {
  for (const name of Object.keys(symbols.caller ?? {})) {
    const [table = '', column = ''] = name.split('.');
    if (!CALLER_COLUMNS[table]?.includes(column)) {
      throw new Error(`${name} is not a caller-chosen column of the reference (CALLER_COLUMNS): it must be equal`);
    }
  }
}

function symbolValue(table: string, column: string, value: RefValue, row: RefRow, symbols: Symbols): RefValue {
  if (value === null) return null;
  const target = ID_COLUMNS[table]?.[column];
  const targetTable = typeof target === 'function' ? target(row) : target;
  if (targetTable !== undefined) return symbols.ids[targetTable]?.get(value) ?? value;
  const pathTable = PATH_COLUMNS[table]?.[column];
  if (pathTable !== undefined) {
    return value
      .split('/')
      .map((segment) => (segment === '' ? '' : (symbols.ids[pathTable]?.get(segment) ?? segment)))
      .join('/');
  }
  const chosen = symbols.caller?.[`${table}.${column}`]?.get(value);
  if (chosen !== undefined) return chosen;
  if (/^[0-9]+$/.test(value) && symbols.now.includes(Number(value))) return '<now>';
  return value;
}

function symbolRow(table: string, row: RefRow, symbols: Symbols, context: RefRow = row): RefRow {
  return Object.fromEntries(
    Object.entries(row).map(([column, value]) => [column, symbolValue(table, column, value, context, symbols)]),
  );
}

/** `writes` written with the reference's symbols. */
export function symbolise(writes: Writes, symbols: Symbols): Writes {
  checkCaller(symbols);
  const out: Record<string, TableWrites> = {};
  for (const [table, w] of Object.entries(writes)) {
    out[table] = {
      ...(w.inserted && { inserted: w.inserted.map((r) => symbolRow(table, r, symbols)) }),
      ...(w.deleted && { deleted: w.deleted.map((r) => symbolRow(table, r, symbols)) }),
      ...(w.updated && {
        updated: w.updated.map((u) => {
          const newRow = u.row ?? Object.fromEntries(Object.entries(u.changed).map(([c, v]) => [c, v.new]));
          const key = Array.isArray(u.key) ? undefined : (u.key as RefRow | undefined);
          const changed = Object.fromEntries(
            Object.entries(u.changed).map(([c, v]) => [
              c,
              {
                old: symbolValue(table, c, v.old, newRow, symbols),
                new: symbolValue(table, c, v.new, newRow, symbols),
              },
            ]),
          );
          return {
            id: symbolValue(table, 'id', u.id, newRow, symbols),
            changed,
            ...(key !== undefined ? { key: symbolRow(table, key, symbols) } : {}),
          };
        }),
      }),
    };
  }
  return out;
}

// ---- comparison ------------------------------------------------------------------------------------------

export interface CompareOptions {
  /** Tables the reference writes and ldap2moodle may skip (its `may_skip`: logstore rows…). */
  readonly skipped?: readonly string[];
  /** Tables only ldap2moodle writes, checked by the test itself (the apply marker in config_plugins…). */
  readonly own?: readonly string[];
}

const show = (v: RefValue | undefined): string => (v === undefined ? '(absent)' : JSON.stringify(v));

function compareRows(where: string, ours: RefRow, theirs: RefRow, out: string[]): void {
  for (const column of new Set([...Object.keys(theirs), ...Object.keys(ours)])) {
    if (ours[column] !== theirs[column]) {
      out.push(`${where}.${column}: Moodle wrote ${show(theirs[column])}, ldap2moodle ${show(ours[column])}`);
    }
  }
}

function byId<T extends { readonly id?: RefValue }>(rows: readonly T[] | undefined): Map<string, T> {
  return new Map((rows ?? []).map((r) => [String(r.id), r]));
}

function compareSets<T extends { readonly id?: RefValue }>(
  where: string,
  ours: readonly T[] | undefined,
  theirs: readonly T[] | undefined,
  compare: (where: string, a: T, b: T) => void,
  out: string[],
): void {
  const a = byId(ours);
  const b = byId(theirs);
  for (const [id, row] of b) {
    const mine = a.get(id);
    if (mine === undefined) out.push(`${where} id=${id}: Moodle wrote it, ldap2moodle did not`);
    else compare(`${where} id=${id}`, mine, row);
  }
  for (const id of a.keys()) if (!b.has(id)) out.push(`${where} id=${id}: ldap2moodle wrote it, Moodle did not`);
}

/** Every difference between the symbolised writes of ldap2moodle and the reference's (empty when equal). */
export function compareWrites(ours: Writes, theirs: Writes, options: CompareOptions = {}): string[] {
  const out: string[] = [];
  const skipped = new Set(options.skipped ?? []);
  const own = new Set(options.own ?? []);
  const tables = new Set([...Object.keys(theirs), ...Object.keys(ours)]);
  for (const table of [...tables].sort()) {
    if (skipped.has(table) || own.has(table)) continue;
    const a = ours[table] ?? {};
    const b = theirs[table] ?? {};
    compareSets(`${table} INS`, a.inserted, b.inserted, (w, x, y) => compareRows(w, x, y, out), out);
    compareSets(`${table} DEL`, a.deleted, b.deleted, (w, x, y) => compareRows(w, x, y, out), out);
    compareSets(
      `${table} UPD`,
      a.updated,
      b.updated,
      (w, x, y) => {
        for (const column of new Set([...Object.keys(y.changed), ...Object.keys(x.changed)])) {
          const mine = x.changed[column];
          const ref = y.changed[column];
          if (mine?.old !== ref?.old || mine?.new !== ref?.new) {
            const fmt = (c: typeof mine) => (c === undefined ? 'unchanged' : `${show(c.old)} → ${show(c.new)}`);
            out.push(`${w}.${column}: Moodle ${fmt(ref)}, ldap2moodle ${fmt(mine)}`);
          }
        }
        const refKey = Array.isArray(y.key) ? undefined : (y.key as RefRow | undefined);
        const myKey = Array.isArray(x.key) ? undefined : (x.key as RefRow | undefined);
        if (refKey !== undefined && myKey !== undefined) compareRows(`${w} key`, myKey, refKey, out);
      },
      out,
    );
  }
  return out;
}
