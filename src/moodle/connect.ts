/**
 * Opens the Moodle database named in the spec, whichever dialect it is: the one place that picks a dialect.
 * A server's driver errors become `MOODLE_CONNECT` errors that say where the tool tried to connect and what to
 * check (messages never carry the password); the embedded Moodle reports its own (its directory, its lock).
 */
import { isAbsolute, resolve } from 'node:path';
import { parseDuration } from '../duration.js';
import { UserError } from '../errors.js';
import type { LockNotice, LockPolicy } from '../lock-wait.js';
import { DEFAULT_STALE_AFTER } from '../lock-wait.js';
import type { LoadedSpec } from '../spec/load.js';
import type { MoodleConnectionOptions, MoodleDatabase, ServerConnectionOptions } from './database.js';
import { MEMORY } from './database.js';
import { EmbeddedDatabase } from './dialects/embedded.js';
import { MysqlDatabase, PREFIX_PATTERN } from './dialects/mysql.js';
import { PostgresDatabase } from './dialects/postgres.js';
import { SCHEMA_NAME } from './dialects/postgres-common.js';

export async function openMoodle(options: MoodleConnectionOptions, policy?: LockPolicy): Promise<MoodleDatabase> {
  if (!PREFIX_PATTERN.test(options.prefix)) {
    throw new UserError(
      'MOODLE_CONNECT',
      `Moodle table prefix ${JSON.stringify(options.prefix)} is not valid: use lower-case letters, digits and _ ` +
        `(as in $CFG->prefix of config.php, e.g. "mdl_"); check moodle.prefix.`,
    );
  }
  if (options.driver === 'embedded') return EmbeddedDatabase.open(options.path, options.prefix, policy);
  if (options.schema !== undefined && !SCHEMA_NAME.test(options.schema)) {
    throw new UserError(
      'MOODLE_CONNECT',
      `PostgreSQL schema ${JSON.stringify(options.schema)} is not valid: use lower-case letters, digits and _; check moodle.schema.`,
    );
  }
  const db = options.driver === 'postgres' ? new PostgresDatabase(options) : new MysqlDatabase(options);
  try {
    await db.ping();
  } catch (error) {
    await db.close().catch(() => undefined);
    throw connectError(options, error);
  }
  return db;
}

function connectError(options: ServerConnectionOptions, error: unknown): UserError {
  const where = `${options.host}:${options.port}`;
  const code = errorCode(error);
  const usingPassword = options.password !== undefined && options.password !== '' ? 'yes' : 'no';
  let what: string;
  switch (code) {
    case 'ECONNREFUSED':
      what =
        `connection refused: is ${options.driver} running and listening on TCP there? ` +
        'Check moodle.host and moodle.port.';
      break;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      what = `unknown host ${options.host}: check moodle.host.`;
      break;
    case 'ETIMEDOUT':
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      what = `no answer (${code}): check moodle.host, moodle.port and any firewall between.`;
      break;
    case 'ER_ACCESS_DENIED_ERROR':
    case 'ER_ACCESS_DENIED_NO_PASSWORD_ERROR':
    case '28P01': // PostgreSQL invalid_password
    case '28000': // PostgreSQL invalid_authorization_specification (pg_hba refusal)
      what =
        `access denied for user ${JSON.stringify(options.user)} (password given: ${usingPassword}): ` +
        'check moodle.user and the password secret (the values of $CFG->dbuser and $CFG->dbpass in config.php).';
      break;
    case 'ER_HOST_NOT_PRIVILEGED':
      what = `the server does not let this machine connect as ${JSON.stringify(options.user)}: grant access from this host.`;
      break;
    case 'ER_DBACCESS_DENIED_ERROR':
      what = `user ${JSON.stringify(options.user)} may not use this database: grant it access, or check moodle.user.`;
      break;
    case 'ER_BAD_DB_ERROR':
    case '3D000': // PostgreSQL invalid_catalog_name
      what =
        `the server has no database ${JSON.stringify(options.database)}: check moodle.database ` +
        '($CFG->dbname in config.php).';
      break;
    default:
      what = scrub(errorMessage(error), options.password);
  }
  return new UserError(
    'MOODLE_CONNECT',
    `cannot open the Moodle database ${options.database} at ${where}: ${what}`,
    [],
    { cause: error },
  );
}

function errorCode(error: unknown): string | undefined {
  if (typeof error === 'object' && error !== null && 'code' in error && typeof error.code === 'string') {
    return error.code;
  }
  return undefined;
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Belt and braces: servers do not echo passwords, but an unexpected message must not either. */
function scrub(message: string, password: string | undefined): string {
  return password !== undefined && password !== '' ? message.split(password).join('***') : message;
}

/** How the locks of a run behave: `--lock-timeout` (ms, default 0), the spec's `lock.staleAfter`, the notices. */
export interface LockOptions {
  /** `--lock-timeout`, in ms: how long to wait for a live holder (default: fail at once). */
  readonly lockTimeoutMs?: number;
  /** Told once when a run starts waiting for a lock, and of each stale lock taken over (a warning). */
  readonly onLockNotice?: (notice: LockNotice) => void;
}

/** The lock policy of a run of `loaded` (the spec's staleAfter was checked against the duration pattern). */
export function lockPolicyOf(loaded: LoadedSpec, options: LockOptions = {}): LockPolicy {
  return {
    timeoutMs: options.lockTimeoutMs ?? 0,
    staleAfterMs: parseDuration(loaded.spec.lock?.staleAfter ?? DEFAULT_STALE_AFTER),
    ...(options.onLockNotice === undefined ? {} : { notice: options.onLockNotice }),
  };
}

/**
 * I/O: opens the Moodle database the spec names: a server, or the embedded Moodle (created on first use; its
 * directory lock follows `policy`, by default the spec's staleAfter without waiting).
 */
export function openSpecMoodle(loaded: LoadedSpec, policy: LockPolicy = lockPolicyOf(loaded)): Promise<MoodleDatabase> {
  const { moodle } = loaded.spec;
  if (moodle.driver === 'embedded') {
    const path = moodle.path ?? MEMORY;
    return openMoodle(
      {
        driver: 'embedded',
        path: path === MEMORY || isAbsolute(path) ? path : resolve(loaded.dir, path),
        prefix: moodle.prefix,
      },
      policy,
    );
  }
  const postgres = moodle.driver === 'postgres';
  return openMoodle({
    driver: moodle.driver,
    host: moodle.host,
    port: moodle.port ?? (postgres ? 5432 : 3306),
    database: moodle.database ?? '',
    user: moodle.user ?? (postgres ? 'postgres' : 'root'),
    password: moodle.password,
    prefix: moodle.prefix,
    schema: moodle.schema,
    lockTimeout: moodle.lockTimeout,
  });
}
