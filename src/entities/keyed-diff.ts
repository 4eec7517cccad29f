/**
 * The diff shared by the keyed objects the tool owns through the state (categories, profile fields, cohorts):
 * a desired object matches the Moodle row holding its key; missing → create, managed → update, unmanaged →
 * adopt (`<section>.adopt: matching`) or a conflict. What happens to a managed object the directory no longer
 * produces, and the checks proper to one entity (a category's parent, a cohort's context), are the entity's.
 */
import type { Change, EntityType, Fields, FieldValue, ObjectRef } from '../model/change.js';
import { addressOf } from '../model/change.js';
import type { DesiredObject } from '../model/desired.js';
import type { StateObject } from '../model/state.js';
import { factsOf } from './catalog.js';
import type { Conflict, DiffInput, EntityDiff } from './entity.js';
import { byKey } from './entity.js';

export type Refs = Readonly<Partial<Record<string, ObjectRef>>>;

/** Columns an existing row must change beyond the compared ones (a cohort's context), and the refs they need. */
export interface ExtraDelta {
  readonly before: Fields;
  readonly after: Fields;
  readonly refs?: Refs;
}

/** What a managed object no longer desired becomes: a change, a note for the plan's reader, or nothing. */
export interface Removal {
  readonly change?: Pick<Change, 'action' | 'before' | 'after' | 'reason'>;
  readonly warning?: string;
}

export interface KeyedDiffSpec<Row extends { readonly id: number }> {
  /** The entity: its spec section, nouns and key name in messages come from the catalogue. */
  readonly entity: EntityType;
  /** The row's key; null when it has none (an empty idnumber). */
  readonly keyOf: (row: Row) => string | null;
  /** `Moodle category id 7 "Name" (idnumber X)`. */
  readonly describe: (row: Row) => string;
  /** Managed columns compared with the desired values (those a desired object carries). */
  readonly compared: readonly string[];
  readonly adopt: 'never' | 'matching';
  /** Before creating: a conflict message, or null. */
  readonly checkCreate?: (desired: DesiredObject) => string | null;
  /** On an existing row (after the ownership check): a conflict message, extra columns to change, or null. */
  readonly checkExisting?: (desired: DesiredObject, row: Row) => string | ExtraDelta | null;
  /** A managed object no longer desired whose row is still in Moodle. */
  readonly removed: (managed: StateObject, row: Row) => Removal;
}

/** A row's compared columns; NULL and '' are the same to the plan (no write turns one into the other). */
export function columnValues(row: object, columns: readonly string[]): Record<string, FieldValue> {
  const values = row as Readonly<Record<string, FieldValue | null | undefined>>;
  const out: Record<string, FieldValue> = {};
  for (const column of columns) out[column] = values[column] ?? '';
  return out;
}

/** Values that differ, as `before`/`after` restricted to the changed columns; null when none does. */
export function changedFields(before: Fields, after: Fields): { before: Fields; after: Fields } | null {
  const b: Record<string, FieldValue> = {};
  const a: Record<string, FieldValue> = {};
  for (const [name, value] of Object.entries(after)) {
    if (before[name] !== value) {
      b[name] = before[name] ?? '';
      a[name] = value;
    }
  }
  return Object.keys(a).length === 0 ? null : { before: b, after: a };
}

function groupByKey<Row>(rows: readonly Row[], keyOf: (row: Row) => string | null): Map<string, Row[]> {
  const byKey = new Map<string, Row[]>();
  for (const row of rows) {
    const key = keyOf(row);
    if (key === null) continue;
    const list = byKey.get(key);
    if (list === undefined) byKey.set(key, [row]);
    else list.push(row);
  }
  return byKey;
}

