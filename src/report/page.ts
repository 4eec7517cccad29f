/**
 * The monitoring page: one self-contained HTML file (inline CSS, charts as inline SVG) that opens with no
 * network and runs no script. The charts are Vega-Lite specifications compiled by `vega-lite` and rendered to
 * SVG in Node by `vega` (src/report/page-charts.ts); the numbers behind them are also in tables, for screen
 * readers, print and tests (`data-*` attributes on the cells; src/report/page-html.ts). This file lays the page out.
 */
import { formatDuration } from '../duration.js';
import type { LastRun, Monitoring, RunRow } from './monitoring.js';
import { COUNT_ACTIONS } from './monitoring.js';
import { changesChart, FONT, heldSkippedChart, outcomesChart, stagesChart, usersChart } from './page-charts.js';
import {
  cell,
  countCell,
  dnHtml,
  esc,
  number,
  outcomeBadge,
  plural,
  roundedToMinutes,
  seconds,
  table,
  time,
} from './page-html.js';
import { SUCCESS_OUTCOMES } from './run-recorder.js';

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

function summary(m: Monitoring): string {
  const last = m.runs.at(-1) as RunRow;
  const lastSuccess = [...m.runs].reverse().find((r) => SUCCESS_OUTCOMES.includes(r.outcome));
  const bad = m.runs.filter((r) => !SUCCESS_OUTCOMES.includes(r.outcome)).length;
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
      SUCCESS_OUTCOMES.includes(last.outcome) ? '' : last.outcome === 'post-apply-failed' ? 'warn' : 'bad',
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
