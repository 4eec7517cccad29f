import { supportsColor } from 'chalk';
import { Builtins, Cli } from 'clipanion';
import { EXIT_CODES_HELP, TOOL_VERSION } from '../index.js';
import { ApplyCommand } from './commands/apply.js';
import { DemoCommand } from './commands/demo.js';
import { ForceUnlockCommand } from './commands/force-unlock.js';
import { GenerateCommand } from './commands/generate.js';
import { MoodleQueryCommand } from './commands/moodle-query.js';
import { PlanCommand } from './commands/plan.js';
import { ReportCommand } from './commands/report.js';
import { ShowCommand } from './commands/show.js';
import { StateListCommand } from './commands/state-list.js';
import { StateShowCommand } from './commands/state-show.js';
import { ValidateCommand } from './commands/validate.js';

const COMMANDS = [
  ValidateCommand,
  PlanCommand,
  ApplyCommand,
  ShowCommand,
  ReportCommand,
  StateListCommand,
  StateShowCommand,
  ForceUnlockCommand,
  DemoCommand,
  MoodleQueryCommand,
  GenerateCommand,
] as const;

// Every command's --help ends with the exit codes (one list, kept in errors.ts).
for (const command of COMMANDS) {
  const usage = command.usage ?? {};
  command.usage = { ...usage, details: `${usage.details ?? ''}\n\n${EXIT_CODES_HELP}`.trim() };
}

/** The command line; clipanion's own output (help, usage errors) is coloured only when `colors` is set. */
export function buildCli(options: { readonly colors?: boolean } = {}): Cli {
  const cli = new Cli({
    binaryLabel: 'ldap2moodle',
    binaryName: 'ldap2moodle',
    binaryVersion: TOOL_VERSION,
    enableColors: options.colors ?? false,
  });
  for (const command of COMMANDS) cli.register(command);
  cli.register(Builtins.HelpCommand);
  cli.register(Builtins.VersionCommand);
  return cli;
}

/**
 * Entry point of the executable: runs the command line and exits with its code. clipanion's own output
 * (help, usage errors) is coloured only on a terminal, and usage errors go to stderr.
 */
export async function main(argv: readonly string[]): Promise<void> {
  endQuietlyOnClosedPipe(process.stdout);
  endQuietlyOnClosedPipe(process.stderr);
  // The commands decide for their own output (BaseCommand.useColor); clipanion's help and errors the same way.
  const level = supportsColor === false || (process.env.NO_COLOR ?? '') !== '' ? 0 : supportsColor.level;
  const terminal = level > 0;
  // clipanion counts colours in bits, chalk in levels (1: 16 colours, 2: 256, 3: true colour).
  const context = { ...Cli.defaultContext, colorDepth: [1, 4, 8, 24][level] ?? 1 };
  const cli = buildCli({ colors: terminal });
  let command: ReturnType<Cli['process']>;
  try {
    command = cli.process([...argv], context);
  } catch (error) {
    process.stderr.write(cli.error(error, { colored: terminal }));
    process.exitCode = 1;
    return;
  }
  process.exitCode = await cli.run(command, context);
}

/**
 * `plan --json | head`: once the reader has gone, further output is dropped instead of crashing with an
 * EPIPE stack. The command itself runs to its end (an apply still commits or rolls back and writes its
 * state: output is never worth a half-finished run), and its exit code stands.
 */
function endQuietlyOnClosedPipe(stream: NodeJS.WriteStream): void {
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE') throw error;
    stream.write = (() => true) as typeof stream.write;
  });
}
