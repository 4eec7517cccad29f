/**
 * The empty Moodle 4.5 the embedded target starts from. The package ships it twice: as a PGlite data-directory
 * snapshot (`assets/embedded/moodle-4.5.tar.gz`, restores in about a second) and as the SQL it was made from
 * (a real Moodle 4.5 PostgreSQL install's dump). When the installed PGlite is not the one the snapshot was
 * made with, the snapshot is rebuilt from the SQL once (initdb + schema: several seconds) and cached.
 */
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { PGlite } from '@electric-sql/pglite';

/** Layout version of an embedded directory (bumped when what ldap2moodle keeps there changes). */
export const EMBEDDED_FORMAT = 1;

const packageRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const assets = join(packageRoot, 'assets', 'embedded');
export const SNAPSHOT_FILE = join(assets, 'moodle-4.5.tar.gz');
export const SNAPSHOT_META = join(assets, 'moodle-4.5.json');
export const SCHEMA_SQL = join(assets, 'moodle-4.5-postgres-core.sql.gz');

function pgliteVersion(): string {
  // The package's exports hide package.json: find it next to its entry point.
  const entry = fileURLToPath(import.meta.resolve('@electric-sql/pglite'));
  let dir = dirname(entry);
  while (!existsSync(join(dir, 'package.json'))) dir = dirname(dir);
  return (JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { version: string }).version;
}

export const PGLITE_VERSION = pgliteVersion();

interface SnapshotMeta {
  readonly pglite: string;
}

/** Makes a snapshot of an empty Moodle 4.5 from the shipped SQL (slow: initdb in WebAssembly). */
export async function buildSnapshot(): Promise<Blob> {
  const sql = gunzipSync(await readFile(SCHEMA_SQL)).toString('utf8');
  const pg = await PGlite.create();
  try {
    await pg.exec(sql);
    // The dump empties search_path for its own session (pg_dump's safety measure): leave none behind.
    await pg.exec("SELECT pg_catalog.set_config('search_path', 'public', false)");
    await pg.exec('VACUUM ANALYZE');
    return await pg.dumpDataDir('gzip');
  } finally {
    await pg.close();
  }
}

const cacheFile = (): string =>
  join(
    process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'),
    'ldap2moodle',
    `moodle-4.5-pglite-${PGLITE_VERSION}.tar.gz`,
  );

/** The snapshot to restore a new embedded Moodle from. */
export async function loadSnapshot(): Promise<Blob> {
  const meta = existsSync(SNAPSHOT_META)
    ? (JSON.parse(await readFile(SNAPSHOT_META, 'utf8')) as SnapshotMeta)
    : undefined;
  if (meta?.pglite === PGLITE_VERSION && existsSync(SNAPSHOT_FILE)) {
    return new Blob([await readFile(SNAPSHOT_FILE)]);
  }
  const cached = cacheFile();
  if (existsSync(cached)) return new Blob([await readFile(cached)]);
  const blob = await buildSnapshot();
  try {
    await mkdir(dirname(cached), { recursive: true });
    await writeFile(`${cached}.tmp`, Buffer.from(await blob.arrayBuffer()));
    await rename(`${cached}.tmp`, cached);
  } catch {
    // A read-only home only costs the next run the same rebuild.
  }
  return blob;
}

/** Writes the shipped snapshot for the installed PGlite (`npm run build:snapshot`). */
export async function writeShippedSnapshot(): Promise<void> {
  const blob = await buildSnapshot();
  await mkdir(assets, { recursive: true });
  await writeFile(SNAPSHOT_FILE, Buffer.from(await blob.arrayBuffer()));
  await writeFile(SNAPSHOT_META, `${JSON.stringify({ pglite: PGLITE_VERSION }, null, 2)}\n`);
}
