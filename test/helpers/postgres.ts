/**
 * Fresh Moodle 4.5 databases on the local PostgreSQL for integration tests. The real dump is loaded once
 * into a template database (named after the dump's digest, so a new dump makes a new template); each test
 * then gets `CREATE DATABASE … TEMPLATE …`, a file copy that takes a fraction of a second.
 *
 * Server from the environment: L2M_PG_HOST / L2M_PG_PORT / L2M_PG_USER / L2M_PG_PASSWORD (default
 * 127.0.0.1:5432, user postgres, trust).
 */
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import pg from 'pg';
import { openMoodle } from '../../src/moodle/connect.js';
import type { MoodleDatabase, ServerConnectionOptions } from '../../src/moodle/database.js';

const DUMP = new URL('../fixtures/moodle/4.5/postgres/core.sql', import.meta.url);
/**
 * Tables the writers touch beyond core.sql's (course format options; capabilities and role permissions for the
 * role writer; modules, forum and course modules for a new course's Announcements forum), dumped from the same install (see the fixtures' README).
 */
const EXTRA_DUMPS = [
  new URL('../fixtures/moodle/4.5/postgres/course-format-options.sql', import.meta.url),
  new URL('../fixtures/moodle/4.5/postgres/roles-extra.sql', import.meta.url),
  new URL('../fixtures/moodle/4.5/postgres/forum-modules.sql', import.meta.url),
];
const NAME_PREFIX = 'l2m_test_';

export function postgresServer(env: NodeJS.ProcessEnv = process.env) {
  return {
    host: env.L2M_PG_HOST ?? '127.0.0.1',
    port: Number(env.L2M_PG_PORT ?? 5432),
    user: env.L2M_PG_USER ?? 'postgres',
    password: env.L2M_PG_PASSWORD ?? '',
  };
}

const INT8_OID = 20;

/** int8 (Moodle's ids and times) as JS numbers, as the other targets' clients return them; unsafe ones stay text. */
const types = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === INT8_OID
      ? (value: string) => (Number.isSafeInteger(Number(value)) ? Number(value) : value)
      : pg.types.getTypeParser(oid, format ?? 'text')) as typeof pg.types.getTypeParser,
};

export async function pgAdmin(database = 'postgres'): Promise<pg.Client> {
  const client = new pg.Client({ ...postgresServer(), database, types });
  await client.connect();
  return client;
}

/**
 * The dump (core.sql, then the extra tables) with its tables moved from `public` to another schema (the dumps
 * hard-code `public.`).
 */
export function postgresDump(schema = 'public'): string {
  const text = [DUMP, ...EXTRA_DUMPS].map((url) => readFileSync(url, 'utf8')).join('\n');
  if (schema === 'public') return text;
  return `CREATE SCHEMA ${schema};\n${text.replaceAll('public.', `${schema}.`)}`;
}

const templates = new Map<string, Promise<string>>();

/** The template database holding the dump (for this schema), created once per machine and dump. */
function template(schema: string): Promise<string> {
  let pending = templates.get(schema);
  if (pending === undefined) {
    pending = (async () => {
      const sql = postgresDump(schema);
      const name = `l2m_tpl_${schema}_${createHash('sha256').update(sql).digest('hex').slice(0, 12)}`;
      const admin = await pgAdmin();
      try {
        const exists = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
        if (exists.rowCount === 0) {
          // Build under a temporary name and rename: a half-loaded template is never used (parallel workers).
          const building = `${name}_b${process.pid}`;
          await admin.query(`DROP DATABASE IF EXISTS ${building}`);
          await admin.query(`CREATE DATABASE ${building} ENCODING 'UTF8' TEMPLATE template0`);
          const loader = await pgAdmin(building);
          try {
            await loader.query(sql);
          } finally {
            await loader.end();
          }
          try {
            await admin.query(`ALTER DATABASE ${building} RENAME TO ${name}`);
          } catch {
            await admin.query(`DROP DATABASE IF EXISTS ${building}`); // another worker won the race
          }
        }
      } finally {
        await admin.end();
      }
      return name;
    })();
    templates.set(schema, pending);
  }
  return pending;
}

export interface PostgresMoodle {
  readonly name: string;
  readonly options: ServerConnectionOptions;
  readonly db: MoodleDatabase;
  /** A plain client on the test database (search_path = the Moodle schema), for assertions. */
  readonly admin: pg.Client;
  drop(): Promise<void>;
}

/** Renames every `mdl_` table of the current schema to `prefix` (a Moodle installed with another $CFG->prefix). */
export const RENAME_PREFIX_SQL = (prefix: string): string => {
  if (!/^[a-z0-9_]+$/.test(prefix)) throw new Error(`bad test prefix ${prefix}`);
  return `DO $$ DECLARE t record; BEGIN
    FOR t IN SELECT tablename FROM pg_catalog.pg_tables WHERE schemaname = current_schema() AND tablename LIKE 'mdl\\_%' LOOP
      EXECUTE format('ALTER TABLE %I RENAME TO %I', t.tablename, '${prefix}' || substr(t.tablename, 5));
    END LOOP; END $$`;
};

export async function createPostgresMoodle(opts: { schema?: string; prefix?: string } = {}): Promise<PostgresMoodle> {
  const schema = opts.schema ?? 'public';
  const prefix = opts.prefix ?? 'mdl_';
  const source = await template(schema);
  const name = `${NAME_PREFIX}${Date.now()}_${process.pid}_${randomBytes(3).toString('hex')}`;
  const admin = await pgAdmin();
  try {
    await admin.query(`CREATE DATABASE ${name} TEMPLATE ${source}`);
  } finally {
    await admin.end();
  }
  const server = postgresServer();
  const options: ServerConnectionOptions = {
    driver: 'postgres',
    host: server.host,
    port: server.port,
    database: name,
    user: server.user,
    password: server.password,
    prefix,
    ...(schema !== 'public' ? { schema } : {}),
  };
  const client = await pgAdmin(name);
  await client.query(`SET search_path TO ${schema}`);
  if (prefix !== 'mdl_') await client.query(RENAME_PREFIX_SQL(prefix));
  const db = await openMoodle(options);
  return {
    name,
    options,
    db,
    admin: client,
    async drop() {
      await db.close().catch(() => undefined);
      await client.end().catch(() => undefined);
      const a = await pgAdmin();
      try {
        await a.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await a.end();
      }
    },
  };
}
