import { createInterface } from 'node:readline/promises';
import type { ReadStream } from 'node:tty';
import { Option, UsageError } from 'clipanion';
import type { ApplyResult, PlanResult } from '../../index.js';
import {
  applyPlanFile,
  applySpec,
  EXIT,
  formatPostApplyReport,
  HumanPlanView,
  PlanRefusedError,
  postApplySucceeded,
  planKeyFrom,
  readPlanFile,
  summarize,
  UNSIGNED_PLAN_WARNING,
  TOOL_VERSION,
  writes,
} from '../../index.js';
import { PlanningCommand } from '../base-command.js';

export class ApplyCommand extends PlanningCommand {
  static override paths = [['apply']];
  static override usage = PlanningCommand.Usage({
    description: 'Plan, ask, then write the changes to Moodle in one transaction and record the state',
    details:
      'Computes the plan exactly as `plan` does and prints it. On a terminal it asks for "yes"; elsewhere (cron, CI) it needs --auto-approve. The changes are written in one transaction: all or nothing. The state file records what ldap2moodle manages. A plan the safety guards refuse (an empty directory; removals over guards.maxRemovals, by default more than 2% of the managed users or 5% of other objects beyond a small count) is printed marked REFUSED with every guard it trips, and nothing is written (PLAN_REFUSED); --allow-removals lets it through for this run. A saved plan is applied with the allowance it was made with (plus any given here), and refused if it exceeds it. One apply at a time: a run holding the Moodle lock or the state lock makes another fail at once (MOODLE_LOCKED, STATE_LOCKED, naming its host, pid, start and version), or wait with --lock-timeout; a lock whose process is gone from this host, or older than the spec\'s lock.staleAfter (6h), is taken over with a warning. An advisory lock held by a live database session is only waited for. --json prints the run\'s result as one JSON document instead of the plan (it needs --auto-approve or a plan file).',
    examples: [
      ['Apply interactively', '$0 apply --spec examples/college/ldap2moodle.yaml'],
      ['From cron', '$0 apply --spec /etc/ldap2moodle/site.yaml --auto-approve --no-color'],
      [
        'Wait up to 10 minutes for a run still holding the lock',
        '$0 apply --spec site.yaml --auto-approve --lock-timeout 10m',
      ],
      ['Accept a big departure once (e.g. end of the school year)', '$0 apply --spec site.yaml --allow-removals 400'],
      [
        'Accept more removals for two entities only',
        '$0 apply --spec site.yaml --allow-removals users=200,cohort_enrolments=2000',
      ],
      ['Apply a saved plan exactly (no question: it was reviewed)', '$0 apply --spec site.yaml site.plan'],
      [
        'From CI: exit 2 when changes were applied, 0 when there was nothing to do, the result as JSON',
        '$0 apply --spec site.yaml --auto-approve --detailed-exitcode --json',
      ],
    ],
  });

  autoApprove = Option.Boolean('--auto-approve', false, {
    description: 'Apply without asking (needed without a terminal)',
  });
  detailedExitcode = Option.Boolean('--detailed-exitcode', false, {
    description: 'Exit 2 when changes were applied, 0 when there was nothing to do (3: postApply failed, 4: refused)',
  });
  json = Option.Boolean('--json', false, {
    description: "Print the run's result as JSON (outcome, exit code, counts, state, postApply) instead of the plan",
  });
  planFile = Option.String({ required: false, name: 'PLAN_FILE' });

