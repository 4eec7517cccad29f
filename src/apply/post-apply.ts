/**
 * `postApply`: commands run after an apply's COMMIT, typically Moodle's `php admin/cli/purge_caches.php`
 * (rows written by SQL stay invisible to Moodle's caches until a purge). The data is already committed, so a
 * failing command is reported, never thrown and never rolled back; it only stops the commands after it.
 *
 * No shell: `run` is an argv, so spec values (possibly resolved secrets) are never re-parsed. Each command is
 * its own process group (detached) so that a timeout can kill whatever it started, not only its first process.
 */
import { spawn } from 'node:child_process';
import { stat } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import { StringDecoder } from 'node:string_decoder';
import { printable } from '../printable.js';

/** One entry of the spec's `postApply` list. */
export interface PostApplyCommand {
  /** argv, no shell: `['php', 'admin/cli/purge_caches.php']`; argv[0] is looked up on PATH. */
  readonly run: readonly string[];
  /** Working directory, already resolved to an absolute path by the caller. */
  readonly cwd?: string;
  /** Seconds, default 300. */
  readonly timeout?: number;
  /** Default 'purge-needed': run only when the apply wrote rows Moodle caches. */
  readonly when?: 'always' | 'purge-needed';
  /** Added to the process environment. */
  readonly env?: Readonly<Record<string, string>>;
}

export interface PostApplyResult {
  /** Display form: argv joined, each argument shell-quoted when needed (redacted). */
  readonly command: string;
  /** Null when killed by a signal or not started. */
  readonly exitCode: number | null;
  readonly signal: string | null;
  readonly durationMs: number;
  /** stdout and stderr interleaved as received (line by line), redacted; the last 64 KiB are kept. */
  readonly output: string;
  /** Why it failed without an exit code of its own: spawn failure, timeout, interruption. */
  readonly error?: string;
  /** Why it was not run. */
  readonly skipped?: string;
}

export interface PostApplyOptions {
  /** Whether the apply wrote rows that Moodle caches (the plan's `purgeNeeded`). */
  readonly purgeNeeded: boolean;
  /** Hides resolved secrets; applied to every output chunk, the command line and error messages. */
  readonly redact: (text: string) => string;
  /** Live output, already redacted. */
  readonly onOutput?: (chunk: string) => void;
  /** Aborting kills the running command's group and skips the rest (the CLI wires Ctrl-C to it). */
  readonly signal?: AbortSignal;
}

export const DEFAULT_TIMEOUT_SECONDS = 300;
/** Output kept per command, in bytes (the tail: the end of a log says why it failed). */
export const OUTPUT_LIMIT = 64 * 1024;
const KILL_GRACE_MS = 5000;
/** After SIGKILL, how long to wait for pipes held by a process that left the group before giving up on them. */
const PIPE_GRACE_MS = 1000;
/** A partial line longer than this is passed on without waiting for its end. */
const PARTIAL_LINE_LIMIT = 16 * 1024;

const SKIP_NOT_NEEDED = 'no cache purge needed: the apply wrote no rows that Moodle caches';
const SKIP_EARLIER_FAILURE = 'an earlier post-apply command failed';
const SKIP_INTERRUPTED = 'interrupted before it started';

/** Runs the commands one after another; never throws for a command's failure. */
export async function runPostApply(
  commands: readonly PostApplyCommand[],
  options: PostApplyOptions,
): Promise<PostApplyResult[]> {
  const results: PostApplyResult[] = [];
  let failed = false;
  for (const command of commands) {
    const display = options.redact(displayCommand(command.run));
    const skipped = failed
      ? SKIP_EARLIER_FAILURE
      : options.signal?.aborted
        ? SKIP_INTERRUPTED
        : (command.when ?? 'purge-needed') === 'purge-needed' && !options.purgeNeeded
          ? SKIP_NOT_NEEDED
          : undefined;
    if (skipped !== undefined) {
      results.push({ command: display, exitCode: null, signal: null, durationMs: 0, output: '', skipped });
      continue;
    }
    const result = await runOne(command, display, options);
    results.push(result);
    if (hasFailed(result)) failed = true;
  }
  return results;
}

