/**
 * Reads Moodle's roles with what defines them: the context levels each may be assigned at
 * (role_context_levels) and its permissions in the system context (role_capabilities at the system context:
 * the role's definition, as admin/roles/define.php edits it; rows in other contexts are local overrides and
 * are not read). Also the names of the capabilities Moodle knows (the `capabilities` table, filled by plugin
 * installs): a permission on a name not there is ignored by Moodle's access checks.
 *
 * A role's levels and permissions are read as the plan compares them: comma lists, levels ascending, names
 * sorted; a permission other than allow (1) is listed as `name=<permission>` (-1 prevent, -1000 prohibit).
 */
import { UserError } from '../errors.js';
import { selectIn } from './batches.js';
import type { Queryable } from './database.js';
import { CONTEXT_SYSTEM, typedRows } from './read-categories.js';

/** CAP_ALLOW: the only permission a declared role's capabilities get. */
export const CAP_ALLOW = 1;

export interface MoodleRoleRow {
  readonly id: number;
  readonly shortname: string;
  /** '' for the standard roles (Moodle shows their localised names). */
  readonly name: string;
  readonly description: string;
  readonly archetype: string;
  readonly sortorder: number;
  /** Context levels the role may be assigned at, ascending: `30,50`. */
  readonly contextlevels: string;
  /** Its system-context permissions, sorted: `moodle/user:viewdetails,mod/forum:addnews=-1`. */
  readonly capabilities: string;
}

/** One system-context permission of a role. */
export interface RolePermission {
  readonly id: number;
  readonly roleid: number;
  readonly capability: string;
  readonly permission: number;
}

/** Levels as the plan lists them: unique, ascending, comma-separated. */
export const joinLevels = (levels: Iterable<number>): string => [...new Set(levels)].sort((a, b) => a - b).join(',');

/** Capability names as the plan lists them: unique, sorted, comma-separated. */
export const joinCapabilities = (names: Iterable<string>): string => [...new Set(names)].sort().join(',');

/** The numbers of a `contextlevels` value. */
export const splitLevels = (value: string): number[] => (value === '' ? [] : value.split(',').map(Number));

/** The names of a `capabilities` value. */
export const splitCapabilities = (value: string): string[] => (value === '' ? [] : value.split(','));

/** Permissions of a role as the plan compares them (allow as the bare name). */
export const permissionList = (permissions: readonly RolePermission[]): string =>
  joinCapabilities(
    permissions.map((p) => (p.permission === CAP_ALLOW ? p.capability : `${p.capability}=${p.permission}`)),
  );

const ROLE_KINDS = {
  id: 'number',
  shortname: 'string',
  name: 'string',
  description: 'string',
  archetype: 'string',
  sortorder: 'number',
} as const;

export async function systemContextId(db: Queryable): Promise<number> {
  const rows = typedRows<{ id: number }>(
    'context',
    await db.query('SELECT id FROM {context} WHERE contextlevel = ? ORDER BY id', [CONTEXT_SYSTEM]),
    { id: 'number' },
  );
  const [first] = rows;
  if (first === undefined) {
    throw new UserError(
      'MOODLE_UNSUPPORTED',
      'Moodle has no system context (contextlevel 10): not a usable Moodle database',
    );
  }
  return first.id;
}

/** role_context_levels rows (all roles, or those of `roleIds`), in id order. */
export async function readLevelRows(
  db: Queryable,
  roleIds: readonly number[] | 'all',
  budget: number,
): Promise<{ id: number; roleid: number; contextlevel: number }[]> {
  const sql = 'SELECT id, roleid, contextlevel FROM {role_context_levels}';
  return typedRows<{ id: number; roleid: number; contextlevel: number }>(
    'role_context_levels',
    roleIds === 'all'
      ? await db.query(sql)
      : await selectIn(db, (list) => `${sql} WHERE roleid IN (${list})`, [], roleIds, budget),
    { id: 'number', roleid: 'number', contextlevel: 'number' },
  ).sort((a, b) => a.id - b.id);
}

/** Context levels of roles, by role id (all roles, or those of `roleIds`). */
export async function readRoleLevels(
  db: Queryable,
  roleIds: readonly number[] | 'all',
  budget: number,
): Promise<Map<number, number[]>> {
  const out = new Map<number, number[]>();
  for (const row of await readLevelRows(db, roleIds, budget)) {
    out.set(row.roleid, [...(out.get(row.roleid) ?? []), row.contextlevel]);
  }
  return out;
}

/** System-context permissions of roles, by role id (all roles, or those of `roleIds`), in id order. */
export async function readRolePermissions(
  db: Queryable,
  contextId: number,
  roleIds: readonly number[] | 'all',
  budget: number,
): Promise<Map<number, RolePermission[]>> {
  const sql = 'SELECT id, roleid, capability, permission FROM {role_capabilities} WHERE contextid = ?';
  const rows = typedRows<RolePermission>(
    'role_capabilities',
    roleIds === 'all'
      ? await db.query(sql, [contextId])
      : await selectIn(db, (list) => `${sql} AND roleid IN (${list})`, [contextId], roleIds, budget),
    { id: 'number', roleid: 'number', capability: 'string', permission: 'number' },
  );
  const out = new Map<number, RolePermission[]>();
  for (const row of [...rows].sort((a, b) => a.id - b.id)) {
    out.set(row.roleid, [...(out.get(row.roleid) ?? []), row]);
  }
  return out;
}

/** Every role with its levels and system-context permissions, in id order. */
export async function readRoles(db: Queryable, budget: number): Promise<MoodleRoleRow[]> {
  const roles = typedRows<Omit<MoodleRoleRow, 'contextlevels' | 'capabilities'>>(
    'role',
    await db.query(`SELECT ${Object.keys(ROLE_KINDS).join(', ')} FROM {role} ORDER BY id`),
    ROLE_KINDS,
  );
  const levels = await readRoleLevels(db, 'all', budget);
  const permissions = await readRolePermissions(db, await systemContextId(db), 'all', budget);
  return roles.map((role) => ({
    ...role,
    contextlevels: joinLevels(levels.get(role.id) ?? []),
    capabilities: permissionList(permissions.get(role.id) ?? []),
  }));
}

/** The capability names Moodle knows (exact names: compared in code, whatever the collation). */
export async function readCapabilityNames(db: Queryable): Promise<Set<string>> {
  const rows = typedRows<{ id: number; name: string }>(
    'capabilities',
    await db.query('SELECT id, name FROM {capabilities}'),
    { id: 'number', name: 'string' },
  );
  return new Set(rows.map((r) => r.name));
}
