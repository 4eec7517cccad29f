import { Command, Option } from 'clipanion';
import type { Plan, PlanHeader, PlanView } from '../../index.js';
import { HumanPlanView, runDemo } from '../../index.js';
import { BaseCommand } from '../base-command.js';

export class DemoCommand extends BaseCommand {
  static override paths = [['demo']];
  static override usage = Command.Usage({
    description: 'Run the whole job on a fresh embedded Moodle: no server, no configuration',
    details:
      'Creates an embedded Moodle 4.5 in ./ldap2moodle-demo (remade at each run), plans the fictional collège of examples/college from its LDIF file, applies the plan, shows what was written, and plans again. Logs (stage lines, warnings) go to stderr, as for plan and apply.',
    examples: [['Try ldap2moodle', '$0 demo']],
  });

  protected override readonly startingLine = 'Making the embedded Moodle…';
  dir = Option.String('--dir', 'ldap2moodle-demo', { description: 'Directory for the demo (remade at each run)' });

  async run(): Promise<number> {
    const human = new HumanPlanView({ color: this.useColor(), warnings: false, summaryOnly: this.quiet });
    // Each plan as plan and apply show it: progress cleared first, its warnings in the log on stderr.
    const view: PlanView = {
      render: (plan: Plan, header: PlanHeader): string => {
        this.endProgress();
        this.logPlanWarnings(plan);
        return human.render(plan, header);
      },
    };
    // What the demo says on stdout comes once the progress line is cleared.
    const out = {
      write: (text: string): void => {
        this.endProgress();
        this.context.stdout.write(text);
      },
    };
    const result = await runDemo(this.dir, view, out, this.observer());
    this.context.stdout.write(`\nDemo finished in ${(result.elapsedMs / 1000).toFixed(1)} s.\n`);
    return 0;
  }
}
