/**
 * Writes the roles a spec declares as Moodle writes a role an administrator adds in Site administration >
 * Users > Permissions > Define roles (admin/roles/define.php: core_role_define_role_table_advanced::save_changes,
 * which calls the lib/accesslib.php functions named here):
 *
 * - create_role(): a role row (name, shortname, description, archetype, sortorder = MAX(sortorder) + 1, 1 when
 *   that is empty); several roles take the next numbers in key order (role_sor_uix is unique);
 * - set_role_contextlevels(): a role_context_levels row (roleid, contextlevel) per level. Moodle deletes the
 *   role's rows and inserts them all again on every save; nothing refers to their ids, so an update deletes the
 *   levels removed and inserts the levels added only (the same rows in the end);
 * - assign_capability(capability, CAP_ALLOW, role, system context, overwrite): a role_capabilities row
 *   (contextid = the system context, roleid, capability, permission 1, timemodified now, modifierid = the acting
 *   user: the first site admin, as every writer of the project); an existing row of another permission is
 *   updated in place (permission, timemodified, modifierid); a capability no longer declared is CAP_INHERIT,
 *   that is unassign_capability(): its system-context row is deleted. Rows of the role in other contexts are
 *   local overrides, not the definition: never touched;
 * - role_allow_assign / _override / _switch / _view: define.php writes the rows the form selects for the new
 *   role, and for a new role without archetype it selects none (force_duplicate(0) and the empty archetype's
 *   defaults are empty lists): none are written. Site admins may assign any role; a manager may assign this one
 *   once an admin allows it (Define roles > Allow role assignments);
 * - the capability table's save ends with context_system::mark_dirty(): cache_flags accesslib/dirtycontexts
 *   for the system context's path, value 1, expiry now + sessiontimeout.
 *
 * Not written: the role_created / capability_assigned events, and Moodle's MUC `roledefs` cache. A new role is
 * not in that cache; changed permissions of an existing role are seen after a cache purge (the plan says so).
 * A release writes nothing: no Moodle column marks a role as the tool's.
 */
import type { Change } from '../model/change.js';
import { executeIn, insertMany } from './batches.js';
import type { Queryable, SqlValue } from './database.js';
import { CAP_ALLOW, readLevelRows, readRolePermissions, splitCapabilities, splitLevels } from './read-roles.js';
import type { WriteContext } from './write-context.js';
import { markContextsDirty } from './write-dirty-users.js';
import {
  asConflict,
  changedColumns,
  changesByAction,
  moodleIdOf,
  rereadIds,
  textOf,
  updateColumns,
} from './write-helpers.js';
import { actingAdminId } from './write-unenrol.js';

const ROLE_COLUMNS = ['name', 'description', 'archetype'] as const;
/** Values of the plan written to the role's other tables, not to its row. */
const DEFINITION = ['contextlevels', 'capabilities'] as const;

/** create_role()'s sortorder: MAX(sortorder) + 1, or 1 when that is empty (no roles, or 0). */
async function nextSortorder(tx: Queryable): Promise<number> {
  const [row] = await tx.query<{ m: number | string | null }>('SELECT MAX(sortorder) AS m FROM {role}');
  const next = row?.m === null || row?.m === undefined ? 0 : Number(row.m) + 1;
  return next === 0 ? 1 : next;
}

interface Definition {
  readonly roleId: number;
  /** Levels after the write (undefined: unchanged). */
  readonly levels?: readonly number[];
  /** Capabilities allowed after the write (undefined: unchanged). */
  readonly capabilities?: readonly string[];
}

function definitionOf(change: Change, roleId: number): Definition {
  const { contextlevels, capabilities } = change.after;
  return {
    roleId,
    ...(contextlevels === undefined ? {} : { levels: splitLevels(textOf(change, 'contextlevels')) }),
    ...(capabilities === undefined ? {} : { capabilities: splitCapabilities(textOf(change, 'capabilities')) }),
  };
}

