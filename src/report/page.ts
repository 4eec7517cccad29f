/**
 * The monitoring page: one self-contained HTML file (inline CSS, charts as inline SVG) that opens with no
 * network and runs no script. The charts are Vega-Lite specifications compiled by `vega-lite` and rendered to
 * SVG in Node by `vega` (no chart drawn by hand here); the numbers behind them are also in tables, for screen
 * readers, print and tests (`data-*` attributes on the cells).
 */
import type { TopLevelSpec } from 'vega-lite';
import { formatDuration } from '../duration.js';
import { STAGES } from '../observe/events.js';
import { printableLines } from '../printable.js';
import type { CountAction, LastRun, Monitoring, RunRow } from './monitoring.js';
import { COUNT_ACTIONS } from './monitoring.js';
import type { RunOutcome } from './run-report-schema.js';

/** Outcomes in the order of the legend, with colours that read as what they mean (and differ in lightness). */
const OUTCOME_COLOURS: Readonly<Record<RunOutcome, string>> = {
  applied: '#1a7f37',
  'no-changes': '#8c959f',
  planned: '#0969da',
  'post-apply-failed': '#bf8700',
  declined: '#8250df',
  refused: '#d1242f',
  failed: '#6e1116',
};

/** Outcomes after which the changes are in Moodle. */
const WRITTEN: ReadonlySet<RunOutcome> = new Set(['applied', 'post-apply-failed']);

/** Outcomes that count as "the sync ran and did its job". */
const SUCCESS: ReadonlySet<RunOutcome> = new Set(['applied', 'no-changes', 'planned']);

/** Up to this many runs, the users' lines have a dot per run. */
const DOTTED_RUNS = 60;

const FONT = 'system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif';
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

export interface PageOptions {
  /** Shown under the title: the reports directory the page was made from. */
  readonly source?: string;
}

/** The whole page for the figures of `monitoring()`. */
export async function renderPage(m: Monitoring, options: PageOptions = {}): Promise<string> {
  const sinceDay = m.since.slice(0, 10);
  // `--since 0`: the window is every report kept, not "since 1970".
  const allTime = Date.parse(m.since) === 0;
  const body: string[] = [];
  body.push(
    '<header>',
    '<h1>ldap2moodle — sync report</h1>',
    `<p class="meta">${m.runs.length === 0 ? 'No runs' : plural(m.runs.length, 'run')} ${allTime ? 'kept' : `since ${time(m.since)}`}` +
      ` · generated ${time(m.generated_at)}` +
      (options.source === undefined ? '' : ` · from <code>${esc(options.source)}</code>`) +
      ` · ${m.redacted ? 'personal values pseudonymised' : '<strong>not redacted</strong>: holds DNs'}</p>`,
    '</header>',
    '<main>',
  );
  if (m.runs.length === 0) {
    body.push(
      `<p class="empty" data-empty="runs">No runs since ${esc(sinceDay)}: no <code>plan</code> or <code>apply</code> ` +
        'has written a report in this window. Check that the sync is scheduled, and that the reports directory is the one it writes to.</p>',
    );
  } else {
    body.push(summary(m));
    body.push('<section aria-labelledby="charts-title"><h2 id="charts-title">Over time</h2>');
    body.push(await outcomesChart(m));
    body.push(await stagesChart(m));
    body.push(await changesChart(m, sinceDay));
    body.push(await usersChart(m, 'profile', sinceDay));
    body.push(await usersChart(m, 'establishment', sinceDay));
    body.push(await heldSkippedChart(m, sinceDay));
    body.push('</section>');
    if (m.last_run !== null) body.push(lastRunSection(m.last_run));
    body.push(runsTable(m.runs));
  }
  body.push('</main>');
  return [
    '<!doctype html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    // The page needs nothing from anywhere: say so to the browser too.
    `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">`,
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    '<meta name="generator" content="ldap2moodle report">',
    `<title>ldap2moodle sync report — ${esc(sinceDay)} to ${esc(m.generated_at.slice(0, 10))}</title>`,
    `<style>${CSS}</style>`,
    '</head>',
    '<body>',
    ...body,
    '</body>',
    '</html>',
    '',
  ].join('\n');
}

