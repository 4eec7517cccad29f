/**
 * Role assignments, keyed `<context>/<role shortname>/<user key>` where the context is `system`,
 * `category:<idnumber>`, `course:<idnumber>` or `user:<user key>` (the target user's context). Stateful: the tool
 * owns the assignments it created or adopted, all with one component (`roleAssignments.component`, '' by
 * default: a plain manual assignment; a non-empty one locks them in Moodle's UI) and itemid 0.
 *
 * role_assignments has no unique index (reference-writes §23): an existing identical row counts as present (taken
 * over when unmanaged, never inserted again), and several identical rows already in Moodle are one assignment
 * (a warning says so; removing it removes them all). A role that does not exist, or that Moodle does not let be
 * assigned at that context level (role_context_levels: its UI could neither show nor remove it), is a conflict.
 * A role the spec declares (the role entity's: `declaredRoles`, or one the rules plan, `wanted`/`owned('role')`)
 * exists once this plan is applied, even when this apply creates it, and its assignability is checked against
 * the levels it is declared with (what the role writer makes role_context_levels say before assignments are
 * written: roles come first in ENTITY_ORDER).
 *
 * Manual enrolment roles are rows of the same shape (course context, component '', itemid 0). The rule that
 * keeps the two entities from fighting over a row: a course-context row (C, R, U) is the manual enrolment's when
 * the component is '', the tool manages or plans the enrolment C/U (`owned`/`wanted('enrolment', C/U)`) and R is
 * the role that enrolment gives after this plan (`enrolmentRole`, from the enrolment entity; without it, any
 * role of U in C may be the enrolment's). Such a row is taken over by this entity only when the rules ask for
 * exactly that assignment too, and is never unassigned by it: when this entity no longer wants it, it forgets
 * it (a release) and the row stays with the enrolment. The enrolment entity likewise keeps an old role that the
 * rules ask for as a role assignment.
 */
import type { Change, EntityType } from '../model/change.js';
import { addressOf, pairKey } from '../model/change.js';
import type { CurrentIndex } from '../model/current.js';
import type { DesiredObject } from '../model/desired.js';
import type { StateObject } from '../model/state.js';
import type { MoodleRoleAssignmentRow } from '../moodle/read-role-assignments.js';
import { readAssignableLevels, readRoleAssignments } from '../moodle/read-role-assignments.js';
import { writeRoleAssignmentChanges } from '../moodle/write-role-assignments.js';
import type { Conflict, DiffInput, Entity, EntityDiff } from './entity.js';
import { byKey } from './entity.js';
import { createChange } from './keyed-diff.js';
import { recheckCatalogued } from './recheck.js';

export type RoleAssignmentRow = MoodleRoleAssignmentRow;

export type RoleAssignmentOnRemoved = 'unassign' | 'keep';

export interface RoleAssignmentOptions {
  /** `roleAssignments.onRemoved` (default unassign). */
  readonly onRemoved: RoleAssignmentOnRemoved;
  /** `roleAssignments.component` (default ''): role_assignments.component of the tool's assignments. */
  readonly component: string;
  /**
   * Roles the spec declares (role entity), by shortname: the context levels each may be assigned at after this
   * plan (the declaration's `contextlevels`). They are checked instead of Moodle's role_context_levels.
   */
  readonly declaredRoles?: ReadonlyMap<string, readonly number[]>;
}

/** What the diff needs of Moodle beyond the rows. */
export interface RoleAssignmentFacts {
  /** Role ids by shortname (site.roles). */
  readonly roles: ReadonlyMap<string, number>;
  /** Context levels each role may be assigned at, by role id (role_context_levels). */
  readonly levels: ReadonlyMap<number, ReadonlySet<number>>;
}

/** What was read: the diff's facts, and the key of each row that carries one. */
export interface RoleAssignmentReadFacts extends RoleAssignmentFacts {
  /** Of identical rows, only the first (lowest id) carries the key: the others are the same assignment. */
  readonly keyed: ReadonlyMap<number, string>;
}

export const roleAssignmentKey = (context: string, role: string, user: string): string => `${context}/${role}/${user}`;

