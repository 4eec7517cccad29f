/**
 * The monitoring page (`ldap2moodle report`) in real headless chromium: a scripted series of runs (a first apply,
 * a churned day with held and skipped entries, a refused day) gives a page that loads offline with no script,
 * has every chart drawn, and shows the numbers of the reports; a screenshot is kept at .tmp/report-page.png.
 * Outside CI a machine without chromium skips these; `.ci/run` sets L2M_REQUIRE_CHROMIUM=1, so there it fails.
 */
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CHROMIUM,
  checkReportPage,
  chromiumFound,
  chromiumRequired,
  launchChromium,
  NO_CHROMIUM,
} from '../helpers/report-page-checks.js';
import { longSeries, PERSONAL_VALUES, reportSeries, writeReports } from '../helpers/run-reports.js';
import { runCli, type Workspace, workspace } from '../helpers/spec-files.js';

const SCREENSHOT = fileURLToPath(new URL('../../.tmp/report-page.png', import.meta.url));
const DAY = 86_400_000;

describe('the monitoring page in chromium', () => {
  let ws: Workspace;
  const reports = () => ws.path('site.reports');

  beforeAll(async () => {
    if (!chromiumFound && chromiumRequired) {
      throw new Error(`L2M_REQUIRE_CHROMIUM=1 but ${CHROMIUM} is missing (is Debian's chromium installed?)`);
    }
    ws = await workspace();
    await writeReports(reports(), reportSeries(new Date(Date.now() - 3 * DAY)));
  });
  afterAll(async () => ws?.remove());

  it("loads offline with every chart drawn and the reports' numbers, redacted", async ({ skip }) => {
    skip(!chromiumFound, NO_CHROMIUM);
    const page = await checkReportPage(reports(), { out: ws.path('sync-report.html'), screenshot: SCREENSHOT });
    expect(page.reports).toHaveLength(3);
    for (const value of PERSONAL_VALUES) expect(page.html).not.toContain(value);
    expect(page.text).toContain('refused');
    expect(page.text).toContain('GUARD_USERS_REMOVALS');
    // The pseudonymised DN of a held entry is on the page (the churned day is not the last run: the refused one is).
    expect(page.html).not.toMatch(/<script/i);
    expect(page.html).not.toMatch(/(?:src|href)="https?:/i);
  });

  it("shows the DNs with --no-redact, and the last run's held and skipped entries", async ({ skip }) => {
    skip(!chromiumFound, NO_CHROMIUM);
    const churned = ws.path('churned.reports');
    await writeReports(churned, reportSeries(new Date(Date.now() - 3 * DAY)).slice(0, 2));
    const redacted = await checkReportPage(churned, { out: ws.path('churned.html') });
    expect(redacted.text).toMatch(/uid=u-[0-9a-f]{8},ou=people,dc=ent,dc=example/);
    expect(redacted.text).toContain('Held (2)');
    expect(redacted.text).toContain('Skipped (3)');
    for (const value of PERSONAL_VALUES) expect(redacted.html).not.toContain(value);

    const plain = await checkReportPage(churned, { out: ws.path('plain.html'), args: ['--no-redact'] });
    expect(plain.text).toContain('uid=f4500123,ou=people,dc=ent,dc=example');
    expect(plain.text).toContain('username "Jean Dupont"');
  });

  it('a season of nightly runs: the charts on a time axis, still every number', async ({ skip }) => {
    skip(!chromiumFound, NO_CHROMIUM);
    const season = ws.path('season.reports');
    await writeReports(season, longSeries(new Date(Date.now() - 61 * DAY), 60));
    const page = await checkReportPage(season, { out: ws.path('season.html') });
    expect(page.reports).toHaveLength(60);
    expect(page.html).toContain("X-axis titled 'Run start (UTC)' for a utc scale");
  });

  it('says "no runs since …" for an empty window, and still opens', async ({ skip }) => {
    skip(!chromiumFound, NO_CHROMIUM);
    const out = ws.path('empty.html');
    const run = await runCli(['report', '--dir', reports(), '--since', '1h', '--out', out]);
    expect(run.code).toBe(0);
    const browser = await launchChromium();
    try {
      const page = await browser.newPage();
      await page.goto(`file://${out}`);
      expect(await page.locator('[data-empty="runs"]').textContent()).toMatch(/^No runs since \d{4}-\d{2}-\d{2}/);
      expect(await page.locator('figure').count()).toBe(0);
    } finally {
      await browser.close();
    }
    expect(await readFile(out, 'utf8')).not.toContain('<svg');
  });
});
