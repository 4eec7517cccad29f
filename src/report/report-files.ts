/**
 * The run reports on disk: one JSON file per run in the reports directory (`reports.dir`), named by its UTC
 * start time then its run id so that name order is time order, written atomically (temp file + rename, mode
 * 0600: it holds DNs, like the state holds usernames), the oldest beyond `reports.keep` removed after each run.
 */
import { mkdir, readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomically } from '../atomic-file.js';
import type { RunReport } from './run-report-schema.js';

/** `2026-12-07T21-45-59.123Z-<run id>.json`: sortable, and no `:` (not a file name character everywhere). */
const REPORT_NAME = /^\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d\.\d{3}Z-[0-9A-Za-z-]+\.json$/;

export function runReportName(report: Pick<RunReport, 'started_at' | 'run_id'>): string {
  const started = new Date(report.started_at).toISOString().replace(/:/g, '-');
  return `${started}-${report.run_id}.json`;
}

export const runReportPath = (dir: string, report: Pick<RunReport, 'started_at' | 'run_id'>): string =>
  join(dir, runReportName(report));

/** The names of the reports in `dir`, oldest first (none when it does not exist). */
export async function runReportNames(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir)).filter((name) => REPORT_NAME.test(name)).sort();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
}

/**
 * Writes `report` into `dir`, then removes the oldest reports beyond `keep`. Returns the report's path. Throws a
 * plain Error on failure: the caller warns, the run goes on.
 *
 * `dir` is created (mode 0700) when missing, but not its parent: the default one is next to the state, whose
 * directory an apply requires to exist (STATE_WRITE), and a report must not create it behind that check's back.
 */
export async function writeRunReport(dir: string, report: RunReport, keep: number): Promise<string> {
  await mkdir(dir, { mode: 0o700 }).catch((error: NodeJS.ErrnoException) => {
    if (error.code !== 'EEXIST') throw error;
  });
  const path = runReportPath(dir, report);
  await writeFileAtomically(path, `${JSON.stringify(report, null, 2)}\n`, 0o600);
  const names = await runReportNames(dir);
  const excess = names.slice(0, Math.max(0, names.length - keep));
  await Promise.all(excess.map((name) => rm(join(dir, name), { force: true })));
  return path;
}

/** The newest report in `dir` that `accept` takes (reading newest first, stopping at the first one). */
export async function newestRunReport(
  dir: string,
  accept: (report: RunReport) => boolean,
): Promise<RunReport | undefined> {
  const names = await runReportNames(dir);
  for (const name of names.reverse()) {
    let report: RunReport;
    try {
      report = JSON.parse(await readFile(join(dir, name), 'utf8')) as RunReport;
    } catch {
      // A report edited by hand or half-copied by a backup tool: the next older one will do.
      continue;
    }
    if (accept(report)) return report;
  }
  return undefined;
}
