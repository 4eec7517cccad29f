/**
 * Run reports for the monitoring page's tests, as a scripted series of nights: day 1 a first apply creating the
 * users, day 2 a churned day (updates, suspensions, held and skipped entries, a postApply), day 3 a run the
 * removal guard refused. Each report is checked against the run report schema here, with its own ajv, so the
 * fixtures cannot drift from the format.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import type { RunReport } from '../../src/report/run-report-schema.js';
import { runReportSchema } from '../../src/report/run-report-schema.js';

const ajv = new Ajv2020({ strict: true, allErrors: true });
ajv.addFormat('date-time', { validate: (text: string) => !Number.isNaN(Date.parse(text)) && text.includes('T') });
const validate = ajv.compile(runReportSchema);

/** `report`, after checking it is a valid run report (throws with ajv's errors otherwise). */
export function validReport(report: RunReport): RunReport {
  if (!validate(report)) throw new Error(`not a valid run report: ${ajv.errorsText(validate.errors)}`);
  return report;
}

/** Personal values the series holds, which a redacted page must not show. */
export const PERSONAL_VALUES = ['Jean Dupont', 'f4500123', 'f4500777', 'zoe.martin@ent.example'] as const;

const DAY = 86_400_000;

/** A report of a run started at `start`, taking `ms`, with what `fields` say; the rest empty. */
function report(n: number, start: Date, ms: number, fields: Partial<RunReport>): RunReport {
  return validReport({
    format_version: '1.0',
    run_id: `00000000-0000-4000-8000-00000000000${n}`,
    tool_version: '0.1.0',
    command: 'apply',
    started_at: start.toISOString(),
    ended_at: new Date(start.getTime() + ms).toISOString(),
    duration_ms: ms,
    spec: { path: '/srv/sync/site.yaml', hash: `sha256:${'ab'.repeat(8)}${n}` },
    source: 'ldaps://ldap.ent.example:636',
    target: 'mariadb://moodle@db.example:3306/moodle',
    moodle_release: '4.5.2 (Build: 20250210)',
    state: '/srv/sync/site.state.json',
    stages: [],
    searches: [],
    moodle: { rows_read: 0, statements: 0, rows_written: 0 },
    counts: {},
    users: { desired: 0, by_profile: {}, by_establishment: {} },
    skipped: [],
    held: [],
    guards: [],
    warnings: [],
    errors: [],
    post_apply: [],
    outcome: 'applied',
    exit_code: 0,
    ...fields,
  });
}

const SEARCHES = [
  { base: 'ou=people,dc=ent,dc=example', scope: 'sub', filter: '(objectClass=ENTPerson)', entries: 330, ms: 640 },
  {
    base: 'ou=structures,dc=ent,dc=example',
    scope: 'one',
    filter: '(objectClass=ENTEtablissement)',
    entries: 2,
    ms: 12,
  },
] as const;

