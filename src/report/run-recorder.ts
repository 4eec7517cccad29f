/**
 * The run report of one `plan` or `apply`: a `RunObserver` that collects what the pipeline tells while it works
 * (stages, searches, SQL totals), then `report()` adds what the run produced (the plan, the apply, or the
 * error that ended it) and its exit code. The CLI writes the report after every run whose spec loaded; a
 * library caller may do the same.
 */
import { postApplySucceeded } from '../apply/post-apply.js';
import { factsOf } from '../entities/catalog.js';
import { formatDiagnostic, UserError } from '../errors.js';
import type { ChangeAction, EntityType } from '../model/change.js';
import { writes } from '../model/change.js';
import type { Plan } from '../model/plan.js';
import type { RunEvent, RunObserver, Stage } from '../observe/events.js';
import type { ApplyResult } from '../pipeline/apply.js';
import type { PlanResult } from '../pipeline/plan.js';
import { PlanRefusedError } from '../pipeline/plan.js';
import type { LoadedSpec } from '../spec/load.js';
import { statePath } from '../state/state-path.js';
import { TOOL_VERSION } from '../version.js';
import type { RunOutcome, RunReport } from './run-report-schema.js';

/** An entity as the spec and the guards name it: `users`, `cohort_members`, `cohort_enrolment_methods`. */
export function entityName(entity: EntityType): string {
  const facts = factsOf(entity);
  return facts.removals?.name ?? facts.nouns.replace(/[^a-z]+/g, '_');
}

/** What the run is, known when it starts. */
export interface RunIdentity {
  readonly runId: string;
  readonly command: 'plan' | 'apply';
  readonly loaded: LoadedSpec;
  /** `apply FILE`: the saved plan applied. */
  readonly planFile?: string;
  readonly establishments?: readonly string[];
  /** Default: when the recorder was made. */
  readonly startedAt?: Date;
}

/** How the run ended: its exit code, and what it produced (a plan, an apply) or the error that ended it. */
export interface RunEnd {
  readonly exitCode: number;
  readonly planned?: PlanResult;
  readonly applied?: ApplyResult;
  readonly error?: unknown;
  /** Default: when `report` is called. */
  readonly endedAt?: Date;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };
type StageRecord = Mutable<RunReport['stages'][number]>;
type ActionCounts = Partial<Record<ChangeAction | 'skipped', number>>;

/** Outcomes of a run that did its job (the metrics' "last success"). */
export const SUCCESS_OUTCOMES: readonly RunOutcome[] = ['no-changes', 'planned', 'applied'];

export class RunRecorder implements RunObserver {
  readonly startedAt: Date;
  private readonly stages: StageRecord[] = [];
  private readonly searches: Mutable<RunReport['searches'][number]>[] = [];
  private source: string | undefined;
  private readonly moodle = { rows_read: 0, statements: 0, rows_written: 0 };

  constructor(readonly identity: RunIdentity) {
    this.startedAt = identity.startedAt ?? new Date();
  }

  emit(event: RunEvent): void {
    switch (event.type) {
      case 'stage-start':
        // Recorded in the order stages start; the end fills it in (the two reads overlap).
        this.stages.push({ stage: event.stage, ms: 0, ok: false });
        break;
      case 'stage-end': {
        const open = this.stages.findLast((s) => s.stage === event.stage);
        if (open === undefined) this.stages.push({ stage: event.stage, ms: event.ms, ok: event.ok });
        else Object.assign(open, { ms: event.ms, ok: event.ok });
        break;
      }
      case 'search':
        this.source = event.source;
        this.searches.push({
          base: event.base,
          scope: event.scope,
          filter: event.filter,
          entries: event.entries,
          ms: event.ms,
        });
        break;
      case 'sql':
        this.moodle.statements += 1;
        if (event.kind === 'select') this.moodle.rows_read += event.rows;
        else if (event.kind !== 'other') this.moodle.rows_written += event.rows;
        break;
      case 'progress':
        break;
    }
  }

  /** Milliseconds of each stage that ran (the last run of a stage, if one ran twice). */
  stageDurations(): ReadonlyMap<Stage, number> {
    return new Map(this.stages.map((s) => [s.stage, s.ms]));
  }

