/**
 * The role entity: roles the spec declares (a "parent" role assigned in each child's user context, Moodle's
 * documented parent pattern), keyed by shortname, created and owned by the tool. A role is its row (name,
 * description, archetype), the context levels it may be assigned at and its permissions in the system context;
 * the tool declares capabilities as allowed (CAP_ALLOW), any other capability is left unset (inherit), so a
 * managed role whose Moodle definition differs — a level, an allowed capability, a prevent set by hand — is
 * updated until Moodle matches. What a direct-SQL writer must write, and why, is in src/moodle/write-roles.ts.
 *
 * A role that exists and is not the tool's is a conflict, or adopted (`adopt: matching`); Moodle's standard
 * roles (shortname = archetype: manager, student, …) are never taken over, their definitions are Moodle's. A
 * managed role no longer declared is never deleted (every assignment of it would go): it is released (forgotten,
 * left in Moodle) and the plan says so. A capability Moodle does not know (not in its `capabilities` table: a
 * plugin not installed, a typo) is a conflict naming it.
 */
import type { Diagnostic } from '../errors.js';
import type { Change } from '../model/change.js';
import { addressOf } from '../model/change.js';
import type { DesiredObject } from '../model/desired.js';
import type { Queryable } from '../moodle/database.js';
import type { MoodleRoleRow } from '../moodle/read-roles.js';
import {
  joinLevels,
  permissionList,
  readCapabilityNames,
  readRoleLevels,
  readRolePermissions,
  readRoles,
  splitCapabilities,
  splitLevels,
  systemContextId,
} from '../moodle/read-roles.js';
import { writeRoleChanges } from '../moodle/write-roles.js';
import type { DiffInput, Entity, EntityDiff } from './entity.js';
import type { Removal } from './keyed-diff.js';
import { diffKeyed } from './keyed-diff.js';
import { recheckCatalogued } from './recheck.js';

export type RoleRow = MoodleRoleRow;

export interface RoleOptions {
  /** `roles.adopt` (default never): an existing role of that shortname, not the tool's, is taken over. */
  readonly adopt: 'never' | 'matching';
}

/** What the diff needs of Moodle beyond the role rows. */
export interface RoleFacts {
  /** Capability names Moodle knows (its `capabilities` table). */
  readonly capabilities: ReadonlySet<string>;
}

/** Moodle 4.5's role archetypes (get_role_archetypes()); the standard roles bear these shortnames. */
export const ROLE_ARCHETYPES: readonly string[] = [
  'manager',
  'coursecreator',
  'editingteacher',
  'teacher',
  'student',
  'guest',
  'user',
  'frontpage',
];

/** Context levels a role may be made assignable at in Moodle 4.5: system, user, category, course, module, block. */
export const ROLE_CONTEXT_LEVELS: readonly number[] = [10, 30, 40, 50, 70, 80];

/** Columns the spec sets (the shortname is the key). */
const COMPARED = ['name', 'description', 'archetype', 'contextlevels', 'capabilities'] as const;

/** Moodle's role editor keeps lower-case letters, digits, `_` and `-` of a shortname, at most 100 of them. */
const SHORTNAME = /^[a-z0-9_-]{1,100}$/;

export const describeRole = (row: RoleRow): string =>
  `Moodle role id ${row.id}${row.name === '' ? '' : ` "${row.name}"`} (shortname ${row.shortname})`;

const quoted = (names: readonly string[]): string => names.map((n) => JSON.stringify(n)).join(', ');

