/**
 * Scaling run (on demand, not a test): `npx tsx bench/scale.ts [sizes…] [--users-only]` (default 1000 10000).
 * The job is the SDET preset over the whole generated directory (users by profile, profile fields, categories,
 * cohorts, members, courses and what fills them); `--users-only` runs the users-only spec of the first releases instead.
 *
 * For each size: generate a directory (src/generate), then for each source (the LDIF file, and LDAP from a
 * bulk-loaded slapd) plan and apply the users into a fresh Moodle 4.5 in the local MariaDB, timing each
 * stage with the library's own pipeline functions: source read (readEntries, LDIF parsing included),
 * Moodle read (readMoodle), planning (planFromInputs), apply (applySpec as a whole: it reads and plans
 * again, then writes), and a second plan once Moodle is in step (what a daily run with no change costs).
 * Each (size, source) runs in its own child process so that the peak RSS is its own.
 * Needs slapd (test/fixtures/ldap/start-slapd.sh installs it) and MariaDB (test/helpers/mariadb.ts).
 */
import { execFile } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateDirectory, writeDirectoryLdif } from '../src/generate/generate.js';
import {
  applySpec,
  openSource,
  openSpecMoodle,
  planFromInputs,
  planSpec,
  readEntries,
  readMoodle,
  readSite,
  statePath,
} from '../src/index.js';
import { compileRules } from '../src/rules/rules.js';
import { loadSpec } from '../src/spec/load.js';
import { resolveState } from '../src/state/resolve-state.js';
import { createMoodleDatabase, dropStaleTestDatabases } from '../test/helpers/mariadb.js';
import { startSlapd } from '../test/helpers/slapd.js';
import { ldapSource, moodleSection, workspace, writeSpec } from '../test/helpers/spec-files.js';

type SourceKind = 'ldif' | 'ldap';

interface Result {
  readonly size: number;
  readonly source: SourceKind;
  readonly entries: number;
  /** Milliseconds per stage. */
  readonly ms: Record<Stage, number>;
  readonly changes: number;
  /** Planned changes per entity. */
  readonly byEntity: Readonly<Record<string, number>>;
  readonly replanChanges: number;
  /** Statements: reading Moodle once, and the whole applySpec run. */
  readonly readStatements: number;
  readonly applyStatements: number;
  readonly maxRssMb: number;
}

const STAGES = ['sourceRead', 'moodleRead', 'planning', 'apply', 'replan'] as const;
type Stage = (typeof STAGES)[number];
const STAGE_LABELS: Record<Stage, string> = {
  sourceRead: 'source read',
  moodleRead: 'Moodle read',
  planning: 'planning',
  apply: 'apply (whole)',
  replan: 'plan again',
};

/** `--users-only`: every person as a user, no preset (the first releases' job). */
const USERS = {
  search: { base: 'ou=people,dc=ent,dc=example', scope: 'sub', filter: '(objectClass=ENTPerson)' },
  match: 'username',
  auth: 'cas',
  fields: {
    username: '{uid|lower}',
    idnumber: '{ENTPersonJointure|first|match("^[^$]+\\$(?<key>.+)$", "key")}',
    firstname: '{givenName}',
    lastname: '{sn}',
    email: '{mail|first|default("")}',
    institution: '{ESCOUAICourant|first|default("")}',
  },
  onRemoved: 'suspend',
  adopt: 'never',
  onInvalidEntry: 'skip',
};

/**
 * The default job: the SDET preset over the whole directory (every establishment served), parents, profile
 * fields, level categories and the course rules on (courses per class and subject, cohort sync, teachers'
 * enrolments, groups, the headteacher's role): every entity of the collège example, at scale.
 */
