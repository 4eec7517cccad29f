/**
 * The end of a recorded run: its report written into the spec's reports directory (then retention), and the
 * metrics file when one is asked for. Neither may fail the run: every problem is returned for the caller to
 * warn about, and the run keeps its exit code.
 */
import { basename, extname } from 'node:path';
import { reportsDir, reportsKept } from '../state/state-path.js';
import { lastSuccessIn, renderMetrics, writeMetricsFile } from './metrics.js';
import { newestRunReport, runReportPath, writeRunReport } from './report-files.js';
import type { RunEnd, RunRecorder } from './run-recorder.js';
import { SUCCESS_OUTCOMES } from './run-recorder.js';
import type { RunReport } from './run-report-schema.js';

export interface SaveRunOptions {
  /** `--metrics-file`: where to write the Prometheus textfile. */
  readonly metricsFile?: string;
}

export interface SavedRun {
  readonly report: RunReport;
  /** Where the report was (or would have been) written. */
  readonly path: string;
  /** Why the report could not be written. */
  readonly reportError?: string;
  /** Why the metrics file could not be written. */
  readonly metricsError?: string;
}

const reasonOf = (error: unknown): string => (error instanceof Error ? error.message : String(error));

/** The spec's name, its file name without extension: the `target` label of the metrics. */
export const specName = (specPath: string): string => basename(specPath, extname(specPath));

export async function saveRun(recorder: RunRecorder, end: RunEnd, options: SaveRunOptions = {}): Promise<SavedRun> {
  const { loaded } = recorder.identity;
  const report = recorder.report(end);
  const dir = reportsDir(loaded);
  const path = runReportPath(dir, report);
  let reportError: string | undefined;
  try {
    await writeRunReport(dir, report, reportsKept(loaded));
  } catch (error) {
    reportError = reasonOf(error);
  }
  let metricsError: string | undefined;
  if (options.metricsFile !== undefined) {
    try {
      const success = SUCCESS_OUTCOMES.includes(report.outcome);
      const target = specName(loaded.path);
      const previousSuccess = success ? undefined : await previousSuccessOf(options.metricsFile, dir, target, report);
      const text = renderMetrics({
        report,
        target,
        success,
        reportWriteFailed: reportError !== undefined,
        ...(previousSuccess === undefined ? {} : { previousSuccess }),
      });
      await writeMetricsFile(options.metricsFile, text);
    } catch (error) {
      metricsError = reasonOf(error);
    }
  }
  return {
    report,
    path,
    ...(reportError === undefined ? {} : { reportError }),
    ...(metricsError === undefined ? {} : { metricsError }),
  };
}

/**
 * The last success of a failed run's target and command: from the previous metrics file, else from the newest
 * successful report (a metrics file deleted, or a first `--metrics-file`). A failed run must not erase it.
 */
async function previousSuccessOf(
  metricsFile: string,
  dir: string,
  target: string,
  report: RunReport,
): Promise<number | undefined> {
  const fromFile = await lastSuccessIn(metricsFile, target, report.command);
  if (fromFile !== undefined) return fromFile;
  const last = await newestRunReport(
    dir,
    (r) => r.command === report.command && SUCCESS_OUTCOMES.includes(r.outcome),
  ).catch(() => undefined);
  return last === undefined ? undefined : Date.parse(last.ended_at) / 1000;
}
