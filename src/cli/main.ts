import { Builtins, Cli } from 'clipanion';
import { TOOL_VERSION } from '../version.js';
import { ApplyCommand } from './commands/apply.js';
import { PlanCommand } from './commands/plan.js';
import { ValidateCommand } from './commands/validate.js';

export function buildCli(): Cli {
  const cli = new Cli({ binaryLabel: 'ldap2moodle', binaryName: 'ldap2moodle', binaryVersion: TOOL_VERSION });
  cli.register(ValidateCommand);
  cli.register(PlanCommand);
  cli.register(ApplyCommand);
  cli.register(Builtins.HelpCommand);
  cli.register(Builtins.VersionCommand);
  return cli;
}

/** Entry point of the executable: runs the command line and exits with its code. */
export async function main(argv: readonly string[]): Promise<void> {
  const code = await buildCli().run([...argv], Cli.defaultContext);
  process.exitCode = code;
}
