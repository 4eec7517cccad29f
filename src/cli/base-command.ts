import type { WriteStream } from 'node:tty';
import { supportsColor } from 'chalk';
import { Command, Option, UsageError } from 'clipanion';
import type { LoadedSpec, LockNotice, PlanOptions } from '../index.js';
import {
  DurationError,
  formatDiagnostic,
  GUARD_NAMES,
  loadSpec,
  parseAllowRemovals,
  parseDuration,
  UserError,
} from '../index.js';

const MAX_DIAGNOSTICS = 50;

/**
 * Common to every command: the colour decision, and the one place where errors become messages and exit
 * codes (user errors without a stack; anything else is a bug, with its stack and a "please report").
 */
export abstract class BaseCommand extends Command {
  noColor = Option.Boolean('--no-color', false, { description: 'Never colour the output' });

  abstract run(): Promise<number>;

  async execute(): Promise<number> {
    try {
      return await this.run();
    } catch (error) {
      return this.report(error);
    }
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

  establishments = Option.Array('--establishment', {
    description: 'Run for this establishment (UAI) only, never touching what others own; repeatable',
  });
  lockTimeout = Option.String('--lock-timeout', {
    description: 'Wait this long (30s, 5m, 1h) for a lock held by another run before failing; default 0: fail at once',
  });

  protected planOptions(): PlanOptions {
    return {
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
