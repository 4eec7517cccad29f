import { randomUUID } from 'node:crypto';
import type { WriteStream } from 'node:tty';
import { supportsColor } from 'chalk';
import { Command, Option, UsageError } from 'clipanion';
import * as t from 'typanion';
import type {
  ApplyResult,
  LoadedSpec,
  LockNotice,
  LogVerbosity,
  Plan,
  PlanOptions,
  PlanResult,
  RunObserver,
  SavedRun,
} from '../index.js';
import {
  allOf,
  DurationError,
  formatDiagnostic,
  GUARD_NAMES,
  LOG_FORMATS,
  loadSpec,
  NO_OBSERVER,
  parseAllowRemovals,
  parseDuration,
  printable,
  printableLines,
  RunLog,
  RunRecorder,
  redactPlan,
  redactSaltFrom,
  saveRun,
  UserError,
} from '../index.js';
import { TerminalProgress } from './progress.js';

const MAX_DIAGNOSTICS = 50;

/**
 * Common to every command: the colour decision, and the one place where errors become messages and exit
 * codes (user errors without a stack; anything else is a bug, with its stack and a "please report").
 */
export abstract class BaseCommand extends Command {
  noColor = Option.Boolean('--no-color', false, { description: 'Never colour the output' });
  quiet = Option.Boolean('--quiet', false, {
    description:
      'Warnings, errors and the summary only (what cron should mail): no stage lines, no progress, the plan reduced to its counts',
  });
  verbose = Option.Boolean('--verbose', false, {
    description:
      'Also log each directory search as its ldapsearch command line (entries, time) and the SQL statements of each stage by kind and table (statements, rows, time)',
  });
  logFormat = Option.String('--log-format', 'text', {
    description:
      'Logs on stderr as text (default) or json: one JSON object a line (time, level, msg, run_id and the figures), for log shippers',
    validator: t.isEnum(LOG_FORMATS),
  });

  /** This invocation's id: on every JSON log line (`run_id`), and in its run report. */
  protected readonly runId = randomUUID();
  private runLog: RunLog | undefined;
  /** Built with the log: null when progress is not shown (not a terminal, --quiet, JSON logs). */
  private progress: TerminalProgress | null = null;

  /** Commands that run the pipeline say what they are doing on a terminal from their first moment. */
  protected readonly startingLine: string | undefined = undefined;

  abstract run(): Promise<number>;

  async execute(): Promise<number> {
    let exitCode: number;
    let failure: unknown;
    try {
      if (this.quiet && this.verbose) throw new UsageError('--quiet and --verbose contradict each other');
      if (this.startingLine !== undefined && this.log.enabled('info')) this.progress?.begin(this.startingLine);
      exitCode = await this.run();
      this.endRun(false);
    } catch (error) {
      failure = error;
      this.endRun(true);
      exitCode = this.report(error);
    }
    // After the mapping above: what follows the run (its report) sees the real exit code.
    return this.afterRun(exitCode, failure);
  }

  /** Called once the exit code is known, with the error that ended the run (undefined when none). */
  protected async afterRun(exitCode: number, _error: unknown): Promise<number> {
    return exitCode;
  }

  /**
   * The run's log on the command's stderr (stdout stays the command's output), with the progress display when
   * stderr is a terminal and neither --quiet nor JSON logs are asked for.
   */
  protected get log(): RunLog {
    if (this.runLog === undefined) {
      const { stderr } = this.context;
      const terminal = (stderr as Partial<WriteStream>).isTTY === true && this.context.env.TERM !== 'dumb';
      if (terminal && !this.quiet && this.logFormat === 'text') this.progress = new TerminalProgress(stderr);
      const progress = this.progress;
      this.runLog = new RunLog({
        format: this.logFormat,
        verbosity: this.verbosity(),
        runId: this.runId,
        out: { write: (text: string) => (progress === null ? stderr.write(text) : progress.print(text)) },
      });
    }
    return this.runLog;
  }

  /**
   * The plan's warnings in the log (the human plan leaves them out). They may quote directory values (a name
   * in a data problem): JSON lines, bound for log shippers, get them pseudonymised as the JSON plan does.
   */
  protected logPlanWarnings(plan: Plan): void {
    const warnings =
      this.logFormat === 'json' ? redactPlan(plan, redactSaltFrom(this.context.env)).warnings : plan.warnings;
    for (const warning of warnings) this.log.warn(warning, { event: 'plan-warning' });
  }

