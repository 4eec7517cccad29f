/**
 * `--metrics-file`: the run's figures in the Prometheus text exposition format (version 0.0.4), for
 * node_exporter's textfile collector, which reads every `*.prom` file of its directory at each scrape.
 *
 * Written directly rather than through prom-client: a textfile holds a handful of gauges set once, where
 * prom-client's registry is made for a long-lived process (global default registry, collectors, its own
 * dependencies at run time) and would add nothing but a dependency; the format is small and documented
 * (https://prometheus.io/docs/instrumenting/exposition_formats/), and the tests parse the file back with an
 * independent parser. Every series carries `target` (the spec's file name without extension) and `command`.
 */
import { readFile } from 'node:fs/promises';
import { writeFileAtomically } from '../atomic-file.js';
import type { RunReport } from './run-report-schema.js';

const PREFIX = 'ldap2moodle_';

/** The series of the file, with their HELP text: what the README lists for dashboards. */
export const METRICS: Readonly<Record<string, string>> = {
  last_run_timestamp_seconds: 'When the last run ended (Unix time).',
  last_success_timestamp_seconds:
    'When the last run that did its job ended (no changes, planned, applied), kept across failed runs.',
  run_duration_seconds: 'Duration of the last run.',
  stage_duration_seconds: 'Duration of each stage of the last run.',
  changes: 'Changes of the last run per entity and action (applied by apply, planned by plan).',
  held_objects: 'Objects held as they are in the last run (their directory entry has an error).',
  skipped_entries: 'Directory entries (or values) the last run left out.',
  guard_trips: 'Safety guards the last run tripped (a refused run).',
  exit_code: 'Exit code of the last run.',
  run_report_write_failed: '1 when the last run could not write its run report.',
  directory_entries: 'Directory entries the last run read, all searches together.',
};

export interface MetricsInputs {
  readonly report: RunReport;
  /** The spec's name (its file name without extension). */
  readonly target: string;
  /** Unix seconds of the last success, when this run is not one (from the previous file or reports). */
  readonly previousSuccess?: number;
  readonly success: boolean;
  readonly reportWriteFailed: boolean;
}

type Labels = Readonly<Record<string, string>>;

/** A label value escaped as the format says: backslash, double quote and line feed. */
const escapeLabel = (value: string): string => value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');

const labelText = (labels: Labels): string =>
  `{${Object.entries(labels)
    .map(([name, value]) => `${name}="${escapeLabel(value)}"`)
    .join(',')}}`;

/** A sample value: integers as they are, others with up to millisecond precision; never an exponent issue. */
const valueText = (value: number): string =>
  Number.isInteger(value) ? String(value) : String(Number(value.toFixed(3)));

/** The file's text for the run in `inputs.report`. */
export function renderMetrics(inputs: MetricsInputs): string {
  const { report } = inputs;
  const base = { target: inputs.target, command: report.command };
  const samples = new Map<string, { labels: Labels; value: number }[]>();
  const add = (name: string, value: number, labels: Labels = {}): void => {
    const list = samples.get(name) ?? [];
    list.push({ labels: { ...base, ...labels }, value });
    samples.set(name, list);
  };
  const ended = Date.parse(report.ended_at) / 1000;
  add('last_run_timestamp_seconds', ended);
  const lastSuccess = inputs.success ? ended : inputs.previousSuccess;
  // Never known (a first run that failed): absent, which the README's `absent()` rule catches.
  if (lastSuccess !== undefined) add('last_success_timestamp_seconds', lastSuccess);
  add('run_duration_seconds', report.duration_ms / 1000);
  for (const stage of report.stages) add('stage_duration_seconds', stage.ms / 1000, { stage: stage.stage });
  for (const [entity, actions] of Object.entries(report.counts)) {
    for (const [action, count] of Object.entries(actions)) {
      // Held and skipped are not changes: their own series below.
      if (action === 'held' || action === 'skipped' || count === undefined) continue;
      add('changes', count, { entity, action });
    }
  }
  add('held_objects', report.held.length);
  add('skipped_entries', report.skipped.length);
  add('guard_trips', report.guards.length);
  add('exit_code', report.exit_code);
  add('run_report_write_failed', inputs.reportWriteFailed ? 1 : 0);
  add(
    'directory_entries',
    report.searches.reduce((n, s) => n + s.entries, 0),
  );
  const lines: string[] = [];
  for (const [name, help] of Object.entries(METRICS)) {
    const list = samples.get(name);
    if (list === undefined) continue;
    lines.push(`# HELP ${PREFIX}${name} ${help}`, `# TYPE ${PREFIX}${name} gauge`);
    for (const s of list) lines.push(`${PREFIX}${name}${labelText(s.labels)} ${valueText(s.value)}`);
  }
  return `${lines.join('\n')}\n`;
}

/**
 * The last success a previous metrics file at `path` recorded for these labels (same target and command), or
 * undefined (no file, no such sample).
 */
export async function lastSuccessIn(path: string, target: string, command: string): Promise<number | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    return undefined;
  }
  const head = `${PREFIX}last_success_timestamp_seconds${labelText({ target, command })} `;
  const line = text.split('\n').find((l) => l.startsWith(head));
  if (line === undefined) return undefined;
  const value = Number(line.slice(head.length).trim());
  return Number.isFinite(value) ? value : undefined;
}

/**
 * Writes the file as the textfile collector needs it: a temporary file in the same directory (its name does not
 * end in `.prom`, so a scrape never reads it half-written), then a rename over `path`. Mode 0644: node_exporter
 * usually runs as another user; the file holds counts, never a DN.
 */
export async function writeMetricsFile(path: string, text: string): Promise<void> {
  await writeFileAtomically(path, text, 0o644);
}
