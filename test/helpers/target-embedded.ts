/**
 * The embedded target: a fresh embedded Moodle directory per test. Restoring the shipped snapshot takes a
 * few seconds, so it is done once per machine and snapshot into a template directory (as the PostgreSQL
 * helper keeps a template database), and each test gets a copy of it.
 *
 * Assertions open the directory with `EmbeddedDatabase` itself, lock file and all: the connection is kept
 * between assertions and must be let go (`release()`) before the tool opens the directory, in this process
 * or in a child; a test that forgets fails with MOODLE_LOCKED naming this process.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { cp, mkdtemp, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { promisify } from 'node:util';
import { EmbeddedDatabase } from '../../src/moodle/dialects/embedded.js';
import { EMBEDDED_FORMAT, PGLITE_VERSION, SNAPSHOT_FILE } from '../../src/moodle/dialects/embedded-snapshot.js';
import { RENAME_PREFIX_SQL } from './postgres.js';
import { snapshotTables } from './reference-rows.js';
import type { Row, SqlParam, SqlReader } from './target-sql.js';
import { insertSql, tableDigests } from './target-sql.js';
import type { Target, TargetOptions } from './targets.js';

/** The file that makes a directory an embedded Moodle (see src/moodle/dialects/embedded.ts). */
export const EMBEDDED_STAMP = 'ldap2moodle-embedded.json';
export const EMBEDDED_LOCK = 'ldap2moodle.lock';

/**
 * Where the test directories go: a memory file system when the machine has one. On this project's machines a
 * 42 MB copy costs ~2 s of disk writes in /tmp and ~0.1 s in /dev/shm, and PGlite's own syncs as much.
 */
export const EMBEDDED_SCRATCH =
  process.env.L2M_EMBEDDED_DIR ?? (existsSync('/dev/shm') && process.platform === 'linux' ? '/dev/shm' : tmpdir());

let template: Promise<string> | undefined;

/** Test directories older than an hour, left by killed runs (42 MB each, in memory on /dev/shm). */
async function removeStale(): Promise<void> {
  const cutoff = Date.now() - 60 * 60 * 1000;
  for (const name of await readdir(EMBEDDED_SCRATCH).catch(() => [] as string[])) {
    if (!/^ldap2moodle-(embedded-|test-embedded-.*\.b\d+$)/.test(name)) continue;
    const path = join(EMBEDDED_SCRATCH, name);
    const info = await stat(path).catch(() => null);
    if (info !== null && info.mtimeMs < cutoff) await rm(path, { recursive: true, force: true });
  }
}

/** A fresh embedded Moodle, made once per machine, PGlite version and shipped snapshot. */
export function embeddedTemplate(): Promise<string> {
  template ??= (async () => {
    const digest = createHash('sha256')
      .update(await readFile(SNAPSHOT_FILE))
      .digest('hex')
      .slice(0, 12);
    const dir = join(EMBEDDED_SCRATCH, `ldap2moodle-test-embedded-${PGLITE_VERSION}-f${EMBEDDED_FORMAT}-${digest}`);
    await removeStale();
    if (existsSync(join(dir, EMBEDDED_STAMP))) return dir;
    // Built under another name and renamed: a half-made template is never used (parallel workers).
    const building = `${dir}.b${process.pid}`;
    await rm(building, { recursive: true, force: true });
    const db = await EmbeddedDatabase.open(building);
    await db.close();
    try {
      await rename(building, dir);
    } catch {
      await rm(building, { recursive: true, force: true }); // another worker won the race
    }
    return dir;
  })();
  return template;
}

/** A recursive copy; `cp -r` where there is one, being several times faster than fs.cp on 1,200 files. */
async function copyDir(from: string, to: string): Promise<void> {
  if (process.platform === 'linux') await promisify(execFile)('cp', ['-r', from, to]);
  else await cp(from, to, { recursive: true });
}

/**
 * Checksums of a fresh copy, by table list: every copy of the template has the same rows, so the first
 * fresh copy's checksums stand for all (saves opening a copy only to checksum it).
 */
const pristineChecksums = new Map<string, Promise<Record<string, string>>>();

export async function createEmbeddedTarget(opts: TargetOptions): Promise<Target> {
  if (opts.schema !== undefined) throw new Error('the embedded Moodle has no schema');
  const prefix = opts.prefix ?? 'mdl_';
  const base = await mkdtemp(join(EMBEDDED_SCRATCH, 'ldap2moodle-embedded-'));
  const dir = join(base, 'moodle');
  await copyDir(await embeddedTemplate(), dir);
  // Untouched since the copy: nothing but this helper has opened it, and it has written nothing.
  let pristine = true;

  let opened: Promise<EmbeddedDatabase> | null = null;
  const db = (): Promise<EmbeddedDatabase> => {
    if (opened === null) {
      const pending = EmbeddedDatabase.open(dir, prefix);
      opened = pending;
      pending.catch(() => {
        if (opened === pending) opened = null;
      });
    }
    return opened;
  };
  const release = async (): Promise<void> => {
    pristine = false; // the tool may open it from now on
    const pending = opened;
    opened = null;
    if (pending !== null) await (await pending.catch(() => null))?.close();
  };
  const named = (sql: string) => (prefix === 'mdl_' ? sql : sql.replace(/\bmdl_/g, prefix));
  const query = async <T extends Row = Row>(sql: string, params: readonly SqlParam[] = []) =>
    (await db()).query<T>(named(sql), params);

  const reader: SqlReader = { family: 'postgres', prefix, query };

  if (prefix !== 'mdl_') {
    await (await db()).execute(RENAME_PREFIX_SQL(prefix));
    await release();
  }
  return {
    name: 'embedded',
    family: 'postgres',
    prefix,
    label: dir,
    location: `the embedded Moodle ${dir}`,
    moodleSection: (relativeTo, overrides = {}) => ({
      driver: 'embedded',
      path: relative(relativeTo, dir),
      prefix,
      ...overrides,
    }),
    query,
    async execute(sql, params = []) {
      pristine = false;
      return (await (await db()).execute(named(sql), params)).affectedRows;
    },
    async insert(table, row) {
      pristine = false;
      const { sql, params } = insertSql('postgres', prefix, table, row);
      // insertSql quotes the name already; EmbeddedDatabase passes `?` placeholders through its own translation.
      const [inserted] = await query<{ id: number }>(`${sql} RETURNING id`, params);
      return Number(inserted?.id);
    },
    checksums(tables) {
      if (!pristine) return tableDigests(reader, tables);
      const key = tables.join(',');
      let known = pristineChecksums.get(key);
      if (known === undefined) {
        known = tableDigests(reader, tables);
        pristineChecksums.set(key, known);
        known.catch(() => pristineChecksums.delete(key));
      }
      return known;
    },
    snapshot: (tables) => snapshotTables(reader, tables),
    release,
    async drop() {
      await release();
      await rm(base, { recursive: true, force: true });
    },
  };
}
