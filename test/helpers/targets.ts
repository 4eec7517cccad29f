/**
 * The Moodle targets the integration suite runs against — a fresh Moodle 4.5 on MariaDB, on PostgreSQL or
 * embedded (PGlite, a directory) — behind one test-side interface: the spec's `moodle` section, dialect-
 * neutral queries for assertions, checksums and snapshots.
 *
 * `L2M_TARGETS=postgres,embedded npx vitest run …` runs only those targets.
 */
import type { Connection } from 'mysql2/promise';
import type pg from 'pg';
import type { ServerConnectionOptions } from '../../src/moodle/database.js';
import { adminConnection, createMoodleDatabase } from './mariadb.js';
import { createPostgresMoodle, pgAdmin } from './postgres.js';
import type { Snapshot } from './reference-rows.js';
import { snapshotTables } from './reference-rows.js';
import { createEmbeddedTarget } from './target-embedded.js';
import type { Row, SqlFamily, SqlParam, SqlReader } from './target-sql.js';
import { insertSql, tableDigests, translateSql } from './target-sql.js';

export type TargetName = 'mariadb' | 'postgres' | 'embedded';
export type { Row, SqlParam } from './target-sql.js';

export const ALL_TARGETS: readonly TargetName[] = ['mariadb', 'postgres', 'embedded'];

/** The targets named by `L2M_TARGETS` (a comma list), all of them by default. */
export function targetsFrom(value: string | undefined): TargetName[] {
  if (value === undefined || value.trim() === '') return [...ALL_TARGETS];
  const names = value.split(',').map((n) => n.trim());
  const unknown = names.filter((n) => !(ALL_TARGETS as readonly string[]).includes(n));
  if (unknown.length > 0) throw new Error(`L2M_TARGETS: unknown target ${unknown.join(', ')} (use ${ALL_TARGETS})`);
  return ALL_TARGETS.filter((t) => names.includes(t));
}

export const TARGETS: readonly TargetName[] = targetsFrom(process.env.L2M_TARGETS);

export interface TargetOptions {
  /** Moodle table prefix (`mdl_` by default). */
  readonly prefix?: string;
  /** PostgreSQL only: the schema holding Moodle. */
  readonly schema?: string;
}

/** A second session on a server target, for holding row locks in an open transaction. */
export interface TargetSession {
  query<T extends Row = Row>(sql: string, params?: readonly SqlParam[]): Promise<T[]>;
  close(): Promise<void>;
}

export interface Target extends SqlReader {
  readonly name: TargetName;
  /** What the plan header and messages show: the database name, or the embedded directory. */
  readonly label: string;
  /** How the tool's messages say where the tables are (`MoodleDatabase.location`). */
  readonly location: string;
  /** The spec's `moodle` section, paths relative to `relativeTo` (the spec's directory). */
  moodleSection(relativeTo: string, overrides?: Record<string, unknown>): Record<string, unknown>;
  /** Runs a statement for the test (SQL as in translateSql); returns the rows. */
  query<T extends Row = Row>(sql: string, params?: readonly SqlParam[]): Promise<T[]>;
  /** Runs a statement for the test; returns the number of rows it changed. */
  execute(sql: string, params?: readonly SqlParam[]): Promise<number>;
  /** Inserts one row (`user` or `mdl_user`); returns its id. */
  insert(table: string, row: Readonly<Record<string, SqlParam>>): Promise<number>;
  /** Per table (`user` or `mdl_user`, keyed as given): row count and digest of every row. */
  checksums(tables: readonly string[]): Promise<Record<string, string>>;
  /** Every row of every Moodle table (or of `tables`), for reference-rows. */
  snapshot(tables?: readonly string[]): Promise<Snapshot>;
  /** Lets go of what the assertions hold open (the embedded lock) before the tool runs. No-op on servers. */
  release(): Promise<void>;
  /** A second session (server targets; the embedded Moodle has one connection only). */
  readonly openSession?: () => Promise<TargetSession>;
  /** The MariaDB admin connection, for the tests that are MariaDB by nature (MyISAM, collation, KILL). */
  readonly mariadb?: Connection;
  /** The PostgreSQL admin client (search_path set), for PostgreSQL-only checks. */
  readonly postgres?: pg.Client;
  drop(): Promise<void>;
}

