/**
 * The charts of the monitoring page: each a Vega-Lite specification compiled by `vega-lite` and rendered to SVG in
 * Node by `vega` (no chart drawn by hand), with a caption and its figures in a table below.
 */
import type { TopLevelSpec } from 'vega-lite';
import { STAGES } from '../observe/events.js';
import type { Monitoring } from './monitoring.js';
import { cell, esc, OUTCOME_COLOURS, seconds, table, WRITTEN } from './page-html.js';
import type { RunOutcome } from './run-report-schema.js';

/** Up to this many runs, the users' lines have a dot per run. */
const DOTTED_RUNS = 60;

export const FONT = 'system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif';
const WIDTH = 760;

/** The look shared by every chart. */
const CONFIG = {
  font: FONT,
  background: 'white',
  padding: 4,
  view: { stroke: null },
  axis: { labelFontSize: 11, titleFontSize: 12, titleFontWeight: 600, gridColor: '#eaeef2', domainColor: '#8c959f' },
  axisX: { labelAngle: -40, labelOverlap: 'greedy' },
  legend: { labelFontSize: 11, titleFontSize: 12, labelLimit: 420, symbolType: 'square' },
  range: { category: { scheme: 'tableau10' } },
} as const;

/** Up to this many runs, the per-run charts have a column per run, each labelled; beyond, a time axis. */
const LABELLED_RUNS = 40;

const perRun = (m: Monitoring): boolean => m.runs.length <= LABELLED_RUNS;

/** The x axis of the per-run charts: each run by its label, or time when there are too many to label. */
function runAxis(m: Monitoring) {
  if (perRun(m)) {
    return {
      field: 'run',
      type: 'ordinal',
      title: 'Run (UTC)',
      sort: null,
      scale: { domain: m.runs.map((r) => r.run) },
    } as const;
  }
  return {
    field: 'started_at',
    type: 'temporal',
    title: 'Run start (UTC)',
    timeUnit: 'utcyearmonthdatehoursminutesseconds',
    axis: { format: '%b %d', labelAngle: 0 },
  } as const;
}

/** Bars as wide as the runs' share of the axis when it is a time axis. */
function barMark(m: Monitoring) {
  if (perRun(m)) return { type: 'bar' } as const;
  return { type: 'bar', size: Math.max(1, Math.min(12, Math.floor((WIDTH / m.runs.length) * 0.8))) } as const;
}

export async function outcomesChart(m: Monitoring): Promise<string> {
  const outcomes = Object.keys(OUTCOME_COLOURS) as RunOutcome[];
  const spec: TopLevelSpec = {
    description: 'Outcome of each run, plan and apply, in time order',
    width: WIDTH,
    height: { step: 34 },
    data: {
      values: m.runs.map((r) => ({ run: r.run, started_at: r.started_at, command: r.command, outcome: r.outcome })),
    },
    // A square per run while they can be told apart; beyond, a thin tick each (a barcode of the season).
    mark: perRun(m) ? { type: 'square', size: 220, opacity: 1 } : { type: 'tick', thickness: 1.5, opacity: 1 },
    encoding: {
      x: runAxis(m),
      y: { field: 'command', type: 'nominal', title: null, sort: ['apply', 'plan'] },
      color: {
        field: 'outcome',
        type: 'nominal',
        title: 'Outcome',
        scale: { domain: outcomes, range: outcomes.map((o) => OUTCOME_COLOURS[o]) },
      },
    },
  };
  const rows = Object.entries(m.outcomes).map(
    ([outcome, n]) => `<tr><th scope="row">${esc(outcome)}</th>${cell(n ?? 0, { outcome })}</tr>`,
  );
  return figure(
    'outcomes',
    await svgOf('outcomes', spec),
    'Outcome of every run: green applied, grey nothing to do, blue planned, red refused by a safety guard, dark red failed.',
    table(['Outcome', 'Runs'], rows, 'outcomes'),
  );
}