/** The three nights, the first starting at 02:00 UTC on `firstDay` (a date; its time is ignored). */
export function reportSeries(firstDay: Date): RunReport[] {
  const night = (i: number): Date => {
    const d = new Date(firstDay.getTime() + i * DAY);
    d.setUTCHours(2, 0, 0, 0);
    return d;
  };
  const day1 = report(1, night(0), 5_400, {
    stages: [
      { stage: 'source', ms: 1_200, ok: true },
      { stage: 'moodle', ms: 800, ok: true },
      { stage: 'planning', ms: 300, ok: true },
      { stage: 'writing', ms: 2_900, ok: true },
      { stage: 'state', ms: 60, ok: true },
    ],
    searches: [...SEARCHES],
    moodle: { rows_read: 1_250, statements: 96, rows_written: 2_104 },
    counts: {
      users: { create: 303 },
      cohorts: { create: 24 },
      cohort_members: { create: 303 },
      profile_data: { create: 909 },
    },
    users: {
      desired: 303,
      by_profile: { eleve: 240, enseignant: 45, personnel: 18 },
      by_establishment: { '0750001A': 180, '0750002B': 123 },
    },
  });
  const day2 = report(2, night(1), 4_100, {
    stages: [
      { stage: 'source', ms: 1_150, ok: true },
      { stage: 'moodle', ms: 1_400, ok: true },
      { stage: 'planning', ms: 350, ok: true },
      { stage: 'writing', ms: 700, ok: true },
      { stage: 'state', ms: 55, ok: true },
      { stage: 'postApply', ms: 1_900, ok: true },
    ],
    searches: [...SEARCHES],
    moodle: { rows_read: 3_410, statements: 41, rows_written: 77 },
    counts: {
      users: { create: 8, update: 12, suspend: 5, held: 2, skipped: 3 },
      cohort_members: { create: 8, delete: 5 },
      profile_data: { create: 24, update: 3 },
    },
    users: {
      desired: 306,
      by_profile: { eleve: 243, enseignant: 46, personnel: 17 },
      by_establishment: { '0750001A': 182, '0750002B': 124 },
    },
    held: [
      {
        entity: 'user',
        address: 'user["f4500123"]',
        dn: 'uid=f4500123,ou=people,dc=ent,dc=example',
        reason: 'edited in Moodle since the last apply (lastname); held until `ldap2moodle import` or --force',
      },
      {
        entity: 'user',
        address: 'user["f4500777"]',
        dn: 'uid=f4500777,ou=people,dc=ent,dc=example',
        reason: 'edited in Moodle since the last apply (email); held until `ldap2moodle import` or --force',
      },
    ],
    skipped: [
      {
        entity: 'user',
        dn: 'uid=f4500888,ou=people,dc=ent,dc=example',
        reason: 'username "Jean Dupont" has characters Moodle refuses in a username (space, upper case)',
        kind: 'data',
      },
      {
        entity: 'user',
        dn: 'uid=f4500889,ou=people,dc=ent,dc=example',
        reason: 'email "zoe.martin@ent.example" is used by another user',
        kind: 'data',
      },
      {
        entity: 'user',
        dn: 'uid=f4500890,ou=people,dc=ent,dc=example',
        reason: 'no ENTPersonProfils value the spec knows',
        kind: 'invalid-entry',
      },
    ],
    warnings: ['user["f4500123"] was edited in Moodle: its changes are held'],
    post_apply: [{ command: 'php admin/cli/purge_caches.php', exit_code: 0, ms: 1_900, output: 'Caches purged.\n' }],
  });
  const day3 = report(3, night(2), 2_300, {
    stages: [
      { stage: 'source', ms: 1_100, ok: true },
      { stage: 'moodle', ms: 900, ok: true },
      { stage: 'planning', ms: 300, ok: false },
    ],
    searches: [{ ...SEARCHES[0], entries: 181 }, SEARCHES[1]],
    moodle: { rows_read: 3_380, statements: 12, rows_written: 0 },
    counts: { users: { suspend: 125 }, cohort_members: { delete: 125 } },
    users: {
      desired: 181,
      by_profile: { eleve: 140, enseignant: 28, personnel: 13 },
      by_establishment: { '0750001A': 181 },
    },
    guards: [
      {
        code: 'GUARD_USERS_REMOVALS',
        entity: 'users',
        removals: 125,
        managed: 306,
        limit: { percent: 10 },
        message: '125 of 306 managed users would be suspended or deleted, over guards.maxRemovals.users (10%)',
      },
    ],
    errors: [{ code: 'PLAN_REFUSED', message: 'the plan is refused by a safety guard: nothing was written' }],
    outcome: 'refused',
    exit_code: 4,
  });
  return [day1, day2, day3];
}

/** File name of a report in its directory, as the runs name them: `<sortable UTC time>-<run id>.json`. */
export const reportFileName = (r: RunReport): string => `${r.started_at.replace(/[:.]/g, '-')}-${r.run_id}.json`;

/** Writes `reports` to `dir` (created), one file each. */
export async function writeReports(dir: string, reports: readonly RunReport[]): Promise<void> {
  await mkdir(dir, { recursive: true });
  for (const r of reports) await writeFile(join(dir, reportFileName(r)), `${JSON.stringify(r, null, 2)}\n`);
}

/**
 * `nights` runs, one every night from `firstDay`, cycling through the three of `reportSeries` (each with its own
 * id and time): enough runs for the page's time axes.
 */
export function longSeries(firstDay: Date, nights: number): RunReport[] {
  const three = reportSeries(firstDay);
  return Array.from({ length: nights }, (_, i) => {
    const base = three[i % 3] as RunReport;
    const start = new Date(Date.parse(three[0]?.started_at ?? '') + i * DAY);
    return validReport({
      ...base,
      run_id: `00000000-0000-4000-8000-${String(i + 1).padStart(12, '0')}`,
      started_at: start.toISOString(),
      ended_at: new Date(start.getTime() + base.duration_ms).toISOString(),
    });
  });
}
