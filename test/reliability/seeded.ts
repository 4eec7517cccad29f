/**
 * The reliability suite's knobs and its seeded randomness: quick by default (CI), deeper with environment
 * variables, and every random draw replayable from the seed printed with a failure.
 *
 * - `L2M_RELIABILITY_SEED`: the seed (an unsigned 32-bit integer); a fresh one per run when unset.
 * - `L2M_RELIABILITY_KILLS`: SIGKILLs of apply per target (default 3).
 * - `L2M_RELIABILITY_FAULTS`: slapd kills and slapd pauses per target (default 1 of each).
 */

/** An integer environment variable, or `fallback` when unset; anything else than a whole number is refused. */
function envInteger(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!/^\d+$/.test(raw)) throw new Error(`${name}=${raw}: a whole number is expected`);
  return Number(raw);
}

export const SEED = envInteger('L2M_RELIABILITY_SEED', Math.floor(Math.random() * 2 ** 32)) >>> 0;
export const KILLS_PER_TARGET = envInteger('L2M_RELIABILITY_KILLS', 3);
export const FAULTS_PER_TARGET = envInteger('L2M_RELIABILITY_FAULTS', 1);

/** How to replay a failure: in every assertion message of the suite. */
export const REPLAY = `L2M_RELIABILITY_SEED=${SEED}`;

/** Mulberry32: a small, fast PRNG whose whole state is one 32-bit number, so a seed replays the same draws. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}