  async run(): Promise<number> {
    if (this.json && !this.autoApprove && this.planFile === undefined) {
      throw new UsageError('apply --json cannot ask for confirmation: add --auto-approve, or apply a saved plan file');
    }
    const loaded = await this.loadSpec();
    // Warnings go to the log on stderr (showPlan); --quiet shows the counts, not the changes one by one.
    const view = new HumanPlanView({
      color: this.useColor(),
      full: this.full,
      warnings: false,
      summaryOnly: this.quiet,
    });
    // With --json, stdout carries the result document alone.
    const stdout = this.json ? { write: (_text: string) => true } : this.context.stdout;
    let result: ApplyResult;
    let unprotected = false;
    if (this.planFile !== undefined) {
      if (this.establishments !== undefined) {
        throw new UsageError(
          'a saved plan keeps the establishments it was made for: give --establishment to `plan --out`',
        );
      }
      const key = await planKeyFrom(this.context.env);
      const file = await readPlanFile(this.planFile, key);
      if (key === null) unprotected = true;
      result = await this.showRefused(view, () => applyPlanFile(loaded, file, this.planOptions()));
      this.showPlan(stdout, view, result.planned);
    } else {
      const stdin = this.context.stdin as Partial<ReadStream>;
      if (!this.autoApprove && stdin.isTTY !== true) {
        throw new UsageError(
          'apply asks for confirmation on a terminal; without one (cron, CI), pass --auto-approve, or apply a saved plan file',
        );
      }
      result = await this.showRefused(view, () =>
        applySpec(loaded, {
          ...this.planOptions(),
          confirm: async (planned: PlanResult) => {
            this.showPlan(stdout, view, planned);
            if (this.autoApprove) return true;
            return this.ask();
          },
        }),
      );
    }
    this.recordResult({ applied: result });
    this.endProgress();
    const written = result.planned.plan.changes.filter(writes).length;
    if (written === 0) {
      if (this.planFile === undefined) this.showPlan(stdout, view, result.planned);
      return this.finish(result, 'no_changes', EXIT.ok);
    }
    if (!result.applied) {
      stdout.write('\nApply cancelled: nothing was written.\n');
      return this.finish(result, 'cancelled', EXIT.error);
    }
    stdout.write(
      `\nApply complete: ${written} changes written in one transaction. ` +
        `State: ${result.planned.statePath} (serial ${result.state.serial}).\n`,
    );
    if (result.postApply.length > 0) {
      stdout.write(`\nPost-apply commands:\n${formatPostApplyReport(result.postApply)}\n`);
    }
    for (const warning of result.warnings) this.log.warn(warning);
    if (unprotected) this.log.warn(UNSIGNED_PLAN_WARNING, { event: 'plan-signature' });
    // The data is committed either way; a failed post-apply command is a failed run for cron and CI, told
    // apart from an error that wrote nothing.
    if (!postApplySucceeded(result.postApply)) return this.finish(result, 'post_apply_failed', EXIT.postApplyFailed);
    return this.finish(result, 'applied', this.detailedExitcode ? EXIT.changes : EXIT.ok);
  }

  protected override planFileOfRun(): string | undefined {
    return this.planFile;
  }

  /** The exit code; with --json, the result document first. */
  private finish(result: ApplyResult, outcome: ApplyOutcome, exitCode: number): number {
    if (this.json)
      this.context.stdout.write(`${JSON.stringify(applyResultDocument(result, outcome, exitCode), null, 2)}\n`);
    return exitCode;
  }

  /** A plan the guards refuse is printed, marked refused (with --json: its result document), before the error says why. */
  private async showRefused<T>(view: HumanPlanView, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (error) {
      if (error instanceof PlanRefusedError) {
        const { plan, header, statePath } = error.planned;
        if (this.json) {
          this.endProgress();
          this.context.stdout.write(`${JSON.stringify(refusedDocument(plan, header, statePath), null, 2)}\n`);
        } else this.showPlan(this.context.stdout, view, error.planned);
      }
      throw error;
    }
  }

  /** The plan on stdout, its warnings in the log on stderr, once the progress display is cleared. */
  private showPlan(stdout: { write(text: string): unknown }, view: HumanPlanView, planned: PlanResult): void {
    this.endProgress();
    if (!this.json) this.logPlanWarnings(planned.plan);
    stdout.write(view.render(planned.plan, planned.header));
  }

  private async ask(): Promise<boolean> {
    const rl = createInterface({ input: this.context.stdin, output: this.context.stdout });
    try {
      const answer = await rl.question(
        '\nDo you want to perform these actions in Moodle?\n  Only "yes" will be accepted to approve.\n\n  Enter a value: ',
      );
      return answer.trim() === 'yes';
    } finally {
      rl.close();
    }
  }
}

type ApplyOutcome = 'applied' | 'no_changes' | 'cancelled' | 'post_apply_failed';

/** `apply --json`: what the run did, for CI and monitoring (format 1.0; no personal value: counts only). */
function applyResultDocument(result: ApplyResult, outcome: ApplyOutcome, exitCode: number): Record<string, unknown> {
  const { plan, header, statePath } = result.planned;
  return {
    format_version: '1.0',
    tool_version: TOOL_VERSION,
    outcome,
    exit_code: exitCode,
    source: header.source,
    target: header.target,
    summary: summarize(plan.changes),
    changes_written: result.applied ? plan.changes.filter(writes).length : 0,
    skipped: plan.skipped.length,
    statements: result.statements,
    attempts: result.attempts,
    state: { path: statePath, serial: result.state.serial, lineage: result.state.lineage },
    post_apply: result.postApply.map((r) => ({
      command: r.command,
      exit_code: r.exitCode,
      signal: r.signal,
      duration_ms: Math.round(r.durationMs),
      ...(r.error === undefined ? {} : { error: r.error }),
      ...(r.skipped === undefined ? {} : { skipped: r.skipped }),
    })),
    warnings: [...plan.warnings, ...result.warnings],
  };
}

function refusedDocument(
  plan: PlanResult['plan'],
  header: PlanResult['header'],
  statePath: string,
): Record<string, unknown> {
  return {
    format_version: '1.0',
    tool_version: TOOL_VERSION,
    outcome: 'refused',
    exit_code: EXIT.refused,
    source: header.source,
    target: header.target,
    summary: summarize(plan.changes),
    changes_written: 0,
    state: { path: statePath },
    guards: plan.guards ?? null,
  };
}
