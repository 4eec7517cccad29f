/**
 * The figures of the monitoring page, from a series of run reports (pure): what each chart and table of the
 * page shows, and what `report --json` and `report --format markdown` print for other tools. DNs, addresses
 * and the texts that may quote people are pseudonymised like the Markdown plan unless `redact` is false.
 */
import { textRedactor } from '../render/redact.js';
import type { RunOutcome, RunReport } from './run-report-schema.js';

/** Version of the `report --json` document; a field is added in a minor version. */
export const MONITORING_FORMAT_VERSION = '1.0';

/** The actions counted as changes (held and skipped are not: nothing is written for them). */
const CHANGE_ACTIONS = ['create', 'adopt', 'update', 'unsuspend', 'suspend', 'release', 'delete'] as const;
/** Every column of a counts table, in the order the plan shows them. */
export const COUNT_ACTIONS = [...CHANGE_ACTIONS, 'held', 'skipped'] as const;
export type CountAction = (typeof COUNT_ACTIONS)[number];

/** One run, as every time series names it. */
export interface RunPoint {
  readonly run_id: string;
  /** `YYYY-MM-DD HH:MM` (UTC), unique in the series: the x axis of the per-run charts. */
  readonly run: string;
  readonly started_at: string;
}

export interface RunRow extends RunPoint {
  readonly command: 'plan' | 'apply';
  readonly outcome: RunOutcome;
  readonly exit_code: number;
  readonly duration_ms: number;
  /** Changes of every entity (held and skipped not counted). */
  readonly changes: number;
  readonly held: number;
  readonly skipped: number;
  /** Users the directory asked for (0 when the run stopped before planning). */
  readonly users: number;
}

export interface StageDuration extends RunPoint {
  readonly stage: string;
  readonly ms: number;
}

export interface EntityChanges extends RunPoint {
  readonly entity: string;
  /** Changes of this entity in the run, every action. */
  readonly changes: number;
  readonly by_action: Partial<Record<CountAction, number>>;
}

export interface UsersBy extends RunPoint {
  /** The profile or the establishment (UAI). */
  readonly key: string;
  readonly users: number;
}

export interface ReasonCount extends RunPoint {
  readonly kind: 'held' | 'skipped';
  /** The reason with the values it quotes replaced by `…`, so that entries left out alike group together. */
  readonly reason: string;
  readonly count: number;
}

export interface LastRun {
  readonly run_id: string;
  readonly command: 'plan' | 'apply';
  readonly plan_file?: string;
  readonly tool_version: string;
  readonly started_at: string;
  readonly ended_at: string;
  readonly duration_ms: number;
  readonly outcome: RunOutcome;
  readonly exit_code: number;
  readonly spec: string;
  readonly source?: string;
  readonly target?: string;
  readonly moodle_release?: string;
  readonly establishments?: readonly string[];
  readonly stages: RunReport['stages'];
  readonly searches: RunReport['searches'];
  readonly moodle: RunReport['moodle'];
  /** One row per entity with any count, in the report's order. */
  readonly counts: readonly { readonly entity: string; readonly counts: Partial<Record<CountAction, number>> }[];
  readonly users: RunReport['users'];
  readonly skipped: RunReport['skipped'];
  readonly held: RunReport['held'];
  readonly guards: RunReport['guards'];
  readonly warnings: readonly string[];
  readonly errors: RunReport['errors'];
  readonly post_apply: RunReport['post_apply'];
}

export interface Monitoring {
  readonly format_version: typeof MONITORING_FORMAT_VERSION;
  readonly generated_at: string;
  /** The start of the window (runs started before it are left out). */
  readonly since: string;
  readonly redacted: boolean;
  readonly runs: readonly RunRow[];
  readonly stage_durations: readonly StageDuration[];
  readonly changes: readonly EntityChanges[];
  readonly users_by_profile: readonly UsersBy[];
  readonly users_by_establishment: readonly UsersBy[];
  readonly held_skipped: readonly ReasonCount[];
  /** Runs per outcome over the window. */
  readonly outcomes: Partial<Record<RunOutcome, number>>;
  readonly last_run: LastRun | null;
}

export interface MonitoringOptions {
  readonly since: Date;
  readonly now: Date;
  /** Pseudonymise DNs, addresses and personal values (default true). */
  readonly redact?: boolean;
  /** The pseudonyms' salt (`L2M_REDACT_SALT`). */
  readonly salt?: string;
}

/** The figures of the page for `reports` (oldest first, as `readReports` returns them). */
export function monitoring(reports: readonly RunReport[], options: MonitoringOptions): Monitoring {
  const points = runPoints(reports);
  const runs: RunRow[] = [];
  const stage_durations: StageDuration[] = [];
  const changes: EntityChanges[] = [];
  const users_by_profile: UsersBy[] = [];
  const users_by_establishment: UsersBy[] = [];
  const held_skipped: ReasonCount[] = [];
  const outcomes: Partial<Record<RunOutcome, number>> = {};
  reports.forEach((report, i) => {
    const point = points[i] as RunPoint;
    let total = 0;
    for (const [entity, counts] of Object.entries(report.counts)) {
      const byAction = countsOf(counts);
      const n = CHANGE_ACTIONS.reduce((sum, action) => sum + (byAction[action] ?? 0), 0);
      total += n;
      if (Object.keys(byAction).length > 0) changes.push({ ...point, entity, changes: n, by_action: byAction });
    }
    runs.push({
      ...point,
      command: report.command,
      outcome: report.outcome,
      exit_code: report.exit_code,
      duration_ms: report.duration_ms,
      changes: total,
      held: report.held.length,
      skipped: report.skipped.length,
      users: report.users.desired,
    });
    for (const stage of report.stages) stage_durations.push({ ...point, stage: stage.stage, ms: stage.ms });
    // A run that stopped before planning knows no users: leaving it out keeps the lines from dropping to 0.
    if (report.users.desired > 0 || Object.keys(report.users.by_profile).length > 0) {
      for (const [key, users] of sorted(report.users.by_profile)) users_by_profile.push({ ...point, key, users });
      for (const [key, users] of sorted(report.users.by_establishment)) {
        users_by_establishment.push({ ...point, key, users });
      }
    }
    held_skipped.push(...reasonCounts(point, 'held', report.held), ...reasonCounts(point, 'skipped', report.skipped));
    outcomes[report.outcome] = (outcomes[report.outcome] ?? 0) + 1;
  });
  const last = reports.at(-1);
  return {
    format_version: MONITORING_FORMAT_VERSION,
    generated_at: options.now.toISOString(),
    since: options.since.toISOString(),
    redacted: options.redact !== false,
    runs,
    stage_durations,
    changes,
    users_by_profile,
    users_by_establishment,
    held_skipped,
    outcomes,
    last_run: last === undefined ? null : lastRun(last, options.redact !== false, options.salt),
  };
}

