/**
 * The whole job, top to bottom:
 *
 *   spec → source (LDAP or LDIF) → rules (desired state) → target (read Moodle) → diff → plan
 *
 * Only the steps marked I/O touch the outside world; everything between them is pure. The CLI and the tests
 * both call these functions.
 */
import { basename, extname, isAbsolute, join, resolve } from 'node:path';
import type { EntityReading } from './entities/reading.js';
import { digestRows, readEntities } from './entities/reading.js';
import { entityReaders } from './entities/registry.js';
import type { EntityType } from './model/change.js';
import type { CurrentIndex } from './model/current.js';
import type { Plan, PlanHeader } from './model/plan.js';
import type { State } from './model/state.js';
import { withApplyLock } from './moodle/apply-lock.js';
import { openMoodle } from './moodle/connect.js';
import type { MoodleDatabase } from './moodle/database.js';
import { MEMORY } from './moodle/database.js';
import type { MoodleSite } from './moodle/site.js';
import { readSite } from './moodle/site.js';
import { checkGuards, DEFAULT_MAX_REMOVALS } from './plan/guards.js';
import { computePlan } from './plan/plan.js';
import type { PlanFingerprints } from './plan/plan-file.js';
import type { CompiledRules, DesiredState, DirectoryEntries } from './rules/rules.js';
import { compileRules, desiredState, failOnErrors } from './rules/rules.js';
import type { UserConstraints } from './rules/users.js';
import type { LdapEntry } from './source/entry.js';
import { LdapSource } from './source/ldap/ldap-source.js';
import { LdifSource } from './source/ldif/ldif-source.js';
import type { Source } from './source/source.js';
import type { LoadedSpec } from './spec/load.js';
import { checkSpecSemantics } from './spec/semantic.js';
import { resolveState } from './state/resolve-state.js';
import { TOOL_VERSION } from './version.js';

const resolveFrom = (dir: string, path: string): string => (isAbsolute(path) ? path : resolve(dir, path));

/** I/O: opens the spec's source (an LDIF file or an LDAP server, bound). */
export async function openSource(loaded: LoadedSpec): Promise<Source> {
  const { source } = loaded.spec;
  if (source.ldif !== undefined) return LdifSource.open(resolveFrom(loaded.dir, source.ldif));
  if (source.ldap !== undefined) {
    const { ldap } = source;
    return LdapSource.connect({
      url: ldap.url,
      bindDN: ldap.bindDN,
      password: ldap.password,
      pageSize: ldap.pageSize,
      timeoutMs: ldap.timeout,
      tls: ldap.tls && { ...ldap.tls, ca: ldap.tls.ca && resolveFrom(loaded.dir, ldap.tls.ca) },
    });
  }
  throw new Error('unreachable: the schema requires ldif or ldap');
}

/** I/O: the entries the rules read (people, and establishments when the rules use them). */
export async function readEntries(source: Source, rules: CompiledRules): Promise<DirectoryEntries> {
  const read = async (search: CompiledRules['searches']['people'] | undefined): Promise<LdapEntry[]> => {
    const entries: LdapEntry[] = [];
    if (search === undefined) return entries;
    for await (const entry of source.search(search)) entries.push(entry);
    return entries;
  };
  // One search after the other: OpenLDAP keeps one paged-results state per connection, so two paged
  // searches interleaved on it fail ("paged results cookie is invalid").
  const structures = await read(rules.searches.structures);
  const people = await read(rules.searches.people);
  return { people, structures };
}