const SDET = {
  extends: 'sdet',
  directory: {
    people: { base: 'ou=people,dc=ent,dc=example' },
    structures: { base: 'ou=structures,dc=ent,dc=example' },
  },
  users: { profiles: { parent: { enabled: true } } },
  profileFields: {
    fields: { ent_uai: { enabled: true }, ent_profiles: { enabled: true }, ent_classes: { enabled: true } },
  },
  categories: { rules: { level: { enabled: true } } },
  courses: { rules: { classSubject: { enabled: true }, schoolLife: { enabled: true } } },
  groups: {
    rules: {
      classSubject: { enabled: true },
      schoolLifeClasses: { enabled: true },
      schoolLifeGroups: { enabled: true },
    },
  },
  enrolments: {
    cohorts: { rules: { classSubject: { enabled: true }, schoolLife: { enabled: true } } },
    manual: { rules: { classSubjectTeacher: { enabled: true } } },
  },
  roleAssignments: { rules: { headteacher: { enabled: true } } },
};

const usersOnly = process.argv.includes('--users-only');

async function timed<T>(fn: () => Promise<T> | T): Promise<[T, number]> {
  const started = performance.now();
  const value = await fn();
  return [value, performance.now() - started];
}

/** One (size, source) run, in this process. */
async function runOne(size: number, source: SourceKind, ldif: string): Promise<Result> {
  const [moodle, ws] = await Promise.all([createMoodleDatabase(), workspace()]);
  const slapd = source === 'ldap' ? await startSlapd(ldif, { LDAP_BULK: '1' }) : undefined;
  try {
    const specPath = await writeSpec(ws, {
      version: 1,
      source: slapd ? ldapSource(slapd) : { ldif },
      moodle: moodleSection(moodle.options),
      ...(usersOnly ? { users: USERS } : SDET),
    });
    const loaded = await loadSpec(specPath);
    const rules = compileRules(loaded);
    const [entries, sourceRead] = await timed(async () => {
      const opened = await openSource(loaded);
      try {
        return await readEntries(opened, rules);
      } finally {
        await opened.close();
      }
    });
    const db = await openSpecMoodle(loaded);
    let snapshot: Awaited<ReturnType<typeof readMoodle>>;
    let moodleRead: number;
    let readStatements: number;
    let state: Awaited<ReturnType<typeof resolveState>>;
    try {
      const before = db.statementCount;
      [snapshot, moodleRead] = await timed(async () => readMoodle(db, loaded, rules, await readSite(db)));
      readStatements = db.statementCount - before;
      state = await resolveState(db, statePath(loaded), { repair: false });
    } finally {
      await db.close();
    }
    const [planned, planning] = await timed(() => planFromInputs(loaded, rules, entries, snapshot, state.state));
    const [applied, apply] = await timed(() => applySpec(loaded));
    const [replanned, replan] = await timed(() => planSpec(loaded));
    return {
      size,
      source,
      entries: entries.people.length,
      ms: { sourceRead, moodleRead, planning, apply, replan },
      changes: planned.plan.changes.length,
      byEntity: Object.fromEntries(
        [...new Set(planned.plan.changes.map((c) => c.entity))].map((e) => [
          e,
          planned.plan.changes.filter((c) => c.entity === e).length,
        ]),
      ),
      replanChanges: replanned.plan.changes.length,
      readStatements,
      applyStatements: applied.statements,
      maxRssMb: process.resourceUsage().maxRSS / 1024,
    };
  } finally {
    await slapd?.stop();
    await moodle.drop();
    await ws.remove();
  }
}

/** Runs `runOne` in a child process (same Node, same loader flags) and parses its JSON line. */
function runChild(size: number, source: SourceKind, ldif: string): Promise<Result> {
  const script = fileURLToPath(import.meta.url);
  const args = [
    ...process.execArgv,
    script,
    '--child',
    String(size),
    source,
    ldif,
    ...(usersOnly ? ['--users-only'] : []),
  ];
  return new Promise((resolve, reject) => {
    execFile(process.execPath, args, { maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error) return reject(new Error(`${source} ${size}: ${error.message}\n${stderr}`));
      const line = stdout.trim().split('\n').at(-1) ?? '';
      try {
        resolve(JSON.parse(line) as Result);
      } catch {
        reject(new Error(`${source} ${size}: no result line\n${stdout}\n${stderr}`));
      }
    });
  });
}

