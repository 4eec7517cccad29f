/**
 * An entity together with what was read of Moodle for it. The pipeline holds a list of these, one per entity
 * kind, without knowing their row types: each reading pairs its rows with its own diff, recheck and write.
 */
import { createHash } from 'node:crypto';
import type { Diagnostic } from '../errors.js';
import type { Change, EntityType } from '../model/change.js';
import type { CurrentIndex } from '../model/current.js';
import type { DesiredObject } from '../model/desired.js';
import type { StateObject } from '../model/state.js';
import type { MoodleDatabase, Queryable } from '../moodle/database.js';
import type { WriteContext } from '../moodle/write-context.js';
import type { Entity, EntityDiff, Ownership, ReadContext } from './entity.js';

export interface EntityReading {
  readonly type: EntityType;
  readonly stateful: boolean;
  /** Rows read. */
  readonly rows: number;
  /** Key → id of the current rows that have a key. */
  readonly ids: ReadonlyMap<string, number>;
  /** Id → key of the same rows. */
  readonly keys: ReadonlyMap<number, string>;
  /**
   * Digest of the rows read whose key is among `keys` (the objects a plan is about: desired, managed or
   * changed), times of activity left out: a saved plan is stale when Moodle's rows no longer give the same
   * digest. A login changing `lastaccess`, or an account the tool has nothing to do with, does not count.
   */
  digestFor(keys: ReadonlySet<string>): string;
  diff(
    desired: readonly DesiredObject[],
    managed: readonly StateObject[],
    index: CurrentIndex,
    owned: Ownership,
    wanted: (entity: EntityType, key: string) => boolean,
  ): EntityDiff;
  recheck(tx: Queryable, changes: readonly Change[], budget: number): Promise<Diagnostic[]>;
  write(tx: Queryable, context: WriteContext, changes: readonly Change[]): Promise<void>;
}

export async function readEntity<Current>(
  entity: Entity<Current>,
  db: Queryable,
  context: ReadContext,
): Promise<EntityReading> {
  const current = await entity.read(db, context);
  const ids = new Map<string, number>();
  const keys = new Map<number, string>();
  for (const row of current) {
    const identity = entity.identify(row);
    if (identity === null) continue;
    ids.set(identity.key, identity.id);
    keys.set(identity.id, identity.key);
  }
  return {
    type: entity.type,
    stateful: entity.stateful,
    rows: current.length,
    ids,
    keys,
    digestFor: (wanted) =>
      digestRows(
        current.filter((row) => {
          const identity = entity.identify(row);
          return identity !== null && wanted.has(identity.key);
        }),
      ),
    diff: (desired, managed, index, owned, wanted) => entity.diff({ desired, current, managed, index, owned, wanted }),
    recheck: (tx, changes, budget) =>
      entity.recheck(
        tx,
        current,
        changes.filter((ch) => ch.entity === entity.type),
        budget,
      ),
    write: (tx, writeContext, changes) =>
      entity.write(
        tx,
        writeContext,
        changes.filter((ch) => ch.entity === entity.type),
      ),
  };
}

/** Columns that change without anything the tool manages changing. */
const VOLATILE = new Set(['timemodified', 'timecreated', 'timeadded', 'lastaccess', 'lastlogin', 'currentlogin']);

/** Order-independent digest of rows (sorted by their canonical JSON). */
export function digestRows(rows: readonly unknown[]): string {
  const lines = rows.map((row) => {
    const fields = Object.entries(row as Record<string, unknown>)
      .filter(([name]) => !VOLATILE.has(name))
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return JSON.stringify(fields);
  });
  lines.sort();
  const hash = createHash('sha256');
  for (const line of lines) hash.update(line).update('\n');
  return `sha256:${hash.digest('hex')}`;
}

/** Reads every entity in order (each may use what the ones before it read), and the index over all of them. */
export async function readEntities(
  readers: readonly EntityReader[],
  db: MoodleDatabase,
  base: Omit<ReadContext, 'index'>,
): Promise<{ readings: EntityReading[]; index: CurrentIndex }> {
  const readings: EntityReading[] = [];
  const index = indexOf(readings);
  for (const read of readers) readings.push(await read(db, { ...base, index }));
  return { readings, index };
}

/** Reads one entity; how the pipeline lists entities of different row types in one array. */
export type EntityReader = (db: Queryable, context: ReadContext) => Promise<EntityReading>;

export const readerOf =
  <Current>(entity: Entity<Current>): EntityReader =>
  (db, context) =>
    readEntity(entity, db, context);

/** The index over readings (live: readings appended later are seen). */
export function indexOf(readings: readonly EntityReading[]): CurrentIndex {
  const find = (entity: EntityType) => readings.find((r) => r.type === entity);
  return {
    id: (entity, key) => find(entity)?.ids.get(key),
    key: (entity, id) => find(entity)?.keys.get(id),
    ids: (entity) => [...(find(entity)?.ids.values() ?? [])],
  };
}