/** True when every command either ran successfully or was not needed. */
export function postApplySucceeded(results: readonly PostApplyResult[]): boolean {
  return results.every((r) => (r.skipped !== undefined ? r.skipped === SKIP_NOT_NEEDED : !hasFailed(r)));
}

/** Plain text, one block per command, blocks separated by a blank line. */
export function formatPostApplyReport(results: readonly PostApplyResult[]): string {
  return results
    .map((r) => {
      const lines = [`$ ${r.command}`];
      if (r.skipped !== undefined) {
        lines.push(`  skipped: ${r.skipped}`);
        return lines.join('\n');
      }
      const status = [
        r.error,
        r.exitCode !== null ? `exit code ${r.exitCode}` : undefined,
        r.signal !== null ? `signal ${r.signal}` : undefined,
      ].filter((part) => part !== undefined);
      lines.push(`  ${hasFailed(r) ? 'failed' : 'ok'}: ${status.join(', ')} (${formatDuration(r.durationMs)})`);
      const output = r.output.replace(/\r?\n$/, '');
      if (output === '') lines.push('  (no output)');
      // A command's output may quote directory values: its lines are shown, not obeyed by the terminal.
      else for (const line of output.split(/\r?\n/)) lines.push(`  | ${printable(line)}`);
      return lines.join('\n');
    })
    .join('\n\n');
}

/** argv as a shell would need it typed, for display only (nothing here goes through a shell). */
export function displayCommand(argv: readonly string[]): string {
  return argv.map(quoteArgument).join(' ');
}

