import { checkSpec } from '../../index.js';
import { SpecCommand } from '../base-command.js';

export class ValidateCommand extends SpecCommand {
  static override paths = [['validate']];
  static override usage = SpecCommand.Usage({
    description: 'Check a sync spec without reading the directory or Moodle',
    details:
      'Validates the spec against its JSON Schema and checks its templates. Every problem is listed with its file, line and column. Exit code 0 when valid, 1 otherwise.',
    examples: [['Validate the collège example', '$0 validate --spec examples/college/ldap2moodle.yaml']],
  });

  async run(): Promise<number> {
    const loaded = await this.loadSpec();
    checkSpec(loaded);
    this.context.stdout.write(`${loaded.path}: valid\n`);
    return 0;
  }
}
