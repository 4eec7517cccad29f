/**
 * The apply marker: one `config_plugins` row (plugin `local_ldap2moodle`, name `state`) written inside every
 * apply's transaction, as `set_config('state', …, 'local_ldap2moodle')` would write it. It tells, after any
 * crash, whether an apply committed (its `apply_id`), and it ties the Moodle site to a state lineage and serial
 * so that a lost, stale or foreign state file is refused instead of trusted.
 */
import { UserError } from '../errors.js';
import type { MoodleDatabase, Queryable } from './database.js';

export const MARKER_PLUGIN = 'local_ldap2moodle';
export const MARKER_NAME = 'state';

export interface ApplyMarker {
  readonly lineage: string;
  readonly serial: number;
  readonly apply_id: string;
  readonly applied_at: string;
  readonly tool_version: string;
}

function parseMarker(value: string): ApplyMarker {
  try {
    const data = JSON.parse(value) as Partial<ApplyMarker>;
    if (typeof data.lineage === 'string' && typeof data.serial === 'number' && typeof data.apply_id === 'string') {
      return data as ApplyMarker;
    }
  } catch {
    // fall through
  }
  throw new UserError(
    'STATE_INVALID',
    `the config_plugins row plugin=${MARKER_PLUGIN}, name=${MARKER_NAME} is not an ldap2moodle apply marker ` +
      '(edited by hand?); restore it from a backup, or delete it together with the state file to start over.',
  );
}

/** `forUpdate` (in a transaction): lock the row, or the gap where it would go, until COMMIT. */
export async function readMarker(
  db: MoodleDatabase | Queryable,
  options: { readonly forUpdate?: boolean } = {},
): Promise<ApplyMarker | null> {
  const lock = options.forUpdate === true ? ' FOR UPDATE' : '';
  const rows = await db.query<{ value: string }>(
    `SELECT value FROM {config_plugins} WHERE plugin = ? AND name = ?${lock}`,
    [MARKER_PLUGIN, MARKER_NAME],
  );
  const row = rows[0];
  return row === undefined ? null : parseMarker(row.value);
}

/** Writes the marker in the apply's transaction (insert or update of the one row). */
export async function writeMarker(tx: Queryable, marker: ApplyMarker): Promise<void> {
  const value = JSON.stringify(marker);
  const updated = await tx.execute('UPDATE {config_plugins} SET value = ? WHERE plugin = ? AND name = ?', [
    value,
    MARKER_PLUGIN,
    MARKER_NAME,
  ]);
  if (updated.affectedRows === 0) {
    await tx.execute('INSERT INTO {config_plugins} (plugin, name, value) VALUES (?, ?, ?)', [
      MARKER_PLUGIN,
      MARKER_NAME,
      value,
    ]);
  }
}
