/**
 * Reads the role assignments the role_assignment entity compares against: those of chosen users with one
 * component (the tool's ownership marker, '' by default) and itemid 0, in the system, user, category and course
 * contexts; and which context levels each role may be assigned at (role_context_levels). Plain SELECTs joined
 * here in code; the component is compared in code (MariaDB's collation ignores case).
 */
import { selectIn } from './batches.js';
import type { Queryable } from './database.js';
import { typedRows } from './read-categories.js';

/** Context levels a role assignment of the tool can live at: system, user, category, course. */
export const ASSIGNMENT_LEVELS: readonly number[] = [10, 30, 40, 50];

export interface MoodleRoleAssignmentRow {
  readonly id: number;
  readonly roleid: number;
  readonly contextid: number;
  readonly userid: number;
  readonly component: string;
  readonly itemid: number;
  /** Of its context: 10 system, 30 user, 40 category, 50 course. */
  readonly contextlevel: number;
  /** The user, category or course the context is of (0 for the system context). */
  readonly instanceid: number;
}

/** Statement size for the context ids: small enough for any server's packet limit, large enough for one. */
const SMALL_BUDGET = 256 * 1024;

export async function readRoleAssignments(
  db: Queryable,
  userIds: readonly number[],
  component: string,
  budget: number,
): Promise<MoodleRoleAssignmentRow[]> {
  const rows = typedRows<Omit<MoodleRoleAssignmentRow, 'contextlevel' | 'instanceid'>>(
    'role_assignments',
    await selectIn(
      db,
      (list) =>
        `SELECT id, roleid, contextid, userid, component, itemid FROM {role_assignments} WHERE itemid = 0 AND component = ? AND userid IN (${list})`,
      [component],
      [...new Set(userIds)],
      budget,
    ),
    { id: 'number', roleid: 'number', contextid: 'number', userid: 'number', component: 'string', itemid: 'number' },
  ).filter((r) => r.component === component);
  if (rows.length === 0) return [];
  const contexts = typedRows<{ id: number; contextlevel: number; instanceid: number }>(
    'context',
    await selectIn(
      db,
      (list) => `SELECT id, contextlevel, instanceid FROM {context} WHERE id IN (${list})`,
      [],
      [...new Set(rows.map((r) => r.contextid))],
      Math.min(budget, SMALL_BUDGET),
    ),
    { id: 'number', contextlevel: 'number', instanceid: 'number' },
  );
  const byId = new Map(contexts.map((c) => [c.id, c]));
  const out: MoodleRoleAssignmentRow[] = [];
  for (const row of rows) {
    const context = byId.get(row.contextid);
    if (context === undefined || !ASSIGNMENT_LEVELS.includes(context.contextlevel)) continue;
    out.push({ ...row, contextlevel: context.contextlevel, instanceid: context.instanceid });
  }
  return out.sort((a, b) => a.id - b.id);
}

/** Context levels each role may be assigned at, by role id (Moodle's role_context_levels). */
export async function readAssignableLevels(db: Queryable): Promise<Map<number, Set<number>>> {
  const rows = typedRows<{ roleid: number; contextlevel: number }>(
    'role_context_levels',
    await db.query('SELECT id, roleid, contextlevel FROM {role_context_levels}'),
    { roleid: 'number', contextlevel: 'number' },
  );
  const out = new Map<number, Set<number>>();
  for (const row of rows) {
    const levels = out.get(row.roleid) ?? new Set<number>();
    levels.add(row.contextlevel);
    out.set(row.roleid, levels);
  }
  return out;
}
