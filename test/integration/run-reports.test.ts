/**
 * Run reports and metrics (issue 22), on each target, through the CLI: every plan and apply writes a report
 * valid against schemas/run-report.schema.json that says what the run did — a plan of the collège on a fresh
 * Moodle (counts as the plan's), an apply, skipped and held entries, a refused run, a failed postApply, a
 * failed run with its error code —; retention keeps the newest; a reports directory that cannot be written
 * warns and changes nothing else; `--metrics-file` parses back as Prometheus text and agrees with the report,
 * keeps the last success across a failed run and leaves no temporary file; no secret anywhere.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { chmod, mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import parsePrometheus, { type PrometheusFamily } from 'parse-prometheus-text-format';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applySpec, loadSpec, RunRecorder, saveRun } from '../../src/index.js';
import type { Change } from '../../src/model/change.js';
import { entityName } from '../../src/report/run-recorder.js';
import type { RunReport } from '../../src/report/run-report-schema.js';
import { runReportSchema } from '../../src/report/run-report-schema.js';
import { type CollegeSite, collegeSite, editEntry, personDn } from '../helpers/sdet-college.js';
import { TARGETS, type TargetName } from '../helpers/targets.js';

const validate = new Ajv2020({ strict: true, allErrors: true, allowUnionTypes: true, validateFormats: false }).compile(
  runReportSchema,
);

const SECRET = 'S3cr3t-report-token-7f2a';
const STUDENT = 'F4500111';
const NEWCOMER = 'F4599999';
const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

/**
 * Every apply that writes runs this postApply command: it prints the secret (resolved from `${env:…}`) and
 * exits with L2M_REPORT_POST_EXIT (0 unless a test says otherwise).
 */
const POST_APPLY = `postApply:
  - run:
      - ${JSON.stringify(process.execPath)}
      - -e
      - "console.log('token', process.argv[1]); process.exit(Number(process.env.L2M_REPORT_POST_EXIT ?? 0))"
      - "\${env:L2M_REPORT_SECRET}"
    when: always
`;

/** The reports of `dir`, oldest first, each checked against the published schema. */
async function reportsIn(dir: string): Promise<RunReport[]> {
  const names = (await readdir(dir)).filter((n) => n.endsWith('.json')).sort();
  return Promise.all(
    names.map(async (name) => {
      const report = JSON.parse(await readFile(join(dir, name), 'utf8')) as RunReport;
      expect(validate(report), JSON.stringify(validate.errors)).toBe(true);
      expect(name).toBe(`${report.started_at.replace(/:/g, '-')}-${report.run_id}.json`);
      expect(report.started_at).toMatch(ISO);
      expect(report.ended_at).toMatch(ISO);
      return report;
    }),
  );
}

/** One sample's value, by metric name (without the prefix) and its extra labels. */
function sample(families: PrometheusFamily[], name: string, labels: Record<string, string> = {}): number | undefined {
  const family = families.find((f) => f.name === `ldap2moodle_${name}`);
  const found = family?.metrics.find((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v));
  return found === undefined ? undefined : Number(found.value);
}

/** A student's entry without its givenName: an invalid entry (skipped when new, held when managed). */
const withoutGivenName = (block: string): string => block.replace(/^givenName: .*\n/m, '');

/** The collège's LDIF with a new student (NEWCOMER) whose entry is invalid. */
function withInvalidNewcomer(ldif: string): string {
  const start = ldif.indexOf(`dn: ${personDn('F4500122')}\n`);
  const end = ldif.indexOf('\n\n', start);
  const twin = withoutGivenName(ldif.slice(start, end))
    .replace(`dn: ${personDn('F4500122')}`, `dn: ${personDn(NEWCOMER)}`)
    .replace('uid: F4500122', `uid: ${NEWCOMER}`);
  return `${ldif.trimEnd()}\n\n${twin}\n`;
}

/**
 * On a PostgreSQL that trusts local connections (the test server's default), the database password can be any
 * value: there it is the secret too, given as `${env:…}` like a real site's.
 */