function quoteArgument(arg: string): string {
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(arg)) return arg;
  return `'${arg.replaceAll("'", `'\\''`)}'`;
}

function hasFailed(r: PostApplyResult): boolean {
  return r.skipped === undefined && (r.error !== undefined || r.exitCode !== 0 || r.signal !== null);
}

function formatDuration(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}

async function runOne(command: PostApplyCommand, display: string, options: PostApplyOptions): Promise<PostApplyResult> {
  const started = performance.now();
  const notStarted = (error: string): PostApplyResult => ({
    command: display,
    exitCode: null,
    signal: null,
    durationMs: Math.round(performance.now() - started),
    output: '',
    error: options.redact(error),
  });
  const [file, ...args] = command.run;
  if (file === undefined || file === '') return notStarted('empty command');
  // spawn reports a missing cwd as ENOENT of the program, which would send the user looking for the wrong thing.
  if (command.cwd !== undefined) {
    const isDirectory = await stat(command.cwd).then(
      (s) => s.isDirectory(),
      () => false,
    );
    if (!isDirectory) return notStarted(`working directory ${command.cwd} does not exist or is not a directory`);
  }

  const output = new OutputTail(options.redact, options.onOutput);
  const timeoutSeconds = command.timeout ?? DEFAULT_TIMEOUT_SECONDS;

  return new Promise<PostApplyResult>((resolve) => {
    const child = spawn(file, args, {
      cwd: command.cwd,
      env: { ...process.env, ...command.env },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    let killReason: string | undefined;
    let spawnError: string | undefined;
    let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
    let done = false;
    const timers: NodeJS.Timeout[] = [];

    const finish = (code: number | null, signal: NodeJS.Signals | null) => {
      if (done) return;
      done = true;
      for (const timer of timers) clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      output.end();
      const error = spawnError ?? killReason;
      resolve({
        command: display,
        exitCode: code,
        signal,
        durationMs: Math.round(performance.now() - started),
        output: output.text(),
        ...(error !== undefined ? { error: options.redact(error) } : {}),
      });
    };

    const killGroup = (signal: NodeJS.Signals) => {
      if (child.pid === undefined) return;
      try {
        process.kill(-child.pid, signal);
      } catch {
        // ESRCH: the whole group is already gone.
      }
    };
    const terminate = (reason: string) => {
      if (killReason !== undefined || done) return;
      killReason = reason;
      killGroup('SIGTERM');
      timers.push(
        setTimeout(() => {
          killGroup('SIGKILL');
          // A process that left the group (setsid) may still hold the pipes: stop waiting for them.
          timers.push(
            setTimeout(() => {
              child.stdout.destroy();
              child.stderr.destroy();
              finish(exit?.code ?? null, exit?.signal ?? null);
            }, PIPE_GRACE_MS),
          );
        }, KILL_GRACE_MS),
      );
    };
    const onAbort = () => terminate('interrupted');

    // setTimeout fires at once beyond 2^31-1 ms (24.8 days): clamp rather than kill immediately.
    const timeoutMs = Math.min(timeoutSeconds * 1000, 2 ** 31 - 1);
    timers.push(setTimeout(() => terminate(`killed after ${timeoutSeconds} s`), timeoutMs));
    options.signal?.addEventListener('abort', onAbort, { once: true });

    output.attach(child.stdout);
    output.attach(child.stderr);
    child.on('error', (error: NodeJS.ErrnoException) => {
      // Only spawn failures end here (kill errors are caught above); the 'close' (code -2) that follows is ignored.
      spawnError = spawnFailure(file, error);
      if (child.pid === undefined) finish(null, null);
    });
    child.on('exit', (code, signal) => {
      exit = { code, signal };
    });
    // 'close' waits for the pipes too, so that output written by the group's other processes is not lost;
    // a background process kept alive past the leader is caught by the timeout.
    child.on('close', (code, signal) => finish(code, signal));
  });
}

function spawnFailure(file: string, error: NodeJS.ErrnoException): string {
  if (error.code === 'ENOENT') return `${file}: command not found`;
  if (error.code === 'EACCES') return `${file}: permission denied`;
  return `${file}: cannot start: ${error.message}`;
}

/**
 * Redacted output, interleaved line by line as received, keeping the last OUTPUT_LIMIT bytes. Lines are
 * the unit because a secret split across two reads would pass a per-chunk redaction.
 */
class OutputTail {
  private readonly chunks: Buffer[] = [];
  private kept = 0;
  private cut = 0;
  private readonly pending: { decoder: StringDecoder; partial: string }[] = [];

  constructor(
    private readonly redact: (text: string) => string,
    private readonly onOutput: ((chunk: string) => void) | undefined,
  ) {}

  attach(stream: NodeJS.ReadableStream): void {
    const state = { decoder: new StringDecoder('utf8'), partial: '' };
    this.pending.push(state);
    stream.on('data', (data: Buffer) => {
      const text = state.partial + state.decoder.write(data);
      const end = text.lastIndexOf('\n') + 1;
      if (end === 0 && text.length < PARTIAL_LINE_LIMIT) {
        state.partial = text;
        return;
      }
      const complete = end === 0 ? text : text.slice(0, end);
      state.partial = end === 0 ? '' : text.slice(end);
      this.push(complete);
    });
  }

  /** Flushes partial lines (the streams have closed or are abandoned). */
  end(): void {
    for (const state of this.pending) {
      const rest = state.partial + state.decoder.end();
      state.partial = '';
      if (rest !== '') this.push(rest);
    }
  }

  text(): string {
    let buffer = Buffer.concat(this.chunks);
    let cut = this.cut;
    if (buffer.length > OUTPUT_LIMIT) {
      let start = buffer.length - OUTPUT_LIMIT;
      // Start on a character, not inside a UTF-8 sequence.
      while (start < buffer.length && ((buffer[start] ?? 0) & 0xc0) === 0x80) start++;
      cut += start;
      buffer = buffer.subarray(start);
    }
    // Once more over the whole tail: catches a secret spanning lines (a multi-line file secret).
    const tail = this.redact(buffer.toString('utf8'));
    return cut > 0 ? `… (${cut} bytes cut)\n${tail}` : tail;
  }

  private push(raw: string): void {
    const text = this.redact(raw);
    try {
      this.onOutput?.(text);
    } catch {
      // A display problem must not lose the command's result, which is the report's point.
    }
    const bytes = Buffer.from(text, 'utf8');
    this.chunks.push(bytes);
    this.kept += bytes.length;
    // Keep whole chunks while the rest still covers the limit; text() trims the remainder.
    let first = this.chunks[0];
    while (first !== undefined && this.kept - first.length >= OUTPUT_LIMIT) {
      this.chunks.shift();
      this.kept -= first.length;
      this.cut += first.length;
      first = this.chunks[0];
    }
  }
}
