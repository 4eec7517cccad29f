/**
 * Fresh Moodle 4.5 databases for integration tests: one uniquely named database per test, loaded from the
 * real fresh-install dump, optionally with another table prefix.
 *
 * Server from the environment, defaulting to the local MariaDB: L2M_MARIADB_URL (`mysql://user:pass@host:port`)
 * or L2M_MARIADB_HOST / L2M_MARIADB_PORT / L2M_MARIADB_USER / L2M_MARIADB_PASSWORD.
 */

import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Connection } from 'mysql2/promise';
import mysql from 'mysql2/promise';
import { openMoodle } from '../../src/moodle/connect.js';
import type { MoodleDatabase, ServerConnectionOptions } from '../../src/moodle/database.js';

const DUMP = new URL('../fixtures/moodle/4.5/mariadb/core.sql', import.meta.url);
/**
 * Tables the writers touch beyond core.sql's (course format options; capabilities and role permissions for the
 * role writer; modules, forum and course modules for a new course's Announcements forum), dumped from the same install (see the fixtures' README).
 */
const EXTRA_DUMPS = [
  new URL('../fixtures/moodle/4.5/mariadb/course-format-options.sql', import.meta.url),
  new URL('../fixtures/moodle/4.5/mariadb/roles-extra.sql', import.meta.url),
  new URL('../fixtures/moodle/4.5/mariadb/forum-modules.sql', import.meta.url),
];
const NAME_PREFIX = 'l2m_test_';

export interface MariadbServer {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password: string;
}

export function mariadbServer(env: NodeJS.ProcessEnv = process.env): MariadbServer {
  const url = env.L2M_MARIADB_URL ? new URL(env.L2M_MARIADB_URL) : undefined;
  return {
    host: env.L2M_MARIADB_HOST ?? url?.hostname ?? '127.0.0.1',
    port: Number(env.L2M_MARIADB_PORT ?? (url?.port || 3306)),
    user: env.L2M_MARIADB_USER ?? (url?.username ? decodeURIComponent(url.username) : 'root'),
    password: env.L2M_MARIADB_PASSWORD ?? (url ? decodeURIComponent(url.password) : ''),
  };
}

/** An admin connection (multi-statement) to the test server, optionally on one database. */
export async function adminConnection(database?: string): Promise<Connection> {
  const server = mariadbServer();
  return mysql.createConnection({
    host: server.host,
    port: server.port,
    user: server.user,
    password: server.password,
    ...(database !== undefined ? { database } : {}),
    charset: 'UTF8MB4_UNICODE_CI',
    multipleStatements: true,
    supportBigNumbers: true,
    bigNumberStrings: false,
    timezone: 'Z',
  });
}

let dumpText: string | undefined;

/**
 * The dump (core.sql, then the extra tables), its table prefix rewritten. Its first line
 * (`/*M!999999\- enable the sandbox mode *\/`) is a command for the mariadb client, not SQL; it is dropped so
 * that any server (MySQL too) loads the rest.
 * Every `mdl_` of the dump is at the start of a backquoted identifier (tables and index names).
 */
export function moodleDump(prefix = 'mdl_'): string {
  // The extra dumps' own preludes are dropped: loadDump runs core's before every table.
  dumpText ??= [
    readFileSync(DUMP, 'utf8').replace(/^\/\*M!999999\\- [^\n]*\n/, ''),
    ...EXTRA_DUMPS.map((url) => {
      const text = readFileSync(url, 'utf8');
      return text.slice(text.indexOf('DROP TABLE IF EXISTS'));
    }),
  ].join('\n');
  if (!/^[a-z0-9_]*$/.test(prefix)) throw new Error(`bad test prefix ${prefix}`);
  return prefix === 'mdl_' ? dumpText : dumpText.replaceAll('`mdl_', `\`${prefix}`);
}

/** Connections loading one database at once: table creation waits on fsyncs, which overlap across sessions. */
const LOADERS = 4;

