import { Option, UsageError } from 'clipanion';
import * as t from 'typanion';
import type { PlanFormat, PlanOutputRequest } from '../../index.js';
import {
  isRefused,
  MARKDOWN_DEFAULT_MAX_CHARS,
  PLAN_FORMATS,
  PlanRefusedError,
  planFileOf,
  planKeyFrom,
  planSpec,
  redactSaltFrom,
  renderPlan,
  writePlanFile,
  writes,
} from '../../index.js';
import { PlanningCommand } from '../base-command.js';

/** The output options `plan` and `show` share. */
export const planOutputOptions = () => ({
  format: Option.String('--format', {
    description: 'Output: human (default, on a terminal), json (scripts), markdown (merge-request comments)',
    validator: t.isEnum(PLAN_FORMATS),
  }),
  json: Option.Boolean('--json', false, { description: 'Print the plan as JSON (the same as --format json)' }),
  limit: Option.String('--limit', {
    description: 'Changes listed per entity before "… and N more" (default: 20 for human, 50 for markdown)',
    validator: t.cascade(t.isNumber(), [t.isInteger(), t.isAtLeast(1)]),
  }),
  maxChars: Option.String('--max-chars', {
    description: `Markdown: the longest output, listing fewer changes until it fits (default ${MARKDOWN_DEFAULT_MAX_CHARS}, under GitHub's comment limit; --full lifts it)`,
    validator: t.cascade(t.isNumber(), [t.isInteger(), t.isAtLeast(1000)]),
  }),
  noRedact: Option.Boolean('--no-redact', false, {
    description: 'Keep names, e-mails, usernames and DNs in json and markdown output (pseudonymised by default)',
  }),
});

/** `--json` is `--format json`; anything else with it is a mistake worth saying. */
export function planFormatOf(format: PlanFormat | undefined, json: boolean): PlanFormat {
  if (json && format !== undefined && format !== 'json') {
    throw new UsageError(`--json and --format ${format} contradict each other`);
  }
  return json ? 'json' : (format ?? 'human');
}

export class PlanCommand extends PlanningCommand {
  static override paths = [['plan']];
  static override usage = PlanningCommand.Usage({
    description: 'Show what apply would change in Moodle; writes nothing',
    details:
      'Reads the directory and the Moodle database, computes the changes that would make Moodle match the spec, and prints them grouped by entity. Nothing is written, to Moodle or to the state. A plan the safety guards refuse (an empty directory, removals over guards.maxRemovals) is still printed, and saved by --out, marked REFUSED with every guard it trips; the command then fails with PLAN_REFUSED and the --allow-removals value that would let it through (recorded in the saved plan). JSON and Markdown output pseudonymise personal values (names, e-mails, usernames, DNs) unless --no-redact; L2M_REDACT_SALT changes the salt of the pseudonyms. With --out (and always on the embedded Moodle) plan takes the lock an apply takes: --lock-timeout waits for a run holding it.',
    examples: [
      ['Plan the collège example', '$0 plan --spec examples/college/ldap2moodle.yaml'],
      ['Show every change, without colours', '$0 plan --spec site.yaml --full --no-color'],
      ['Machine-readable plan', '$0 plan --spec site.yaml --json'],
      ['A merge-request comment (redacted)', '$0 plan --spec site.yaml --format markdown > plan.md'],
      [
        'Save the plan, to apply exactly it later',
        '$0 plan --spec site.yaml --out site.plan && $0 apply --spec site.yaml site.plan',
      ],
      ['In CI: exit 2 when there are changes', '$0 plan --spec site.yaml --detailed-exitcode'],
      [
        'Review a big day, allowing more removals than the limits for two entities',
        '$0 plan --spec site.yaml --allow-removals users=200,cohort_enrolments=2000 --out site.plan',
      ],
    ],
  });

  format = planOutputOptions().format;
  json = planOutputOptions().json;
  limit = planOutputOptions().limit;
  maxChars = planOutputOptions().maxChars;
  noRedact = planOutputOptions().noRedact;
  out = Option.String('--out', {
    description: 'Save the plan to this file (mode 0600, never redacted), for `apply FILE` to apply exactly it',
  });
  detailedExitcode = Option.Boolean('--detailed-exitcode', false, {
    description: 'Exit 0 when there are no changes, 2 when there are (1: error, 4: refused by a guard)',
  });

  async run(): Promise<number> {
    // Checked before the directory and Moodle are read.
    const request: PlanOutputRequest = {
      format: planFormatOf(this.format, this.json),
      limit: this.limit,
      maxChars: this.maxChars,
      noRedact: this.noRedact,
      full: this.full,
      color: this.useColor(),
      salt: redactSaltFrom(this.context.env),
      // Human: warnings go to the log on stderr; JSON and Markdown keep them in the document.
      warnings: false,
      summaryOnly: this.quiet,
    };
    const loaded = await this.loadSpec();
    // Before the plan: a bad key must not cost a directory read.
    const key = this.out === undefined ? null : await planKeyFrom(this.context.env);
    const result = await planSpec(loaded, { ...this.planOptions(), lock: this.out !== undefined });
    this.recordResult({ planned: result });
    this.endProgress();
    if (request.format === 'human') this.logPlanWarnings(result.plan);
    this.context.stdout.write(renderPlan(result.plan, result.header, request));
    if (this.out !== undefined) {
      await writePlanFile(
        this.out,
        planFileOf(result.plan, result.header, result.fingerprints, result.desired.objects),
        key,
      );
      // In the log on stderr: stdout stays the plan alone (JSON stays parseable).
      this.log.info(
        isRefused(result.plan)
          ? `Saved the plan, marked refused, to ${this.out}: \`apply\` refuses it as it is.`
          : `Saved the plan to ${this.out}. To apply exactly this plan: ldap2moodle apply --spec ${this.spec} ${this.out}`,
        { event: 'plan-saved', path: this.out },
      );
    }
    if (isRefused(result.plan)) throw new PlanRefusedError(result);
    return this.detailedExitcode && result.plan.changes.some(writes) ? 2 : 0;
  }
}
