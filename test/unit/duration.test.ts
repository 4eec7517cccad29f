import { describe, expect, it } from 'vitest';
import { formatDuration, parseDuration } from '../../src/duration.js';

describe('durations', () => {
  it('parses 30s, 5m, 1h, 6h, 1d, 1h30m and 0 into milliseconds', () => {
    expect(parseDuration('30s')).toBe(30_000);
    expect(parseDuration('5m')).toBe(300_000);
    expect(parseDuration('1h')).toBe(3_600_000);
    expect(parseDuration('6h')).toBe(21_600_000);
    expect(parseDuration('1d')).toBe(86_400_000);
    expect(parseDuration('1h30m')).toBe(5_400_000);
    expect(parseDuration('0')).toBe(0);
    expect(parseDuration('0s')).toBe(0);
  });

  it('refuses anything else, saying what a duration looks like', () => {
    for (const bad of ['', '30', '5 m', '1.5h', '-1s', 'h', '6hours', '1h1h', '1s1m', '10x']) {
      expect(() => parseDuration(bad), bad).toThrow(/a duration such as 30s, 5m, 1h or 1h30m/);
    }
    expect(() => parseDuration('10x')).toThrow(/"10x"/);
  });

  it('formats milliseconds back, to the second', () => {
    expect(formatDuration(0)).toBe('0s');
    expect(formatDuration(1_499)).toBe('1s');
    expect(formatDuration(30_000)).toBe('30s');
    expect(formatDuration(5_400_000)).toBe('1h30m');
    expect(formatDuration(21_600_000)).toBe('6h');
    expect(formatDuration(90_061_000)).toBe('1d1h1m1s');
  });
});