/** The pure role diff. */
export function diffRoles(input: DiffInput<RoleRow>, options: RoleOptions, facts: RoleFacts): EntityDiff {
  const rows = input.current;

  /** What makes a declared role impossible to write as Moodle would, or null. */
  const problemOf = (desired: DesiredObject, self: RoleRow | undefined): string | null => {
    const v = desired.values;
    const name = String(v.name ?? '');
    const archetype = String(v.archetype ?? '');
    if (!SHORTNAME.test(desired.key)) {
      return `shortname "${desired.key}" is not one Moodle's role editor keeps (lower-case letters, digits, _ and -, at most 100)`;
    }
    if (name.trim() === '' || name.length > 255) return 'a role needs a name of 1 to 255 characters';
    if (archetype !== '' && !ROLE_ARCHETYPES.includes(archetype)) {
      return `archetype "${archetype}" is not one of Moodle's (${ROLE_ARCHETYPES.join(', ')}) or ''`;
    }
    const levels = splitLevels(String(v.contextlevels ?? ''));
    const badLevels = levels.filter((l) => !ROLE_CONTEXT_LEVELS.includes(l));
    if (badLevels.length > 0) {
      return `context level(s) ${badLevels.join(', ')} are not ones a Moodle role may be assigned at (${ROLE_CONTEXT_LEVELS.join(', ')})`;
    }
    const unknown = splitCapabilities(String(v.capabilities ?? '')).filter((c) => !facts.capabilities.has(c));
    if (unknown.length > 0) {
      return (
        `capabilit${unknown.length === 1 ? 'y' : 'ies'} ${quoted(unknown)} ${unknown.length === 1 ? 'is' : 'are'} not known to ` +
        "this Moodle (not in its capabilities table: a plugin that is not installed, or a typo); Moodle's access checks would ignore it"
      );
    }
    // Moodle's role editor refuses a name another role has.
    const twin = rows.find((r) => r.name === name && r.id !== self?.id && r.shortname !== desired.key);
    if (twin !== undefined) return `name "${name}" is already that of ${describeRole(twin)}`;
    return null;
  };

  const checkCreate = (desired: DesiredObject): string | null => {
    // MariaDB's unique index on shortname ignores case: "Parent" would block "parent".
    const lower = desired.key.toLowerCase();
    const other = rows.find((r) => r.shortname !== desired.key && r.shortname.toLowerCase() === lower);
    if (other !== undefined) return `${describeRole(other)} differs only in case; rename one of them`;
    return problemOf(desired, undefined);
  };

  const checkExisting = (desired: DesiredObject, row: RoleRow): string | null => {
    if (ROLE_ARCHETYPES.includes(row.shortname) && row.archetype === row.shortname) {
      return `${describeRole(row)} is one of Moodle's standard roles; ldap2moodle does not redefine it — declare a role of another shortname`;
    }
    return problemOf(desired, row);
  };

  const removed = (): Removal => ({
    change: {
      action: 'release',
      before: {},
      after: {},
      reason: 'no longer declared: forgotten, left in Moodle with its assignments (roles are never deleted)',
    },
  });

  const diff = diffKeyed(input, {
    entity: 'role',
    keyOf: (row) => row.shortname,
    describe: describeRole,
    compared: COMPARED,
    adopt: options.adopt,
    checkCreate,
    checkExisting,
    removed,
  });
  const warnings = [...diff.warnings];
  for (const change of diff.changes) {
    if (change.action === 'release') {
      warnings.push(
        `${change.address}: no longer declared; ldap2moodle forgets Moodle role id ${change.moodleId} and leaves it, ` +
          'its definition and its assignments in Moodle (delete it there if it is no longer needed)',
      );
    } else if (change.action !== 'create' && change.after.capabilities !== undefined) {
      warnings.push(
        `${change.address}: Moodle caches role definitions (cache roledefs): the changed permissions apply once Moodle's caches are purged`,
      );
    }
  }
  return { ...diff, warnings };
}

/**
 * Inside the transaction: the definitions of the roles the plan changes are still those it read, and the
 * capabilities it gives are still known to Moodle (a plugin uninstalled meanwhile removes its own).
 */
async function recheckDefinitions(
  tx: Queryable,
  planned: readonly RoleRow[],
  changes: readonly Change[],
  budget: number,
): Promise<Diagnostic[]> {
  const problems: Diagnostic[] = [];
  const byId = new Map(planned.map((r) => [r.id, r]));
  const ids = [...new Set(changes.filter((c) => c.action !== 'release').flatMap((c) => c.moodleId ?? []))];
  if (ids.length > 0) {
    const levels = await readRoleLevels(tx, ids, budget);
    const permissions = await readRolePermissions(tx, await systemContextId(tx), ids, budget);
    for (const id of ids) {
      const before = byId.get(id);
      const now = {
        contextlevels: joinLevels(levels.get(id) ?? []),
        capabilities: permissionList(permissions.get(id) ?? []),
      };
      for (const column of ['contextlevels', 'capabilities'] as const) {
        if (before === undefined || before[column] === now[column]) continue;
        problems.push({
          message: `Moodle role id ${id}: ${column} is now ${JSON.stringify(now[column])}, the plan saw ${JSON.stringify(before[column])}`,
        });
      }
    }
  }
  const given = changes.flatMap((c) =>
    typeof c.after.capabilities === 'string' ? splitCapabilities(c.after.capabilities).map((n) => [c, n] as const) : [],
  );
  if (given.length > 0) {
    const known = await readCapabilityNames(tx);
    for (const [change, name] of given) {
      if (!known.has(name)) {
        problems.push({
          message: `${addressOf('role', change.key)}: capability "${name}" is no longer known to Moodle`,
        });
      }
    }
  }
  return problems;
}

/** The role entity of one run. */
export function roleEntity(options: RoleOptions): Entity<RoleRow, RoleFacts> {
  return {
    type: 'role',
    read: async (db, context) => {
      const facts = { capabilities: await readCapabilityNames(db) };
      return { rows: await readRoles(db, context.budget), facts };
    },
    identify: (row) => ({ id: row.id, key: row.shortname }),
    diff: (input, facts) => diffRoles(input, options, facts),
    recheck: async (tx, planned, changes, budget, context) => [
      ...(await recheckCatalogued('role', tx, planned, changes, budget, context)),
      ...(await recheckDefinitions(tx, planned, changes, budget)),
    ],
    write: (tx, context, changes) => writeRoleChanges(tx, context, changes),
  };
}
