import { Option } from 'clipanion';
import * as t from 'typanion';
import { planSpec } from '../../pipeline.js';
import { HumanPlanView } from '../../render/human.js';
import { JsonPlanView } from '../../render/json.js';
import type { PlanView } from '../../render/view.js';
import { TOOL_VERSION } from '../../version.js';
import { SpecCommand } from '../base-command.js';

export class PlanCommand extends SpecCommand {
  static override paths = [['plan']];
  static override usage = SpecCommand.Usage({
    description: 'Show what apply would change in Moodle; writes nothing',
    details:
      'Reads the directory and the Moodle database, computes the changes that would make Moodle match the spec, and prints them grouped by entity. Nothing is written, to Moodle or to the state.',
    examples: [
      ['Plan the collège example', '$0 plan --spec examples/college/ldap2moodle.yaml'],
      ['Show every change, without colours', '$0 plan --spec site.yaml --full --no-color'],
      ['Machine-readable plan', '$0 plan --spec site.yaml --json'],
    ],
  });

  full = Option.Boolean('--full', false, {
    description: 'List every change (default: the first 20 per entity)',
  });
  json = Option.Boolean('--json', false, { description: 'Print the plan as JSON' });
  allowEmptySource = Option.Boolean('--allow-empty-source', false, {
    description: 'Accept a directory that returns no users while some are managed',
  });
  allowRemovals = Option.String('--allow-removals', {
    description: 'Accept up to N suspensions, over users.maxRemovals',
    validator: t.cascade(t.isNumber(), [t.isInteger(), t.isAtLeast(0)]),
  });

  async run(): Promise<number> {
    const loaded = await this.loadSpec();
    const result = await planSpec(loaded, {
      allowEmptySource: this.allowEmptySource,
      allowRemovals: this.allowRemovals,
    });
    const view: PlanView = this.json
      ? new JsonPlanView(TOOL_VERSION)
      : new HumanPlanView({ color: this.useColor(), full: this.full });
    this.context.stdout.write(view.render(result.plan, result.header));
    return 0;
  }
}