/** Loads the dump into `name`, one table per statement batch, over several connections. */
async function loadDump(name: string, prefix: string): Promise<void> {
  const dump = moodleDump(prefix);
  const first = dump.indexOf('DROP TABLE IF EXISTS');
  // The prelude sets the dump's session (SQL mode, checks off, time zone): every loader runs it first.
  const prelude = dump.slice(0, first);
  const queue = dump
    .slice(first)
    .split(/(?=^DROP TABLE IF EXISTS )/m)
    .sort((a, b) => b.length - a.length);
  const loaders = await Promise.all(Array.from({ length: LOADERS }, () => adminConnection(name)));
  try {
    await Promise.all(
      loaders.map(async (conn) => {
        for (let part = queue.shift(); part !== undefined; part = queue.shift()) await conn.query(prelude + part);
      }),
    );
  } finally {
    await Promise.all(loaders.map((conn) => conn.end()));
  }
}

export interface TestMoodle {
  readonly name: string;
  readonly options: ServerConnectionOptions;
  /** Opened through `openMoodle`, on the fresh database. */
  readonly db: MoodleDatabase;
  /** Admin connection with `USE <name>` done, for assertions and test set-up. */
  readonly admin: Connection;
  /** Milliseconds taken to create and load the database. */
  readonly loadMs: number;
  drop(): Promise<void>;
}

let counter = 0;

export async function createMoodleDatabase(options: { prefix?: string } = {}): Promise<TestMoodle> {
  const prefix = options.prefix ?? 'mdl_';
  // The creation time in the name lets dropStaleTestDatabases() tell leftovers from running tests.
  const name = `${NAME_PREFIX}${Math.floor(Date.now() / 1000)}_${process.pid}_${counter++}_${randomBytes(3).toString('hex')}`;
  const started = performance.now();
  const admin = await adminConnection();
  let db: MoodleDatabase | undefined;
  try {
    await admin.query(
      `CREATE DATABASE \`${name}\` DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci; USE \`${name}\``,
    );
    await loadDump(name, prefix);
    const loadMs = performance.now() - started;
    const server = mariadbServer();
    const connection: ServerConnectionOptions = {
      driver: 'mariadb',
      host: server.host,
      port: server.port,
      user: server.user,
      password: server.password,
      database: name,
      prefix,
    };
    db = await openMoodle(connection);
    const opened = db;
    let dropped = false;
    return {
      name,
      options: connection,
      db: opened,
      admin,
      loadMs,
      async drop() {
        if (dropped) return;
        dropped = true;
        await opened.close().catch(() => undefined);
        await admin.query(`DROP DATABASE IF EXISTS \`${name}\``);
        await admin.end();
      },
    };
  } catch (error) {
    await db?.close().catch(() => undefined);
    await admin.query(`DROP DATABASE IF EXISTS \`${name}\``).catch(() => undefined);
    await admin.end().catch(() => undefined);
    throw error;
  }
}

/** CHECKSUM TABLE of each table (full names, e.g. `mdl_user`) of a database, keyed by table name. */
export async function tableChecksums(
  conn: Connection,
  dbName: string,
  tables: readonly string[],
): Promise<Record<string, number | null>> {
  const list = tables.map((t) => `\`${dbName}\`.\`${t}\``).join(', ');
  const [rows] = await conn.query(`CHECKSUM TABLE ${list}`);
  const result: Record<string, number | null> = {};
  for (const row of rows as { Table: string; Checksum: number | null }[]) {
    result[row.Table.slice(dbName.length + 1)] = row.Checksum;
  }
  return result;
}

/** Drops `l2m_test_*` databases created more than `maxAgeMs` ago (left by killed runs). Returns their names. */
export async function dropStaleTestDatabases(maxAgeMs = 60 * 60 * 1000): Promise<string[]> {
  const admin = await adminConnection();
  try {
    const [rows] = await admin.query('SHOW DATABASES');
    const cutoff = (Date.now() - maxAgeMs) / 1000;
    const stale = (rows as { Database: string }[])
      .map((r) => r.Database)
      .filter((n) => {
        const match = /^l2m_test_(\d+)_/.exec(n);
        return match?.[1] !== undefined && Number(match[1]) < cutoff;
      });
    for (const n of stale) await admin.query(`DROP DATABASE IF EXISTS \`${n}\``);
    return stale;
  } finally {
    await admin.end();
  }
}
