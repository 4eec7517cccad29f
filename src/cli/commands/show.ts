import { Option } from 'clipanion';
import { planOfFile, readPlanFile } from '../../plan/plan-file.js';
import { HumanPlanView } from '../../render/human.js';
import { JsonPlanView } from '../../render/json.js';
import type { PlanView } from '../../render/view.js';
import { TOOL_VERSION } from '../../version.js';
import { BaseCommand } from '../base-command.js';

export class ShowCommand extends BaseCommand {
  static override paths = [['show']];
  static override usage = BaseCommand.Usage({
    description: 'Show a saved plan (made by `plan --out`), as `plan` prints it, or as JSON',
    details:
      'Reads the plan file only: no directory, no Moodle. The file is checked first: a truncated or hand-edited plan is refused.',
    examples: [
      ['Review a saved plan', '$0 show site.plan'],
      ['The same for a script', '$0 show site.plan --json'],
    ],
  });

  json = Option.Boolean('--json', false, { description: 'Print the plan as JSON' });
  full = Option.Boolean('--full', false, { description: 'List every change (default: the first 20 per entity)' });
  planFile = Option.String({ name: 'PLAN_FILE' });

  async run(): Promise<number> {
    const file = await readPlanFile(this.planFile);
    const view: PlanView = this.json
      ? new JsonPlanView(TOOL_VERSION)
      : new HumanPlanView({ color: this.useColor(), full: this.full });
    this.context.stdout.write(view.render(planOfFile(file), file.header));
    return 0;
  }
}
