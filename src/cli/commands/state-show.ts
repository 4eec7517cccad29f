import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Writable } from 'node:stream';
import { Option, UsageError } from 'clipanion';
import type { LoadedSpec, State } from '../../index.js';
import { pendingPath, readState, statePath } from '../../index.js';
import { SpecCommand } from '../base-command.js';

/**
 * The state file of `state list` and `state show`: `--state FILE`, or the spec's. An interrupted apply's
 * pending file is not merged in (the next plan or apply settles it against Moodle's marker): only noted.
 */
export async function readCommandState(
  loadSpec: () => Promise<LoadedSpec>,
  explicit: string | undefined,
  stderr: Writable,
): Promise<State> {
  const path = explicit !== undefined ? resolve(explicit) : statePath(await loadSpec());
  // A missing state is an empty one for apply; here a mistyped --state must not print "nothing managed".
  if (explicit !== undefined && !existsSync(path)) throw new UsageError(`there is no state file ${path}`);
  const state = await readState(path);
  if (existsSync(pendingPath(path))) {
    stderr.write(
      `Note: ${pendingPath(path)} exists (an interrupted apply); shown is the state before it. ` +
        'The next plan or apply settles it.\n',
    );
  }
  return state;
}

export class StateShowCommand extends SpecCommand {
  static override paths = [['state', 'show']];
  static override usage = SpecCommand.Usage({
    description: 'Show one managed object as the state file records it (JSON, indented)',
    details:
      'Reads the state file only: no directory, no Moodle. ADDRESS is as `state list` and `plan` print it; ' +
      'quote it for the shell. `values` are the managed values last written, `id` the Moodle row id.',
    examples: [
      ['A user', `$0 state show --spec site.yaml 'user["jdupont"]'`],
      ['From a copy of the state file', `$0 state show --state backup.state.json 'cohort["3A"]'`],
    ],
  });

  state = Option.String('--state', { description: "Read this state file instead of the spec's" });
  address = Option.String({ name: 'ADDRESS' });

  async run(): Promise<number> {
    const state = await readCommandState(
      () => this.loadSpec({ resolveSecrets: false }),
      this.state,
      this.context.stderr,
    );
    const object = state.objects.find((o) => o.address === this.address);
    if (object === undefined) {
      const near = state.objects.filter((o) => o.address.toLowerCase().includes(this.address.toLowerCase()));
      const hint =
        near.length > 0
          ? `; did you mean ${near
              .slice(0, 5)
              .map((o) => o.address)
              .join(', ')}?`
          : '';
      throw new UsageError(`the state has no object ${this.address} (see \`state list\`)${hint}`);
    }
    this.context.stdout.write(`${JSON.stringify(object, null, 2)}\n`);
    return 0;
  }
}