/** Context kinds of the `context` value: level, the ref naming the instance, and the entity it is of. */
const KINDS: Readonly<Record<string, { level: number; ref: string; entity: EntityType }>> = {
  category: { level: 40, ref: 'category', entity: 'category' },
  course: { level: 50, ref: 'course', entity: 'course' },
  user: { level: 30, ref: 'target', entity: 'user' },
};
const LEVEL_NAMES: Readonly<Record<number, string>> = { 10: 'system', 30: 'user', 40: 'category', 50: 'course' };

/** The `context` value of a row (`course:<key>`…), or null when its instance has no key. */
export function contextOfRow(row: RoleAssignmentRow, index: CurrentIndex): string | null {
  if (row.contextlevel === 10) return 'system';
  const kind = Object.entries(KINDS).find(([, k]) => k.level === row.contextlevel);
  if (kind === undefined) return null;
  const key = index.key(kind[1].entity, row.instanceid);
  return key === undefined ? null : `${kind[0]}:${key}`;
}

/** The key of a row, or null when its context, role or user has none. */
export function keyOfRow(row: RoleAssignmentRow, index: CurrentIndex, roleNames: ReadonlyMap<number, string>) {
  const context = contextOfRow(row, index);
  const role = roleNames.get(row.roleid);
  const user = index.key('user', row.userid);
  return context === null || role === undefined || user === undefined ? null : roleAssignmentKey(context, role, user);
}

const reverse = (roles: ReadonlyMap<string, number>) => new Map([...roles].map(([name, id]) => [id, name]));