function outcomeOf(m: Monitoring, runId: string): RunOutcome {
  return m.runs.find((r) => r.run_id === runId)?.outcome ?? 'failed';
}

function summary(m: Monitoring): string {
  const last = m.runs.at(-1) as RunRow;
  const lastSuccess = [...m.runs].reverse().find((r) => SUCCESS.has(r.outcome));
  const bad = m.runs.filter((r) => !SUCCESS.has(r.outcome)).length;
  // The last run that got as far as planning: a failed read knows no users, and 0 would be a false alarm.
  const planned = [...m.runs].reverse().find((r) => r.users > 0);
  const users = planned?.users ?? 0;
  const card = (name: string, label: string, value: string, note: string, tone = ''): string =>
    `<div class="card${tone === '' ? '' : ` ${tone}`}" data-card="${name}"><div class="label">${label}</div>` +
    `<div class="value">${value}</div><div class="note">${note}</div></div>`;
  return [
    '<section aria-label="Summary" class="cards">',
    card(
      'last-run',
      'Last run',
      outcomeBadge(last.outcome),
      `${esc(last.command)} · ${time(last.started_at)} · ${esc(formatDuration(last.duration_ms))}`,
      SUCCESS.has(last.outcome) ? '' : last.outcome === 'post-apply-failed' ? 'warn' : 'bad',
    ),
    card(
      'last-success',
      'Last successful run',
      lastSuccess === undefined ? 'none' : esc(lastSuccess.run),
      lastSuccess === undefined
        ? 'in this window'
        : `UTC · ${esc(formatDuration(roundedToMinutes(Date.parse(m.generated_at) - Date.parse(lastSuccess.started_at))))} before this page`,
      lastSuccess === undefined ? 'bad' : '',
    ),
    card(
      'runs',
      'Runs',
      `<span data-value="${m.runs.length}">${number(m.runs.length)}</span>`,
      bad === 0 ? 'all successful' : `${number(bad)} not successful`,
      bad === 0 ? '' : 'warn',
    ),
    card(
      'users',
      'Users asked for',
      `<span data-value="${users}">${number(users)}</span>`,
      planned === undefined
        ? 'no run planned'
        : planned === last
          ? 'by the last run'
          : `by the run of ${esc(planned.run)}`,
    ),
    '</section>',
  ].join('\n');
}

// Charts. Each: a Vega-Lite spec, its SVG, a caption, and its figures in a table below.

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

