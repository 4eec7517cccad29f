import { Option, UsageError } from 'clipanion';
import { ENTITY_ORDER, printable } from '../../index.js';
import { SpecCommand } from '../base-command.js';
import { readCommandState } from './state-show.js';

export class StateListCommand extends SpecCommand {
  static override paths = [['state', 'list']];
  static override usage = SpecCommand.Usage({
    description: 'List the addresses of the objects ldap2moodle manages, one a line (as `terraform state list`)',
    details:
      "Reads the state file only: no directory, no Moodle. The order is the state's. `--type` keeps one entity: " +
      `${ENTITY_ORDER.join(', ')}.`,
    examples: [
      ['Everything managed', '$0 state list --spec site.yaml'],
      ['Only the cohorts', '$0 state list --spec site.yaml --type cohort'],
      ['Count the managed users', '$0 state list --spec site.yaml --type user | wc -l'],
    ],
  });

  type = Option.String('--type', { description: `Only objects of this entity (${ENTITY_ORDER.join(', ')})` });
  state = Option.String('--state', { description: "Read this state file instead of the spec's" });

  async run(): Promise<number> {
    if (this.type !== undefined && !(ENTITY_ORDER as readonly string[]).includes(this.type)) {
      throw new UsageError(`unknown --type ${this.type}: use one of ${ENTITY_ORDER.join(', ')}`);
    }
    const state = await readCommandState(
      () => this.loadSpec({ resolveSecrets: false }),
      this.state,
      this.context.stderr,
    );
    const lines = state.objects
      .filter((o) => this.type === undefined || o.type === this.type)
      .map((o) => printable(o.address));
    this.context.stdout.write(lines.length === 0 ? '' : `${lines.join('\n')}\n`);
    return 0;
  }
}
