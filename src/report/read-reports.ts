/**
 * Reading the run reports back (for `ldap2moodle report`): every `*.json` file of a reports directory, each
 * checked against the run report schema. A report that cannot be read or is not a valid report is left out
 * with a warning naming it: one damaged file must not hide a season of runs.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ErrorObject, ValidateFunction } from 'ajv/dist/2020.js';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { UserError } from '../errors.js';
import type { RunReport } from './run-report-schema.js';
import { runReportSchema } from './run-report-schema.js';

/** RFC 3339 date-time (the schema's `format: date-time`), as the reports write it (`toISOString`). */
const DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/i;

let compiled: ValidateFunction | undefined;

/** Compiled once per process; ajv has no formats of its own, so the one the schema uses is declared here. */
function validator(): ValidateFunction {
  if (compiled === undefined) {
    const ajv = new Ajv2020({ strict: true, allErrors: false });
    ajv.addFormat('date-time', { validate: (text: string) => DATE_TIME.test(text) && !Number.isNaN(Date.parse(text)) });
    compiled = ajv.compile(runReportSchema);
  }
  return compiled;
}

/** Why `data` is not a run report (the first problem, with where it is), or null when it is one. */
export function runReportProblem(data: unknown): string | null {
  const validate = validator();
  if (validate(data)) return null;
  const first: ErrorObject | undefined = validate.errors?.[0];
  if (first === undefined) return 'not a run report';
  return `${first.instancePath === '' ? 'the report' : first.instancePath} ${first.message ?? 'is invalid'}`;
}

export interface ReadReportsOptions {
  /** Keep the runs started at or after this instant; all of them when undefined. */
  readonly since?: Date;
}

export interface ReadReports {
  /** Valid reports of the window, oldest first (by `started_at`). */
  readonly reports: RunReport[];
  /** One line per file left out: `<file>: <why>`. */
  readonly warnings: string[];
  /** False when the directory does not exist (no run has written a report yet). */
  readonly found: boolean;
}

/** The valid run reports of `dir` within the window, oldest first; see the module comment. */
export async function readReports(dir: string, options: ReadReportsOptions = {}): Promise<ReadReports> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return { reports: [], warnings: [], found: false };
    throw new UserError('OPTION_INVALID', `cannot read the reports directory ${dir}: ${(error as Error).message}`, [], {
      cause: error,
    });
  }
  const reports: RunReport[] = [];
  const warnings: string[] = [];
  const since = options.since?.getTime();
  for (const name of names.filter((n) => n.endsWith('.json')).sort()) {
    const path = join(dir, name);
    let data: unknown;
    try {
      data = JSON.parse(await readFile(path, 'utf8'));
    } catch (error) {
      warnings.push(`${path}: not readable as JSON (${(error as Error).message}); left out`);
      continue;
    }
    const problem = runReportProblem(data);
    if (problem !== null) {
      warnings.push(`${path}: not a valid run report (${problem}); left out`);
      continue;
    }
    const report = data as RunReport;
    if (since !== undefined && Date.parse(report.started_at) < since) continue;
    reports.push(report);
  }
  reports.sort((a, b) => Date.parse(a.started_at) - Date.parse(b.started_at) || a.run_id.localeCompare(b.run_id));
  return { reports, warnings, found: true };
}
