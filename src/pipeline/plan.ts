/**
 * The pipeline, planning half, top to bottom:
 *
 *   spec → source (LDAP or LDIF) → rules (desired state) → target (read Moodle) → diff → plan
 *
 * Only the steps marked I/O touch the outside world; everything between them is pure. The library API
 * (src/index.ts), the CLI and the tests call these functions; src/pipeline/apply.ts is the other half.
 */
import type { MoodleSnapshot } from '../entities/read-moodle.js';
import { readMoodle } from '../entities/read-moodle.js';
import { digestRows } from '../entities/reading.js';
import { UserError } from '../errors.js';
import type { GuardAllowance, Plan, PlanHeader } from '../model/plan.js';
import type { State } from '../model/state.js';
import { withApplyLock } from '../moodle/apply-lock.js';
import type { LockOptions } from '../moodle/connect.js';
import { lockPolicyOf, openSpecMoodle } from '../moodle/connect.js';
import type { MoodleDatabase } from '../moodle/database.js';
import type { MoodleSite } from '../moodle/site.js';
import { observeDatabase } from '../moodle/observed-database.js';
import { readSite } from '../moodle/site.js';
import type { RunObserver } from '../observe/events.js';
import { inStage, NO_OBSERVER } from '../observe/events.js';
import { fingerprintsOf, keysOfPlan } from '../plan/fingerprints.js';
import { allowanceOf, checkGuards, refusalOf, removalLimits } from '../plan/guards.js';
import { ownPluginWarning } from '../plan/own-plugin.js';
import { computePlan } from '../plan/plan.js';
import type { PlanFingerprints } from '../plan/plan-file.js';
import type { CompiledRules, DesiredState, DirectoryEntries } from '../rules/rules.js';
import { compileRules, desiredState, failOnErrors } from '../rules/rules.js';
import type { UserConstraints } from '../rules/users.js';
import type { LdapEntry } from '../source/entry.js';
import { observeSource } from '../source/observed-source.js';
import { openSource } from '../source/open-source.js';
import type { Source } from '../source/source.js';
import type { LockPolicy } from '../lock-wait.js';
import type { LoadedSpec } from '../spec/load.js';
import { checkSpecSemantics } from '../spec/semantic.js';
import { resolveState } from '../state/resolve-state.js';
import { statePath } from '../state/state-path.js';

/** Everything that can be checked in the spec alone, before any connection. */
export function checkSpec(loaded: LoadedSpec): CompiledRules {
  checkSpecSemantics(loaded);
  return compileRules(loaded);
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

/** What the site's columns allow (sizes, username characters), for the rules. */
export function userConstraints(site: MoodleSite): UserConstraints {
  const columnMaxLength = new Map<string, number | null>();
  for (const [name, column] of site.userColumns) columnMaxLength.set(name, column.maxLength);
  const tableColumns = new Map<string, ReadonlyMap<string, number | null>>();
  for (const [table, columns] of site.tableColumns) {
    tableColumns.set(table, new Map([...columns].map(([name, column]) => [name, column.maxLength])));
  }
  return { columnMaxLength, extendedUsernameChars: site.extendedUsernameChars, tableColumns };
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

export interface PlanOptions extends LockOptions {
  /** `--allow-empty-source`. */
  readonly allowEmptySource?: boolean;
  /**
   * `--allow-removals`: up to N removals of every entity (a number), or per entity (an allowance, e.g.
   * `{ entities: { user: 200, cohort_enrolment: 2000 } }`), whatever the limits.
   */
  readonly allowRemovals?: number | GuardAllowance;
  /** `--establishment UAI…`: a run scoped to these establishments (never touching the others'). */
  readonly establishments?: readonly string[];
  /** Who watches the run (log, progress, run report): stages, searches, statements. */
  readonly observer?: RunObserver;
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
  const pluginWarning = ownPluginWarning({
    desired: desired.objects,
    roleAssignmentComponent: loaded.spec.roleAssignments?.component ?? '',
    installed: moodle.site.ownPluginInstalled,
  });
  if (pluginWarning !== undefined) warnings.push(pluginWarning);
  const plan = computePlan({
    desired: desired.objects,
    readings: moodle.readings,
    index: moodle.index,
    state,
    skipped: desired.skipped,
    warnings,
    onDataError: loaded.spec.onDataError,
    ...(desired.scope === undefined ? {} : { scope: desired.scope }),
    ...(desired.excluded === undefined ? {} : { excluded: desired.excluded }),
  });
  // Checked, never thrown here: a refused plan is still shown and saved, marked refused (PlanRefusedError).
  const guards = checkGuards(plan, {
    sourceEntries: entries.people.length,
    managed: state.objects,
    limits: removalLimits(loaded.spec.guards?.maxRemovals),
    allowance: allowanceOf(options.allowRemovals, options.allowEmptySource ?? false),
  });
  return { plan: { ...plan, guards }, desired };
}

/**
 * PLAN_REFUSED: the plan trips safety guards (listed, one diagnostic each with its code). It carries the plan,
 * so that the caller can still show it (and `plan --out` save it) marked refused.
 */
export class PlanRefusedError extends UserError {
  constructor(readonly planned: PlanResult) {
    const { message, diagnostics } = refusalOf(
      planned.plan.guards ?? { sourceEntries: planned.sourceEntries, allowance: {}, violations: [] },
    );
    super('PLAN_REFUSED', message, diagnostics);
  }
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
  const observer = options.observer ?? NO_OBSERVER;
  // The directory and Moodle are independent reads: run them side by side. On the Moodle side, the site first:
  // it says clearly when the database holds no Moodle, before anything else reads its tables.
  const [entries, [moodle, resolved]] = await Promise.all([
    inStage(observer, 'source', () => readEntries(source, rules)),
    inStage(observer, 'moodle', () =>
      readSite(db).then((site) =>
        Promise.all([readMoodle(db, loaded, rules, site), resolveState(db, path, { repair: options.repair })]),
      ),
    ),
  ]);
  const { plan, desired } = await inStage(observer, 'planning', () =>
    planFromInputs(loaded, rules, entries, moodle, resolved.state, options, [
      ...resolved.notes,
      ...(source.warnings?.() ?? []),
    ]),
  );
  const header = {
    source: source.description,
    target: `${db.description} (Moodle ${moodle.site.release})`,
    // A renamed spec looks for another state file: every plan says which one it used.
    state: path,
  };
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
  policy: LockPolicy = lockPolicyOf(loaded),
  observer: RunObserver = NO_OBSERVER,
): Promise<T> {
  const rules = checkSpec(loaded); // spec errors before any connection
  const source = await openSource(loaded);
  try {
    const db = await openSpecMoodle(loaded, policy);
    try {
      return await fn(observeSource(source, observer), observeDatabase(db, observer), rules);
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
  const policy = lockPolicyOf(loaded, options);
  return withSpecResources(
    loaded,
    (source, db, rules) => {
      const plan = () => readAndPlan(loaded, source, db, { ...options, repair: false }, rules);
      return options.lock === true ? withApplyLock(db, loaded, policy, plan) : plan();
    },
    policy,
    options.observer,
  );
}