/** Makes the roles' levels and system-context permissions those of `definitions`; true when it wrote. */
async function writeDefinitions(tx: Queryable, ctx: WriteContext, definitions: readonly Definition[]) {
  const { budget } = ctx;
  const leveled = definitions.filter((d) => d.levels !== undefined);
  const held = await readLevelRows(
    tx,
    leveled.map((d) => d.roleId),
    budget,
  );
  const levelGone: number[] = [];
  const levelNew: SqlValue[][] = [];
  for (const d of leveled) {
    const wanted = new Set(d.levels);
    const rows = held.filter((r) => r.roleid === d.roleId);
    for (const r of rows) if (!wanted.has(r.contextlevel)) levelGone.push(r.id);
    const have = new Set(rows.map((r) => r.contextlevel));
    for (const level of wanted) if (!have.has(level)) levelNew.push([d.roleId, level]);
  }
  await executeIn(tx, (list) => `DELETE FROM {role_context_levels} WHERE id IN (${list})`, [], levelGone, budget);
  await insertMany(tx, 'role_context_levels', ['roleid', 'contextlevel'], levelNew, budget);

  const permitted = definitions.filter((d) => d.capabilities !== undefined);
  const current = await readRolePermissions(
    tx,
    ctx.systemContextId,
    permitted.map((d) => d.roleId),
    budget,
  );
  const capGone: number[] = [];
  const capAllowed: { id: number; values: Record<string, SqlValue> }[] = [];
  const capNew: SqlValue[][] = [];
  const modifier = actingAdminId(ctx);
  for (const d of permitted) {
    const wanted = new Set(d.capabilities);
    const rows = current.get(d.roleId) ?? [];
    // Names compared in code: MariaDB's collation would match another case of a name.
    for (const r of rows) {
      if (!wanted.has(r.capability)) capGone.push(r.id);
      else if (r.permission !== CAP_ALLOW)
        capAllowed.push({ id: r.id, values: { permission: CAP_ALLOW, modifierid: modifier } });
    }
    const have = new Set(rows.map((r) => r.capability));
    for (const name of wanted) {
      if (!have.has(name)) capNew.push([ctx.systemContextId, d.roleId, name, CAP_ALLOW, ctx.now, modifier]);
    }
  }
  await executeIn(tx, (list) => `DELETE FROM {role_capabilities} WHERE id IN (${list})`, [], capGone, budget);
  await updateColumns(tx, 'role_capabilities', capAllowed, { timemodified: ctx.now }, budget);
  await insertMany(
    tx,
    'role_capabilities',
    ['contextid', 'roleid', 'capability', 'permission', 'timemodified', 'modifierid'],
    capNew,
    budget,
  ).catch(asConflict(tx, 'a role permission'));
  return levelGone.length + levelNew.length + capGone.length + capAllowed.length + capNew.length > 0;
}

async function createRoles(tx: Queryable, ctx: WriteContext, creates: readonly Change[]): Promise<Definition[]> {
  if (creates.length === 0) return [];
  const first = await nextSortorder(tx);
  await insertMany(
    tx,
    'role',
    ['name', 'shortname', 'description', 'sortorder', 'archetype'],
    creates.map((change, i) => [
      textOf(change, 'name'),
      textOf(change, 'shortname'),
      textOf(change, 'description', ''),
      first + i,
      textOf(change, 'archetype', ''),
    ]),
    ctx.budget,
  ).catch(asConflict(tx, 'a role'));
  const shortnames = creates.map((c) => textOf(c, 'shortname'));
  const ids = await rereadIds(tx, 'role', 'shortname', shortnames, ctx.budget, 'role shortname');
  return creates.map((change) => {
    const id = ids.get(textOf(change, 'shortname')) as number;
    ctx.ids.set('role', change.key, id);
    return definitionOf(change, id);
  });
}

/** Applies the role changes of a plan (create, update, adopt; a release writes nothing). */
export async function writeRoleChanges(tx: Queryable, ctx: WriteContext, changes: readonly Change[]): Promise<void> {
  const byAction = changesByAction(changes, 'role', ['create', 'update', 'adopt', 'release']);
  const created = await createRoles(tx, ctx, byAction.get('create') ?? []);

  const updates = [...(byAction.get('update') ?? []), ...(byAction.get('adopt') ?? [])];
  const rows = updates.map((change) => ({
    id: moodleIdOf(change),
    values: changedColumns(change, ROLE_COLUMNS, DEFINITION) as Record<string, SqlValue>,
  }));
  await updateColumns(tx, 'role', rows, {}, ctx.budget);
  const changed = await writeDefinitions(tx, ctx, [
    ...created,
    ...updates.map((change) => definitionOf(change, moodleIdOf(change))),
  ]);

  if (created.length > 0 || changed || rows.some((r) => Object.keys(r.values).length > 0)) {
    await markContextsDirty(tx, ctx, [ctx.systemContextPath]);
  }
}
