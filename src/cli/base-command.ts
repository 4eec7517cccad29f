import { randomUUID } from 'node:crypto';
import type { WriteStream } from 'node:tty';
import { supportsColor } from 'chalk';
import { Command, Option, UsageError } from 'clipanion';
import type { ApplyResult, LoadedSpec, LockNotice, PlanOptions, PlanResult, SavedRun } from '../index.js';
import {
  DurationError,
  formatDiagnostic,
  GUARD_NAMES,
  loadSpec,
  parseAllowRemovals,
  parseDuration,
  RunRecorder,
  saveRun,
  UserError,
} from '../index.js';

const MAX_DIAGNOSTICS = 50;

/**
 * Common to every command: the colour decision, and the one place where errors become messages and exit
 * codes (user errors without a stack; anything else is a bug, with its stack and a "please report").
 */
export abstract class BaseCommand extends Command {
  noColor = Option.Boolean('--no-color', false, { description: 'Never colour the output' });

  /** This run's id: in its run report and its log lines. */
  protected readonly runId = randomUUID();

  abstract run(): Promise<number>;

  async execute(): Promise<number> {
    let exitCode: number;
    let failure: unknown;
    try {
      exitCode = await this.run();
    } catch (error) {
      failure = error;
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
    if (error instanceof UserError) {
      stderr.write(`Error [${error.code}]: ${error.message}\n`);
      for (const d of error.diagnostics.slice(0, MAX_DIAGNOSTICS)) stderr.write(`  ${formatDiagnostic(d)}\n`);
      if (error.diagnostics.length > MAX_DIAGNOSTICS) {
        stderr.write(`  … and ${error.diagnostics.length - MAX_DIAGNOSTICS} more\n`);
      }
      return error.exitCode;
    }
    if (error instanceof UsageError) {
      stderr.write(`Error: ${error.message}\n`);
      return 1;
    }
    const detail = error instanceof Error ? (error.stack ?? error.message) : String(error);
    stderr.write(`Internal error: ${detail}\n`);
    stderr.write('This is a bug in ldap2moodle; please report it with the command you ran and this message.\n');
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

  /** Lock notices on stderr (stdout stays the command's output): a takeover is a warning. */
  protected readonly onLockNotice = (notice: LockNotice): void => {
    const prefix = notice.kind === 'takeover' ? 'Warning: ' : '';
    this.context.stderr.write(`${prefix}${notice.message}\n`);
  };
}

/** A command that plans (`plan`, `apply`): the spec, `--full`, and the options that lift the safety guards. */
export abstract class PlanningCommand extends SpecCommand {
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
    const { stderr } = this.context;
    let saved: SavedRun;
    try {
      saved = await saveRun(
        this.recorder,
        { exitCode, ...this.recorded, ...(failure === undefined ? {} : { error: failure }) },
        this.metricsFile === undefined ? {} : { metricsFile: this.metricsFile },
      );
    } catch (bug) {
      // saveRun returns its write problems; anything thrown is a bug of its own, and still not the run's failure.
      stderr.write(`Warning: could not make the run report: ${bug instanceof Error ? bug.message : String(bug)}\n`);
      return exitCode;
    }
    if (saved.reportError !== undefined) {
      stderr.write(`Warning: could not write the run report to ${saved.path}: ${saved.reportError}\n`);
    }
    if (saved.metricsError !== undefined) {
      stderr.write(`Warning: could not write the metrics file ${this.metricsFile}: ${saved.metricsError}\n`);
    }
    return exitCode;
  }

  protected planOptions(): PlanOptions {
    return {
      ...(this.recorder === undefined ? {} : { observer: this.recorder }),
      allowEmptySource: this.allowEmptySource,
      ...(this.allowRemovals === undefined ? {} : { allowRemovals: parseAllowRemovals(this.allowRemovals) }),
      lockTimeoutMs: this.lockTimeoutMs(),
      onLockNotice: this.onLockNotice,
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
