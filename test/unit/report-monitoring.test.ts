/**
 * The figures of the monitoring page (src/report/monitoring.ts), reading the reports back (read-reports.ts), and
 * `ldap2moodle report --json` / `--format markdown`, from the scripted series of test/helpers/run-reports.ts.
 */
import { copyFile, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pseudonym } from '../../src/render/redact.js';
import type { Monitoring } from '../../src/report/monitoring.js';
import { monitoring, reasonCategory } from '../../src/report/monitoring.js';
import { renderPage } from '../../src/report/page.js';
import { readReports } from '../../src/report/read-reports.js';
import { PERSONAL_VALUES, reportFileName, reportSeries, writeReports } from '../helpers/run-reports.js';
import { COLLEGE_SPEC, copyCollegeSideFiles, runCli, type Workspace, workspace } from '../helpers/spec-files.js';

const DAY = 86_400_000;
const FIRST = new Date('2026-03-01T00:00:00Z');
const NOW = new Date('2026-03-04T12:00:00Z');
const series = reportSeries(FIRST);
const figures = (redact = true): Monitoring =>
  monitoring(series, { since: new Date(NOW.getTime() - 90 * DAY), now: NOW, redact });

describe('monitoring figures', () => {
  it('one row per run, with its outcome, changes, held and skipped', () => {
    const m = figures();
    expect(m.runs.map((r) => [r.run, r.outcome, r.exit_code, r.changes, r.held, r.skipped, r.users])).toEqual([
      ['2026-03-01 02:00', 'applied', 0, 303 + 24 + 303 + 909, 0, 0, 303],
      ['2026-03-02 02:00', 'applied', 0, 8 + 12 + 5 + 8 + 5 + 24 + 3, 2, 3, 306],
      ['2026-03-03 02:00', 'refused', 4, 250, 0, 0, 181],
    ]);
    expect(m.outcomes).toEqual({ applied: 2, refused: 1 });
  });

  it('stage durations, changes per entity and users per profile and establishment, per run', () => {
    const m = figures();
    expect(m.stage_durations.filter((s) => s.run === '2026-03-02 02:00').map((s) => [s.stage, s.ms])).toEqual([
      ['source', 1_150],
      ['moodle', 1_400],
      ['planning', 350],
      ['writing', 700],
      ['state', 55],
      ['postApply', 1_900],
    ]);
    const day2 = m.changes.filter((c) => c.run === '2026-03-02 02:00');
    expect(day2.map((c) => [c.entity, c.changes])).toEqual([
      ['users', 25],
      ['cohort_members', 13],
      ['profile_data', 27],
    ]);
    expect(day2[0]?.by_action).toEqual({ create: 8, update: 12, suspend: 5, held: 2, skipped: 3 });
    const eleves = m.users_by_profile.filter((u) => u.key === 'eleve').map((u) => u.users);
    expect(eleves).toEqual([240, 243, 140]);
    expect(m.users_by_establishment.filter((u) => u.run === '2026-03-03 02:00').map((u) => [u.key, u.users])).toEqual([
      ['0750001A', 181],
    ]);
  });

  it('held and skipped entries grouped by reason, the values they quote left out', () => {
    const m = figures(false);
    expect(m.held_skipped.map((h) => [h.kind, h.reason, h.count])).toEqual([
      ['held', 'user: edited in Moodle since the last apply (email); held until `ldap2moodle import` or --force', 1],
      ['held', 'user: edited in Moodle since the last apply (lastname); held until `ldap2moodle import` or --force', 1],
      ['skipped', 'user: email "…" is used by another user', 1],
      ['skipped', 'user: no ENTPersonProfils value the spec knows', 1],
      ['skipped', 'user: username "…" has characters Moodle refuses in a username (space, upper case)', 1],
    ]);
    expect(reasonCategory('person "uid=f1,ou=people,dc=x" is not in the directory')).toBe(
      'person "…" is not in the directory',
    );
    expect(reasonCategory('no parent for uid=f1,ou=people,dc=x')).toBe('no parent for …');
  });

  it('the last run in detail; DNs, addresses and quoted values pseudonymised unless redact is false', () => {
    const churned = series.slice(0, 2);
    const redacted = monitoring(churned, { since: FIRST, now: NOW });
    const last = redacted.last_run;
    expect(last?.run_id).toBe(series[1]?.run_id);
    expect(last?.held.map((h) => [h.address, h.dn])).toEqual([
      [`user["${pseudonym('f4500123')}"]`, `uid=${pseudonym('f4500123')},ou=people,dc=ent,dc=example`],
      [`user["${pseudonym('f4500777')}"]`, `uid=${pseudonym('f4500777')},ou=people,dc=ent,dc=example`],
    ]);
    expect(last?.skipped[0]?.reason).toBe(
      `username "${pseudonym('Jean Dupont')}" has characters Moodle refuses in a username (space, upper case)`,
    );
    expect(last?.warnings).toEqual([`user["${pseudonym('f4500123')}"] was edited in Moodle: its changes are held`]);
    const json = JSON.stringify(redacted);
    for (const value of PERSONAL_VALUES) expect(json).not.toContain(value);

    const plain = monitoring(churned, { since: FIRST, now: NOW, redact: false });
    expect(plain.redacted).toBe(false);
    expect(plain.last_run?.held[0]?.dn).toBe('uid=f4500123,ou=people,dc=ent,dc=example');
    expect(plain.last_run?.post_apply).toEqual(series[1]?.post_apply);
  });

  it('the refused run: guards, errors and the counts it would have written', () => {
    const last = figures().last_run;
    expect(last?.outcome).toBe('refused');
    expect(last?.guards.map((g) => [g.code, g.removals, g.managed])).toEqual([['GUARD_USERS_REMOVALS', 125, 306]]);
    expect(last?.errors.map((e) => e.code)).toEqual(['PLAN_REFUSED']);
    expect(last?.counts).toEqual([
      { entity: 'users', counts: { suspend: 125 } },
      { entity: 'cohort_members', counts: { delete: 125 } },
    ]);
  });

  it('the page escapes what the reports say: markup in a reason, a profile or an entity stays text', async () => {
    const hostile = structuredClone(series.slice(0, 2));
    const day2 = hostile[1];
    if (day2 === undefined) throw new Error('no day 2');
    day2.skipped.push({
      entity: 'user',
      dn: 'uid=x,ou=people,dc=ent,dc=example',
      reason: 'bad <script>alert(1)</script>',
    });
    day2.users.by_profile['<img src=x onerror=alert(2)>'] = 3;
    day2.counts['<b>entity</b>'] = { create: 1 };
    const html = await renderPage(monitoring(hostile, { since: FIRST, now: NOW }));
    expect(html).not.toMatch(/<script|<img|<b>/i);
    expect(html).toContain('bad &lt;script&gt;alert(1)&lt;/script&gt;');
  });

  it('no runs: empty series and no last run', () => {
    const m = monitoring([], { since: FIRST, now: NOW });
    expect(m.runs).toEqual([]);
    expect(m.last_run).toBeNull();
  });
});