/** The pure role assignment diff. */
export function diffRoleAssignments(
  input: DiffInput<RoleAssignmentRow>,
  options: RoleAssignmentOptions,
  facts: RoleAssignmentFacts,
): EntityDiff {
  const { index, owned, wanted } = input;
  const roleNames = reverse(facts.roles);
  const rowsByKey = new Map<string, RoleAssignmentRow[]>();
  for (const row of [...input.current].sort((a, b) => a.id - b.id)) {
    const key = keyOfRow(row, index, roleNames);
    if (key !== null) rowsByKey.set(key, [...(rowsByKey.get(key) ?? []), row]);
  }
  const managedIds = new Set(input.managed.map((m) => m.id));
  const changes: Change[] = [];
  const conflicts: Conflict[] = [];
  const warnings: string[] = [];
  const claimed = new Set<number>();

  const problemOf = (desired: DesiredObject): string | null => {
    const context = String(desired.values.context ?? '');
    const role = String(desired.values.role ?? '');
    const roleId = facts.roles.get(role);
    const declared = options.declaredRoles?.get(role);
    const planned = declared !== undefined || wanted('role', role) || owned('role', role);
    if (roleId === undefined && !planned) return `role "${role}" does not exist in Moodle`;
    const kindName = context.slice(0, context.indexOf(':'));
    const kind = context === 'system' ? undefined : KINDS[kindName];
    if (context !== 'system' && kind === undefined) return `unknown context "${context}"`;
    const level = kind?.level ?? 10;
    if (declared !== undefined && !declared.includes(level)) {
      return (
        `role "${role}" is declared assignable at context levels ${declared.join(', ') || 'none'}, not in a ` +
        `${LEVEL_NAMES[level]} context (${level}); add that level to the role's declaration, or change the rule`
      );
    }
    // Moodle's levels otherwise (a role the rules plan without declared levels and not in Moodle yet is left to
    // its own diff).
    if (declared === undefined && roleId !== undefined && !(facts.levels.get(roleId)?.has(level) ?? false)) {
      return (
        `role "${role}" cannot be assigned in a ${LEVEL_NAMES[level]} context in Moodle (role_context_levels), so ` +
        "Moodle's UI could neither show nor remove it; allow that context type in the role's definition, or change the rule"
      );
    }
    const refs: [string, EntityType][] = [['user', 'user']];
    if (kind !== undefined) refs.push([kind.ref, kind.entity]);
    for (const [name, entity] of refs) {
      const key = desired.refs?.[name]?.key;
      if (key === undefined) return `role assignment "${desired.key}" names no ${name}`;
      // One the rules produce counts: if it cannot be made, its own conflict says why.
      if (index.id(entity, key) === undefined && !owned(entity, key) && !wanted(entity, key)) {
        return `the ${name} of role assignment "${desired.key}", "${key}", is neither produced by the rules nor in Moodle`;
      }
    }
    return null;
  };

  const noteDuplicates = (key: string, rows: readonly RoleAssignmentRow[]): void => {
    if (rows.length < 2) return;
    warnings.push(
      `${addressOf('role_assignment', key)}: Moodle holds ${rows.length} identical role assignments (ids ${rows.map((r) => r.id).join(', ')}); ldap2moodle treats them as one`,
    );
  };

  for (const desired of input.desired) {
    const problem = problemOf(desired);
    if (problem !== null) {
      conflicts.push({ dn: desired.dn, message: problem });
      continue;
    }
    const rows = rowsByKey.get(desired.key) ?? [];
    for (const row of rows) claimed.add(row.id);
    noteDuplicates(desired.key, rows);
    const first = rows[0];
    if (first === undefined) {
      changes.push(createChange('role_assignment', desired));
      continue;
    }
    if (rows.some((r) => managedIds.has(r.id))) continue;
    changes.push({
      entity: 'role_assignment',
      address: addressOf('role_assignment', desired.key),
      action: 'adopt',
      key: desired.key,
      moodleId: first.id,
      dn: desired.dn,
      before: {},
      after: {},
      sourceDigest: desired.sourceDigest,
      reason: 'existing unmanaged role assignment taken over',
    });
  }

  /** Whether a course-context row is the role of a manual enrolment the tool holds (see the header). */
  const enrolmentHolds = (managed: StateObject): boolean => {
    const { context, role, user } = managed.values;
    if (options.component !== '' || typeof context !== 'string' || !context.startsWith('course:')) return false;
    const course = context.slice('course:'.length);
    const enrolment = pairKey(course, String(user));
    if (!owned('enrolment', enrolment) && !wanted('enrolment', enrolment)) return false;
    // Without the enrolment entity's word on it, any role of the user in the course may be the enrolment's.
    const { enrolmentRoles } = input.products;
    return enrolmentRoles === undefined || enrolmentRoles.get(enrolment) === role;
  };

  const byId = new Map(input.current.map((row) => [row.id, row]));
  for (const managed of input.managed) {
    if (claimed.has(managed.id)) continue;
    const row = byId.get(managed.id);
    if (row === undefined) {
      warnings.push(
        `${managed.address}: Moodle role assignment id ${managed.id} was deleted outside ldap2moodle; it will be forgotten`,
      );
      continue;
    }
    const rows = rowsByKey.get(managed.key) ?? [row];
    for (const r of rows) claimed.add(r.id);
    noteDuplicates(managed.key, rows);
    const base = {
      entity: 'role_assignment' as const,
      address: managed.address,
      key: managed.key,
      moodleId: row.id,
      dn: null,
      sourceDigest: null,
    };
    if (enrolmentHolds(managed)) {
      changes.push({
        ...base,
        action: 'release',
        before: {},
        after: {},
        reason:
          'no longer in the directory; the role of a manual enrolment ldap2moodle manages: left to it, forgotten here',
      });
      continue;
    }
    if (options.onRemoved === 'keep') continue;
    changes.push({
      ...base,
      action: 'delete',
      before: { ...managed.values },
      after: {},
      reason: 'no longer in the directory (roleAssignments.onRemoved: unassign)',
    });
  }

  changes.sort(byKey);
  return { changes, conflicts, warnings };
}

/** The role assignment entity of one run. */
export function roleAssignmentEntity(
  options: RoleAssignmentOptions,
): Entity<RoleAssignmentRow, RoleAssignmentReadFacts> {
  return {
    type: 'role_assignment',
    read: async (db, context) => {
      const levels = await readAssignableLevels(db);
      const rows = await readRoleAssignments(db, context.index.ids('user'), options.component, context.budget);
      const roleNames = reverse(context.site.roles);
      const keyed = new Map<number, string>();
      const seen = new Set<string>();
      for (const row of rows) {
        const key = keyOfRow(row, context.index, roleNames);
        if (key === null || seen.has(key)) continue;
        seen.add(key);
        keyed.set(row.id, key);
      }
      return { rows, facts: { roles: context.site.roles, levels, keyed } };
    },
    identify: (row, { facts }) => {
      const key = facts.keyed.get(row.id);
      return key === undefined ? null : { id: row.id, key };
    },
    diff: (input, facts) => diffRoleAssignments(input, options, facts),
    recheck: (tx, planned, changes, budget, context) =>
      recheckCatalogued('role_assignment', tx, planned, changes, budget, context),
    write: (tx, context, changes) => writeRoleAssignmentChanges(tx, context, changes, { component: options.component }),
  };
}
