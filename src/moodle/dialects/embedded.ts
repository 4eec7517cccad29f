/**
 * The embedded Moodle: a real Moodle 4.5 schema in PGlite (PostgreSQL compiled to WebAssembly, in-process),
 * so that the tool can be tried with no server at all. A directory persists between runs (or `:memory:`).
 *
 * A new directory starts from the shipped snapshot of an empty Moodle 4.5 (`assets/embedded/`), which
 * restores in about a second instead of running initdb and the schema. One process at a time per directory
 * (a lock file); a directory written by another PGlite version is refused, never silently upgraded.
 */
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PGlite, types } from '@electric-sql/pglite';
import { InternalError, UserError } from '../../errors.js';
import { takeLockFile } from '../../lock-file.js';
import type { LockPolicy } from '../../lock-wait.js';
import type { AdvisoryLockAttempt, Queryable, Row } from '../database.js';
import { MEMORY } from '../database.js';
import { EMBEDDED_FORMAT, loadSnapshot, PGLITE_VERSION } from './embedded-snapshot.js';
import type { RawRunner } from './postgres-common.js';
import { PostgresFamilyDatabase, queryable, toSafeNumber } from './postgres-common.js';

const STAMP = 'ldap2moodle-embedded.json';
const LOCK = 'ldap2moodle.lock';

interface Stamp {
  readonly format: number;
  readonly pglite: string;
  readonly moodle: string;
}

type PgliteLike = Pick<PGlite, 'query' | 'transaction' | 'close'>;

function runner(pg: Pick<PGlite, 'query'>): RawRunner {
  return async (text, values) => {
    const result = await pg.query<Row>(text, [...values]);
    return { rows: result.rows, affectedRows: result.affectedRows ?? 0 };
  };
}

const parsers = { [types.INT8]: (value: string) => toSafeNumber('int8', value) };

/**
 * PGlite's start options, with shared_buffers at 16 MB instead of PostgreSQL's 128 MB: the whole Moodle here is
 * ~25 MB, and zeroing 128 MB of buffers took ~40% of every open (≈450 → ≈270 ms). Passed on the command line,
 * so the directory's postgresql.conf is left as it is.
 */
const startParams = [...PGlite.defaultStartParams, '-c', 'shared_buffers=16MB'];

async function checkStamp(dir: string): Promise<void> {
  let stamp: Stamp;
  try {
    stamp = JSON.parse(await readFile(join(dir, STAMP), 'utf8')) as Stamp;
  } catch {
    throw new UserError(
      'MOODLE_UNSUPPORTED',
      `${dir} is not an embedded Moodle made by ldap2moodle (no readable ${STAMP}); use an empty or new directory.`,
    );
  }
  if (stamp.format !== EMBEDDED_FORMAT || stamp.pglite !== PGLITE_VERSION) {
    throw new UserError(
      'MOODLE_UNSUPPORTED',
      `the embedded Moodle ${dir} was written by another ldap2moodle (format ${stamp.format}, PGlite ${stamp.pglite}; ` +
        `this one uses format ${EMBEDDED_FORMAT}, PGlite ${PGLITE_VERSION}). It is not upgraded silently: ` +
        'remove the directory to start from an empty Moodle again, or use the ldap2moodle version that wrote it.',
    );
  }
}

/** Makes the directory if needed and takes its lock; returns the lock file's path. */
async function lockDirectory(path: string, policy: LockPolicy | undefined): Promise<string> {
  try {
    await mkdir(path, { recursive: true });
    return (await takeLockFile(join(path, LOCK), `the embedded Moodle ${path}`, 'MOODLE_LOCKED', policy)).path;
  } catch (error) {
    if (error instanceof UserError) throw error;
    // A file where the directory should be, no permission…: the user's to fix, not an internal error.
    throw new UserError(
      'MOODLE_CONNECT',
      `cannot open the embedded Moodle ${path}: ${(error as Error).message}. moodle.path must be a directory ` +
        'this user may write (created when missing), or ":memory:".',
      [],
      { cause: error },
    );
  }
}

export class EmbeddedDatabase extends PostgresFamilyDatabase {
  readonly description: string;
  readonly location: string;
  protected readonly direct: Queryable;
  readonly lockScope: string;

