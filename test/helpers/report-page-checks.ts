/**
 * The monitoring page in a real browser: Debian's chromium (`.ci/run` installs it), driven by playwright-core.
 * `checkReportPage` takes a reports directory (a scripted series, or the reports of real runs), makes the page
 * with the CLI, opens it from file:// with every other request aborted, and checks it against the JSON reports
 * read here independently of the code under test.
 */
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Browser } from 'playwright-core';
import { chromium } from 'playwright-core';
import type { RunReport } from '../../src/report/run-report-schema.js';
import { runCli } from './spec-files.js';

export const CHROMIUM = process.env.L2M_CHROMIUM ?? '/usr/bin/chromium';
export const chromiumFound = existsSync(CHROMIUM);
/** `.ci/run` sets it: there a missing chromium fails the browser tests instead of skipping them. */
export const chromiumRequired = process.env.L2M_REQUIRE_CHROMIUM === '1';
export const NO_CHROMIUM = `${CHROMIUM} not found: the browser tests are skipped (apt-get install chromium, or set L2M_CHROMIUM)`;

/** Headless chromium; without its sandbox when running as root (containers, CI), where it refuses to start. */
export async function launchChromium(): Promise<Browser> {
  const root = typeof process.getuid === 'function' && process.getuid() === 0;
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: root ? ['--no-sandbox'] : [] });
}

export interface PageCheckOptions {
  /** Where the page is written. */
  readonly out: string;
  /** Where the screenshot goes (full page). */
  readonly screenshot?: string;
  /** Extra CLI arguments (`--no-redact`). */
  readonly args?: readonly string[];
}

export interface PageCheckResult {
  readonly html: string;
  /** The reports of the directory, oldest first, as read here. */
  readonly reports: RunReport[];
  /** The page's text as the browser shows it. */
  readonly text: string;
}

