/**
 * Property: any mutation of a shipped spec (examples/*, presets/*) goes through `validate` in-process — the spec
 * loaded without secrets, checked, its source files checked — and through a load that resolves secrets, and
 * ends in a valid spec or a UserError (a coded error), never another exception, within 5 s (a hang never
 * answers; the margin is for a loaded CI machine: L2M_FUZZ_BUDGET_MS sets it). The mutations mix
 * random edits of the text with the hostile values of issue 28: devices and FIFOs named as files, deep nesting,
 * anchors that contain themselves, alias bombs, secret references in the wrong places.
 *
 * 200 runs per spec by default; L2M_FUZZ_RUNS sets another number (and L2M_FUZZ_SEED a seed to replay).
 */
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { UserError } from '../../src/errors.js';
import { checkSourceFiles, checkSpec } from '../../src/index.js';
import { loadSpec } from '../../src/spec/load.js';

const RUNS = Number(process.env.L2M_FUZZ_RUNS ?? 200);
const SEED = process.env.L2M_FUZZ_SEED === undefined ? undefined : Number(process.env.L2M_FUZZ_SEED);
const BUDGET_MS = Number(process.env.L2M_FUZZ_BUDGET_MS ?? 5_000);

const repo = fileURLToPath(new URL('../..', import.meta.url));
const root = mkdtempSync(join(tmpdir(), 'l2m-fuzz-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
// The examples with their side files, where their relative paths (../college/directory.ldif) still hold.
for (const dir of ['examples/college', 'examples/cite-scolaire', 'presets']) {
  mkdirSync(join(root, dir), { recursive: true });
  cpSync(join(repo, dir), join(root, dir), { recursive: true });
}
const fifo = join(root, 'fifo');
execFileSync('mkfifo', [fifo]);

const SPECS = ['examples/college/ldap2moodle.yaml', 'examples/cite-scolaire/ldap2moodle.yaml', 'presets/sdet.yaml'];

/** Values that once crashed or hung the tool, or that a spec must refuse. */
const HOSTILE_VALUES = [
  '/dev/zero',
  '/dev/urandom',
  fifo,
  root,
  "'${file:/dev/zero}'",
  "'${file:/dev/urandom}'",
  `'\${file:${fifo}}'`,
  "'${env:MOODLE_DB_PASSWORD}'",
  "'${env:'",
  '&v { c: *v }',
  '*nowhere',
  `${'['.repeat(3000)}${']'.repeat(3000)}`,
  `${'{a: '.repeat(500)}1${'}'.repeat(500)}`,
  '1e309',
  '-1',
  "''",
  '~',
  '[]',
  '{}',
  'x'.repeat(100_000),
  "'\u0000\u001b[2J'",
];

const HOSTILE_LINES = [
  'extends: /dev/zero',
  'extends: /dev/urandom',
  `extends: ${fifo}`,
  `extends: [${root}]`,
  'vars: &v { c: *v }',
  'vars: &v [*v]',
  `vars:\n${Array.from({ length: 3000 }, (_, i) => `${' '.repeat(i + 1)}k:`).join('\n')}`,
  [
    'bomb:',
    '  a0: &a0 [x, x, x, x, x, x, x, x, x, x]',
    ...Array.from({ length: 8 }, (_, i) => `  a${i + 1}: &a${i + 1} [${Array(10).fill(`*a${i}`).join(', ')}]`),
  ].join('\n'),
  'transcodings: { z: { csv: /dev/zero } }',
  'transcodings: { z: { csv: /dev/urandom } }',
  `transcodings: { z: { csv: ${fifo} } }`,
  "moodle: { driver: mariadb, database: m, password: '${file:/dev/zero}' }",
  '---',
  '\t',
  '%YAML 1.1',
  '!!binary x',
  '? [a]\n: b',
];

/** A mutation and what it does, for the counterexample fast-check prints. */
interface Mutation {
  readonly what: string;
  apply(text: string): string;
}

const named = (what: string, apply: (text: string) => string): Mutation => ({ what, apply });

const lineOf = (text: string, index: number): { lines: string[]; i: number } => {
  const lines = text.split('\n');
  return { lines, i: index % Math.max(lines.length, 1) };
};

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  // Delete a slice of the text.
  fc.tuple(fc.nat(), fc.nat({ max: 400 })).map(([at, length]) =>
    named(`delete ${length} at ${at}`, (text) => {
      const start = at % Math.max(text.length, 1);
      return text.slice(0, start) + text.slice(start + length);
    }),
  ),
  // Insert random characters.
  fc.tuple(fc.nat(), fc.string({ maxLength: 20, unit: 'grapheme' })).map(([at, inserted]) =>
    named(`insert ${JSON.stringify(inserted)} at ${at}`, (text) => {
      const start = at % Math.max(text.length, 1);
      return text.slice(0, start) + inserted + text.slice(start);
    }),
  ),
  // Replace the value of a `key: value` line with a hostile one.
  fc.tuple(fc.nat(), fc.constantFrom(...HOSTILE_VALUES)).map(([index, value]) =>
    named(`value ${JSON.stringify(value.slice(0, 40))} at ${index}`, (text) => {
      const { lines, i } = lineOf(text, index);
      const candidates = lines.map((l, n) => ({ l, n })).filter(({ l }) => /^\s*[^#\s][^:]*:\s+\S/.test(l));
      const target = candidates[i % Math.max(candidates.length, 1)];
      if (target === undefined) return text;
      lines[target.n] = target.l.replace(/:\s+.*$/, `: ${value}`);
      return lines.join('\n');
    }),
  ),
  // Insert a hostile line at the top level (or anywhere).
  fc.tuple(fc.nat(), fc.constantFrom(...HOSTILE_LINES), fc.boolean()).map(([index, line, top]) =>
    named(`line ${JSON.stringify(line.slice(0, 40))} at ${top ? 'top' : index}`, (text) => {
      const { lines, i } = lineOf(text, index);
      lines.splice(top ? 0 : i, 0, line);
      return lines.join('\n');
    }),
  ),
  // Duplicate or drop a line; shift a line's indentation.
  fc.tuple(fc.nat(), fc.constantFrom('duplicate', 'drop', 'indent', 'dedent')).map(([index, how]) =>
    named(`${how} line ${index}`, (text) => {
      const { lines, i } = lineOf(text, index);
      const line = lines[i] ?? '';
      if (how === 'duplicate') lines.splice(i, 0, line);
      else if (how === 'drop') lines.splice(i, 1);
      else if (how === 'indent') lines[i] = `  ${line}`;
      else lines[i] = line.replace(/^ {1,2}/, '');
      return lines.join('\n');
    }),
  ),
);

type Outcome = 'valid' | 'user error';

/** `validate` as the command runs it, then a load resolving secrets (none set): valid or a UserError. */
async function validateAndLoad(path: string): Promise<Outcome> {
  let outcome: Outcome = 'valid';
  try {
    const loaded = await loadSpec(path, { resolveSecrets: false });
    checkSpec(loaded);
    await checkSourceFiles(loaded);
  } catch (error) {
    if (!(error instanceof UserError)) throw error;
    outcome = 'user error';
  }
  try {
    await loadSpec(path, { env: {} });
  } catch (error) {
    if (!(error instanceof UserError)) throw error;
  }
  return outcome;
}

function withinBudget<T>(work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${BUDGET_MS} ms (a hang)`)), BUDGET_MS);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

describe('mutated shipped specs through validate', () => {
  for (const spec of SPECS) {
    it(`${spec}: a valid spec or a coded error, within ${BUDGET_MS} ms, over ${RUNS} mutations`, async () => {
      const original = readFileSync(join(root, spec), 'utf8');
      const mutatedPath = join(root, spec.replace(/[^/]+$/, 'mutated.yaml'));
      const outcomes = { valid: 0, 'user error': 0 };
      await fc.assert(
        fc.asyncProperty(fc.array(mutation, { minLength: 1, maxLength: 4 }), async (mutations) => {
          writeFileSync(
            mutatedPath,
            mutations.reduce((text, m) => m.apply(text), original),
          );
          outcomes[await withinBudget(validateAndLoad(mutatedPath))] += 1;
        }),
        { numRuns: RUNS, ...(SEED === undefined ? {} : { seed: SEED }), endOnFailure: true },
      );
      // The property is not vacuous: mutations produce both outcomes.
      expect(outcomes['user error']).toBeGreaterThan(0);
    }, 600_000);
  }
});