/** Unique `YYYY-MM-DD HH:MM` labels (UTC); a second run in the same minute gets ` #2`. */
function runPoints(reports: readonly RunReport[]): RunPoint[] {
  const seen = new Map<string, number>();
  return reports.map((r) => {
    const minute = new Date(r.started_at).toISOString().slice(0, 16).replace('T', ' ');
    const n = (seen.get(minute) ?? 0) + 1;
    seen.set(minute, n);
    return { run_id: r.run_id, run: n === 1 ? minute : `${minute} #${n}`, started_at: r.started_at };
  });
}

function countsOf(counts: RunReport['counts'][string]): Partial<Record<CountAction, number>> {
  const out: Partial<Record<CountAction, number>> = {};
  for (const action of COUNT_ACTIONS) {
    const n = counts[action];
    if (n !== undefined && n > 0) out[action] = n;
  }
  return out;
}

function sorted(values: Readonly<Record<string, number>>): [string, number][] {
  return Object.entries(values).sort(([a], [b]) => a.localeCompare(b));
}

/**
 * A reason as a category: the values it quotes (`username "…"`, `person "uid=…"`) and the DNs and user
 * addresses in it become `…`. Grouping needs it (each reason names its entry), and it leaves no personal value.
 */
export function reasonCategory(reason: string): string {
  return reason
    .replace(/"(?:[^"\\]|\\.)*"/g, '"…"')
    .replace(/\b[a-z][a-z0-9-]*=[^,\s]+(?:,[a-z][a-z0-9-]*=[^,\s]+)+/gi, '…')
    .trim();
}

function reasonCounts(
  point: RunPoint,
  kind: 'held' | 'skipped',
  entries: readonly { readonly entity: string; readonly reason: string }[],
): ReasonCount[] {
  const counts = new Map<string, number>();
  for (const e of entries) {
    const reason = `${e.entity}: ${reasonCategory(e.reason)}`;
    counts.set(reason, (counts.get(reason) ?? 0) + 1);
  }
  return [...counts]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([reason, count]) => ({ ...point, kind, reason, count }));
}

/** The last run in detail, its DNs, addresses and texts pseudonymised when `redact`. */
function lastRun(report: RunReport, redact: boolean, salt: string | undefined): LastRun {
  const r = redact ? textRedactor(salt) : { dn: same, reason: same, text: same };
  // DNs first, so that the texts after them see every person the report names.
  const skippedDns = report.skipped.map((s) => r.dn(s.dn));
  const heldDns = report.held.map((h) => (h.dn === undefined ? undefined : r.dn(h.dn)));
  const skipped = report.skipped.map((s, i) => ({ ...s, dn: skippedDns[i] ?? s.dn, reason: r.reason(s.reason) }));
  const held = report.held.map((h, i) => {
    const dn = heldDns[i];
    return { ...h, address: r.text(h.address), reason: r.reason(h.reason), ...(dn === undefined ? {} : { dn }) };
  });
  return {
    run_id: report.run_id,
    command: report.command,
    ...(report.plan_file === undefined ? {} : { plan_file: report.plan_file }),
    tool_version: report.tool_version,
    started_at: report.started_at,
    ended_at: report.ended_at,
    duration_ms: report.duration_ms,
    outcome: report.outcome,
    exit_code: report.exit_code,
    spec: report.spec.path,
    ...(report.source === undefined ? {} : { source: report.source }),
    ...(report.target === undefined ? {} : { target: report.target }),
    ...(report.moodle_release === undefined ? {} : { moodle_release: report.moodle_release }),
    ...(report.establishments === undefined ? {} : { establishments: report.establishments }),
    stages: report.stages,
    searches: report.searches,
    moodle: report.moodle,
    counts: Object.entries(report.counts)
      .map(([entity, counts]) => ({ entity, counts: countsOf(counts) }))
      .filter((row) => Object.keys(row.counts).length > 0),
    users: report.users,
    skipped,
    held,
    guards: report.guards.map((g) => ({ ...g, message: r.text(g.message) })),
    warnings: report.warnings.map((w) => r.text(w)),
    errors: report.errors.map((e) => ({
      ...e,
      message: r.text(e.message),
      ...(e.diagnostics === undefined ? {} : { diagnostics: e.diagnostics.map((d) => r.text(d)) }),
    })),
    post_apply: report.post_apply.map((p) => ({
      ...p,
      command: r.text(p.command),
      output: r.text(p.output),
      ...(p.error === undefined ? {} : { error: r.text(p.error) }),
    })),
  };
}

const same = (text: string): string => text;
