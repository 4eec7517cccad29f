/**
 * The run's log: a run observer (events.ts) that writes what a run did as lines, plain text for people or one
 * JSON object a line (pino) for log shippers. It lives beside the events rather than in the CLI because it
 * knows nothing of a terminal or of options: a library caller (a cron wrapper written against the API) gets
 * the same lines by passing it as `observer`. Progress bars, which are about a terminal, stay in src/cli/.
 *
 * What it writes comes from the events and from the caller's own messages: counts, times, stage names, the
 * shape of a search (base, filter, attributes) — never a value read or written, never a secret.
 */
import { pino } from 'pino';
import { printable } from '../printable.js';
import type { RunEvent, RunObserver, SqlKind, Stage } from './events.js';

/** `--quiet`: warnings and errors; `normal`: plus a line per stage and notices; `verbose`: plus searches and SQL. */
export type LogVerbosity = 'quiet' | 'normal' | 'verbose';
export const LOG_FORMATS = ['text', 'json'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

/** pino's labels, in order: a line is written when its level is at least the verbosity's. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
const LEVEL_RANK: Readonly<Record<LogLevel, number>> = { debug: 0, info: 1, warn: 2, error: 3 };
const LOWEST: Readonly<Record<LogVerbosity, LogLevel>> = { quiet: 'warn', normal: 'info', verbose: 'debug' };

/** The fields a line may carry besides its message: figures and names, flat. */
export type LogFields = Readonly<Record<string, string | number | boolean | readonly string[]>>;

export interface RunLogOptions {
  readonly format: LogFormat;
  readonly verbosity: LogVerbosity;
  /** The invocation's id, on every JSON line (`run_id`). */
  readonly runId: string;
  /** Where lines go: each call is one or more whole lines, ending with a newline. */
  readonly out: { write(text: string): unknown };
}

/** 1,234,567: counts in lines people read. */
export function formatCount(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

/** A duration for a log line: "4.1 s", or "35 ms" under a tenth of a second (where "0.0 s" would say nothing). */
export function formatMs(ms: number): string {
  return ms < 100 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}

const plural = (n: number, one: string, many = `${one}s`): string => `${formatCount(n)} ${n === 1 ? one : many}`;

/** What one stage did, as the events told it: the figures of its end-of-stage line. */
export interface StageFigures {
  readonly stage: Stage;
  readonly ms: number;
  readonly ok: boolean;
  /** Directory searches and the entries they returned (stage `source`). */
  readonly searches: number;
  readonly entries: number;
  /** SQL statements run during the stage, and the rows SELECTs returned / other statements touched. */
  readonly statements: number;
  readonly rowsRead: number;
  readonly rowsWritten: number;
  /** Changes written so far (the last `progress` of stage `writing`). */
  readonly changes: number;
}

/** The end-of-stage line: "Read 100,000 directory entries in 4.1 s". */
export function stageLine(f: StageFigures): string {
  const took = `in ${formatMs(f.ms)}`;
  const failed = f.ok ? '' : ' (failed)';
  switch (f.stage) {
    case 'source':
      return `Read ${plural(f.entries, 'directory entry', 'directory entries')} (${plural(f.searches, 'search', 'searches')}) ${took}${failed}`;
    case 'moodle':
      return `Read ${plural(f.rowsRead, 'Moodle row')} (${plural(f.statements, 'statement')}) ${took}${failed}`;
    case 'planning':
      return `Planned ${took}${failed}`;
    case 'writing':
      return `Wrote ${plural(f.changes, 'change')} (${plural(f.statements, 'statement')}, ${plural(f.rowsWritten, 'row')}) ${took}${failed}`;
    case 'state':
      return `Wrote the state ${took}${failed}`;
    case 'postApply':
      return `Ran the postApply commands ${took}${failed}`;
  }
}

/** The statements of one kind on one table during a stage. */
export interface SqlAggregate {
  readonly kind: SqlKind;
  readonly table: string;
  readonly statements: number;
  readonly rows: number;
  readonly ms: number;
}

/** The verbose line of an aggregate: "SQL select user: 3 statements, 1,234 rows in 0.2 s". */
export function sqlLine(a: SqlAggregate): string {
  return `SQL ${a.kind} ${a.table === '' ? '(no table)' : a.table}: ${plural(a.statements, 'statement')}, ${plural(a.rows, 'row')} in ${formatMs(a.ms)}`;
}

/** The verbose line of a search: the equivalent `ldapsearch` command, then what it returned. */
export function searchLine(ldapsearch: string, entries: number, ms: number): string {
  return `${ldapsearch}  # ${plural(entries, 'entry', 'entries')} in ${formatMs(ms)}`;
}

const TEXT_PREFIX: Readonly<Record<LogLevel, string>> = { debug: '', info: '', warn: 'Warning: ', error: 'Error: ' };

interface OpenStage {
  readonly started: number;
  searches: number;
  entries: number;
  statements: number;
  rowsRead: number;
  rowsWritten: number;
  changes: number;
  readonly sql: Map<string, { kind: SqlKind; table: string; statements: number; rows: number; ms: number }>;
}

const newStage = (): OpenStage => ({
  started: performance.now(),
  searches: 0,
  entries: 0,
  statements: 0,
  rowsRead: 0,
  rowsWritten: 0,
  changes: 0,
  sql: new Map(),
});

/**
 * The log of one run. As an observer: a line per search (verbose), per (kind, table) of SQL at the end of each
 * stage (verbose), and a line per stage, written together at the end of the run (`finish`) so that they follow
 * the plan rather than interleave with it. As a logger: `info`, `warn`, `error` for the command's own notices.
 */
export class RunLog implements RunObserver {
  private readonly json: pino.Logger | null;
  private readonly lowest: LogLevel;
  private readonly open = new Map<Stage | 'run', OpenStage>();
  private readonly ended: StageFigures[] = [];

  constructor(private readonly options: RunLogOptions) {
    this.lowest = LOWEST[options.verbosity];
    this.json =
      options.format === 'json'
        ? pino(
            {
              level: this.lowest,
              base: { run_id: options.runId },
              // Labels ("info"), not pino's numbers: log shippers and people read them as they are.
              formatters: { level: (label) => ({ level: label }) },
              timestamp: pino.stdTimeFunctions.isoTime,
            },
            // pino writes each line with one synchronous `write` on this object: the command's stderr.
            { write: (line: string) => options.out.write(line) },
          )
        : null;
  }

  /** True when a line of `level` is written at this verbosity (callers skip building what nobody reads). */
  enabled(level: LogLevel): boolean {
    return LEVEL_RANK[level] >= LEVEL_RANK[this.lowest];
  }

  debug(msg: string, fields: LogFields = {}): void {
    this.line('debug', msg, fields);
  }
  info(msg: string, fields: LogFields = {}): void {
    this.line('info', msg, fields);
  }
  warn(msg: string, fields: LogFields = {}): void {
    this.line('warn', msg, fields);
  }
  error(msg: string, fields: LogFields = {}): void {
    this.line('error', msg, fields);
  }

  private line(level: LogLevel, msg: string, fields: LogFields): void {
    if (!this.enabled(level)) return;
    if (this.json !== null) this.json[level](fields, msg);
    // One record, one line: a value inside the message cannot start a fake line or drive the terminal.
    else this.options.out.write(`${TEXT_PREFIX[level]}${printable(msg)}\n`);
  }

  emit(event: RunEvent): void {
    switch (event.type) {
      case 'stage-start':
        this.open.set(event.stage, newStage());
        return;
      case 'search': {
        const stage = this.open.get('source') ?? this.stageOfSql();
        stage.searches += 1;
        stage.entries += event.entries;
        if (this.enabled('debug')) {
          this.debug(searchLine(event.ldapsearch, event.entries, event.ms), {
            event: 'search',
            source: event.source,
            base: event.base,
            scope: event.scope,
            filter: event.filter,
            attributes: event.attributes,
            ldapsearch: event.ldapsearch,
            entries: event.entries,
            ms: Math.round(event.ms),
          });
        }
        return;
      }
      case 'sql': {
        const stage = this.stageOfSql();
        stage.statements += 1;
        if (event.kind === 'select') stage.rowsRead += event.rows;
        else stage.rowsWritten += event.rows;
        const key = `${event.kind} ${event.table}`;
        const sum = stage.sql.get(key) ?? { kind: event.kind, table: event.table, statements: 0, rows: 0, ms: 0 };
        sum.statements += 1;
        sum.rows += event.rows;
        sum.ms += event.ms;
        stage.sql.set(key, sum);
        return;
      }
      case 'progress': {
        const stage = this.open.get(event.stage);
        if (stage !== undefined && event.stage === 'writing') stage.changes = event.done;
        return;
      }
      case 'stage-end': {
        const stage = this.open.get(event.stage) ?? newStage();
        this.open.delete(event.stage);
        this.sqlLines(event.stage, stage);
        this.ended.push({
          stage: event.stage,
          ms: event.ms,
          ok: event.ok,
          searches: stage.searches,
          entries: stage.entries,
          statements: stage.statements,
          rowsRead: stage.rowsRead,
          rowsWritten: stage.rowsWritten,
          changes: stage.changes,
        });
        return;
      }
    }
  }

  /**
   * The end of the run: the SQL run outside any stage (locks, state markers), then a line per stage. Called
   * once, whether the run succeeded or not. After a failure the error is the run's last word: the stage lines
   * (a failed stage says so) are then verbose only.
   */
  finish(outcome: { readonly failed: boolean } = { failed: false }): void {
    const level: LogLevel = outcome.failed ? 'debug' : 'info';
    const outside = this.open.get('run');
    if (outside !== undefined) this.sqlLines('run', outside);
    this.open.clear();
    for (const figures of this.ended.splice(0)) {
      this.line(level, stageLine(figures), {
        event: 'stage',
        stage: figures.stage,
        ms: Math.round(figures.ms),
        ok: figures.ok,
        ...(figures.stage === 'source' ? { searches: figures.searches, entries: figures.entries } : {}),
        ...(figures.statements > 0
          ? { statements: figures.statements, rows_read: figures.rowsRead, rows_written: figures.rowsWritten }
          : {}),
        ...(figures.stage === 'writing' ? { changes: figures.changes } : {}),
      });
    }
  }

  /** SQL comes from Moodle's side only: it belongs to the latest stage still open other than the directory read. */
  private stageOfSql(): OpenStage {
    const stages = [...this.open.entries()].filter(([name]) => name !== 'source' && name !== 'run');
    const last = stages.at(-1)?.[1];
    if (last !== undefined) return last;
    const outside = this.open.get('run') ?? newStage();
    this.open.set('run', outside);
    return outside;
  }

  private sqlLines(stage: Stage | 'run', figures: OpenStage): void {
    if (!this.enabled('debug')) return;
    for (const a of figures.sql.values()) {
      this.debug(sqlLine(a), {
        event: 'sql',
        stage,
        kind: a.kind,
        table: a.table,
        statements: a.statements,
        rows: a.rows,
        ms: Math.round(a.ms),
      });
    }
  }
}
