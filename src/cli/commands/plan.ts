import { Option } from 'clipanion';
import { planSpec } from '../../pipeline.js';
import { planFileOf, writePlanFile } from '../../plan/plan-file.js';
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
      [
        'Save the plan, to apply exactly it later',
        '$0 plan --spec site.yaml --out site.plan && $0 apply --spec site.yaml site.plan',
      ],
      ['In CI: exit 2 when there are changes', '$0 plan --spec site.yaml --detailed-exitcode'],
    ],
  });

  json = Option.Boolean('--json', false, { description: 'Print the plan as JSON' });
  out = Option.String('--out', {
    description: 'Save the plan to this file (mode 0600), for `apply FILE` to apply exactly it',
  });
  detailedExitcode = Option.Boolean('--detailed-exitcode', false, {
    description: 'Exit 0 when there are no changes, 2 when there are, 1 on error',
  });

  async run(): Promise<number> {
    const loaded = await this.loadSpec();
    const result = await planSpec(loaded, this.planOptions());
    const view: PlanView = this.json
      ? new JsonPlanView(TOOL_VERSION)
      : new HumanPlanView({ color: this.useColor(), full: this.full });
    this.context.stdout.write(view.render(result.plan, result.header));
    if (this.out !== undefined) {
      await writePlanFile(
        this.out,
        planFileOf(result.plan, result.header, result.fingerprints, result.desired.objects),
      );
      // On stderr: stdout stays the plan alone (JSON stays parseable).
      this.context.stderr.write(
        `Saved the plan to ${this.out}. To apply exactly this plan: ldap2moodle apply --spec ${this.spec} ${this.out}\n`,
      );
    }
    return this.detailedExitcode && result.plan.changes.length > 0 ? 2 : 0;
  }
}