/** The pure diff of one keyed entity. */
export function diffKeyed<Row extends { readonly id: number }>(
  input: DiffInput<Row>,
  spec: KeyedDiffSpec<Row>,
): EntityDiff {
  const { section, noun, nouns, keyName } = factsOf(spec.entity);
  const byKeyRows = groupByKey(input.current, spec.keyOf);
  const byId = new Map<number, Row>(input.current.map((row) => [row.id, row]));
  const managedById = new Map<number, StateObject>(input.managed.map((m) => [m.id, m]));
  const changes: Change[] = [];
  const conflicts: Conflict[] = [];
  const warnings: string[] = [];
  const claimed = new Set<number>();

  for (const desired of input.desired) {
    const address = addressOf(spec.entity, desired.key);
    const base = { entity: spec.entity, address, key: desired.key, dn: desired.dn, sourceDigest: desired.sourceDigest };
    // Objects of the spec alone (profile fields) come from no entry: their conflicts name the address instead.
    const conflict = (message: string): Conflict =>
      desired.dn === '' ? { message: `${address}: ${message}` } : { dn: desired.dn, message };
    const rows = byKeyRows.get(desired.key) ?? [];
    if (rows.length > 1) {
      // No unique index on these keys in Moodle: which row is meant cannot be guessed.
      for (const row of rows) claimed.add(row.id);
      conflicts.push(
        conflict(
          `${keyName} "${desired.key}" is held by several Moodle ${nouns} (${rows.map(spec.describe).join(', ')}); make it unique in Moodle first`,
        ),
      );
      continue;
    }
    const row = rows[0];
    if (row === undefined) {
      const problem = spec.checkCreate?.(desired) ?? null;
      if (problem !== null) {
        conflicts.push(conflict(problem));
        continue;
      }
      changes.push(createChange(spec.entity, desired));
      continue;
    }
    claimed.add(row.id);
    const managed = managedById.get(row.id);
    if (managed === undefined && spec.adopt === 'never') {
      conflicts.push(
        conflict(
          `${spec.describe(row)} exists and is not managed by ldap2moodle; set ${section}.adopt: matching to take it over`,
        ),
      );
      continue;
    }
    const extra = spec.checkExisting?.(desired, row) ?? null;
    if (typeof extra === 'string') {
      conflicts.push(conflict(extra));
      continue;
    }
    const columns = spec.compared.filter((c) => c in desired.values);
    const wanted = columnValues(desired.values, columns);
    const delta = changedFields(columnValues(row, columns), wanted);
    const before = { ...delta?.before, ...extra?.before };
    const after = { ...delta?.after, ...extra?.after };
    const refs = extra?.refs === undefined ? {} : { refs: extra.refs };
    if (managed === undefined) {
      changes.push({
        ...base,
        action: 'adopt',
        moodleId: row.id,
        before,
        after,
        ...refs,
        reason: `existing unmanaged ${noun} taken over (${section}.adopt: matching)`,
      });
      continue;
    }
    if (Object.keys(after).length > 0) {
      changes.push({
        ...base,
        action: 'update',
        moodleId: row.id,
        before,
        after,
        ...refs,
        reason: 'directory values differ from Moodle',
      });
    }
  }

  for (const managed of input.managed) {
    if (claimed.has(managed.id)) continue;
    const row = byId.get(managed.id);
    if (row === undefined) {
      warnings.push(
        `${managed.address}: Moodle ${noun} id ${managed.id} was deleted outside ldap2moodle; it will be forgotten`,
      );
      continue;
    }
    const removal = spec.removed(managed, row);
    if (removal.warning !== undefined) warnings.push(removal.warning);
    if (removal.change !== undefined) {
      changes.push({
        entity: spec.entity,
        address: managed.address,
        key: managed.key,
        moodleId: row.id,
        dn: null,
        sourceDigest: null,
        ...removal.change,
      });
    }
  }

  changes.sort(byKey);
  return { changes, conflicts, warnings };
}

/** The `create` change of a desired object Moodle lacks (the same for every entity). */
export function createChange(entity: EntityType, desired: DesiredObject): Change {
  return {
    entity,
    address: addressOf(entity, desired.key),
    action: 'create',
    key: desired.key,
    moodleId: null,
    dn: desired.dn,
    before: null,
    after: desired.values,
    ...(desired.refs === undefined ? {} : { refs: desired.refs }),
    sourceDigest: desired.sourceDigest,
    reason: 'in the directory, not in Moodle',
  };
}