describe('reading the reports back', () => {
  let ws: Workspace;
  beforeAll(async () => {
    ws = await workspace();
  });
  afterAll(async () => ws?.remove());

  it('sorts by start, keeps the window, and leaves out a broken or invalid file with a warning naming it', async () => {
    const dir = ws.path('reports');
    // Written newest first, so that the order read is the sort's, not the directory's.
    await writeReports(dir, [...series].reverse());
    await writeFile(join(dir, 'zz-truncated.json'), '{"format_version": "1.0", "run_');
    const { run_id: _dropped, ...invalid } = series[0] as (typeof series)[number];
    await writeFile(join(dir, 'zz-invalid.json'), JSON.stringify(invalid));
    await writeFile(join(dir, 'notes.txt'), 'not a report');

    const all = await readReports(dir);
    expect(all.found).toBe(true);
    expect(all.reports.map((r) => r.run_id)).toEqual(series.map((r) => r.run_id));
    expect(all.warnings).toHaveLength(2);
    expect(all.warnings[0]).toMatch(
      /zz-invalid\.json: not a valid run report \(the report must have required property 'run_id'\)/,
    );
    expect(all.warnings[1]).toMatch(/zz-truncated\.json: not readable as JSON/);

    const recent = await readReports(dir, { since: new Date(FIRST.getTime() + DAY) });
    expect(recent.reports.map((r) => r.outcome)).toEqual(['applied', 'refused']);
    expect(recent.reports[0]?.started_at).toBe('2026-03-02T02:00:00.000Z');
  });

  it('a missing directory is no runs, not an error', async () => {
    expect(await readReports(ws.path('nowhere'))).toEqual({ reports: [], warnings: [], found: false });
  });
});