/** Makes the page for `reportsDir` and checks it in chromium; throws on the first difference. */
export async function checkReportPage(reportsDir: string, options: PageCheckOptions): Promise<PageCheckResult> {
  const reports = await readRawReports(reportsDir);
  const run = await runCli([
    'report',
    '--dir',
    reportsDir,
    '--since',
    '0',
    '--out',
    options.out,
    ...(options.args ?? []),
  ]);
  if (run.code !== 0) throw new Error(`report exited ${run.code}: ${run.stderr}`);
  const html = await readFile(options.out, 'utf8');

  const browser = await launchChromium();
  try {
    const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
    const outside: string[] = [];
    await page.route('**/*', async (route) => {
      const url = route.request().url();
      if (url.startsWith('file:')) return route.continue();
      outside.push(url);
      return route.abort();
    });
    const problems: string[] = [];
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(`console: ${message.text()}`);
    });
    page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
    await page.goto(pathToFileURL(options.out).href, { waitUntil: 'load' });

    const scripts = await page.locator('script').count();
    if (scripts !== 0) problems.push(`${scripts} <script> element(s)`);

    // Every chart: an SVG with marks in it, and a caption.
    const charts = await page.$$eval('figure[data-chart]', (figures) =>
      figures.map((f) => ({
        id: f.getAttribute('data-chart') ?? '',
        svgs: f.querySelectorAll('svg').length,
        marks: f.querySelectorAll('svg g[class*="role-mark"] > path, svg g[class*="role-mark"] > line').length,
        caption: f.querySelector('figcaption')?.textContent?.trim() ?? '',
      })),
    );
    const expected = expectedCharts(reports);
    const ids = charts.map((c) => c.id);
    for (const id of expected) if (!ids.includes(id)) problems.push(`chart ${id} missing (charts: ${ids.join(', ')})`);
    for (const c of charts) {
      if (c.svgs !== 1) problems.push(`chart ${c.id}: ${c.svgs} <svg>`);
      if (c.marks === 0) problems.push(`chart ${c.id}: no marks in its SVG`);
      if (c.caption === '') problems.push(`chart ${c.id}: no caption`);
    }

    // Every run, with its outcome, in the table of runs.
    const runs = await page.$$eval('table[data-table="runs"] tbody tr', (rows) =>
      rows.map((r) => ({ id: r.getAttribute('data-run-id'), outcome: r.getAttribute('data-outcome') })),
    );
    for (const r of reports) {
      const row = runs.find((x) => x.id === r.run_id);
      if (row?.outcome !== r.outcome)
        problems.push(`run ${r.run_id}: outcome ${row?.outcome} on the page, ${r.outcome} in its report`);
    }
    if (runs.length !== reports.length) problems.push(`${runs.length} runs on the page, ${reports.length} reports`);

    // The last run's counts per entity and action.
    const last = reports.at(-1);
    if (last !== undefined) {
      const cells = await page.$$eval('table[data-table="last-run-counts"] td[data-action][data-value]', (tds) =>
        tds.map((td) => ({
          entity: td.closest('tr')?.getAttribute('data-entity') ?? '',
          action: td.getAttribute('data-action') ?? '',
          value: Number(td.getAttribute('data-value')),
          shown: td.textContent ?? '',
        })),
      );
      const want = Object.entries(last.counts).flatMap(([entity, counts]) =>
        Object.entries(counts)
          .filter(([, n]) => n !== undefined && n > 0)
          .map(([action, n]) => ({ entity, action, value: n as number })),
      );
      for (const w of want) {
        const got = cells.find((c) => c.entity === w.entity && c.action === w.action);
        if (got?.value !== w.value)
          problems.push(`last run ${w.entity} ${w.action}: ${got?.value} on the page, ${w.value} in its report`);
        else if (got.shown.replace(/,/g, '') !== String(w.value))
          problems.push(`last run ${w.entity} ${w.action} shows "${got.shown}"`);
      }
      if (cells.length !== want.length)
        problems.push(`${cells.length} count cells for the last run, ${want.length} in its report`);
    }

    // The users per profile of every run that planned.
    const profiles = await page.$$eval('table[data-table="users-by-profile"] td[data-profile]', (tds) =>
      tds.map((td) => ({
        run: td.closest('tr')?.getAttribute('data-run-id') ?? '',
        profile: td.getAttribute('data-profile') ?? '',
        value: Number(td.getAttribute('data-value')),
      })),
    );
    for (const r of reports) {
      for (const [profile, n] of Object.entries(r.users.by_profile)) {
        const got = profiles.find((p) => p.run === r.run_id && p.profile === profile);
        if (got?.value !== n)
          problems.push(`run ${r.run_id} profile ${profile}: ${got?.value} on the page, ${n} in its report`);
      }
    }

    if (outside.length > 0) problems.push(`requests outside the file: ${outside.join(', ')}`);
    if (problems.length > 0)
      throw new Error(`the monitoring page differs from its reports:\n- ${problems.join('\n- ')}`);
    if (options.screenshot !== undefined) {
      await mkdir(dirname(options.screenshot), { recursive: true });
      await page.screenshot({ path: options.screenshot, fullPage: true });
    }
    const text = (await page.locator('body').textContent()) ?? '';
    return { html, reports, text };
  } finally {
    await browser.close();
  }
}

/** The reports of `dir`, oldest first, parsed as they are (no validation: that is the code under test's). */
export async function readRawReports(dir: string): Promise<RunReport[]> {
  const names = (await readdir(dir)).filter((n) => n.endsWith('.json'));
  const reports = await Promise.all(
    names.map(async (n) => JSON.parse(await readFile(join(dir, n), 'utf8')) as RunReport),
  );
  return reports.sort((a, b) => Date.parse(a.started_at) - Date.parse(b.started_at));
}

/** The charts a page of these reports must have: those whose figures are not all empty. */
function expectedCharts(reports: readonly RunReport[]): string[] {
  if (reports.length === 0) return [];
  const out = ['outcomes'];
  if (reports.some((r) => r.stages.length > 0)) out.push('stage-durations');
  const changes = reports.some((r) =>
    Object.values(r.counts).some((c) =>
      ['create', 'adopt', 'update', 'unsuspend', 'suspend', 'release', 'delete'].some(
        (a) => (c[a as keyof typeof c] ?? 0) > 0,
      ),
    ),
  );
  if (changes) out.push('changes');
  if (reports.some((r) => Object.keys(r.users.by_profile).length > 0)) out.push('users-by-profile');
  if (reports.some((r) => Object.keys(r.users.by_establishment).length > 0)) out.push('users-by-establishment');
  if (reports.some((r) => r.held.length + r.skipped.length > 0)) out.push('held-skipped');
  return out;
}