/** I/O: opens the spec's Moodle database: a server, or the embedded Moodle (created on first use). */
export function openSpecMoodle(loaded: LoadedSpec): Promise<MoodleDatabase> {
  const { moodle } = loaded.spec;
  if (moodle.driver === 'embedded') {
    const path = moodle.path ?? MEMORY;
    return openMoodle({
      driver: 'embedded',
      path: path === MEMORY ? MEMORY : resolveFrom(loaded.dir, path),
      prefix: moodle.prefix,
    });
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

/** Everything that can be checked in the spec alone, before any connection. */
export function checkSpec(loaded: LoadedSpec): CompiledRules {
  checkSpecSemantics(loaded);
  return compileRules(loaded);
}

export interface MoodleSnapshot {
  readonly site: MoodleSite;
  /** What was read for each entity, in ENTITY_ORDER. */
  readonly readings: readonly EntityReading[];
  readonly index: CurrentIndex;
}

/** I/O: what the plan needs to know of Moodle. */
export async function readMoodle(
  db: MoodleDatabase,
  loaded: LoadedSpec,
  rules: CompiledRules,
): Promise<MoodleSnapshot> {
  const site = await readSite(db);
  const budget = await db.statementBudget();
  const { readings, index } = await readEntities(entityReaders(loaded, rules, site), db, { site, budget });
  return { site, readings, index };
}

/** Where the state lives: `state.path`, or `<spec name>.state.json` next to the spec. */
export function statePath(loaded: LoadedSpec): string {
  const configured = loaded.spec.state?.path;
  if (configured !== undefined) return resolveFrom(loaded.dir, configured);
  return join(loaded.dir, `${basename(loaded.path, extname(loaded.path))}.state.json`);
}

export function userConstraints(site: MoodleSite): UserConstraints {
  const columnMaxLength = new Map<string, number | null>();
  for (const [name, column] of site.userColumns) columnMaxLength.set(name, column.maxLength);
  return { columnMaxLength, extendedUsernameChars: site.extendedUsernameChars };
}

/** Everything a plan is computed from, and the plan. */
export interface PlanResult {
  readonly plan: Plan;
  readonly header: PlanHeader;
  readonly site: MoodleSite;
  readonly moodle: MoodleSnapshot;
  readonly desired: DesiredState;
  readonly state: State;
  readonly statePath: string;
  /** People entries the source returned. */
  readonly sourceEntries: number;
  /** What the plan was computed from (saved with it by `plan --out`). */
  readonly fingerprints: PlanFingerprints;
}

/** The fingerprints of a plan: tool, spec, state, and the digests of what was read. */
export function fingerprintsOf(
  loaded: LoadedSpec,
  moodle: MoodleSnapshot,
  state: State,
  sourceDigest: string,
  about: ReadonlyMap<EntityType, ReadonlySet<string>>,
): PlanFingerprints {
  return {
    tool_version: TOOL_VERSION,
    spec_hash: loaded.hash,
    state: { lineage: state.lineage, serial: state.serial },
    moodle: Object.fromEntries(moodle.readings.map((r) => [r.type, r.digestFor(about.get(r.type) ?? new Set())])),
    source: sourceDigest,
  };
}

/** The keys a plan is about, per entity: what the rules ask for, what the state manages, what changes. */
export function keysOfPlan(desired: DesiredState, state: State, plan: Plan): Map<EntityType, Set<string>> {
  const keys = new Map<EntityType, Set<string>>();
  const add = (entity: EntityType, key: string) => {
    let set = keys.get(entity);
    if (set === undefined) {
      set = new Set();
      keys.set(entity, set);
    }
    set.add(key);
  };
  for (const [entity, objects] of desired.objects) for (const o of objects) add(entity, o.key);
  for (const o of state.objects) add(o.type, o.key);
  for (const c of plan.changes) add(c.entity, c.key);
  return keys;
}

export interface PlanOptions {
  /** `--allow-empty-source`. */
  readonly allowEmptySource?: boolean;
  /** `--allow-removals N`. */
  readonly allowRemovals?: number;
  /** `--establishment UAI…`: a run scoped to these establishments (never touching the others'). */
  readonly establishments?: readonly string[];
}

/** Pure: from what was read to the plan, with the safety guards. */
export function planFromInputs(
  loaded: LoadedSpec,
  rules: CompiledRules,
  entries: DirectoryEntries,
  moodle: MoodleSnapshot,
  state: State,
  options: PlanOptions = {},
  notes: readonly string[] = [],
): { plan: Plan; desired: DesiredState } {
  const desired = desiredState(entries, rules, userConstraints(moodle.site), options.establishments);
  failOnErrors(desired, loaded.spec);
  const warnings: string[] = [...moodle.site.warnings, ...notes, ...desired.warnings];
  for (const auth of rules.auths) {
    if (moodle.site.enabledAuth.includes(auth)) continue;
    warnings.push(
      `the auth plugin "${auth}" is not enabled in Moodle (config "auth" is "${moodle.site.enabledAuth.join(',')}"): ` +
        'users it creates could not log in until an administrator enables it',
    );
  }
  const plan = computePlan({
    desired: desired.objects,
    readings: moodle.readings,
    index: moodle.index,
    state,
    skipped: desired.skipped,
    warnings,
    onDataError: loaded.spec.onDataError,
    ...(desired.scope === undefined ? {} : { scope: desired.scope }),
  });
  checkGuards(plan, {
    sourceEntries: entries.people.length,
    managed: state.objects,
    maxRemovals: { ...DEFAULT_MAX_REMOVALS, ...loaded.spec.users.maxRemovals },
    allowEmptySource: options.allowEmptySource ?? false,
    allowRemovals: options.allowRemovals,
  });
  return { plan, desired };
}

/** I/O at both ends: reads the directory, Moodle and the state, then plans. `repair` finalises an interrupted apply. */
export async function readAndPlan(
  loaded: LoadedSpec,
  source: Source,
  db: MoodleDatabase,
  options: PlanOptions & { readonly repair: boolean },
  rules: CompiledRules = compileRules(loaded),
): Promise<PlanResult> {
  const path = statePath(loaded);
  // The directory and Moodle are independent reads: run them side by side.
  const [entries, moodle, resolved] = await Promise.all([
    readEntries(source, rules),
    readMoodle(db, loaded, rules),
    resolveState(db, path, { repair: options.repair }),
  ]);
  const { plan, desired } = planFromInputs(loaded, rules, entries, moodle, resolved.state, options, resolved.notes);
  const header = { source: source.description, target: `${db.description} (Moodle ${moodle.site.release})` };
  return {
    plan,
    header,
    site: moodle.site,
    moodle,
    desired,
    state: resolved.state,
    statePath: path,
    sourceEntries: entries.people.length,
    fingerprints: fingerprintsOf(
      loaded,
      moodle,
      resolved.state,
      digestRows([...entries.structures, ...entries.people]),
      keysOfPlan(desired, resolved.state, plan),
    ),
  };
}

/** Opens the source and the database for `fn`, and closes both whatever happens. */
export async function withSpecResources<T>(
  loaded: LoadedSpec,
  fn: (source: Source, db: MoodleDatabase, rules: CompiledRules) => Promise<T>,
): Promise<T> {
  const rules = checkSpec(loaded); // spec errors before any connection
  const source = await openSource(loaded);
  try {
    const db = await openSpecMoodle(loaded);
    try {
      return await fn(source, db, rules);
    } finally {
      await db.close();
    }
  } finally {
    await source.close();
  }
}

/**
 * The `plan` command: reads everything, writes nothing. `lock` (for `plan --out`) holds the apply lock while
 * planning, so that a saved plan is never computed from a Moodle half-way through someone else's apply.
 */
export function planSpec(
  loaded: LoadedSpec,
  options: PlanOptions & { readonly lock?: boolean } = {},
): Promise<PlanResult> {
  return withSpecResources(loaded, (source, db, rules) => {
    const plan = () => readAndPlan(loaded, source, db, { ...options, repair: false }, rules);
    return options.lock === true ? withApplyLock(db, loaded, plan) : plan();
  });
}
