/**
 * The recheck of one entity's table, as the entity catalogue describes it (`recheck`, `table`, `refs`; users
 * have their own in recheck-users.ts): inside the apply's transaction, before writing,
 *
 * - the rows the changes touch (by moodleId) are read FOR UPDATE and their checked columns compared with what
 *   the plan read: a single difference makes the plan stale;
 * - the natural keys of the rows to create must still be free (idnumber, shortname, (cohortid, userid));
 * - the rows the changes point at (a member's cohort and user, a category's parent) must still exist.
 */
import type { NaturalKeyPart, RecheckFacts } from '../entities/catalog.js';
import type { Diagnostic } from '../errors.js';
import type { Change, ObjectRef } from '../model/change.js';
import { selectIn } from './batches.js';
import type { Queryable, SqlValue } from './database.js';

export interface RecheckTable extends RecheckFacts {
  /** Moodle table, without prefix: `course_categories`. */
  readonly table: string;
  /** Tables of the rows the changes' refs point at, by ref name: `{ cohort: 'cohort', user: 'user' }`. */
  readonly references: Readonly<Record<string, string>>;
}

/** Moodle id of a referenced object that existed at planning time (undefined: created by this apply). */
export type IdOf = (ref: ObjectRef) => number | undefined;

/** What the natural key parts of the catalogue are computed from (ids the plan read). */
export interface RecheckLookup {
  readonly idOf: IdOf;
  /** Role id by shortname. */
  readonly roleId: (shortname: string) => number | undefined;
  /** The id of a course's manual enrolment instance, by course id. */
  readonly manualInstance: (courseId: number) => number | undefined;
}

/** The values of a create's natural key; null when one of them is not known yet (made by this apply). */
function naturalKeyOf(
  parts: readonly NaturalKeyPart[],
  change: Change,
  lookup: RecheckLookup,
): readonly SqlValue[] | null {
  const values: SqlValue[] = [];
  for (const part of parts) {
    let value: SqlValue | undefined;
    if ('field' in part) value = String(change.after[part.field] ?? '');
    else if ('literal' in part) value = part.literal;
    else if ('ref' in part) {
      const ref = change.refs?.[part.ref];
      value = ref === undefined ? undefined : lookup.idOf(ref);
    } else if ('roleOf' in part) {
      const role = change.after[part.roleOf];
      value = typeof role === 'string' ? lookup.roleId(role) : undefined;
    } else {
      const course = change.refs?.[part.manualInstanceOf];
      const courseId = course === undefined ? undefined : lookup.idOf(course);
      value = courseId === undefined ? undefined : lookup.manualInstance(courseId);
    }
    if (value === undefined) return null;
    values.push(value);
  }
  return values;
}

const show = (value: unknown): string => JSON.stringify(value ?? '');

/** NULL and '' are one value to the plan; numbers and their text are compared as text. */
const same = (a: unknown, b: unknown): boolean => String(a ?? '') === String(b ?? '');

export async function recheckRows<Row extends { readonly id: number }>(
  tx: Queryable,
  spec: RecheckTable,
  planned: readonly Row[],
  changes: readonly Change[],
  budget: number,
  lookup: RecheckLookup,
): Promise<Diagnostic[]> {
  const problems: Diagnostic[] = [];
  problems.push(...(await recheckTouched(tx, spec, planned, changes, budget)));
  if (spec.naturalKey !== null)
    problems.push(...(await recheckKeysFree(tx, spec, spec.naturalKey, changes, budget, lookup)));
  problems.push(...(await recheckReferences(tx, spec.references, changes, budget, lookup.idOf)));
  return problems;
}

