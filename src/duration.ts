/**
 * Durations as people write them in cron jobs and Terraform flags: `30s`, `5m`, `1h`, `6h`, `1d`, or a sum
 * in decreasing units (`1h30m`); `0` alone means none. No library on npm that is already here does this, and
 * the grammar is small enough to keep exact (no `1.5h`, no spaces, no unit written twice).
 */

const UNITS = { d: 86_400_000, h: 3_600_000, m: 60_000, s: 1_000 } as const;
type Unit = keyof typeof UNITS;
const ORDER: readonly Unit[] = ['d', 'h', 'm', 's'];

/** The grammar, also used as the JSON Schema pattern of the spec's durations. */
export const DURATION_PATTERN = '^(0|([0-9]+d)?([0-9]+h)?([0-9]+m)?([0-9]+s)?)$';
const DURATION = new RegExp(DURATION_PATTERN);

/** Thrown for text that is not a duration; callers turn it into their own error (usage, spec). */
export class DurationError extends Error {
  override readonly name = 'DurationError';
}

/** Milliseconds of `text` (`30s` → 30000), or a DurationError naming the text and the expected form. */
export function parseDuration(text: string): number {
  const match = DURATION.exec(text);
  if (text === '' || match === null) {
    throw new DurationError(
      `${JSON.stringify(text)} is not a duration: write a duration such as 30s, 5m, 1h or 1h30m ` +
        '(whole numbers; units d, h, m, s, largest first), or 0',
    );
  }
  let ms = 0;
  for (const part of text.matchAll(/([0-9]+)([dhms])/g)) {
    ms += Number(part[1]) * UNITS[part[2] as Unit];
  }
  if (!Number.isSafeInteger(ms)) throw new DurationError(`${JSON.stringify(text)} is too long a duration`);
  return ms;
}

/** `5400000` → `1h30m`, rounded to the second; `0s` for less than half a second. */
export function formatDuration(ms: number): string {
  let rest = Math.round(ms / 1000) * 1000;
  let out = '';
  for (const unit of ORDER) {
    const n = Math.floor(rest / UNITS[unit]);
    rest -= n * UNITS[unit];
    if (n > 0) out += `${n}${unit}`;
  }
  return out === '' ? '0s' : out;
}
