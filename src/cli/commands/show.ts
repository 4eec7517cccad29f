import { Option } from 'clipanion';
import { planOfFile, readPlanFile, redactSaltFrom, renderPlan } from '../../index.js';
import { BaseCommand } from '../base-command.js';
import { planFormatOf, planOutputOptions } from './plan.js';

export class ShowCommand extends BaseCommand {
  static override paths = [['show']];
  static override usage = BaseCommand.Usage({
    description: 'Show a saved plan (made by `plan --out`), as `plan` prints it, as JSON or as Markdown',
    details:
      'Reads the plan file only: no directory, no Moodle. The file is checked first: a truncated or hand-edited plan is refused. JSON and Markdown output pseudonymise personal values unless --no-redact.',
    examples: [
      ['Review a saved plan', '$0 show site.plan'],
      ['The same for a script', '$0 show site.plan --json'],
      ['A merge-request comment (redacted)', '$0 show site.plan --format markdown > plan.md'],
    ],
  });

  format = planOutputOptions().format;
  json = planOutputOptions().json;
  limit = planOutputOptions().limit;
  maxChars = planOutputOptions().maxChars;
  noRedact = planOutputOptions().noRedact;
  full = Option.Boolean('--full', false, { description: 'List every change (default: the first 20 per entity)' });
  planFile = Option.String({ name: 'PLAN_FILE' });

  async run(): Promise<number> {
    const format = planFormatOf(this.format, this.json);
    const file = await readPlanFile(this.planFile);
    const plan = planOfFile(file);
    // As `plan` shows it: in the human format, the warnings in the log on stderr.
    if (format === 'human') this.logPlanWarnings(plan);
    this.context.stdout.write(
      renderPlan(plan, file.header, {
        format,
        limit: this.limit,
        maxChars: this.maxChars,
        noRedact: this.noRedact,
        full: this.full,
        color: this.useColor(),
        salt: redactSaltFrom(this.context.env),
        warnings: false,
        summaryOnly: this.quiet,
      }),
    );
    return 0;
  }
}