/** The `moodle` section for a server database (the server's password, if any, written literally). */
export function moodleSection(
  options: ServerConnectionOptions,
  overrides: Record<string, unknown> = {},
): Record<string, unknown> {
  const { driver, host, port, database, user, password, prefix, schema } = options;
  return {
    driver,
    host,
    port,
    database,
    user,
    ...(password !== undefined && password !== '' ? { password } : {}),
    prefix,
    ...(schema !== undefined ? { schema } : {}),
    ...overrides,
  };
}

/** The parts every target builds the same way from its `query`. */
export function commonParts(
  family: SqlFamily,
  prefix: string,
  query: <T extends Row = Row>(sql: string, params?: readonly SqlParam[]) => Promise<T[]>,
): Pick<Target, 'checksums' | 'snapshot'> {
  const reader: SqlReader = { family, prefix, query };
  return {
    checksums: (tables) => tableDigests(reader, tables),
    snapshot: (tables) => snapshotTables(reader, tables),
  };
}

async function mariadbTarget(opts: TargetOptions): Promise<Target> {
  const t = await createMoodleDatabase(opts.prefix !== undefined ? { prefix: opts.prefix } : {});
  const prefix = t.options.prefix;
  const run = async (sql: string, params: readonly SqlParam[] = []) =>
    (await t.admin.query(translateSql(sql, 'mariadb', prefix), [...params]))[0];
  const query = async <T extends Row = Row>(sql: string, params?: readonly SqlParam[]) =>
    (await run(sql, params)) as T[];
  return {
    name: 'mariadb',
    family: 'mariadb',
    prefix,
    label: t.name,
    location: `database ${t.name}`,
    moodleSection: (_relativeTo, overrides = {}) => moodleSection(t.options, overrides),
    query,
    execute: async (sql, params) => ((await run(sql, params)) as { affectedRows?: number }).affectedRows ?? 0,
    async insert(table, row) {
      const { sql, params } = insertSql('mariadb', prefix, table, row);
      return ((await run(sql, params)) as { insertId: number }).insertId;
    },
    ...commonParts('mariadb', prefix, query),
    release: async () => {},
    async openSession() {
      const conn = await adminConnection(t.name);
      return {
        query: async <T extends Row = Row>(sql: string, params: readonly SqlParam[] = []) =>
          (await conn.query(translateSql(sql, 'mariadb', prefix), [...params]))[0] as T[],
        close: () => conn.end(),
      };
    },
    mariadb: t.admin,
    drop: () => t.drop(),
  };
}

async function postgresTarget(opts: TargetOptions): Promise<Target> {
  const m = await createPostgresMoodle(opts);
  const prefix = m.options.prefix;
  const schema = opts.schema ?? 'public';
  const onClient = async <T extends Row = Row>(
    client: pg.Client,
    sql: string,
    params: readonly SqlParam[] = [],
  ): Promise<pg.QueryResult<T>> =>
    client.query<T>(
      translateSql(sql, 'postgres', prefix),
      params.map((p) => (typeof p === 'bigint' ? String(p) : p)),
    );
  const query = async <T extends Row = Row>(sql: string, params?: readonly SqlParam[]) =>
    (await onClient<T>(m.admin, sql, params)).rows;
  return {
    name: 'postgres',
    family: 'postgres',
    prefix,
    label: m.name,
    location: `database ${m.name}, schema ${schema}`,
    moodleSection: (_relativeTo, overrides = {}) => moodleSection(m.options, overrides),
    query,
    execute: async (sql, params) => (await onClient(m.admin, sql, params)).rowCount ?? 0,
    async insert(table, row) {
      const { sql, params } = insertSql('postgres', prefix, table, row);
      const [inserted] = await query<{ id: number }>(`${sql} RETURNING id`, params);
      return Number(inserted?.id);
    },
    ...commonParts('postgres', prefix, query),
    release: async () => {},
    async openSession() {
      const client = await pgAdmin(m.name);
      await client.query(`SET search_path TO ${schema}`);
      // A terminated session reports on the client: keep it from becoming an uncaught error.
      client.on('error', () => undefined);
      return {
        query: async <T extends Row = Row>(sql: string, params?: readonly SqlParam[]) =>
          (await onClient<T>(client, sql, params)).rows,
        close: () => client.end(),
      };
    },
    postgres: m.admin,
    drop: () => m.drop(),
  };
}

/** A fresh Moodle 4.5 on the named target. */
export function createTarget(name: TargetName, opts: TargetOptions = {}): Promise<Target> {
  switch (name) {
    case 'mariadb':
      return mariadbTarget(opts);
    case 'postgres':
      return postgresTarget(opts);
    case 'embedded':
      return createEmbeddedTarget(opts);
  }
}