  /** Who watches the pipeline: the log, and the progress display when there is one. */
  protected observer(): RunObserver {
    const log = this.log;
    return allOf(log, this.progress ?? NO_OBSERVER);
  }

  /** Clears the progress display: before the command prints on stdout or asks a question. */
  protected endProgress(): void {
    this.progress?.stop();
  }

  private verbosity(): LogVerbosity {
    return this.quiet ? 'quiet' : this.verbose ? 'verbose' : 'normal';
  }

  /** The end of the run, success or failure: progress cleared, then a line per stage (verbose only after a failure). */
  private endRun(failed: boolean): void {
    this.endProgress();
    this.runLog?.finish({ failed });
  }

  /**
   * chalk's own detection for the process's stdout (a terminal, FORCE_COLOR, TERM=dumb, CI), and never with
   * --no-color or NO_COLOR (https://no-color.org), which chalk leaves to its callers. The streams of an
   * in-process run (a library caller, a test) are coloured when they say they are a terminal.
   */
  protected useColor(): boolean {
    if (this.noColor || (process.env.NO_COLOR ?? '') !== '') return false;
    if (this.context.stdout === process.stdout) return supportsColor !== false && supportsColor.level > 0;
    return (this.context.stdout as Partial<WriteStream>).isTTY === true;
  }

  protected report(error: unknown): number {
    const { stderr } = this.context;
    if (this.logFormat === 'json') return this.reportAsJson(error);
    if (error instanceof UserError) {
      stderr.write(`Error [${error.code}]: ${printableLines(error.message)}\n`);
      for (const d of error.diagnostics.slice(0, MAX_DIAGNOSTICS)) {
        stderr.write(`  ${printable(formatDiagnostic(d))}\n`);
      }
      if (error.diagnostics.length > MAX_DIAGNOSTICS) {
        stderr.write(`  … and ${error.diagnostics.length - MAX_DIAGNOSTICS} more\n`);
      }
      return error.exitCode;
    }
    if (error instanceof UsageError) {
      stderr.write(`Error: ${printableLines(error.message)}\n`);
      return 1;
    }
    const detail = error instanceof Error ? (error.stack ?? error.message) : String(error);
    stderr.write(`Internal error: ${printableLines(detail)}\n`);
    stderr.write('This is a bug in ldap2moodle; please report it with the command you ran and this message.\n');
    return 1;
  }

  /** With --log-format json, the error is one more JSON line, with its code and diagnostics. */
  private reportAsJson(error: unknown): number {
    if (error instanceof UserError) {
      this.log.error(error.message, {
        code: error.code,
        exit_code: error.exitCode,
        diagnostics: error.diagnostics.slice(0, MAX_DIAGNOSTICS).map(formatDiagnostic),
      });
      return error.exitCode;
    }
    if (error instanceof UsageError) {
      this.log.error(error.message, { code: 'USAGE', exit_code: 1 });
      return 1;
    }
    const detail = error instanceof Error ? (error.stack ?? error.message) : String(error);
    this.log.error(`Internal error: this is a bug in ldap2moodle; please report it`, {
      code: 'INTERNAL',
      exit_code: 1,
      stack: detail,
    });
    return 1;
  }
}

/** A command that works from a sync spec (`--spec`). */
export abstract class SpecCommand extends BaseCommand {
  spec = Option.String('--spec,-s', 'ldap2moodle.yaml', {
    description: 'Path of the sync spec (YAML or JSON); default: ./ldap2moodle.yaml (in the current directory)',
  });

  /** `resolveSecrets: false` for commands that never connect (validate, state list/show). */
  protected loadSpec(options: { readonly resolveSecrets?: boolean } = {}): Promise<LoadedSpec> {
    return loadSpec(this.spec, options);
  }

  /** Lock notices in the log on stderr (stdout stays the command's output): a takeover is a warning. */
  protected readonly onLockNotice = (notice: LockNotice): void => {
    if (notice.kind === 'takeover') this.log.warn(notice.message, { event: 'lock', kind: notice.kind });
    else this.log.info(notice.message, { event: 'lock', kind: notice.kind });
  };
}

/** A command that plans (`plan`, `apply`): the spec, `--full`, and the options that lift the safety guards. */
export abstract class PlanningCommand extends SpecCommand {
  protected override readonly startingLine = 'Reading the spec, opening the directory and Moodle…';

