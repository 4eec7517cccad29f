/**
 * What the tool needs to know about a Moodle site before planning: its release, the local MNet host id,
 * site admins and guest, enabled auth plugins, site defaults, and the user table's columns.
 * Catalogue queries live in the dialects (`describeTables`, `describeColumns`).
 */
import { CATALOG } from '../entities/catalog.js';
import { UserError } from '../errors.js';
import { checkCompatibility } from './compatibility.js';
import type { ColumnInfo, MoodleDatabase } from './database.js';
import { MARKER_PLUGIN } from './marker.js';
import type { GroupSchema } from './read-groups.js';
import { readGroupSchema } from './read-groups.js';

export interface MoodleSite {
  readonly release: string;
  readonly version: string;
  /** `mnet_localhost_id`: the `mnethostid` of this site's own users (not always 1). */
  readonly mnetLocalhostId: number;
  readonly siteAdminIds: readonly number[];
  readonly siteGuestId: number;
  /** Auth plugins users can log in with: `manual`, `nologin`, then those of config `auth`. */
  readonly enabledAuth: readonly string[];
  readonly lang: string;
  readonly calendarType: string;
  readonly timezone: string;
  /** When false, Moodle accepts only lower-case alphanumerics and `_ - @ .` in usernames. */
  readonly extendedUsernameChars: boolean;
  readonly userColumns: ReadonlyMap<string, ColumnInfo>;
  /**
   * The columns of the other tables the rules fill from directory values (the catalogue's `texts`), by table
   * without prefix: their sizes are checked during planning, never hard-coded.
   */
  readonly tableColumns: ReadonlyMap<string, ReadonlyMap<string, ColumnInfo>>;
  /** Role ids by shortname (roles are looked up by shortname, never by id). */
  readonly roles: ReadonlyMap<string, number>;
  /** `sessiontimeout` in seconds: how long a `cache_flags` accesslib/dirtyusers mark must live. */
  readonly sessionTimeout: number;
  /** `enrol_plugins_enabled`, in order (the order Moodle creates a new course's default instances in). */
  readonly enabledEnrol: readonly string[];
  /** `config_plugins` values of the enrol plugins and of `moodlecourse`, by `<plugin>/<name>` (`enrol_cohort/unenrolaction`). */
  readonly pluginConfig: ReadonlyMap<string, string>;
  /** Optional columns and tables around groups (visibility/participation appeared in 4.2). */
  readonly groupSchema: GroupSchema;
  /**
   * Whether the optional Moodle plugin `local_ldap2moodle` (moodle-plugin/ in the package) is installed: Moodle
   * knows a plugin as installed by its `version` row in config_plugins. Without it, Moodle has no name to show
   * for the component the tool's cohorts and role assignments may carry.
   */
  readonly ownPluginInstalled: boolean;
  /** Notes for the plan (an untested Moodle release, …). */
  readonly warnings: readonly string[];
}

/** Tables the tool reads or writes; each must exist and be transactional. */
export const TOUCHED_TABLES = [
  'config',
  'config_plugins',
  'user',
  'context',
  'sessions',
  'course_categories',
  'cohort',
  'cohort_members',
  'user_info_category',
  'user_info_field',
  'user_info_data',
  'course',
  'course_sections',
  'course_format_options',
  'enrol',
  'user_enrolments',
  'role',
  'role_assignments',
  'role_context_levels',
  'role_capabilities',
  'capabilities',
  'groups',
  'groups_members',
  'groupings',
  'groupings_groups',
  'cache_flags',
  'user_lastaccess',
  'modules',
  'forum',
  'course_modules',
] as const;

const CONFIG_NAMES = [
  'release',
  'version',
  'mnet_localhost_id',
  'siteadmins',
  'siteguest',
  'auth',
  'lang',
  'calendartype',
  'timezone',
  'extendedusernamechars',
  'sessiontimeout',
  'enrol_plugins_enabled',
] as const;
type ConfigName = (typeof CONFIG_NAMES)[number];

export async function readSite(db: MoodleDatabase): Promise<MoodleSite> {
  const where = await checkTables(db);
  const config = await readConfig(db);
  const required = (name: ConfigName): string => {
    const value = config.get(name);
    if (value === undefined || value.trim() === '') {
      throw new UserError(
        'MOODLE_UNSUPPORTED',
        `${where}: ${db.prefix}config has no ${name} value; is the Moodle installation complete?`,
      );
    }
    return value.trim();
  };
  const id = (name: ConfigName, value: string): number => {
    if (!/^[0-9]+$/.test(value) || !Number.isSafeInteger(Number(value)) || Number(value) === 0) {
      throw new UserError(
        'MOODLE_UNSUPPORTED',
        `${where}: config ${name} = ${JSON.stringify(value)} is not a record id.`,
      );
    }
    return Number(value);
  };
  const auth = commaList(config.get('auth') ?? '');
  const warnings = await checkCompatibility(db, required('release'));
  return {
    warnings,
    release: required('release'),
    version: required('version'),
    mnetLocalhostId: id('mnet_localhost_id', required('mnet_localhost_id')),
    siteAdminIds: commaList(required('siteadmins')).map((v) => id('siteadmins', v)),
    siteGuestId: id('siteguest', required('siteguest')),
    // Moodle's get_enabled_auth_plugins(): manual and nologin are always enabled, first.
    enabledAuth: [...new Set(['manual', 'nologin', ...auth])],
    lang: config.get('lang')?.trim() || 'en',
    calendarType: config.get('calendartype')?.trim() || 'gregorian',
    timezone: config.get('timezone')?.trim() || '99',
    // Moodle tests empty($CFG->extendedusernamechars): '', '0' are false.
    extendedUsernameChars: !['', '0'].includes(config.get('extendedusernamechars')?.trim() ?? ''),
    userColumns: await readColumns(db, 'user'),
    tableColumns: await readTextTables(db),
    roles: await readRoles(db),
    sessionTimeout: positiveOr(config.get('sessiontimeout'), 28800),
    enabledEnrol: commaList(config.get('enrol_plugins_enabled') ?? ''),
    pluginConfig: await readPluginConfig(db),
    groupSchema: await readGroupSchema(db),
    ownPluginInstalled: await readOwnPluginInstalled(db),
  };
}