  /** The report of the run, ended as `end` says; every resolved secret of the spec is masked in it. */
  report(end: RunEnd): RunReport {
    const { identity } = this;
    const endedAt = end.endedAt ?? new Date();
    const planned =
      end.applied?.planned ?? end.planned ?? (end.error instanceof PlanRefusedError ? end.error.planned : undefined);
    const plan = planned?.plan;
    const report: RunReport = {
      format_version: '1.0',
      run_id: identity.runId,
      tool_version: TOOL_VERSION,
      command: identity.command,
      ...(identity.planFile === undefined ? {} : { plan_file: identity.planFile }),
      started_at: this.startedAt.toISOString(),
      ended_at: endedAt.toISOString(),
      duration_ms: Math.max(0, endedAt.getTime() - this.startedAt.getTime()),
      spec: { path: identity.loaded.path, hash: identity.loaded.hash },
      ...sourceAndTarget(planned, this.source),
      state: planned?.statePath ?? statePath(identity.loaded),
      ...(identity.establishments === undefined ? {} : { establishments: [...identity.establishments] }),
      stages: this.stages.map((s) => ({ ...s })),
      searches: this.searches.map((s) => ({ ...s })),
      moodle: { ...this.moodle },
      counts: plan === undefined ? {} : countsOf(plan),
      users: usersOf(planned),
      skipped: (plan?.skipped ?? []).map((s) => ({
        entity: entityName(s.entity),
        dn: s.dn,
        reason: s.reason,
        kind: s.kind ?? 'invalid-entry',
      })),
      held: (plan?.changes ?? [])
        .filter((c) => c.action === 'held')
        .map((c) => ({
          entity: entityName(c.entity),
          address: c.address,
          ...(c.dn === null ? {} : { dn: c.dn }),
          reason: c.reason,
        })),
      guards: (plan?.guards?.violations ?? []).map((v) => ({
        code: v.code,
        ...(v.entity === undefined ? {} : { entity: entityName(v.entity) }),
        removals: v.removals,
        managed: v.managed,
        ...(v.limit === undefined ? {} : { limit: { count: v.limit.count, percent: v.limit.percent } }),
        message: v.message,
      })),
      warnings: [...(plan?.warnings ?? []), ...(end.applied?.warnings ?? [])],
      errors: end.error === undefined ? [] : [errorOf(end.error)],
      post_apply: (end.applied?.postApply ?? []).map((r) => ({
        command: r.command,
        exit_code: r.exitCode,
        ...(r.signal === null ? {} : { signal: r.signal }),
        ms: r.durationMs,
        output: r.output,
        ...(r.error === undefined ? {} : { error: r.error }),
        ...(r.skipped === undefined ? {} : { skipped: r.skipped }),
      })),
      outcome: outcomeOf(end, plan),
      exit_code: end.exitCode,
    };
    return maskSecrets(report, identity.loaded.secrets);
  }
}

/** The header says `<database> (Moodle <release>)`: the report keeps them apart. */
function sourceAndTarget(
  planned: PlanResult | undefined,
  searched: string | undefined,
): Pick<RunReport, 'source' | 'target' | 'moodle_release'> {
  const source = searched ?? planned?.header.source;
  if (planned === undefined) return source === undefined ? {} : { source };
  const release = planned.site.release;
  const suffix = ` (Moodle ${release})`;
  const { target } = planned.header;
  return {
    ...(source === undefined ? {} : { source }),
    target: target.endsWith(suffix) ? target.slice(0, -suffix.length) : target,
    moodle_release: release,
  };
}

function countsOf(plan: Plan): Record<string, ActionCounts> {
  const counts: Record<string, ActionCounts> = {};
  const add = (entity: EntityType, action: ChangeAction | 'skipped'): void => {
    const name = entityName(entity);
    const forEntity = counts[name] ?? {};
    forEntity[action] = (forEntity[action] ?? 0) + 1;
    counts[name] = forEntity;
  };
  for (const change of plan.changes) add(change.entity, change.action);
  for (const skipped of plan.skipped) add(skipped.entity, 'skipped');
  return counts;
}

function usersOf(planned: PlanResult | undefined): RunReport['users'] {
  const users = planned?.desired.objects.get('user') ?? [];
  const byProfile: Record<string, number> = {};
  const byEstablishment: Record<string, number> = {};
  for (const user of users) {
    if (user.profile !== undefined) byProfile[user.profile] = (byProfile[user.profile] ?? 0) + 1;
    for (const uai of new Set(user.establishments ?? [])) byEstablishment[uai] = (byEstablishment[uai] ?? 0) + 1;
  }
  return { desired: users.length, by_profile: byProfile, by_establishment: byEstablishment };
}

function errorOf(error: unknown): RunReport['errors'][number] {
  if (error instanceof UserError) {
    return {
      code: error.code,
      message: error.message,
      ...(error.diagnostics.length === 0 ? {} : { diagnostics: error.diagnostics.map(formatDiagnostic) }),
    };
  }
  // A bug: its message, never its stack (paths of the installation are of no use to the report's readers).
  return { code: 'INTERNAL', message: error instanceof Error ? error.message : String(error) };
}

function outcomeOf(end: RunEnd, plan: Plan | undefined): RunOutcome {
  if (end.error instanceof PlanRefusedError) return 'refused';
  if (end.error !== undefined) return 'failed';
  const writing = plan?.changes.some(writes) ?? false;
  if (end.applied !== undefined) {
    if (!writing) return 'no-changes';
    if (!end.applied.applied) return 'declined';
    return postApplySucceeded(end.applied.postApply) ? 'applied' : 'post-apply-failed';
  }
  if (end.planned !== undefined) return writing ? 'planned' : 'no-changes';
  // Ended without error and without a result: a library caller's run that stopped early.
  return 'failed';
}

/** Every string of `value` with each secret replaced by `***` (error messages and outputs may quote one). */
function maskSecrets<T>(value: T, secrets: readonly string[]): T {
  const live = secrets.filter((s) => s.length > 0);
  if (live.length === 0) return value;
  const mask = (v: unknown): unknown => {
    if (typeof v === 'string') return live.reduce((out, secret) => out.split(secret).join('***'), v);
    if (Array.isArray(v)) return v.map(mask);
    if (v !== null && typeof v === 'object') {
      return Object.fromEntries(Object.entries(v).map(([k, inner]) => [k, mask(inner)]));
    }
    return v;
  };
  return mask(value) as T;
}
