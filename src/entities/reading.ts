/**
 * An entity together with what was read of Moodle for it: a value, made once by `readEntity`. The pipeline
 * holds a list of these, one per entity kind, without knowing their row and fact types: each reading pairs what
 * was read with its entity's own diff, recheck and write, and passes it to them as arguments.
 */
import { createHash } from 'node:crypto';
import type { Diagnostic } from '../errors.js';
import type { Change, EntityType } from '../model/change.js';
import type { CurrentIndex } from '../model/current.js';
import type { DesiredObject } from '../model/desired.js';
import type { StateObject } from '../model/state.js';
import type { MoodleDatabase, Queryable } from '../moodle/database.js';
import type { WriteContext } from '../moodle/write-context.js';
import type { DiffProducts, Entity, EntityDiff, Ownership, ReadContext, RecheckContext } from './entity.js';

export interface EntityReading {
  readonly type: EntityType;
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
    products: DiffProducts,
    excluded?: ReadonlyMap<string, string>,
  ): EntityDiff;
  recheck(tx: Queryable, changes: readonly Change[], budget: number): Promise<Diagnostic[]>;
  write(tx: Queryable, context: WriteContext, changes: readonly Change[]): Promise<void>;
}

export async function readEntity<Row, Facts>(
  entity: Entity<Row, Facts>,
  db: Queryable,
  context: ReadContext,
): Promise<EntityReading> {
  const { rows, facts } = await entity.read(db, context);
  // The index grows as later entities are read: identify now, with what was read before this one.
  const known: RecheckContext<Facts> = { facts, index: context.index, site: context.site };
  const identities = rows.map((row) => entity.identify(row, known));
  const ids = new Map<string, number>();
  const keys = new Map<number, string>();
  for (const identity of identities) {
    if (identity === null) continue;
    ids.set(identity.key, identity.id);
    keys.set(identity.id, identity.key);
  }
  return {
    type: entity.type,
    rows: rows.length,
    ids,
    keys,
    digestFor: (wanted) =>
      digestRows(
        rows.filter((_, i) => {
          const identity = identities[i];
          return identity !== null && identity !== undefined && wanted.has(identity.key);
        }),
      ),
    diff: (desired, managed, index, owned, wanted, products, excluded) =>
      entity.diff(
        {
          desired,
          current: rows,
          managed,
          index,
          owned,
          wanted,
          products,
          ...(excluded === undefined ? {} : { excluded }),
        },
        facts,
      ),
    recheck: (tx, changes, budget) =>
      entity.recheck(
        tx,
        rows,
        changes.filter((ch) => ch.entity === entity.type),
        budget,
        known,
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
  <Row, Facts>(entity: Entity<Row, Facts>): EntityReader =>
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
