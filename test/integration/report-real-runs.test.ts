/**
 * The monitoring page over reports made by real runs of the CLI (no hand-made report): a generated directory
 * applied on day 1, churned on day 2, half gone on day 3 (refused by the guards). The page must load offline
 * in chromium with every chart drawn and the numbers of those reports (test/helpers/report-page-checks.ts).
 */
import { writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { churnDirectory } from '../../src/generate/churn.js';
import { directoryLdif, generateDirectory } from '../../src/generate/generate.js';
import type { Directory } from '../../src/generate/model.js';
import { halfTheDirectory, SDET_JOB } from '../helpers/broken-directory.js';
import {
  CHROMIUM,
  checkReportPage,
  chromiumFound,
  chromiumRequired,
  NO_CHROMIUM,
} from '../helpers/report-page-checks.js';
import { runCli, type Workspace, workspace, writeSpec } from '../helpers/spec-files.js';
import { createTarget, type Target, TARGETS } from '../helpers/targets.js';

const SCREENSHOT = fileURLToPath(new URL('../../.tmp/report-page-real-runs.png', import.meta.url));
const target = TARGETS[0] ?? 'mariadb';

describe(`the monitoring page over three real nights (${target})`, () => {
  let t: Target;
  let ws: Workspace;
  let spec: string;
  const nights: { code: number; stderr: string }[] = [];

  const night = async (dir: Directory) => {
    await writeFile(ws.path('directory.ldif'), directoryLdif(dir));
    await t.release();
    const run = await runCli(['apply', '--spec', spec, '--auto-approve', '--no-color']);
    nights.push({ code: run.code, stderr: run.stderr });
  };

  beforeAll(async () => {
    if (!chromiumFound && chromiumRequired) {
      throw new Error(`L2M_REQUIRE_CHROMIUM=1 but ${CHROMIUM} is missing (is Debian's chromium installed?)`);
    }
    [t, ws] = await Promise.all([createTarget(target), workspace()]);
    spec = await writeSpec(ws, {
      version: 1,
      source: { ldif: 'directory.ldif' },
      moodle: t.moodleSection(ws.dir),
      ...SDET_JOB,
    });
    const day1 = generateDirectory({ seed: 11, people: 400, establishments: 2 });
    await night(day1);
    const day2 = churnDirectory(day1, { seed: 5, share: 0.05 }).directory;
    await night(day2);
    await night(halfTheDirectory(day2));
  }, 300_000);
  afterAll(async () => {
    await t?.drop();
    await ws?.remove();
  });

  it('applied, applied, refused: three reports, each with its exit code', () => {
    expect(nights.map((n) => n.code)).toEqual([0, 0, 4]);
    expect(nights[2]?.stderr).toContain('PLAN_REFUSED');
  });

  it('the page of those reports loads offline in chromium, every chart drawn, the numbers of the reports', async ({
    skip,
  }) => {
    skip(!chromiumFound, NO_CHROMIUM);
    const page = await checkReportPage(ws.path('ldap2moodle.reports'), {
      out: ws.path('sync-report.html'),
      screenshot: SCREENSHOT,
    });
    expect(page.reports.map((r) => r.outcome)).toEqual(['applied', 'applied', 'refused']);
    // Real runs fill what the charts draw: users per profile and per establishment, stage durations.
    const [first] = page.reports;
    expect(Object.keys(first?.users.by_profile ?? {}).length).toBeGreaterThan(1);
    expect(Object.keys(first?.users.by_establishment ?? {})).toHaveLength(2);
    expect(first?.stages.map((s) => s.stage)).toEqual(
      expect.arrayContaining(['source', 'moodle', 'planning', 'writing', 'state']),
    );
    expect(page.reports[2]?.guards.length).toBeGreaterThan(0);
    // Redacted by default: no uid of the directory on the page.
    expect(page.html).not.toMatch(/uid=[a-z]\d{7},/i);
  });
});