  private constructor(
    private readonly pg: PgliteLike,
    readonly prefix: string,
    where: string,
    private readonly lockPath: string | null,
  ) {
    super();
    this.description = `embedded://${where}`;
    this.location = `the embedded Moodle ${where}`;
    this.lockScope = where;
    this.direct = queryable(runner(pg), prefix, () => {
      this.counter.statements += 1;
    });
  }

  /**
   * Opens (creating from the snapshot when new) the embedded Moodle at `path`, or an in-memory one; its
   * directory lock waits and takes over as `policy` says.
   */
  static async open(path: string, prefix = 'mdl_', policy?: LockPolicy): Promise<EmbeddedDatabase> {
    if (path === MEMORY) {
      const pg = await PGlite.create({ loadDataDir: await loadSnapshot(), parsers, startParams });
      return new EmbeddedDatabase(pg, prefix, MEMORY, null);
    }
    const lockPath = await lockDirectory(path, policy);
    try {
      const entries = (await readdir(path)).filter((e) => e !== LOCK);
      let pg: PGlite;
      if (entries.length === 0) {
        pg = await PGlite.create({
          dataDir: join(path, 'pgdata'),
          loadDataDir: await loadSnapshot(),
          parsers,
          startParams,
        });
        const stamp: Stamp = { format: EMBEDDED_FORMAT, pglite: PGLITE_VERSION, moodle: '4.5' };
        await writeFile(join(path, STAMP), `${JSON.stringify(stamp, null, 2)}\n`);
      } else {
        await checkStamp(path);
        if (!existsSync(join(path, 'pgdata'))) {
          throw new UserError('MOODLE_UNSUPPORTED', `${path} has no pgdata directory: it is damaged; remove it`);
        }
        pg = await PGlite.create({ dataDir: join(path, 'pgdata'), parsers, startParams });
      }
      return new EmbeddedDatabase(pg, prefix, path, lockPath);
    } catch (error) {
      await rm(lockPath, { force: true });
      throw error;
    }
  }

  /** The directory lock taken at open already keeps every other process out: no advisory lock is needed. */
  async tryAdvisoryLock(_name: string): Promise<AdvisoryLockAttempt> {
    return { status: 'exclusive' };
  }

  async advisoryLockSession(_name: string): Promise<number | null> {
    return null;
  }

  /** Never needed: no other process can have this Moodle open, let alone hold a lock in it. */
  lockSessionAdvice(_name: string, _session: number | null): string {
    return `end the process that has ${this.location} open (its directory's ${LOCK} file names it)`;
  }

  readonly exclusive = true;

  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    // PGlite runs the callback exclusively, committing when it resolves and rolling back when it throws.
    return this.pg.transaction(async (tx) => {
      let open = true;
      const inner = queryable(runner(tx), this.prefix, () => {
        if (!open) throw new InternalError('a statement was run on a transaction that has already ended');
        this.counter.statements += 1;
      });
      try {
        return await fn(inner);
      } finally {
        open = false;
      }
    });
  }

  /**
   * PGlite runs in this process: a statement timeout cannot interrupt it (the query holds the thread), so
   * only the read-only transaction applies; the embedded Moodle is the tool's own, not a shared server.
   */
  readOnlyQuery(sql: string, _timeoutMs: number): Promise<Row[]> {
    return this.pg
      .transaction(async (tx) => {
        const inner = queryable(runner(tx), this.prefix, () => {
          this.counter.statements += 1;
        });
        await tx.query('SET TRANSACTION READ ONLY');
        const rows = await inner.query(sql);
        throw new RolledBack(rows);
      })
      .catch((error: unknown) => {
        if (error instanceof RolledBack) return error.rows;
        throw error;
      });
  }

  async close(): Promise<void> {
    try {
      await this.pg.close();
    } finally {
      if (this.lockPath !== null) await rm(this.lockPath, { force: true });
    }
  }
}

/** Carries a read-only query's rows out of the transaction it rolls back (PGlite commits what resolves). */
class RolledBack extends Error {
  constructor(readonly rows: Row[]) {
    super('rolled back');
  }
}
