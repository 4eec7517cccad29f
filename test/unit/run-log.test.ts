/**
 * The run's log (src/observe/log.ts) without a server: the wording of numbers, durations and stage lines, the
 * levels each verbosity keeps, the aggregation of SQL by stage, and the JSON lines.
 */
import { describe, expect, it } from 'vitest';
import type { RunEvent } from '../../src/observe/events.js';
import type { LogFormat, LogVerbosity, StageFigures } from '../../src/observe/log.js';
import { formatCount, formatMs, RunLog, searchLine, sqlLine, stageLine } from '../../src/observe/log.js';

const figures = (stage: StageFigures['stage'], more: Partial<StageFigures> = {}): StageFigures => ({
  stage,
  ms: 4100,
  ok: true,
  searches: 0,
  entries: 0,
  statements: 0,
  rowsRead: 0,
  rowsWritten: 0,
  changes: 0,
  ...more,
});

describe('number and duration wording', () => {
  it('groups thousands with commas', () => {
    expect(formatCount(0)).toBe('0');
    expect(formatCount(999)).toBe('999');
    expect(formatCount(1234)).toBe('1,234');
    expect(formatCount(100_000)).toBe('100,000');
    expect(formatCount(1234.6)).toBe('1,235');
  });

  it('says seconds with one decimal from a tenth of a second, milliseconds below', () => {
    expect(formatMs(0.4)).toBe('0 ms');
    expect(formatMs(35.2)).toBe('35 ms');
    expect(formatMs(99)).toBe('99 ms');
    expect(formatMs(100)).toBe('0.1 s');
    expect(formatMs(4100)).toBe('4.1 s');
    expect(formatMs(62_049)).toBe('62.0 s');
  });
});

describe('stage lines', () => {
  it('say what each stage did, with its figures', () => {
    expect(stageLine(figures('source', { entries: 100_000, searches: 2 }))).toBe(
      'Read 100,000 directory entries (2 searches) in 4.1 s',
    );
    expect(stageLine(figures('source', { entries: 1, searches: 1, ms: 12 }))).toBe(
      'Read 1 directory entry (1 search) in 12 ms',
    );
    expect(stageLine(figures('moodle', { rowsRead: 52_310, statements: 21, ms: 2000 }))).toBe(
      'Read 52,310 Moodle rows (21 statements) in 2.0 s',
    );
    expect(stageLine(figures('planning', { ms: 300 }))).toBe('Planned in 0.3 s');
    expect(stageLine(figures('writing', { changes: 1234, statements: 2000, rowsWritten: 1500, ms: 3200 }))).toBe(
      'Wrote 1,234 changes (2,000 statements, 1,500 rows) in 3.2 s',
    );
    expect(stageLine(figures('state', { ms: 5 }))).toBe('Wrote the state in 5 ms');
    expect(stageLine(figures('postApply'))).toBe('Ran the postApply commands in 4.1 s');
  });

  it('says when a stage failed', () => {
    expect(stageLine(figures('moodle', { ok: false, ms: 160 }))).toBe(
      'Read 0 Moodle rows (0 statements) in 0.2 s (failed)',
    );
  });

  it('SQL and search lines', () => {
    expect(sqlLine({ kind: 'select', table: 'user', statements: 3, rows: 1234, ms: 200 })).toBe(
      'SQL select user: 3 statements, 1,234 rows in 0.2 s',
    );
    expect(sqlLine({ kind: 'other', table: '', statements: 1, rows: 0, ms: 1 })).toBe(
      'SQL other (no table): 1 statement, 0 rows in 1 ms',
    );
    expect(searchLine("ldapsearch -H ldap://h:389 -b ou=people -s sub '(uid=*)' uid", 41, 120)).toBe(
      "ldapsearch -H ldap://h:389 -b ou=people -s sub '(uid=*)' uid  # 41 entries in 0.1 s",
    );
  });
});

/** A run's events: both reads side by side, then planning; SQL during the Moodle read. */
const RUN: readonly RunEvent[] = [
  { type: 'sql', kind: 'select', table: 'config_plugins', rows: 1, ms: 1 },
  { type: 'stage-start', stage: 'source' },
  { type: 'stage-start', stage: 'moodle' },
  { type: 'progress', stage: 'source', done: 500 },
  { type: 'sql', kind: 'select', table: 'user', rows: 700, ms: 20 },
  { type: 'sql', kind: 'select', table: 'user', rows: 300, ms: 10 },
  {
    type: 'search',
    source: 'ldap://h:389',
    base: 'ou=people,dc=x',
    scope: 'sub',
    filter: '(objectClass=ENTPerson)',
    attributes: ['uid'],
    ldapsearch: "ldapsearch -H ldap://h:389 -b ou=people,dc=x -s sub '(objectClass=ENTPerson)' uid",
    entries: 1234,
    ms: 400,
  },
  { type: 'stage-end', stage: 'source', ms: 410, ok: true },
  { type: 'sql', kind: 'select', table: 'cohort', rows: 5, ms: 2 },
  { type: 'stage-end', stage: 'moodle', ms: 500, ok: true },
  { type: 'stage-start', stage: 'planning' },
  { type: 'stage-end', stage: 'planning', ms: 30, ok: true },
];