async function recheckTouched<Row extends { readonly id: number }>(
  tx: Queryable,
  spec: RecheckTable,
  planned: readonly Row[],
  changes: readonly Change[],
  budget: number,
): Promise<Diagnostic[]> {
  const byId = new Map<number, Row>(planned.map((row) => [row.id, row]));
  const ids = [...new Set(changes.flatMap((ch) => (ch.moodleId === null ? [] : [ch.moodleId])))];
  const columns = [...new Set(['id', ...spec.columns])];
  // FOR UPDATE: from here to COMMIT, Moodle cannot change these rows under the apply.
  const now = await selectIn<Record<string, unknown> & { id: number }>(
    tx,
    (list) => `SELECT ${columns.join(', ')} FROM {${spec.table}} WHERE id IN (${list}) FOR UPDATE`,
    [],
    ids,
    budget,
  );
  const problems: Diagnostic[] = [];
  const seen = new Set<number>();
  for (const row of now) {
    const id = Number(row.id);
    seen.add(id);
    const before = byId.get(id) as Readonly<Record<string, unknown>> | undefined;
    for (const column of spec.columns) {
      if (!same(before?.[column], row[column])) {
        problems.push({
          message: `Moodle ${spec.noun} id ${id}: ${column} is now ${show(row[column])}, the plan saw ${show(before?.[column])}`,
        });
      }
    }
  }
  for (const id of ids) if (!seen.has(id)) problems.push({ message: `Moodle ${spec.noun} id ${id} no longer exists` });
  return problems;
}

async function recheckKeysFree(
  tx: Queryable,
  spec: RecheckTable,
  key: NonNullable<RecheckTable['naturalKey']>,
  changes: readonly Change[],
  budget: number,
  lookup: RecheckLookup,
): Promise<Diagnostic[]> {
  const wanted = changes
    .filter((ch) => ch.action === 'create')
    .flatMap((ch) => {
      const values = naturalKeyOf(key.parts, ch, lookup);
      return values === null ? [] : [{ change: ch, values }];
    });
  const tuple = (values: readonly unknown[]): string => JSON.stringify(values.map((v) => String(v ?? '')));
  const byTuple = new Map(wanted.map((w) => [tuple(w.values), w.change]));
  const [first] = key.columns;
  const firstValues = [...new Set(wanted.map((w) => w.values[0] ?? null))];
  // Selected by the first column, matched on the whole key in code: exact comparison, whatever the collation.
  const rows = await selectIn<Record<string, unknown>>(
    tx,
    (list) => `SELECT id, ${key.columns.join(', ')} FROM {${spec.table}} WHERE ${first} IN (${list})`,
    [],
    firstValues,
    budget,
  );
  const problems: Diagnostic[] = [];
  for (const row of rows) {
    const change = byTuple.get(tuple(key.columns.map((c) => row[c])));
    if (change === undefined) continue;
    const named = key.columns.map((c) => `${c} ${show(row[c])}`).join(', ');
    problems.push({
      message: `${change.address}: ${named} was taken by Moodle ${spec.noun} id ${String(row.id)} after the plan`,
    });
  }
  return problems;
}

async function recheckReferences(
  tx: Queryable,
  references: Readonly<Record<string, string>>,
  changes: readonly Change[],
  budget: number,
  idOf: IdOf,
): Promise<Diagnostic[]> {
  const problems: Diagnostic[] = [];
  for (const [name, table] of Object.entries(references)) {
    const needed = new Map<number, Change>();
    for (const change of changes) {
      if (change.action === 'delete' || change.action === 'release') continue;
      const ref = change.refs?.[name];
      const id = ref === undefined ? undefined : idOf(ref);
      if (id !== undefined && !needed.has(id)) needed.set(id, change);
    }
    // Locked too: a row deleted between this check and COMMIT would leave the new rows pointing at nothing.
    const found = await selectIn<{ id: number }>(
      tx,
      (list) => `SELECT id FROM {${table}} WHERE id IN (${list}) FOR UPDATE`,
      [],
      [...needed.keys()],
      budget,
    );
    const present = new Set(found.map((row) => Number(row.id)));
    for (const [id, change] of needed) {
      if (present.has(id)) continue;
      const ref = change.refs?.[name];
      problems.push({
        message: `${change.address}: its ${name} (${ref?.entity} "${ref?.key}", ${table} id ${id}) no longer exists`,
      });
    }
  }
  return problems;
}
