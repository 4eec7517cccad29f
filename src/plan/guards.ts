/**
 * Safety analysers run on every plan, before anything is written: a broken source must never turn into mass
 * suspensions. Each guard has a stable code (`GUARD_EMPTY_SOURCE`, `GUARD_<ENTITY>_REMOVALS`), and every guard
 * a plan trips is reported at once, with its figures and the option that allows it for one run; the plan is
 * still shown (and saved) marked refused, so that the reviewer sees exactly what tripped it.
 *
 * Removal limits are per entity (the catalogue's `removals`, the spec's `guards.maxRemovals`): a plan removing
 * more than `count` objects **and** more than `percent` of the managed ones is refused.
 */
import { CATALOG, ENTITY_ORDER, factsOf } from '../entities/catalog.js';
import type { Diagnostic } from '../errors.js';
import { UserError } from '../errors.js';
import type { EntityType } from '../model/change.js';
import type { GuardAllowance, GuardViolation, Plan, PlanGuards, RemovalLimit } from '../model/plan.js';
import type { StateObject } from '../model/state.js';

export const EMPTY_SOURCE_CODE = 'GUARD_EMPTY_SOURCE';

/** Entities with a removal guard, by the name people write (`users`, `cohort_enrolments`), in ENTITY_ORDER. */
export const GUARD_NAMES: ReadonlyMap<string, EntityType> = new Map(
  ENTITY_ORDER.flatMap((entity) => {
    const removal = factsOf(entity).removals;
    return removal === null ? [] : [[removal.name, entity] as const];
  }),
);

const nameOf = (entity: EntityType): string => factsOf(entity).removals?.name ?? entity;

/** `GUARD_USERS_REMOVALS`. */
export const removalCodeOf = (entity: EntityType): string => `GUARD_${nameOf(entity).toUpperCase()}_REMOVALS`;

/** The spec's `guards.maxRemovals`: a limit per entity name, `default` for the others; each value partial. */
export type MaxRemovalsSpec = Readonly<Record<string, Partial<RemovalLimit> | undefined>>;

/** Each guarded entity's limit: the spec's entry for it, over the spec's `default`, over the catalogue's. */
export function removalLimits(spec: MaxRemovalsSpec | undefined): ReadonlyMap<EntityType, RemovalLimit> {
  const limits = new Map<EntityType, RemovalLimit>();
  for (const [name, entity] of GUARD_NAMES) {
    const own = CATALOG[entity].removals?.limit;
    if (own === undefined) continue;
    limits.set(entity, { ...own, ...spec?.default, ...spec?.[name] });
  }
  return limits;
}

/** One entity's removals in a plan, and what they are a share of. */
export interface RemovalCount {
  readonly entity: EntityType;
  readonly removals: number;
  readonly managed: number;
}

/** The removals of every guarded entity in `plan`, with the managed count each is a share of. */
export function removalCounts(plan: Plan, managed: readonly StateObject[]): RemovalCount[] {
  const counts: RemovalCount[] = [];
  for (const entity of GUARD_NAMES.values()) {
    const removal = factsOf(entity).removals;
    if (removal === null) continue;
    const removals = plan.changes.filter((ch) => ch.entity === entity && removal.actions.includes(ch.action)).length;
    // Objects owned through a parent (cohort enrolments) are not in the state: count what the plan saw.
    const of =
      removal.managed === 'plan'
        ? (plan.desiredCounts[entity] ?? 0) + removals
        : managed.filter((o) => o.type === entity).length;
    counts.push({ entity, removals, managed: of });
  }
  return counts;
}

export interface GuardInputs {
  /** People entries the source returned (0 = the source looks broken). */
  readonly sourceEntries: number;
  /** What the state manages now. */
  readonly managed: readonly StateObject[];
  readonly limits: ReadonlyMap<EntityType, RemovalLimit>;
  readonly allowance: GuardAllowance;
}

const share = (removals: number, managed: number): string =>
  managed > 0 ? ` (${((100 * removals) / managed).toFixed(1)}% of the ${managed} managed)` : '';

/** The allowance of one entity: its own, or the one for every entity. */
const allowedFor = (allowance: GuardAllowance, entity: EntityType): number | undefined =>
  allowance.entities?.[entity] ?? allowance.all;

/** Pure: every guard the plan trips, with the allowance it was checked with. */
export function checkGuards(plan: Plan, inputs: GuardInputs): PlanGuards {
  const violations: GuardViolation[] = [];
  const { allowance } = inputs;
  const managedUsers = inputs.managed.filter((o) => o.type === 'user').length;
  if (inputs.sourceEntries === 0 && inputs.managed.length > 0 && allowance.emptySource !== true) {
    const others = inputs.managed.length - managedUsers;
    violations.push({
      code: EMPTY_SOURCE_CODE,
      removals: managedUsers,
      managed: managedUsers,
      message:
        `the directory returned no users while ldap2moodle manages ${managedUsers}` +
        (others > 0 ? ` (and ${others} other objects)` : '') +
        '; this looks like a broken source or search filter. If the directory is really empty, allow it with ' +
        '--allow-empty-source',
      allow: '--allow-empty-source',
    });
  }
  for (const { entity, removals, managed } of removalCounts(plan, inputs.managed)) {
    const removal = factsOf(entity).removals;
    const limit = inputs.limits.get(entity);
    if (removal === null || limit === undefined || removals === 0) continue;
    if (removals <= limit.count || removals <= (managed * limit.percent) / 100) continue;
    const allowed = allowedFor(allowance, entity);
    if (allowed !== undefined && removals <= allowed) continue;
    const name = removal.name;
    const allow = `--allow-removals ${name}=${removals}`;
    violations.push({
      code: removalCodeOf(entity),
      entity,
      removals,
      managed,
      limit,
      ...(allowed === undefined ? {} : { allowed }),
      message:
        `the plan would ${removal.verb} ${removals} ${removal.noun}${share(removals, managed)}, over ` +
        `guards.maxRemovals.${name} (more than ${limit.count} and more than ${limit.percent}%)` +
        (allowed === undefined ? '' : ` and more than the ${allowed} allowed by --allow-removals`) +
        `; a filter mistake must never ${removal.verb} a whole school's ${removal.noun}. If the plan is right, allow it with ${allow}`,
      allow,
    });
  }
  return { sourceEntries: inputs.sourceEntries, allowance, violations };
}

