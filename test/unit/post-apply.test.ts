import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PostApplyCommand, PostApplyResult } from '../../src/apply/post-apply.js';
import {
  displayCommand,
  formatPostApplyReport,
  OUTPUT_LIMIT,
  postApplySucceeded,
  runPostApply,
} from '../../src/apply/post-apply.js';

// Real child processes: node itself is the portable "shell script".
const node = (script: string, ...args: string[]): readonly string[] => [process.execPath, '-e', script, ...args];
const noRedact = (text: string) => text;
const run = (commands: readonly PostApplyCommand[], purgeNeeded = true) =>
  runPostApply(commands, { purgeNeeded, redact: noRedact });

/** Alive and not a zombie (a reparented process may wait for a reaper that never comes in a container). */
async function alive(pid: number): Promise<boolean> {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  return stat !== '' && stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'post-apply-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('runPostApply', () => {
  it('runs commands in order and captures stdout and stderr, with cwd and env', async () => {
    const results = await run([
      {
        run: node('console.log("out", process.cwd(), process.env.L2M_TEST); console.error("err")'),
        cwd: dir,
        env: { L2M_TEST: 'from-spec' },
      },
      { run: node('process.stdout.write("second")'), when: 'always' },
    ]);
    expect(results).toHaveLength(2);
    const [first, second] = results;
    expect(first?.exitCode).toBe(0);
    expect(first?.signal).toBeNull();
    expect(first?.error).toBeUndefined();
    expect(first?.output).toContain(`out ${dir} from-spec\n`);
    expect(first?.output).toContain('err\n');
    expect(second?.output).toBe('second');
    expect(second?.durationMs).toBeGreaterThanOrEqual(0);
    expect(postApplySucceeded(results)).toBe(true);
  });

  it('keeps the rest of the environment', async () => {
    process.env.L2M_INHERITED = 'inherited';
    try {
      const [result] = await run([{ run: node('process.stdout.write(process.env.L2M_INHERITED ?? "unset")') }]);
      expect(result?.output).toBe('inherited');
    } finally {
      delete process.env.L2M_INHERITED;
    }
  });

  it('stops at a non-zero exit and skips the following commands', async () => {
    const results = await run([
      { run: node('console.log("before failing"); process.exit(3)') },
      { run: node('console.log("must not run")'), when: 'always' },
      { run: node('console.log("must not run either")') },
    ]);
    expect(results.map((r) => r.exitCode)).toEqual([3, null, null]);
    expect(results[0]?.output).toBe('before failing\n');
    expect(results[0]?.skipped).toBeUndefined();
    expect(results[1]?.skipped).toBe('an earlier post-apply command failed');
    expect(results[2]?.skipped).toBe('an earlier post-apply command failed');
    expect(results[1]?.output).toBe('');
    expect(postApplySucceeded(results)).toBe(false);
  });

  it('counts a death by signal as a failure', async () => {
    const results = await run([{ run: node('process.kill(process.pid, "SIGTERM")') }, { run: node('1') }]);
    expect(results[0]).toMatchObject({ exitCode: null, signal: 'SIGTERM' });
    expect(results[1]?.skipped).toBe('an earlier post-apply command failed');
    expect(postApplySucceeded(results)).toBe(false);
  });

  it('reports a missing program clearly, without throwing', async () => {
    const results = await run([{ run: ['ldap2moodle-no-such-program', 'x'] }, { run: node('1') }]);
    expect(results[0]).toMatchObject({
      exitCode: null,
      signal: null,
      error: 'ldap2moodle-no-such-program: command not found',
    });
    expect(results[1]?.skipped).toBe('an earlier post-apply command failed');
    expect(postApplySucceeded(results)).toBe(false);
  });

  it('reports a missing working directory as such, not as a missing program', async () => {
    const [result] = await run([{ run: node('1'), cwd: join(dir, 'absent') }]);
    expect(result?.error).toBe(`working directory ${join(dir, 'absent')} does not exist or is not a directory`);
    expect(result?.exitCode).toBeNull();
  });

  it('reports an empty command', async () => {
    const [result] = await run([{ run: [] }]);
    expect(result?.error).toBe('empty command');
  });

  it('kills the process group on timeout, grandchildren included', async () => {
    const pidFile = join(dir, 'grandchild.pid');
    // The leader starts a grandchild that shares its stdout (so it also holds the pipe open), then sleeps.
    const script = `
      const { spawn } = require('node:child_process');
      const g = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: ['ignore', 'inherit', 'inherit'] });
      require('node:fs').writeFileSync(${JSON.stringify(pidFile)}, String(g.pid));
      console.log('started');
      setTimeout(() => console.log('not killed'), 5000);
    `;
    const started = Date.now();
    const results = await run([
      { run: node(script), timeout: 1 },
      { run: node('1'), when: 'always' },
    ]);
    const elapsed = Date.now() - started;
    expect(results[0]).toMatchObject({ exitCode: null, signal: 'SIGTERM', error: 'killed after 1 s' });
    expect(results[0]?.output).toBe('started\n');
    expect(results[1]?.skipped).toBe('an earlier post-apply command failed');
    expect(elapsed).toBeLessThan(4000);
    const grandchild = Number(await readFile(pidFile, 'utf8'));
    await sleep(200);
    expect(await alive(grandchild)).toBe(false);
  });

  it('sends SIGKILL to a group that ignores SIGTERM', async () => {
    const script = `process.on('SIGTERM', () => console.log('ignoring SIGTERM')); console.log('up'); setInterval(() => {}, 1000);`;
    const started = Date.now();
    const [result] = await run([{ run: node(script), timeout: 1 }]);
    const elapsed = Date.now() - started;
    expect(result).toMatchObject({ exitCode: null, signal: 'SIGKILL', error: 'killed after 1 s' });
    expect(result?.output).toBe('up\nignoring SIGTERM\n');
    expect(elapsed).toBeGreaterThanOrEqual(5500);
    expect(elapsed).toBeLessThan(9000);
  }, 20_000);

  it('redacts secrets in stored and live output, even split across writes, and in the command line', async () => {
    const secret = 's3cr3t-Pa55';
    const redact = (text: string) => text.replaceAll(secret, '[redacted]');
    const live: string[] = [];
    const script = `
      const [, secret] = process.argv.slice(1);
      console.log('password is ' + secret);
      console.error('stderr ' + secret);
      process.stdout.write('split ' + secret.slice(0, 4));
      setTimeout(() => process.stdout.write(secret.slice(4) + ' done\\n'), 100);
    `;
    const results = await runPostApply([{ run: [...node(script, 'x', secret)] }], {
      purgeNeeded: true,
      redact,
      onOutput: (chunk) => live.push(chunk),
    });
    const [result] = results;
    expect(result?.exitCode).toBe(0);
    expect(result?.output).toContain('password is [redacted]\n');
    expect(result?.output).toContain('stderr [redacted]\n');
    expect(result?.output).toContain('split [redacted] done\n');
    expect(result?.output).not.toContain(secret);
    expect(live.join('')).not.toContain(secret);
    expect(live.join('')).toContain('split [redacted] done\n');
    expect(result?.command).toContain('[redacted]');
    expect(result?.command).not.toContain(secret);
    expect(formatPostApplyReport(results)).not.toContain(secret);
  });

  it('redacts a secret spanning lines in the stored output', async () => {
    const secret = 'line one\nline two';
    const redact = (text: string) => text.replaceAll(secret, '[redacted]');
    const script = `process.stdout.write('a\\nline one\\n'); setTimeout(() => process.stdout.write('line two\\nb\\n'), 100);`;
    const [result] = await runPostApply([{ run: node(script) }], { purgeNeeded: true, redact });
    expect(result?.output).toBe('a\n[redacted]\nb\n');
  });

  it("skips 'purge-needed' commands (the default) when no purge is needed, and runs 'always' ones", async () => {
    const results = await run(
      [
        { run: node('console.log("purge")') },
        { run: node('console.log("purge")'), when: 'purge-needed' },
        { run: node('console.log("always")'), when: 'always' },
      ],
      false,
    );
    expect(results[0]?.skipped).toMatch(/no cache purge needed/);
    expect(results[1]?.skipped).toMatch(/no cache purge needed/);
    expect(results[2]?.skipped).toBeUndefined();
    expect(results[2]?.output).toBe('always\n');
    expect(postApplySucceeded(results)).toBe(true);

    const needed = await run([{ run: node('console.log("purge")') }], true);
    expect(needed[0]?.output).toBe('purge\n');
  });

  it('keeps the tail of a long output and says how much was cut', async () => {
    const total = 200_000;
    // Numbered lines of 10 bytes each, written in many chunks.
    const script = `for (let i = 0; i < ${total / 10}; i++) process.stdout.write(String(i).padStart(9, '0') + '\\n');`;
    const [result] = await run([{ run: node(script) }]);
    const cut = total - OUTPUT_LIMIT;
    const header = `… (${cut} bytes cut)\n`;
    expect(result?.output.startsWith(header)).toBe(true);
    const tail = result?.output.slice(header.length) ?? '';
    expect(Buffer.byteLength(tail)).toBe(OUTPUT_LIMIT);
    expect(tail.endsWith(`${String(total / 10 - 1).padStart(9, '0')}\n`)).toBe(true);
  });

  it('cuts on a character boundary', async () => {
    // 'é' is two bytes; the one-byte 'y' at the end puts the last OUTPUT_LIMIT bytes' start inside one.
    const script = `process.stdout.write('é'.repeat(${OUTPUT_LIMIT}) + 'y')`;
    const [result] = await run([{ run: node(script) }]);
    const tail = result?.output.replace(/^… \(\d+ bytes cut\)\n/, '') ?? '';
    expect(tail).toMatch(/^é+y$/);
    expect(Buffer.byteLength(tail)).toBe(OUTPUT_LIMIT - 1);
    const cut = Number(/^… \((\d+) bytes cut\)/.exec(result?.output ?? '')?.[1]);
    expect(cut + Buffer.byteLength(tail)).toBe(2 * OUTPUT_LIMIT + 1);
  });

  it('kills the running command and skips the rest when aborted', async () => {
    const controller = new AbortController();
    // Aborted once the command is running (its first output), not after a fixed delay a loaded machine may miss.
    const results = await runPostApply(
      [{ run: node('console.log("up"); setInterval(() => {}, 1000)') }, { run: node('1') }],
      {
        purgeNeeded: true,
        redact: noRedact,
        signal: controller.signal,
        onOutput: (chunk) => {
          if (chunk.includes('up')) controller.abort();
        },
      },
    );
    expect(results[0]).toMatchObject({ error: 'interrupted', signal: 'SIGTERM', output: 'up\n' });
    expect(results[1]?.skipped).toBe('an earlier post-apply command failed');
    expect(postApplySucceeded(results)).toBe(false);

    const before = await runPostApply([{ run: node('1') }], {
      purgeNeeded: true,
      redact: noRedact,
      signal: AbortSignal.abort(),
    });
    expect(before[0]?.skipped).toBe('interrupted before it started');
    expect(postApplySucceeded(before)).toBe(false);
  });
});