function databasePasswordEdits(target: TargetName): [string, string][] {
  if (target !== 'postgres' || (process.env.L2M_PG_PASSWORD ?? '') !== '') return [];
  const user = `\n  user: ${process.env.L2M_PG_USER ?? 'postgres'}\n`;
  return [[user, `${user}  password: \${env:L2M_REPORT_SECRET}\n`]];
}

describe.each(TARGETS)('run reports and metrics on %s', (target) => {
  let site: CollegeSite;
  let example: string;
  let reportsDir: string;
  let metrics: string;
  /** Every report of the suite's main spec, as the last test left them. */
  const latest = async (): Promise<RunReport> => {
    const report = (await reportsIn(reportsDir)).at(-1);
    if (report === undefined) throw new Error('no report');
    return report;
  };
  const readMetrics = async (): Promise<PrometheusFamily[]> => parsePrometheus(await readFile(metrics, 'utf8'));

  beforeAll(async () => {
    process.env.L2M_REPORT_SECRET = SECRET;
    delete process.env.L2M_REPORT_POST_EXIT;
    site = await collegeSite(target, { spec: { append: POST_APPLY, edits: databasePasswordEdits(target) } });
    example = await site.ldif();
    reportsDir = site.ws.path('ldap2moodle.reports');
    await mkdir(site.ws.path('metrics'));
    metrics = site.ws.path('metrics/ldap2moodle.prom');
  });
  afterAll(async () => {
    delete process.env.L2M_REPORT_SECRET;
    delete process.env.L2M_REPORT_POST_EXIT;
    await site?.remove();
  });

  it('a plan on a fresh Moodle: counts, users, searches, stages and exit code as the run had them', async () => {
    const planned = await site.plan();
    const run = await site.cli(['plan', '--spec', site.specPath, '--detailed-exitcode']);
    expect(run.code).toBe(2);
    const report = await latest();
    expect(report).toMatchObject({
      command: 'plan',
      outcome: 'planned',
      exit_code: 2,
      spec: { path: site.specPath },
      state: site.statePath,
      guards: [],
      errors: [],
      post_apply: [],
    });
    expect(report.target).not.toContain('(Moodle');
    expect(report.moodle_release).toBe(planned.site.release);
    // The counts, counted here from the plan itself.
    const expected: Record<string, Record<string, number>> = {};
    const count = (entity: Change['entity'], action: string): void => {
      const forEntity = expected[entityName(entity)] ?? {};
      forEntity[action] = (forEntity[action] ?? 0) + 1;
      expected[entityName(entity)] = forEntity;
    };
    for (const change of planned.plan.changes) count(change.entity, change.action);
    for (const s of planned.plan.skipped) count(s.entity, 'skipped');
    expect(report.counts).toEqual(expected);
    expect(report.counts.users?.create).toBe(planned.plan.changes.filter((c) => c.entity === 'user').length);
    expect(Object.keys(report.counts)).toEqual(expect.arrayContaining(['users', 'cohorts', 'cohort_members']));
    const users = planned.desired.objects.get('user') ?? [];
    expect(report.users.desired).toBe(users.length);
    expect(Object.values(report.users.by_profile).reduce((a, b) => a + b, 0)).toBe(users.length);
    expect(report.users.by_profile.student).toBe(users.filter((u) => u.profile === 'student').length);
    expect(report.users.by_establishment['0450001A']).toBeGreaterThan(0);
    expect(report.searches.reduce((n, s) => n + s.entries, 0)).toBeGreaterThanOrEqual(planned.sourceEntries);
    expect(report.stages.map((s) => s.stage).sort()).toEqual(['moodle', 'planning', 'source']);
    expect(report.stages.every((s) => s.ok)).toBe(true);
    expect(report.moodle.rows_read).toBeGreaterThan(0);
    expect(report.moodle.statements).toBeGreaterThan(0);
    expect(report.moodle.rows_written).toBe(0);
  });

  it('an apply: its report and its metrics file agree, no temporary file is left', async () => {
    const run = await site.cli(['apply', '--spec', site.specPath, '--auto-approve', '--metrics-file', metrics]);
    expect(run.code).toBe(0);
    const report = await latest();
    expect(report).toMatchObject({ command: 'apply', outcome: 'applied', exit_code: 0, errors: [] });
    expect(report.stages.map((s) => s.stage)).toEqual(
      expect.arrayContaining(['source', 'moodle', 'planning', 'writing', 'state', 'postApply']),
    );
    expect(report.moodle.rows_written).toBeGreaterThan(0);
    expect(report.post_apply).toEqual([
      expect.objectContaining({ exit_code: 0, output: expect.stringContaining('***') }),
    ]);
    expect(await readdir(site.ws.path('metrics'))).toEqual(['ldap2moodle.prom']);
    const families = await readMetrics();
    for (const family of families) {
      expect(family.type).toBe('GAUGE');
      expect(family.help).not.toBe('');
      for (const m of family.metrics) expect(m.labels).toMatchObject({ target: 'ldap2moodle', command: 'apply' });
    }
    const ended = Date.parse(report.ended_at) / 1000;
    expect(sample(families, 'last_run_timestamp_seconds')).toBeCloseTo(ended, 2);
    expect(sample(families, 'last_success_timestamp_seconds')).toBeCloseTo(ended, 2);
    expect(sample(families, 'run_duration_seconds')).toBeCloseTo(report.duration_ms / 1000, 2);
    for (const stage of report.stages) {
      expect(sample(families, 'stage_duration_seconds', { stage: stage.stage })).toBeCloseTo(stage.ms / 1000, 2);
    }
    expect(sample(families, 'changes', { entity: 'users', action: 'create' })).toBe(report.counts.users?.create);
    expect(sample(families, 'changes', { entity: 'cohort_members', action: 'create' })).toBe(
      report.counts.cohort_members?.create,
    );
    expect(sample(families, 'exit_code')).toBe(0);
    expect(sample(families, 'run_report_write_failed')).toBe(0);
    expect(sample(families, 'guard_trips')).toBe(0);
    expect(sample(families, 'directory_entries')).toBe(report.searches.reduce((n, s) => n + s.entries, 0));
  });

  it('skipped and held entries, each with its DN and reason', async () => {
    await site.writeLdif(withInvalidNewcomer(editEntry(example, STUDENT, withoutGivenName)));
    try {
      const run = await site.cli(['apply', '--spec', site.specPath, '--auto-approve', '--metrics-file', metrics]);
      expect(run.code).toBe(0);
      const report = await latest();
      expect(report.outcome).toBe('no-changes');
      expect(report.skipped).toContainEqual(
        expect.objectContaining({ entity: 'users', dn: personDn(NEWCOMER), kind: 'invalid-entry' }),
      );
      expect(report.held).toContainEqual(
        expect.objectContaining({ entity: 'users', address: 'user["f4500111"]', dn: personDn(STUDENT) }),
      );
      for (const held of report.held) expect(held.reason).toMatch(/firstname/);
      expect(report.counts.users).toMatchObject({ held: 1 });
      expect(report.counts.users?.skipped).toBeGreaterThanOrEqual(1);
      const families = await readMetrics();
      expect(sample(families, 'held_objects')).toBe(report.held.length);
      expect(sample(families, 'skipped_entries')).toBe(report.skipped.length);
    } finally {
      await site.writeLdif(example);
    }
  });

  it('a refused run: outcome refused, exit 4, the guards it tripped, the plan it refused', async () => {
    const structuresOnly = example
      .split(/\n\n+/)
      .filter((record) => !/^dn: [^\n]*,ou=people,/im.test(record))
      .join('\n\n');
    await site.writeLdif(`${structuresOnly}\n`);
    try {
      const run = await site.cli(['apply', '--spec', site.specPath, '--auto-approve', '--metrics-file', metrics]);
      expect(run.code).toBe(4);
      const report = await latest();
      expect(report).toMatchObject({ outcome: 'refused', exit_code: 4, errors: [{ code: 'PLAN_REFUSED' }] });
      expect(report.guards.map((g) => g.code)).toContain('GUARD_EMPTY_SOURCE');
      expect(report.counts.users?.suspend).toBeGreaterThan(0);
      const families = await readMetrics();
      expect(sample(families, 'exit_code')).toBe(4);
      expect(sample(families, 'guard_trips')).toBe(report.guards.length);
    } finally {
      await site.writeLdif(example);
    }
  });

  it('a failed run: its error code; the last success stays, from the metrics file or else the reports', async () => {
    const before = sample(await readMetrics(), 'last_success_timestamp_seconds');
    expect(before).toBeDefined();
    await rename(site.ldifPath, `${site.ldifPath}.away`);
    try {
      const run = await site.cli(['apply', '--spec', site.specPath, '--auto-approve', '--metrics-file', metrics]);
      expect(run.code).toBe(1);
      const code = /^Error \[(\w+)\]/.exec(run.stderr)?.[1];
      expect(code).toBeDefined();
      const report = await latest();
      expect(report).toMatchObject({ outcome: 'failed', exit_code: 1, errors: [{ code }] });
      expect(report.counts).toEqual({});
      expect(report.users.desired).toBe(0);
      let families = await readMetrics();
      expect(sample(families, 'exit_code')).toBe(1);
      expect(sample(families, 'last_success_timestamp_seconds')).toBe(before);
      expect(sample(families, 'last_run_timestamp_seconds')).toBeCloseTo(Date.parse(report.ended_at) / 1000, 2);
      // Without the previous file, the newest successful report says when (the skipped/held run's).
      await rm(metrics);
      await site.cli(['apply', '--spec', site.specPath, '--auto-approve', '--metrics-file', metrics]);
      const lastGood = (await reportsIn(reportsDir)).filter((r) => r.exit_code === 0).at(-1);
      families = await readMetrics();
      expect(sample(families, 'last_success_timestamp_seconds')).toBeCloseTo(
        Date.parse(lastGood?.ended_at ?? '') / 1000,
        2,
      );
    } finally {
      await rename(`${site.ldifPath}.away`, site.ldifPath);
    }
  });

  it('a failed postApply: outcome post-apply-failed, exit 3, the command and its (redacted) output', async () => {
    await site.writeLdif(editEntry(example, STUDENT, (b) => b.replace('givenName: Éloïse\n', 'givenName: Eloise\n')));
    process.env.L2M_REPORT_POST_EXIT = '5';
    try {
      const run = await site.cli(['apply', '--spec', site.specPath, '--auto-approve', '--metrics-file', metrics]);
      expect(run.code).toBe(3);
      const report = await latest();
      expect(report).toMatchObject({ outcome: 'post-apply-failed', exit_code: 3, counts: { users: { update: 1 } } });
      expect(report.post_apply).toEqual([expect.objectContaining({ exit_code: 5, output: 'token ***\n' })]);
      expect(report.post_apply[0]?.command).toContain('***');
      expect(sample(await readMetrics(), 'exit_code')).toBe(3);
    } finally {
      delete process.env.L2M_REPORT_POST_EXIT;
    }
  });

  it('a reports directory that cannot be written: the apply applies, exit 0, a warning, the metrics say so', async () => {
    // Back to the example: one update to write.
    await site.writeLdif(example);
    const blocked = site.ws.path('blocked');
    const root = process.getuid?.() === 0;
    // Modes do not stop root: then the directory is under a regular file, which no one can create it in.
    if (root) await writeFile(blocked, '');
    else await mkdir(blocked, { mode: 0o500 });
    const dir = root ? join(blocked, 'reports') : blocked;
    const spec = site.ws.path('blocked.yaml');
    await writeFile(
      spec,
      `${await readFile(site.specPath, 'utf8')}reports:\n  dir: ${JSON.stringify(dir)}\n` +
        `state:\n  path: ${JSON.stringify(site.statePath)}\n`,
    );
    const blockedMetrics = site.ws.path('metrics/blocked.prom');
    try {
      const run = await site.cli(['apply', '--spec', spec, '--auto-approve', '--metrics-file', blockedMetrics]);
      expect(run.stderr).toContain(`Warning: could not write the run report to ${dir}/`);
      expect(run.code).toBe(0);
      expect(run.stdout).toContain('Apply complete: 1 changes');
      const families = parsePrometheus(await readFile(blockedMetrics, 'utf8'));
      expect(sample(families, 'run_report_write_failed', { target: 'blocked' })).toBe(1);
      expect(sample(families, 'exit_code')).toBe(0);
    } finally {
      if (!root) await chmod(blocked, 0o700);
    }
  });

  it('retention: with reports.keep 3, five runs leave the three newest', async () => {
    const spec = site.ws.path('kept.yaml');
    const dir = site.ws.path('kept.reports');
    await writeFile(
      spec,
      `${await readFile(site.specPath, 'utf8')}reports:\n  keep: 3\nstate:\n  path: ${JSON.stringify(site.statePath)}\n`,
    );
    const names: string[] = [];
    for (let i = 0; i < 5; i += 1) {
      expect((await site.cli(['plan', '--spec', spec])).code).toBe(0);
      const now = (await readdir(dir)).sort();
      const added = now.filter((n) => !names.includes(n));
      expect(added).toHaveLength(1);
      names.push(...added);
    }
    expect((await readdir(dir)).sort()).toEqual(names.slice(2));
    expect(await reportsIn(dir)).toHaveLength(3);
  });

  it('apply FILE: the report names the plan file; a declined apply (library) is told apart', async () => {
    await site.writeLdif(editEntry(example, STUDENT, (b) => b.replace('givenName: Éloïse\n', 'givenName: Elo\n')));
    try {
      const planFile = site.ws.path('site.plan');
      expect((await site.cli(['plan', '--spec', site.specPath, '--out', planFile])).code).toBe(0);
      const run = await site.cli(['apply', '--spec', site.specPath, planFile, '--detailed-exitcode']);
      expect(run.code).toBe(2);
      expect(await latest()).toMatchObject({
        command: 'apply',
        plan_file: planFile,
        outcome: 'applied',
        exit_code: 2,
        counts: { users: { update: 1 } },
      });
      // The library records a run the same way: a recorder as the observer, then saveRun.
      await site.writeLdif(example);
      const loaded = await loadSpec(site.specPath);
      const recorder = new RunRecorder({ runId: randomUUID(), command: 'apply', loaded });
      await site.t.release();
      const applied = await applySpec(loaded, { observer: recorder, confirm: async () => false });
      const saved = await saveRun(recorder, { exitCode: 1, applied });
      expect(saved.reportError).toBeUndefined();
      expect(saved.report).toMatchObject({ outcome: 'declined', exit_code: 1, counts: { users: { update: 1 } } });
      expect(saved.report.stages.map((s) => s.stage)).not.toContain('writing');
      expect(await latest()).toEqual(saved.report);
    } finally {
      await site.writeLdif(example);
    }
  });

  it('no secret in any report or metrics file', async () => {
    const files = [
      ...(await readdir(reportsDir)).map((n) => join(reportsDir, n)),
      ...(await readdir(site.ws.path('kept.reports'))).map((n) => join(site.ws.path('kept.reports'), n)),
      ...(await readdir(site.ws.path('metrics'))).map((n) => join(site.ws.path('metrics'), n)),
    ];
    expect(files.length).toBeGreaterThan(8);
    for (const file of files) expect(await readFile(file, 'utf8'), file).not.toContain(SECRET);
    // The secret did reach the command (it printed it, masked in the report).
    const withOutput = (await reportsIn(reportsDir)).flatMap((r) => r.post_apply);
    expect(withOutput.length).toBeGreaterThan(0);
    expect(withOutput.every((p) => p.output.includes('token ***'))).toBe(true);
  });
});

describe('the published run report schema', () => {
  it('schemas/run-report.schema.json is the schema literal of src/report/run-report-schema.ts (npm run schema)', () => {
    const committed = readFileSync(new URL('../../schemas/run-report.schema.json', import.meta.url), 'utf8');
    expect(committed).toBe(`${JSON.stringify(runReportSchema, null, 2)}\n`);
  });
});