export async function stagesChart(m: Monitoring): Promise<string> {
  const spec: TopLevelSpec = {
    description: 'Duration of each stage of every run, stacked',
    width: WIDTH,
    height: 220,
    data: {
      values: m.stage_durations.map((s) => ({
        run: s.run,
        started_at: s.started_at,
        stage: s.stage,
        seconds: s.ms / 1000,
      })),
    },
    mark: barMark(m),
    encoding: {
      x: runAxis(m),
      y: { field: 'seconds', type: 'quantitative', aggregate: 'sum', title: 'Seconds', stack: 'zero' },
      color: { field: 'stage', type: 'nominal', title: 'Stage', scale: { domain: [...STAGES] } },
    },
  };
  const stages = STAGES.filter((s) => m.stage_durations.some((d) => d.stage === s));
  const rows = m.runs.map((r) => {
    const cells = stages.map((stage) => {
      const ms = m.stage_durations.filter((d) => d.run_id === r.run_id && d.stage === stage);
      if (ms.length === 0) return '<td class="none">—</td>';
      const total = ms.reduce((sum, d) => sum + d.ms, 0);
      return `<td class="num" data-stage="${esc(stage)}" data-value="${total}">${seconds(total)}</td>`;
    });
    return `<tr data-run-id="${esc(r.run_id)}"><th scope="row">${esc(r.run)}</th>${cells.join('')}</tr>`;
  });
  return figure(
    'stage-durations',
    m.stage_durations.length === 0 ? null : await svgOf('stage-durations', spec),
    'How long each stage of every run took (the directory and Moodle reads overlap: their sum may exceed the run).',
    table(['Run (UTC)', ...stages.map((s) => `${s} (s)`)], rows, 'stage-durations'),
    'No run reached a stage in this window.',
  );
}

export async function changesChart(m: Monitoring, sinceDay: string): Promise<string> {
  const spec: TopLevelSpec = {
    description: 'Changes written or planned per entity in every run',
    width: WIDTH,
    height: 220,
    data: {
      values: m.changes
        .filter((c) => c.changes > 0)
        .map((c) => ({
          run: c.run,
          started_at: c.started_at,
          entity: c.entity,
          changes: c.changes,
          written: WRITTEN.has(outcomeOf(m, c.run_id)) ? 'written' : 'not written',
        })),
    },
    mark: barMark(m),
    encoding: {
      x: runAxis(m),
      y: { field: 'changes', type: 'quantitative', aggregate: 'sum', title: 'Changes' },
      color: { field: 'entity', type: 'nominal', title: 'Entity' },
      // A plan, or a refused or failed run, wrote nothing: its bars are pale.
      opacity: {
        field: 'written',
        type: 'nominal',
        title: 'Changes',
        scale: { domain: ['written', 'not written'], range: [1, 0.35] },
      },
    },
  };
  const entities = [...new Set(m.changes.filter((c) => c.changes > 0).map((c) => c.entity))];
  const rows = m.runs.map((r) => {
    const cells = entities.map((entity) => {
      const n = m.changes.find((c) => c.run_id === r.run_id && c.entity === entity)?.changes ?? 0;
      return cell(n, { entity });
    });
    return `<tr data-run-id="${esc(r.run_id)}"><th scope="row">${esc(r.run)}</th>${cells.join('')}${cell(r.changes, { total: 'changes' })}</tr>`;
  });
  return figure(
    'changes',
    entities.length === 0 ? null : await svgOf('changes', spec),
    'Changes per entity in every run (created, adopted, updated, unsuspended, suspended, released, deleted); pale bars were not written: a plan, or a refused or failed run, counts what it would have done.',
    entities.length === 0 ? '' : table(['Run (UTC)', ...entities, 'Total'], rows, 'changes'),
    `No changes since ${sinceDay}.`,
  );
}

export async function usersChart(m: Monitoring, by: 'profile' | 'establishment', sinceDay: string): Promise<string> {
  const points = by === 'profile' ? m.users_by_profile : m.users_by_establishment;
  const id = `users-by-${by}`;
  const title = by === 'profile' ? 'Profile' : 'Establishment (UAI)';
  const spec: TopLevelSpec = {
    description: `Users the directory asks for, per ${by}, over time`,
    width: WIDTH,
    height: 240,
    data: { values: points.map((p) => ({ started_at: p.started_at, key: p.key, users: p.users })) },
    // A dot per run while they can be told apart; beyond, the lines alone (and a far smaller page).
    mark: {
      type: 'line',
      strokeWidth: 2,
      ...(m.runs.length <= DOTTED_RUNS ? { point: { size: 50, filled: true } } : {}),
    },
    encoding: {
      x: {
        field: 'started_at',
        type: 'temporal',
        title: 'Run start (UTC)',
        timeUnit: 'utcyearmonthdatehoursminutes',
        axis: { format: '%b %d', labelAngle: 0, tickCount: { interval: 'day', step: 1 } },
        scale: { nice: 'day' },
      },
      y: { field: 'users', type: 'quantitative', title: 'Users' },
      color: { field: 'key', type: 'nominal', title },
    },
  };
  const keys = [...new Set(points.map((p) => p.key))].sort((a, b) => a.localeCompare(b));
  const runs = m.runs.filter((r) => points.some((p) => p.run_id === r.run_id));
  const attribute = by === 'profile' ? 'profile' : 'establishment';
  const rows = runs.map((r) => {
    const cells = keys.map((key) => {
      const n = points.find((p) => p.run_id === r.run_id && p.key === key)?.users;
      return n === undefined ? '<td class="none">—</td>' : cell(n, { [attribute]: key });
    });
    return `<tr data-run-id="${esc(r.run_id)}"><th scope="row">${esc(r.run)}</th>${cells.join('')}</tr>`;
  });
  return figure(
    id,
    points.length === 0 ? null : await svgOf(id, spec),
    by === 'profile'
      ? 'Users the directory asks for, per profile, at each run that got as far as planning.'
      : 'Users the directory asks for, per establishment (UAI), at each run that got as far as planning.',
    keys.length === 0 ? '' : table(['Run (UTC)', ...keys], rows, id),
    `No run since ${sinceDay} read the directory's users.`,
  );
}

