/**
 * The colour decision of the real executable, on a real pseudo-terminal (util-linux `script`) and on a pipe:
 * chalk's own detection (a terminal, FORCE_COLOR, TERM=dumb) with NO_COLOR and --no-color on top.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt } from '../helpers/child-apply.js';
import { ANSI, type Workspace, workspace } from '../helpers/spec-files.js';
import { collegeInMemory, runOnTerminal } from '../helpers/terminal.js';

/** The CLI's stdout (stderr away: the progress drawn there is logs.test.ts's) on a terminal or a pipe, with `env`. */
const run = (args: readonly string[], env: NodeJS.ProcessEnv, terminal: boolean): Promise<string> =>
  runOnTerminal(args, { terminal, stderr: 'drop', env });

describe('colour on a terminal, a pipe, and as the environment says', () => {
  let ws: Workspace;
  let spec: string;
  beforeAll(async () => {
    await ensureBuilt();
    ws = await workspace();
    spec = await collegeInMemory(ws);
  }, 120_000);
  afterAll(async () => ws?.remove());

  const plan = ['plan', '--spec'];
  it('a terminal is coloured; TERM=dumb, NO_COLOR and --no-color are not', async () => {
    expect(await run([...plan, spec], {}, true)).toMatch(ANSI);
    expect(await run([...plan, spec], { TERM: 'dumb' }, true)).not.toMatch(ANSI);
    expect(await run([...plan, spec], { NO_COLOR: '1' }, true)).not.toMatch(ANSI);
    expect(await run([...plan, spec, '--no-color'], {}, true)).not.toMatch(ANSI);
  }, 180_000);

  it('a pipe is not coloured unless FORCE_COLOR says so; FORCE_COLOR=0 wins over a terminal', async () => {
    expect(await run([...plan, spec], {}, false)).not.toMatch(ANSI);
    expect(await run([...plan, spec], { FORCE_COLOR: '1' }, false)).toMatch(ANSI);
    expect(await run([...plan, spec], { FORCE_COLOR: '0' }, true)).not.toMatch(ANSI);
  }, 180_000);
});