/**
 * The plugin's `version` row, which Moodle's installer writes. The tool's own rows under the same plugin name
 * (marker, lock) are never taken for it: they have other names.
 */
async function readOwnPluginInstalled(db: MoodleDatabase): Promise<boolean> {
  const rows = await db.query<{ plugin: string; name: string; value: string | null }>(
    "SELECT plugin, name, value FROM {config_plugins} WHERE plugin = ? AND name = 'version'",
    [MARKER_PLUGIN],
  );
  // The SQL collation may ignore case; Moodle's component names are exact. Moodle tests empty($version): '', '0'.
  return rows.some(
    (r) => r.plugin === MARKER_PLUGIN && r.name === 'version' && !['', '0'].includes((r.value ?? '').trim()),
  );
}

async function readRoles(db: MoodleDatabase): Promise<Map<string, number>> {
  const rows = await db.query<{ id: number | string; shortname: string }>('SELECT id, shortname FROM {role}');
  return new Map(rows.map((r) => [r.shortname, Number(r.id)]));
}

/** Plugin settings that shape what the tool writes: enrol defaults, the cohort sync's unenrol action, course defaults. */
async function readPluginConfig(db: MoodleDatabase): Promise<Map<string, string>> {
  const rows = await db.query<{ plugin: string; name: string; value: string | null }>(
    "SELECT plugin, name, value FROM {config_plugins} WHERE plugin LIKE 'enrol%' OR plugin = 'moodlecourse'",
  );
  return new Map(rows.map((r) => [`${r.plugin}/${r.name}`, r.value ?? '']));
}

function positiveOr(value: string | undefined, fallback: number): number {
  const n = Number(value?.trim() ?? '');
  return Number.isSafeInteger(n) && n > 0 ? n : fallback;
}

/** Checks that the prefix holds a Moodle whose touched tables are transactional; returns where, for messages. */
async function checkTables(db: MoodleDatabase): Promise<string> {
  const names = TOUCHED_TABLES.map((t) => `${db.prefix}${t}`);
  const tables = await db.describeTables(names);
  const where = db.description;
  const missing = names.filter((n) => !tables.has(n));
  const core = [`${db.prefix}config`, `${db.prefix}user`];
  if (missing.some((n) => core.includes(n))) {
    throw new UserError(
      'MOODLE_NOT_FOUND',
      `no Moodle found in ${db.location} with prefix ${JSON.stringify(db.prefix)} ` +
        `(tables ${missing.filter((n) => core.includes(n)).join(', ')} missing); ` +
        'check moodle.database, moodle.prefix and, on PostgreSQL, moodle.schema ($CFG->dbname, $CFG->prefix in config.php).',
    );
  }
  if (missing.length > 0) {
    throw new UserError(
      'MOODLE_UNSUPPORTED',
      `${where}: Moodle tables ${missing.join(', ')} are missing; is the Moodle installation complete?`,
    );
  }
  const notTransactional = names.filter((n) => tables.get(n)?.transactional !== true);
  if (notTransactional.length > 0) {
    throw new UserError(
      'MOODLE_UNSUPPORTED',
      `${where}: tables ${notTransactional.map((n) => `${n} (${tables.get(n)?.engine ?? 'no engine'})`).join(', ')} ` +
        'are not InnoDB, so changes to them cannot be made in one transaction. Convert them ' +
        '(php admin/cli/mysql_engine.php --engine=InnoDB) before syncing.',
    );
  }
  return where;
}

async function readConfig(db: MoodleDatabase): Promise<Map<string, string>> {
  const rows = await db.query<{ name: string; value: string | null }>(
    `SELECT name, value FROM {config} WHERE name IN (${CONFIG_NAMES.map(() => '?').join(', ')})`,
    CONFIG_NAMES,
  );
  // The SQL collation ignores case; keep only exact names.
  const names: readonly string[] = CONFIG_NAMES;
  return new Map(rows.filter((r) => names.includes(r.name)).map((r) => [r.name, r.value ?? '']));
}

async function readTextTables(db: MoodleDatabase): Promise<Map<string, Map<string, ColumnInfo>>> {
  const tables = [
    ...new Set(
      Object.values(CATALOG)
        .filter((facts) => Object.keys(facts.texts).length > 0)
        .map((facts) => facts.table),
    ),
  ];
  const out = new Map<string, Map<string, ColumnInfo>>();
  for (const table of tables) out.set(table, await readColumns(db, table));
  return out;
}

async function readColumns(db: MoodleDatabase, table: string): Promise<Map<string, ColumnInfo>> {
  const columns = await db.describeColumns(`${db.prefix}${table}`);
  return new Map(columns.map((c) => [c.name, c]));
}

function commaList(value: string): string[] {
  return value
    .split(',')
    .map((v) => v.trim())
    .filter((v) => v !== '');
}