export async function heldSkippedChart(m: Monitoring, sinceDay: string): Promise<string> {
  const spec: TopLevelSpec = {
    description: 'Held and skipped entries by reason in every run',
    width: WIDTH,
    height: 220,
    data: {
      values: m.held_skipped.map((h) => ({
        run: h.run,
        started_at: h.started_at,
        reason: `${h.kind} · ${h.reason}`,
        count: h.count,
      })),
    },
    mark: barMark(m),
    encoding: {
      x: runAxis(m),
      y: { field: 'count', type: 'quantitative', aggregate: 'sum', title: 'Entries' },
      color: {
        field: 'reason',
        type: 'nominal',
        title: 'Reason',
        // Vega measures text without a canvas here, by an estimate wider than the glyphs: a generous limit.
        legend: { orient: 'bottom', columns: 1, labelLimit: 1000 },
      },
    },
  };
  const totals = new Map<string, { kind: string; reason: string; count: number; runs: number }>();
  for (const h of m.held_skipped) {
    const key = `${h.kind}\u0000${h.reason}`;
    const t = totals.get(key) ?? { kind: h.kind, reason: h.reason, count: 0, runs: 0 };
    t.count += h.count;
    t.runs += 1;
    totals.set(key, t);
  }
  const rows = [...totals.values()]
    .sort((a, b) => b.count - a.count)
    .map(
      (t) =>
        `<tr data-kind="${t.kind}"><td>${esc(t.kind)}</td><td>${esc(t.reason)}</td>${cell(t.count, { total: 'entries' })}${cell(t.runs, { total: 'runs' })}</tr>`,
    );
  return figure(
    'held-skipped',
    m.held_skipped.length === 0 ? null : await svgOf('held-skipped', spec),
    'Entries held as they are or left out, by reason (quoted values shown as …); the last run lists each one below.',
    rows.length === 0 ? '' : table(['Kind', 'Reason', 'Entries', 'Runs'], rows, 'held-skipped'),
    `No entry held or skipped since ${sinceDay}.`,
  );
}

/** A chart in its figure, or the empty state in its place (no figure: nothing to look at). */
function figure(id: string, svg: string | null, caption: string, figures: string, empty = ''): string {
  if (svg === null) return `<p class="empty" data-empty="${id}">${esc(empty)}</p>`;
  const details = figures === '' ? '' : `<details><summary>Figures</summary>${figures}</details>`;
  return `<figure data-chart="${id}" id="chart-${id}"><figcaption id="caption-${id}">${esc(caption)}</figcaption><div class="chart">${svg}</div>${details}</figure>`;
}

/**
 * Vega and Vega-Lite, loaded when a page is made: they take a fifth of a second to load, which every other
 * command (they all import the library) would otherwise pay at start.
 */
async function charting() {
  const [vega, vegaLite] = await Promise.all([import('vega'), import('vega-lite')]);
  return { ...vega, compile: vegaLite.compile };
}

/** Vega-Lite → Vega → SVG, without a browser; ids made unique to the chart (the page holds several SVGs). */
async function svgOf(id: string, spec: TopLevelSpec): Promise<string> {
  const { Error: ErrorLevel, logger, parse, View, compile } = await charting();
  // Errors only: the grammar's advice (console warnings) is for whoever writes the specs, not for the user.
  const quiet = logger(ErrorLevel);
  const vega = compile({ ...spec, config: CONFIG } as TopLevelSpec, { logger: quiet }).spec;
  const view = new View(parse(vega), { renderer: 'none', logger: quiet });
  try {
    const svg = await view.toSVG();
    const prefix = `${id}-`;
    return (
      svg
        .replace(/\bid="([^"]+)"/g, `id="${prefix}$1"`)
        .replace(/url\(#([^)]+)\)/g, `url(#${prefix}$1)`)
        // One image to assistive technology, named by its caption; its figures are in the table under it.
        .replace(/<svg /, `<svg role="img" aria-labelledby="caption-${id}" focusable="false" `)
    );
  } finally {
    view.finalize();
  }
}

function outcomeOf(m: Monitoring, runId: string): RunOutcome {
  return m.runs.find((r) => r.run_id === runId)?.outcome ?? 'failed';
}