describe('ldap2moodle report --json / --format markdown', () => {
  let ws: Workspace;
  let dir: string;
  beforeAll(async () => {
    ws = await workspace();
    dir = ws.path('site.reports');
    // Recent nights, inside the default 90-day window.
    await writeReports(dir, reportSeries(new Date(Date.now() - 3 * DAY)));
  });
  afterAll(async () => ws?.remove());

  it('--json prints the figures of the page, redacted', async () => {
    const run = await runCli(['report', '--dir', dir, '--json']);
    expect(run.code).toBe(0);
    const m = JSON.parse(run.stdout) as Monitoring;
    expect(m.format_version).toBe('1.0');
    expect(m.runs.map((r) => r.outcome)).toEqual(['applied', 'applied', 'refused']);
    expect(m.users_by_profile.filter((u) => u.key === 'enseignant').map((u) => u.users)).toEqual([45, 46, 28]);
    for (const value of PERSONAL_VALUES) expect(run.stdout).not.toContain(value);
  });

  it('--format markdown prints the tables, and --out writes them to a file', async () => {
    const run = await runCli(['report', '--dir', dir, '--format', 'markdown']);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('| Run (UTC) | eleve | enseignant | personnel |');
    expect(run.stdout).toMatch(/\| \d{4}-\d{2}-\d{2} 02:00 \| 240 \| 45 \| 18 \|/);
    expect(run.stdout).toMatch(/\| apply \| refused \| 4 \| 2s \| 250 \| 0 \| 0 \|/);
    expect(run.stdout).toContain('| users | 125 | — |');
    expect(run.stdout).toContain('**Guard** `GUARD_USERS_REMOVALS`');
    const out = ws.path('sync.md');
    const written = await runCli(['report', '--dir', dir, '--format', 'markdown', '--out', out]);
    expect(written.stdout).toBe('');
    expect(written.stderr).toMatch(/^Wrote .*sync\.md: 3 runs of the last 90d\n$/);
  });

  it('--since keeps the window; an empty one says "No runs since"', async () => {
    // A window reaching back an hour before the last night: that night alone.
    const last = reportSeries(new Date(Date.now() - 3 * DAY)).at(-1)?.started_at ?? '';
    const hours = Math.ceil((Date.now() - Date.parse(last)) / 3_600_000) + 1;
    const run = await runCli(['report', '--dir', dir, '--since', `${hours}h`, '--json']);
    expect((JSON.parse(run.stdout) as Monitoring).runs.map((r) => r.outcome)).toEqual(['refused']);
    const none = await runCli(['report', '--dir', dir, '--since', '1h', '--format', 'markdown']);
    expect(none.stdout).toMatch(/No runs since \d{4}-\d{2}-\d{2}\./);
  });

  it('reads the reports directory of the spec (reports.dir default), without its secrets', async () => {
    await copyCollegeSideFiles(ws.dir);
    const spec = ws.path('college.yaml');
    await copyFile(COLLEGE_SPEC, spec);
    await mkdir(ws.path('college.reports'), { recursive: true });
    const only = reportSeries(new Date(Date.now() - DAY))[0];
    if (only === undefined) throw new Error('no report');
    await writeFile(join(ws.path('college.reports'), reportFileName(only)), JSON.stringify(only));
    const run = await runCli(['report', '--spec', spec, '--json']);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect((JSON.parse(run.stdout) as Monitoring).runs).toHaveLength(1);
  });

  it('usage errors: html without --out, a bad --since, --json with another format', async () => {
    const html = await runCli(['report', '--dir', dir]);
    expect(html.code).toBe(1);
    expect(html.stderr).toMatch(/html needs --out FILE/);
    const since = await runCli(['report', '--dir', dir, '--since', '3 days', '--json']);
    expect(since.code).toBe(1);
    expect(since.stderr).toMatch(/--since: "3 days" is not a duration/);
    const both = await runCli(['report', '--dir', dir, '--json', '--format', 'markdown']);
    expect(both.code).toBe(1);
    expect(both.stderr).toMatch(/--json and --format markdown disagree/);
  });

  it('an --out it cannot write is REPORT_WRITE, exit 1', async () => {
    const run = await runCli(['report', '--dir', dir, '--out', ws.path('no/such/dir/page.html')]);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^Error \[REPORT_WRITE\]: cannot write .*page\.html/);
  });

  it('a chart with nothing to show gives its place to a sentence, not an empty figure', async () => {
    const first = ws.path('first.reports');
    await writeReports(first, reportSeries(new Date(Date.now() - 3 * DAY)).slice(0, 1));
    const run = await runCli(['report', '--dir', first, '--out', '-']);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(
      /<p class="empty" data-empty="held-skipped">No entry held or skipped since \d{4}-\d{2}-\d{2}\.<\/p>/,
    );
    expect(run.stdout).not.toContain('data-chart="held-skipped"');
    expect(run.stdout).toContain('data-chart="changes"');
  });

  it('--out - writes the page to stdout', async () => {
    const run = await runCli(['report', '--dir', dir, '--out', '-']);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^<!doctype html>/);
    expect(run.stdout).not.toMatch(/<script/i);
    expect((run.stdout.match(/<figure data-chart=/g) ?? []).length).toBe(6);
  });
});