describe('displayCommand', () => {
  it('quotes only the arguments that need it', () => {
    expect(displayCommand(['php', 'admin/cli/purge_caches.php'])).toBe('php admin/cli/purge_caches.php');
    expect(displayCommand(['sh', '-c', "echo 'hi' $HOME", ''])).toBe(`sh -c 'echo '\\''hi'\\'' $HOME' ''`);
    expect(displayCommand(['--name=a,b:c@d+e%f'])).toBe('--name=a,b:c@d+e%f');
  });
});

describe('formatPostApplyReport', () => {
  it('writes one block per command', () => {
    const results: PostApplyResult[] = [
      {
        command: 'php admin/cli/purge_caches.php',
        exitCode: 0,
        signal: null,
        durationMs: 1234,
        output: 'Purging caches\nDone\n',
      },
      { command: 'php admin/cli/cron.php', exitCode: 2, signal: null, durationMs: 45, output: '' },
      {
        command: 'sleep 600',
        exitCode: null,
        signal: 'SIGTERM',
        durationMs: 300_010,
        output: 'x',
        error: 'killed after 300 s',
      },
      {
        command: 'php x.php',
        exitCode: null,
        signal: null,
        durationMs: 3,
        output: '',
        error: 'php: command not found',
      },
      {
        command: 'true',
        exitCode: null,
        signal: null,
        durationMs: 0,
        output: '',
        skipped: 'an earlier post-apply command failed',
      },
    ];
    expect(formatPostApplyReport(results)).toBe(
      [
        '$ php admin/cli/purge_caches.php',
        '  ok: exit code 0 (1.2 s)',
        '  | Purging caches',
        '  | Done',
        '',
        '$ php admin/cli/cron.php',
        '  failed: exit code 2 (45 ms)',
        '  (no output)',
        '',
        '$ sleep 600',
        '  failed: killed after 300 s, signal SIGTERM (300.0 s)',
        '  | x',
        '',
        '$ php x.php',
        '  failed: php: command not found (3 ms)',
        '  (no output)',
        '',
        '$ true',
        '  skipped: an earlier post-apply command failed',
      ].join('\n'),
    );
    expect(formatPostApplyReport([])).toBe('');
  });
});
