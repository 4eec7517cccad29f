import { Option } from 'clipanion';
import { planSpec } from '../../pipeline.js';
import { HumanPlanView } from '../../render/human.js';
import { JsonPlanView } from '../../render/json.js';
import type { PlanView } from '../../render/view.js';
import { TOOL_VERSION } from '../../version.js';
import { PlanningCommand } from '../base-command.js';

export class PlanCommand extends PlanningCommand {
  static override paths = [['plan']];
  static override usage = PlanningCommand.Usage({
    description: 'Show what apply would change in Moodle; writes nothing',
    details:
      'Reads the directory and the Moodle database, computes the changes that would make Moodle match the spec, and prints them grouped by entity. Nothing is written, to Moodle or to the state.',
    examples: [
      ['Plan the collège example', '$0 plan --spec examples/college/ldap2moodle.yaml'],
      ['Show every change, without colours', '$0 plan --spec site.yaml --full --no-color'],
      ['Machine-readable plan', '$0 plan --spec site.yaml --json'],
    ],
  });

  json = Option.Boolean('--json', false, { description: 'Print the plan as JSON' });

  async run(): Promise<number> {
    const loaded = await this.loadSpec();
    const result = await planSpec(loaded, this.planOptions());
    const view: PlanView = this.json
      ? new JsonPlanView(TOOL_VERSION)
      : new HumanPlanView({ color: this.useColor(), full: this.full });
    this.context.stdout.write(view.render(result.plan, result.header));
    return 0;
  }
}