async function outcomesChart(m: Monitoring): Promise<string> {
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

async function stagesChart(m: Monitoring): Promise<string> {
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

async function changesChart(m: Monitoring, sinceDay: string): Promise<string> {
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

async function usersChart(m: Monitoring, by: 'profile' | 'establishment', sinceDay: string): Promise<string> {
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

async function heldSkippedChart(m: Monitoring, sinceDay: string): Promise<string> {
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

// The last run.

function lastRunSection(run: LastRun): string {
  const out: string[] = ['<section aria-labelledby="last-run-title" id="last-run">'];
  out.push(`<h2 id="last-run-title">Last run ${outcomeBadge(run.outcome)}</h2>`);
  const facts: [string, string][] = [
    ['Command', esc(run.command) + (run.plan_file === undefined ? '' : ` <code>${esc(run.plan_file)}</code>`)],
    ['Run id', `<code>${esc(run.run_id)}</code>`],
    ['Started', time(run.started_at)],
    ['Duration', esc(formatDuration(run.duration_ms))],
    ['Exit code', `<span data-value="${run.exit_code}">${run.exit_code}</span>`],
    ['Spec', `<code>${esc(run.spec)}</code>`],
  ];
  if (run.source !== undefined) facts.push(['Source', `<code>${esc(run.source)}</code>`]);
  if (run.target !== undefined) {
    facts.push([
      'Moodle',
      `<code>${esc(run.target)}</code>${run.moodle_release === undefined ? '' : ` (${esc(run.moodle_release)})`}`,
    ]);
  }
  if (run.establishments !== undefined) facts.push(['Establishments', esc(run.establishments.join(', '))]);
  facts.push(['ldap2moodle', esc(run.tool_version)]);
  out.push('<dl class="facts">', ...facts.map(([k, v]) => `<div><dt>${k}</dt><dd>${v}</dd></div>`), '</dl>');

  if (run.errors.length > 0) {
    out.push('<h3>Errors</h3><ul class="errors">');
    for (const e of run.errors) {
      const diagnostics = (e.diagnostics ?? []).map((d) => `<li>${esc(d)}</li>`).join('');
      out.push(
        `<li data-code="${esc(e.code)}"><code>${esc(e.code)}</code> ${esc(e.message)}${diagnostics === '' ? '' : `<ul>${diagnostics}</ul>`}</li>`,
      );
    }
    out.push('</ul>');
  }
  if (run.guards.length > 0) {
    out.push('<h3>Safety guards tripped</h3>');
    const rows = run.guards.map(
      (g) =>
        `<tr data-code="${esc(g.code)}"><td><code>${esc(g.code)}</code></td><td>${esc(g.entity ?? '')}</td>${cell(g.removals, { field: 'removals' })}${cell(g.managed, { field: 'managed' })}<td>${esc(g.message)}</td></tr>`,
    );
    out.push(table(['Guard', 'Entity', 'Removals', 'Managed', 'Message'], rows, 'guards'));
  }

  out.push('<h3>Changes</h3>');
  if (run.counts.length === 0) out.push('<p class="empty" data-empty="last-run-counts">No changes.</p>');
  else {
    const actions = COUNT_ACTIONS.filter((a) => run.counts.some((row) => row.counts[a] !== undefined));
    const rows = run.counts.map(
      (row) =>
        `<tr data-entity="${esc(row.entity)}"><th scope="row">${esc(row.entity)}</th>${actions
          .map((a) => countCell(row.counts, a))
          .join('')}</tr>`,
    );
    out.push(table(['Entity', ...actions], rows, 'last-run-counts'));
  }

  out.push('<h3>Reads and writes</h3>');
  const stageRows = run.stages.map(
    (s) =>
      `<tr data-stage="${esc(s.stage)}"><th scope="row">${esc(s.stage)}</th>${cell(s.ms, { field: 'ms' }, seconds(s.ms))}<td>${s.ok ? 'ok' : '<strong>failed</strong>'}</td></tr>`,
  );
  out.push(
    '<div class="pair">',
    table(['Stage', 'Seconds', ''], stageRows, 'last-run-stages'),
    table(
      ['Moodle', ''],
      [
        `<tr><th scope="row">Rows read</th>${cell(run.moodle.rows_read, { field: 'rows_read' })}</tr>`,
        `<tr><th scope="row">Statements</th>${cell(run.moodle.statements, { field: 'statements' })}</tr>`,
        `<tr><th scope="row">Rows written</th>${cell(run.moodle.rows_written, { field: 'rows_written' })}</tr>`,
        `<tr><th scope="row">Users asked for</th>${cell(run.users.desired, { field: 'users' })}</tr>`,
      ],
      'last-run-moodle',
    ),
    '</div>',
  );
  if (run.searches.length > 0) {
    const rows = run.searches.map(
      (s) =>
        `<tr><td><code>${esc(s.base)}</code></td><td>${esc(s.scope)}</td><td><code>${esc(s.filter)}</code></td>${cell(s.entries, { field: 'entries' })}${cell(s.ms, { field: 'ms' }, seconds(s.ms))}</tr>`,
    );
    out.push(table(['Search base', 'Scope', 'Filter', 'Entries', 'Seconds'], rows, 'last-run-searches'));
  }

  out.push(
    entriesList(
      'Held',
      'held',
      run.held.map((h) => ({ entity: h.entity, what: h.address, dn: h.dn, reason: h.reason })),
    ),
  );
  out.push(
    entriesList(
      'Skipped',
      'skipped',
      run.skipped.map((s) => ({ entity: s.entity, what: '', dn: s.dn, reason: s.reason })),
    ),
  );

  if (run.warnings.length > 0) {
    out.push(`<h3>Warnings (${number(run.warnings.length)})</h3><ul class="warnings">`);
    for (const w of run.warnings) out.push(`<li>${esc(w)}</li>`);
    out.push('</ul>');
  }
  if (run.post_apply.length > 0) {
    out.push('<h3>postApply</h3>');
    for (const p of run.post_apply) {
      const status =
        p.skipped !== undefined
          ? `skipped: ${esc(p.skipped)}`
          : p.exit_code === 0
            ? 'exit 0'
            : `<strong>${p.exit_code === null ? `killed by ${esc(p.signal ?? 'a signal')}` : `exit ${p.exit_code}`}</strong>`;
      out.push(
        `<div class="post-apply" data-exit-code="${p.exit_code ?? ''}"><p><code>${esc(p.command)}</code> — ${status} in ${seconds(p.ms)} s${p.error === undefined ? '' : ` — ${esc(p.error)}`}</p>`,
        p.output === '' ? '' : `<pre>${esc(p.output)}</pre>`,
        '</div>',
      );
    }
  }
  out.push('</section>');
  return out.join('\n');
}

/** At most this many held or skipped entries listed (the JSON output has them all). */
const LISTED = 1000;

function entriesList(
  title: string,
  kind: string,
  entries: readonly { entity: string; what: string; dn: string | undefined; reason: string }[],
): string {
  if (entries.length === 0) return '';
  const rows = entries
    .slice(0, LISTED)
    .map(
      (e) =>
        `<tr><td>${esc(e.entity)}</td>${kind === 'held' ? `<td class="address"><code>${esc(e.what)}</code></td>` : ''}<td class="dn"><code>${dnHtml(e.dn ?? '')}</code></td><td>${esc(e.reason)}</td></tr>`,
    );
  const more =
    entries.length > LISTED
      ? `<p class="note">… and ${number(entries.length - LISTED)} more (see <code>report --json</code>).</p>`
      : '';
  const headers = kind === 'held' ? ['Entity', 'Address', 'DN', 'Reason'] : ['Entity', 'DN', 'Reason'];
  return `<h3>${title} (<span data-count="${kind}" data-value="${entries.length}">${number(entries.length)}</span>)</h3>${table(headers, rows, `last-run-${kind}`)}${more}`;
}

function runsTable(runs: readonly RunRow[]): string {
  const rows = [...runs]
    .reverse()
    .map(
      (r) =>
        `<tr data-run-id="${esc(r.run_id)}" data-outcome="${esc(r.outcome)}"><th scope="row">${esc(r.run)}</th><td>${esc(r.command)}</td><td>${outcomeBadge(r.outcome)}</td>${cell(r.exit_code, { field: 'exit_code' })}${cell(r.duration_ms, { field: 'duration_ms' }, esc(formatDuration(r.duration_ms)))}${cell(r.changes, { field: 'changes' })}${cell(r.held, { field: 'held' })}${cell(r.skipped, { field: 'skipped' })}</tr>`,
    );
  return `<section aria-labelledby="runs-title"><h2 id="runs-title">Every run</h2>${table(['Run (UTC)', 'Command', 'Outcome', 'Exit', 'Duration', 'Changes', 'Held', 'Skipped'], rows, 'runs')}</section>`;
}

// HTML pieces.

function table(headers: readonly string[], rows: readonly string[], name: string): string {
  const head = headers.map((h) => `<th scope="col">${esc(h)}</th>`).join('');
  return `<div class="table"><table data-table="${name}"><thead><tr>${head}</tr></thead><tbody>${rows.join('')}</tbody></table></div>`;
}

/** A number in a cell, its raw value in `data-value` and the attributes that say what it counts. */
function cell(value: number, attributes: Readonly<Record<string, string>>, shown = number(value)): string {
  const attrs = Object.entries(attributes)
    .map(([k, v]) => ` data-${k}="${esc(v)}"`)
    .join('');
  return `<td class="num"${attrs} data-value="${value}">${shown}</td>`;
}

function countCell(counts: Partial<Record<CountAction, number>>, action: CountAction): string {
  const n = counts[action];
  return n === undefined ? `<td class="none" data-action="${action}">—</td>` : cell(n, { action });
}

function outcomeBadge(outcome: RunOutcome): string {
  return `<span class="badge" data-outcome="${outcome}" style="--c:${OUTCOME_COLOURS[outcome]}">${esc(outcome)}</span>`;
}

const roundedToMinutes = (ms: number): number => Math.round(ms / 60_000) * 60_000;
const number = (n: number): string => n.toLocaleString('en-US');
const seconds = (ms: number): string => (ms / 1000).toFixed(ms < 10_000 ? 2 : 1);
const plural = (n: number, noun: string): string => `${number(n)} ${noun}${n === 1 ? '' : 's'}`;

function time(iso: string): string {
  return `<time datetime="${esc(iso)}">${esc(new Date(iso).toISOString().slice(0, 16).replace('T', ' '))} UTC</time>`;
}

/** A DN that wraps at its commas, between RDNs, rather than inside a name. */
function dnHtml(dn: string): string {
  return esc(dn).replace(/,/g, ',<wbr>');
}

/** HTML text: markup escaped, and control characters shown (a page can be saved and `cat` to a terminal). */
function esc(text: string): string {
  return printableLines(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const CSS = `
:root { color-scheme: light; --fg: #1f2328; --muted: #59636e; --line: #d1d9e0; --bg: #f6f8fa; --accent: #0969da; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.5 ${FONT}; color: var(--fg); background: var(--bg); }
header { background: #fff; border-bottom: 1px solid var(--line); padding: 20px 32px 12px; }
h1 { margin: 0 0 4px; font-size: 24px; }
h2 { font-size: 19px; margin: 32px 0 12px; padding-bottom: 4px; border-bottom: 1px solid var(--line); }
h2 .badge { font-size: 14px; vertical-align: middle; }
h3 { font-size: 16px; margin: 24px 0 8px; }
main { max-width: 1000px; margin: 0 auto; padding: 8px 32px 48px; }
.meta, .note, figcaption { color: var(--muted); }
.meta { margin: 0; font-size: 14px; }
code { font: 13px/1.4 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; overflow-wrap: anywhere; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(200px, 1fr)); gap: 12px; margin-top: 20px; }
.card { background: #fff; border: 1px solid var(--line); border-left: 4px solid #1a7f37; border-radius: 6px; padding: 10px 14px; }
.card.warn { border-left-color: #bf8700; } .card.bad { border-left-color: #d1242f; }
.card .label { font-size: 13px; color: var(--muted); text-transform: uppercase; letter-spacing: .04em; }
.card .value { font-size: 20px; font-weight: 600; margin: 2px 0; white-space: nowrap; }
.card .note { font-size: 13px; }
figure { margin: 0 0 20px; background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: 12px 16px; break-inside: avoid; }
figcaption { font-size: 14px; margin-bottom: 8px; }
.chart svg { max-width: 100%; height: auto; display: block; }
details { margin-top: 8px; font-size: 14px; } summary { cursor: pointer; color: var(--accent); }
.table { overflow-x: auto; }
table { border-collapse: collapse; margin: 8px 0; font-size: 14px; background: #fff; }
th, td { border: 1px solid var(--line); padding: 4px 10px; text-align: left; vertical-align: top; }
thead th { background: #eef1f4; font-weight: 600; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
td.none { color: var(--muted); text-align: center; }
td.dn { max-width: 420px; min-width: 220px; } td.dn code { overflow-wrap: normal; } td.address code { white-space: nowrap; }
.badge { display: inline-block; padding: 1px 10px; border-radius: 999px; color: #fff; background: var(--c); font-size: 14px; font-weight: 600; }
.facts { display: grid; grid-template-columns: repeat(auto-fit, minmax(400px, 1fr)); gap: 4px 24px; margin: 0; }
.facts div { display: flex; gap: 8px; } .facts dt { color: var(--muted); min-width: 110px; } .facts dd { margin: 0; }
.pair { display: flex; flex-wrap: wrap; gap: 24px; align-items: flex-start; }
.errors li { color: #6e1116; }
.empty { background: #fff; border: 1px dashed var(--line); border-radius: 6px; padding: 16px; color: var(--muted); }
pre { background: #fff; border: 1px solid var(--line); padding: 8px; overflow-x: auto; white-space: pre-wrap; font-size: 13px; }
@media print {
  body { background: #fff; font-size: 11pt; } header { padding: 0 0 8px; } main { max-width: none; padding: 0; }
  figure, .card, table { break-inside: avoid; } summary { display: none; }
  .badge { color: #000; background: none; border: 1px solid var(--c); -webkit-print-color-adjust: exact; print-color-adjust: exact; }
}
`;