  full = Option.Boolean('--full', false, {
    description: 'List every change (default: the first 20 per entity)',
  });
  allowEmptySource = Option.Boolean('--allow-empty-source', false, {
    description: 'Accept a directory that returns no users while some are managed',
  });
  allowRemovals = Option.String('--allow-removals', {
    description:
      'Accept removals over guards.maxRemovals in this run: N of every entity, or per entity (users=200,cohort_enrolments=2000; entities: ' +
      `${[...GUARD_NAMES.keys()].join(', ')}); saved with the plan by plan --out`,
  });

  metricsFile = Option.String('--metrics-file', {
    description:
      "Write the run's metrics in Prometheus text format to this file (node_exporter's textfile collector: a *.prom file in its directory)",
  });

  establishments = Option.Array('--establishment', {
    description: 'Run for this establishment (UAI) only, never touching what others own; repeatable',
  });
  lockTimeout = Option.String('--lock-timeout', {
    description: 'Wait this long (30s, 5m, 1h) for a lock held by another run before failing; default 0: fail at once',
  });

  /** Records the run for its report, from the moment the spec is loaded (no spec, no reports directory). */
  private recorder: RunRecorder | undefined;
  private recorded: { planned?: PlanResult; applied?: ApplyResult } = {};

  protected override async loadSpec(options: { readonly resolveSecrets?: boolean } = {}): Promise<LoadedSpec> {
    const loaded = await super.loadSpec(options);
    const [command] = this.path;
    this.recorder = new RunRecorder({
      runId: this.runId,
      command: command === 'apply' ? 'apply' : 'plan',
      loaded,
      ...(this.planFileOfRun() === undefined ? {} : { planFile: this.planFileOfRun() }),
      ...(this.establishments === undefined ? {} : { establishments: this.establishments }),
    });
    return loaded;
  }

  /** `apply FILE`: the saved plan the run applies. */
  protected planFileOfRun(): string | undefined {
    return undefined;
  }

  /** What the run produced, for its report (the error that ends a run is seen by `afterRun`). */
  protected recordResult(result: { planned?: PlanResult; applied?: ApplyResult }): void {
    this.recorded = result;
  }

  protected override async afterRun(exitCode: number, error: unknown): Promise<number> {
    if (this.recorder === undefined) return exitCode;
    // A usage error found after the spec loaded is the user's, not a bug: it is recorded as one.
    const failure = error instanceof UsageError ? new UserError('OPTION_INVALID', error.message) : error;
    let saved: SavedRun;
    try {
      saved = await saveRun(
        this.recorder,
        { exitCode, ...this.recorded, ...(failure === undefined ? {} : { error: failure }) },
        this.metricsFile === undefined ? {} : { metricsFile: this.metricsFile },
      );
    } catch (bug) {
      // saveRun returns its write problems; anything thrown is a bug of its own, and still not the run's failure.
      this.log.warn(`could not make the run report: ${bug instanceof Error ? bug.message : String(bug)}`);
      return exitCode;
    }
    if (saved.reportError !== undefined) {
      this.log.warn(`could not write the run report to ${saved.path}: ${saved.reportError}`, { event: 'report' });
    }
    if (saved.metricsError !== undefined) {
      this.log.warn(`could not write the metrics file ${this.metricsFile}: ${saved.metricsError}`, {
        event: 'metrics',
      });
    }
    return exitCode;
  }

  protected planOptions(): PlanOptions {
    return {
      allowEmptySource: this.allowEmptySource,
      ...(this.allowRemovals === undefined ? {} : { allowRemovals: parseAllowRemovals(this.allowRemovals) }),
      lockTimeoutMs: this.lockTimeoutMs(),
      onLockNotice: this.onLockNotice,
      // The log and progress, and the run's report.
      observer: allOf(this.observer(), this.recorder ?? NO_OBSERVER),
      ...(this.establishments === undefined ? {} : { establishments: this.establishments }),
    };
  }

  private lockTimeoutMs(): number {
    if (this.lockTimeout === undefined) return 0;
    try {
      return parseDuration(this.lockTimeout);
    } catch (error) {
      if (error instanceof DurationError) throw new UsageError(`--lock-timeout: ${error.message}`);
      throw error;
    }
  }
}
