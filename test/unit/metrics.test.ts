/**
 * The metrics textfile's format, read back by an independent Prometheus text-format parser: label values that
 * need escaping survive, a run that never succeeded has no last-success sample (an alert on `absent`/`unless`
 * catches it), and a failed run carries the previous success forward.
 */
import parsePrometheus from 'parse-prometheus-text-format';
import { describe, expect, it } from 'vitest';
import { renderMetrics } from '../../src/report/metrics.js';
import type { RunReport } from '../../src/report/run-report-schema.js';

const report: RunReport = {
  format_version: '1.0',
  run_id: '0b7c1d2e-0000-4000-8000-000000000001',
  tool_version: '0.1.0',
  command: 'apply',
  started_at: '2026-12-07T02:00:00.000Z',
  ended_at: '2026-12-07T02:00:04.250Z',
  duration_ms: 4250,
  spec: { path: '/etc/ldap2moodle/site.yaml', hash: 'sha256:0' },
  stages: [
    { stage: 'source', ms: 1234.4, ok: true },
    { stage: 'moodle', ms: 900, ok: false },
  ],
  searches: [{ base: 'ou=people,dc=ent', scope: 'sub', filter: '(uid=*)', entries: 120, ms: 800 }],
  moodle: { rows_read: 10, statements: 3, rows_written: 0 },
  counts: { users: { create: 2, held: 1, skipped: 4 } },
  users: { desired: 2, by_profile: {}, by_establishment: {} },
  skipped: [],
  held: [],
  guards: [],
  warnings: [],
  errors: [{ code: 'MOODLE_CONNECT', message: 'refused' }],
  post_apply: [],
  outcome: 'failed',
  exit_code: 1,
};

const sampleValue = (text: string, name: string, labels: Record<string, string> = {}): string | undefined =>
  parsePrometheus(text)
    .find((f) => f.name === `ldap2moodle_${name}`)
    ?.metrics.find((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v))?.value;

describe('renderMetrics', () => {
  it('escapes label values: a spec name with a quote, a backslash and a line feed parses back whole', () => {
    const target = 'site "a"\\b\nc';
    const text = renderMetrics({ report, target, success: false, reportWriteFailed: false });
    const families = parsePrometheus(text);
    expect(families.length).toBeGreaterThan(5);
    for (const family of families) {
      expect(family.type).toBe('GAUGE');
      for (const m of family.metrics) expect(m.labels).toMatchObject({ target, command: 'apply' });
    }
  });

  it('a failed run with no success known has no last-success sample; with one, carries it', () => {
    const never = renderMetrics({ report, target: 'site', success: false, reportWriteFailed: true });
    expect(sampleValue(never, 'last_success_timestamp_seconds')).toBeUndefined();
    expect(sampleValue(never, 'run_report_write_failed')).toBe('1');
    const carried = renderMetrics({
      report,
      target: 'site',
      success: false,
      previousSuccess: 1796600000.5,
      reportWriteFailed: false,
    });
    expect(sampleValue(carried, 'last_success_timestamp_seconds')).toBe('1796600000.5');
    expect(sampleValue(carried, 'last_run_timestamp_seconds')).toBe('1796608804.25');
  });

  it('changes leave held and skipped to their own series; stages in seconds', () => {
    const text = renderMetrics({ report, target: 'site', success: true, reportWriteFailed: false });
    expect(sampleValue(text, 'changes', { entity: 'users', action: 'create' })).toBe('2');
    expect(sampleValue(text, 'changes', { action: 'held' })).toBeUndefined();
    expect(sampleValue(text, 'changes', { action: 'skipped' })).toBeUndefined();
    expect(sampleValue(text, 'stage_duration_seconds', { stage: 'source' })).toBe('1.234');
    expect(sampleValue(text, 'directory_entries')).toBe('120');
    expect(sampleValue(text, 'last_success_timestamp_seconds')).toBe('1796608804.25');
  });
});