/** The `--allow-removals` value that lets every removal guard of `guards` through, keeping what was allowed. */
export function allowanceToLift(guards: PlanGuards): GuardAllowance {
  const entities: Partial<Record<EntityType, number>> = { ...guards.allowance.entities };
  for (const v of guards.violations) if (v.entity !== undefined) entities[v.entity] = v.removals;
  const emptySource = guards.allowance.emptySource === true || guards.violations.some((v) => v.entity === undefined);
  return {
    ...(guards.allowance.all === undefined ? {} : { all: guards.allowance.all }),
    entities,
    ...(emptySource ? { emptySource } : {}),
  };
}

/** `--allow-removals` text of an allowance: `194`, `users=194,cohort_enrolments=228`, `50,users=194`; '' for none. */
export function formatAllowRemovals(allowance: GuardAllowance): string {
  const parts: string[] = allowance.all === undefined ? [] : [String(allowance.all)];
  for (const [name, entity] of GUARD_NAMES) {
    const n = allowance.entities?.[entity];
    if (n !== undefined) parts.push(`${name}=${n}`);
  }
  return parts.join(',');
}

/** The command-line options of an allowance: `--allow-removals users=194 --allow-empty-source`. */
export function allowanceOptions(allowance: GuardAllowance): string {
  const removals = formatAllowRemovals(allowance);
  return [
    ...(removals === '' ? [] : [`--allow-removals ${removals}`]),
    ...(allowance.emptySource === true ? ['--allow-empty-source'] : []),
  ].join(' ');
}

/**
 * Parses `--allow-removals`: `N` (every entity), `users=200,cohort_enrolments=2000` (per entity), or both
 * (`50,users=200`: 200 users, 50 of every other entity). Throws OPTION_INVALID naming what is wrong.
 */
export function parseAllowRemovals(text: string): GuardAllowance {
  const bad = (why: string): UserError =>
    new UserError(
      'OPTION_INVALID',
      `--allow-removals ${text}: ${why}. Give N (every entity) or entity=N,… with entity one of ` +
        `${[...GUARD_NAMES.keys()].join(', ')}`,
    );
  const count = (value: string, what: string): number => {
    if (!/^\d+$/.test(value.trim())) throw bad(`${what} must be a whole number ≥ 0, not "${value}"`);
    return Number(value.trim());
  };
  let all: number | undefined;
  const entities: Partial<Record<EntityType, number>> = {};
  const items = text.split(',');
  for (const item of items) {
    const eq = item.indexOf('=');
    if (eq < 0) {
      if (all !== undefined) throw bad('a bare number is given twice');
      all = count(item, 'the number');
      continue;
    }
    const name = item.slice(0, eq).trim();
    const entity = GUARD_NAMES.get(name);
    if (entity === undefined) throw bad(`"${name}" is not an entity with a removal guard`);
    if (entities[entity] !== undefined) throw bad(`${name} is given twice`);
    entities[entity] = count(item.slice(eq + 1), name);
  }
  return {
    ...(all === undefined ? {} : { all }),
    ...(Object.keys(entities).length === 0 ? {} : { entities }),
  };
}

/** Every guard the plan trips, as one PLAN_REFUSED message with one diagnostic per guard (with its code). */
export function refusalOf(guards: PlanGuards): { message: string; diagnostics: Diagnostic[] } {
  const { violations } = guards;
  const lift = allowanceOptions(allowanceToLift(guards));
  return {
    message:
      `the plan is refused by ${violations.length === 1 ? 'a safety guard' : `${violations.length} safety guards`}` +
      ` (${violations.map((v) => v.code).join(', ')}); nothing is applied. Check the plan, then, if it is right, ` +
      `run again with ${lift}`,
    diagnostics: violations.map((v) => ({ code: v.code, message: v.message })),
  };
}

/** `--allow-removals` of the library: a number for every entity, or an allowance. */
export function allowanceOf(allowRemovals: number | GuardAllowance | undefined, emptySource: boolean): GuardAllowance {
  const removals: GuardAllowance =
    allowRemovals === undefined ? {} : typeof allowRemovals === 'number' ? { all: allowRemovals } : allowRemovals;
  const { emptySource: _, ...rest } = removals;
  return emptySource || removals.emptySource === true ? { ...rest, emptySource: true } : rest;
}

/** Two allowances as one: the larger of each (a saved plan's, and the one given to `apply FILE`). */
export function mergeAllowances(a: GuardAllowance, b: GuardAllowance): GuardAllowance {
  const max = (x: number | undefined, y: number | undefined): number | undefined =>
    x === undefined ? y : y === undefined ? x : Math.max(x, y);
  const all = max(a.all, b.all);
  const entities: Partial<Record<EntityType, number>> = {};
  for (const entity of GUARD_NAMES.values()) {
    const n = max(a.entities?.[entity], b.entities?.[entity]);
    if (n !== undefined) entities[entity] = n;
  }
  return {
    ...(all === undefined ? {} : { all }),
    ...(Object.keys(entities).length === 0 ? {} : { entities }),
    ...(a.emptySource === true || b.emptySource === true ? { emptySource: true } : {}),
  };
}