function logOf(verbosity: LogVerbosity, format: LogFormat = 'text'): { log: RunLog; out: () => string } {
  let text = '';
  const log = new RunLog({ format, verbosity, runId: 'run-1', out: { write: (t: string) => (text += t) } });
  return { log, out: () => text };
}

describe('RunLog', () => {
  it('default: the stage lines at the end of the run, after the notices; SQL counted in the Moodle stage', () => {
    const { log, out } = logOf('normal');
    for (const event of RUN) log.emit(event);
    log.warn('careful');
    log.info('a lock notice');
    expect(out()).toBe('Warning: careful\na lock notice\n');
    log.finish();
    expect(out().split('\n').slice(2)).toEqual([
      'Read 1,234 directory entries (1 search) in 0.4 s',
      'Read 1,005 Moodle rows (3 statements) in 0.5 s',
      'Planned in 30 ms',
      '',
    ]);
  });

  it('--quiet: warnings and errors only', () => {
    const { log, out } = logOf('quiet');
    for (const event of RUN) log.emit(event);
    log.info('a lock notice');
    log.debug('detail');
    log.warn('careful');
    log.error('broken');
    log.finish();
    expect(out()).toBe('Warning: careful\nError: broken\n');
  });

  it('--verbose: each search when it ends, the SQL by kind and table at the end of each stage, outside stages at the end', () => {
    const { log, out } = logOf('verbose');
    for (const event of RUN) log.emit(event);
    log.finish();
    expect(out().split('\n')).toEqual([
      "ldapsearch -H ldap://h:389 -b ou=people,dc=x -s sub '(objectClass=ENTPerson)' uid  # 1,234 entries in 0.4 s",
      'SQL select user: 2 statements, 1,000 rows in 30 ms',
      'SQL select cohort: 1 statement, 5 rows in 2 ms',
      'SQL select config_plugins: 1 statement, 1 row in 1 ms',
      'Read 1,234 directory entries (1 search) in 0.4 s',
      'Read 1,005 Moodle rows (3 statements) in 0.5 s',
      'Planned in 30 ms',
      '',
    ]);
  });

  it('after a failure the stage lines are verbose only: the error stays the last word', () => {
    const normal = logOf('normal');
    for (const event of RUN) normal.log.emit(event);
    normal.log.finish({ failed: true });
    expect(normal.out()).toBe('');
    const verbose = logOf('verbose');
    for (const event of RUN) verbose.log.emit(event);
    verbose.log.finish({ failed: true });
    expect(verbose.out()).toContain('Planned in 30 ms');
  });

  it('writing: the changes of the last progress event, rows written apart from rows read', () => {
    const { log, out } = logOf('normal');
    log.emit({ type: 'stage-start', stage: 'writing', total: 3 });
    log.emit({ type: 'sql', kind: 'insert', table: 'user', rows: 2, ms: 1 });
    log.emit({ type: 'progress', stage: 'writing', done: 2, total: 3 });
    log.emit({ type: 'sql', kind: 'select', table: 'context', rows: 9, ms: 1 });
    log.emit({ type: 'sql', kind: 'update', table: 'user', rows: 1, ms: 1 });
    log.emit({ type: 'progress', stage: 'writing', done: 3, total: 3 });
    log.emit({ type: 'stage-end', stage: 'writing', ms: 1500, ok: true });
    log.finish();
    expect(out()).toBe('Wrote 3 changes (3 statements, 3 rows) in 1.5 s\n');
  });

  it('JSON: one object a line, level label, time, msg, run_id and the figures', () => {
    const { log, out } = logOf('verbose', 'json');
    for (const event of RUN) log.emit(event);
    log.warn('careful', { code: 'X' });
    log.finish();
    const lines = out()
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(lines.every((line) => line.run_id === 'run-1' && typeof line.time === 'string')).toBe(true);
    expect(lines[0]).toMatchObject({
      level: 'debug',
      event: 'search',
      base: 'ou=people,dc=x',
      filter: '(objectClass=ENTPerson)',
      entries: 1234,
      ms: 400,
    });
    expect(lines).toContainEqual(expect.objectContaining({ level: 'warn', msg: 'careful', code: 'X' }));
    expect(lines).toContainEqual(
      expect.objectContaining({
        level: 'info',
        event: 'stage',
        stage: 'moodle',
        statements: 3,
        rows_read: 1005,
        msg: 'Read 1,005 Moodle rows (3 statements) in 0.5 s',
      }),
    );
    expect(lines).toContainEqual(
      expect.objectContaining({
        level: 'debug',
        event: 'sql',
        stage: 'moodle',
        kind: 'select',
        table: 'user',
        statements: 2,
        rows: 1000,
      }),
    );
  });

  it('JSON --quiet: no info or debug line', () => {
    const { log, out } = logOf('quiet', 'json');
    for (const event of RUN) log.emit(event);
    log.finish();
    log.warn('careful');
    expect(out().trimEnd().split('\n')).toHaveLength(1);
    expect(JSON.parse(out())).toMatchObject({ level: 'warn', msg: 'careful' });
  });
});