const seconds = (ms: number) => (ms >= 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${(ms / 1000).toFixed(2)} s`);
const pad = (text: string, width: number) => text.padStart(width);

function table(results: readonly Result[], generation: ReadonlyMap<number, number>): string {
  const header = [
    'people',
    'source',
    'generate',
    ...STAGES.map((s) => STAGE_LABELS[s]),
    'changes',
    'stmts',
    'peak RSS',
  ];
  const rows = results.map((r) => [
    String(r.size),
    r.source,
    seconds(generation.get(r.size) ?? 0),
    ...STAGES.map((s) => seconds(r.ms[s])),
    `${r.changes}/${r.replanChanges}`,
    `${r.readStatements}+${r.applyStatements}`,
    `${Math.round(r.maxRssMb)} MB`,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] ?? '').length)));
  const line = (cells: readonly string[]) => cells.map((c, i) => pad(c, widths[i] ?? 0)).join('  ');
  return [line(header), ...rows.map(line)].join('\n');
}

/** Time ratio largest/smallest size per stage and source, next to the size ratio (linear = equal). */
function growth(results: readonly Result[], generation: ReadonlyMap<number, number>): string {
  const sizes = [...new Set(results.map((r) => r.size))].sort((a, b) => a - b);
  const [small, large] = [sizes[0], sizes.at(-1)];
  if (small === undefined || large === undefined || small === large) return '';
  const lines = [`growth from ${small} to ${large} people (size ×${(large / small).toFixed(1)}):`];
  lines.push(`  generate: ×${((generation.get(large) ?? 0) / (generation.get(small) ?? 1)).toFixed(1)}`);
  for (const source of ['ldif', 'ldap'] as const) {
    const [a, b] = [small, large].map((n) => results.find((r) => r.size === n && r.source === source));
    if (a === undefined || b === undefined) continue;
    const ratios = STAGES.map((s) => `${STAGE_LABELS[s]} ×${(b.ms[s] / Math.max(a.ms[s], 0.01)).toFixed(1)}`);
    lines.push(`  ${source}: ${ratios.join(', ')}, peak RSS ×${(b.maxRssMb / a.maxRssMb).toFixed(1)}`);
  }
  return lines.join('\n');
}

async function main(argv: readonly string[]): Promise<void> {
  if (argv[0] === '--child') {
    const [, size, source, ldif] = argv;
    const result = await runOne(Number(size), source as SourceKind, ldif as string);
    process.stdout.write(`${JSON.stringify(result)}\n`);
    return;
  }
  const given = argv.filter((a) => !a.startsWith('--'));
  const sizes = (given.length > 0 ? given : ['1000', '10000']).map(Number);
  if (sizes.some((n) => !Number.isInteger(n) || n < 40)) throw new Error('sizes must be integers of at least 40');
  await dropStaleTestDatabases();
  const dir = await mkdtemp(join(tmpdir(), 'ldap2moodle-bench-'));
  const generation = new Map<number, number>();
  const results: Result[] = [];
  try {
    for (const size of [...sizes].sort((a, b) => a - b)) {
      const ldif = join(dir, `directory-${size}.ldif`);
      const [, ms] = await timed(async () => {
        const out = createWriteStream(ldif);
        await writeDirectoryLdif(generateDirectory({ seed: 42, people: size }), out);
        await new Promise<void>((resolve, reject) => out.end((e?: Error | null) => (e ? reject(e) : resolve())));
      });
      generation.set(size, ms);
      for (const source of ['ldif', 'ldap'] as const) {
        process.stderr.write(`${size} people from ${source}…\n`);
        results.push(await runChild(size, source, ldif));
      }
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  process.stdout.write(`${table(results, generation)}\n\n${growth(results, generation)}\n`);
  for (const r of results) {
    const parts = Object.entries(r.byEntity).map(([entity, n]) => `${entity} ${n}`);
    process.stdout.write(`\n${r.size} ${r.source}: ${parts.join(', ')}`);
  }
  process.stdout.write('\n');
  process.stdout.write(
    '\nchanges = planned/second plan; stmts = statements reading Moodle once + during the whole applySpec.\n',
  );
}

await main(process.argv.slice(2));
