import { createInterface } from 'node:readline/promises';
import type { ReadStream } from 'node:tty';
import { Option, UsageError } from 'clipanion';
import type { ApplyResult, PlanResult } from '../../index.js';
import {
  applyPlanFile,
  applySpec,
  formatPostApplyReport,
  HumanPlanView,
  PlanRefusedError,
  postApplySucceeded,
  readPlanFile,
  writes,
} from '../../index.js';
import { PlanningCommand } from '../base-command.js';

export class ApplyCommand extends PlanningCommand {
  static override paths = [['apply']];
  static override usage = PlanningCommand.Usage({
    description: 'Plan, ask, then write the changes to Moodle in one transaction and record the state',
    details:
      'Computes the plan exactly as `plan` does and prints it. On a terminal it asks for "yes"; elsewhere (cron, CI) it needs --auto-approve. The changes are written in one transaction: all or nothing. The state file records what ldap2moodle manages. A plan the safety guards refuse (an empty directory; removals over guards.maxRemovals, by default more than 2% of the managed users or 5% of other objects beyond a small count) is printed marked REFUSED with every guard it trips, and nothing is written (PLAN_REFUSED); --allow-removals lets it through for this run. A saved plan is applied with the allowance it was made with (plus any given here), and refused if it exceeds it. One apply at a time: a run holding the Moodle lock or the state lock makes another fail at once (MOODLE_LOCKED, STATE_LOCKED, naming its host, pid, start and version), or wait with --lock-timeout; a lock whose process is gone from this host, or older than the spec\'s lock.staleAfter (6h), is taken over with a warning. An advisory lock held by a live database session is only waited for.',
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
    ],
  });

  autoApprove = Option.Boolean('--auto-approve', false, {
    description: 'Apply without asking (needed without a terminal)',
  });
  planFile = Option.String({ required: false, name: 'PLAN_FILE' });

  async run(): Promise<number> {
    const loaded = await this.loadSpec();
    const view = new HumanPlanView({ color: this.useColor(), full: this.full });
    const { stdout } = this.context;
    let result: ApplyResult;
    if (this.planFile !== undefined) {
      if (this.establishments !== undefined) {
        throw new UsageError(
          'a saved plan keeps the establishments it was made for: give --establishment to `plan --out`',
        );
      }
      const file = await readPlanFile(this.planFile);
      result = await this.showRefused(view, () => applyPlanFile(loaded, file, this.planOptions()));
      stdout.write(view.render(result.planned.plan, result.planned.header));
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
            stdout.write(view.render(planned.plan, planned.header));
            if (this.autoApprove) return true;
            return this.ask();
          },
        }),
      );
    }
    const written = result.planned.plan.changes.filter(writes).length;
    if (written === 0) {
      if (this.planFile === undefined) stdout.write(view.render(result.planned.plan, result.planned.header));
      return 0;
    }
    if (!result.applied) {
      stdout.write('\nApply cancelled: nothing was written.\n');
      return 1;
    }
    stdout.write(
      `\nApply complete: ${written} changes written in one transaction. ` +
        `State: ${result.planned.statePath} (serial ${result.state.serial}).\n`,
    );
    if (result.postApply.length > 0) {
      stdout.write(`\nPost-apply commands:\n${formatPostApplyReport(result.postApply)}\n`);
    }
    for (const warning of result.warnings) this.context.stderr.write(`Warning: ${warning}\n`);
    // The data is committed either way; a failed post-apply command is a failed run for cron and CI.
    return postApplySucceeded(result.postApply) ? 0 : 1;
  }

  /** A plan the guards refuse is printed, marked refused, before the error says why. */
  private async showRefused<T>(view: HumanPlanView, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (error) {
      if (error instanceof PlanRefusedError) {
        this.context.stdout.write(view.render(error.planned.plan, error.planned.header));
      }
      throw error;
    }
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
