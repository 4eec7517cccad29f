/**
 * The run's log through the real CLI (issue 26 "Output and logs", issue 22 "Progress on long work"): stdout is
 * the plan or the result alone, the log goes to stderr as text or JSON lines, at three levels; warnings are
 * logged, not printed in the human plan; progress shows on a terminal only. Secrets and personal values never
 * reach the log.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt } from '../helpers/child-apply.js';
import { dropStaleTestDatabases } from '../helpers/mariadb.js';
import { type SlapdInstance, startSlapd } from '../helpers/slapd.js';
import {
  type CliRun,
  collegeUsers,
  SMALL_LDIF,
  STAGE_LINE,
  type TestSite,
  testSite,
  type Workspace,
  withoutStageLines,
  workspace,
  writeSpec,
} from '../helpers/spec-files.js';
import { TARGETS } from '../helpers/targets.js';
import { collegeInMemory, runOnTerminal } from '../helpers/terminal.js';

/** A server target when there is one: the database password then goes through `${env:}` too (trust ignores it). */
const TARGET = TARGETS.includes('postgres') ? 'postgres' : (TARGETS[0] ?? 'mariadb');
const LDAP_PASSWORD = 'Ld4p-B1nd-S3cret-7q';
const DB_PASSWORD = 'Db-Pa55-S3cret-9z';

/** Values of small.ldif that are personal (names, e-mails, uids): none of them may reach the log. */
async function personalValues(): Promise<string[]> {
  const ldif = await readFile(SMALL_LDIF, 'utf8');
  const values = new Set<string>();
  for (const match of ldif.matchAll(/^(?:uid|mail|sn|givenName|cn|displayName): (.+)$/gim)) {
    const value = (match[1] ?? '').trim();
    if (value.length >= 5) values.add(value);
  }
  return [...values];
}

let slapd: SlapdInstance;
beforeAll(async () => {
  await dropStaleTestDatabases();
  slapd = await startSlapd(SMALL_LDIF, { LDAP_ADMIN_PW: LDAP_PASSWORD });
}, 120_000);
afterAll(async () => slapd?.stop());

const sites: TestSite[] = [];
afterEach(async () => {
  await Promise.all(sites.splice(0).map((s) => s.remove()));
});

async function setup(): Promise<TestSite> {
  const site = await testSite(TARGET);
  sites.push(site);
  return site;
}

/** The collège's users from `source`, into the test Moodle; both passwords given through `${env:…}`. */
async function spec(s: TestSite, source: Record<string, unknown>): Promise<string> {
  const moodle = s.t.moodleSection(s.ws.dir);
  return writeSpec(s.ws, {
    version: 1,
    source,
    moodle: TARGET === 'postgres' ? { ...moodle, password: '${env:L2M_TEST_DB_PASSWORD}' } : moodle,
    users: await collegeUsers(),
  });
}

const ldapSourceWithEnvPassword = () => ({
  ldap: { url: slapd.url, bindDN: slapd.bindDN, password: '${env:L2M_TEST_LDAP_PASSWORD}', baseDN: slapd.baseDN },
});

/** Runs `fn` with the secrets in the environment, as cron would give them. */
async function withSecrets<T>(fn: () => Promise<T>): Promise<T> {
  process.env.L2M_TEST_LDAP_PASSWORD = LDAP_PASSWORD;
  process.env.L2M_TEST_DB_PASSWORD = DB_PASSWORD;
  try {
    return await fn();
  } finally {
    delete process.env.L2M_TEST_LDAP_PASSWORD;
    delete process.env.L2M_TEST_DB_PASSWORD;
  }
}

/** The CLI in-process with both secrets in the environment. */
const cli = (s: TestSite, argv: readonly string[]): Promise<CliRun> => withSecrets(() => s.cli(argv));

function expectNoSecretNorPersonalValue(run: CliRun, personal: readonly string[]): void {
  for (const secret of [LDAP_PASSWORD, DB_PASSWORD]) expect(run.stdout + run.stderr).not.toContain(secret);
  for (const value of personal) expect(run.stderr, `"${value}" in the log`).not.toContain(value);
}

interface JsonLine {
  readonly level: string;
  readonly time: string;
  readonly msg: string;
  readonly run_id: string;
  readonly [field: string]: unknown;
}

/** Every stderr line as JSON (the test fails on the first line that is not). */
function jsonLines(stderr: string): JsonLine[] {
  return stderr
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as JsonLine);
}

describe(`logs of plan and apply (into ${TARGET})`, () => {
  it('--verbose on LDAP: each search as its ldapsearch line with -b, filter and entry count; SQL by kind and table; no secret, no personal value', async () => {
    const s = await setup();
    const path = await spec(s, ldapSourceWithEnvPassword());
    const run = await cli(s, ['plan', '--verbose', '--no-color', '--spec', path]);
    expect(run.code, run.stderr).toBe(0);
    const lines = run.stderr.split('\n');
    const searches = lines.filter((line) => line.startsWith('ldapsearch '));
    expect(searches.length).toBeGreaterThan(0);
    const people = searches.find((line) => line.includes('-b ou=people,dc=ent,dc=example'));
    expect(people).toMatch(
      /^ldapsearch .*-H ldap:\/\/\S+ .*-b ou=people,dc=ent,dc=example -s sub '\(&\(ESCOUAI=0450001A\).*\(objectClass=ENTEleve\).*\)' .* # [\d,]+ entries in \d/,
    );
    // The entry count of the searches adds up to the stage line's.
    const counted = searches.reduce((n, line) => n + Number(/# ([\d,]+) entr/.exec(line)?.[1]?.replace(/,/g, '')), 0);
    expect(run.stderr).toContain(`Read ${counted} directory entries (${searches.length} search`);
    expect(run.stderr).toMatch(/^SQL select user: 1 statement, [\d,]+ rows? in \d/m);
    expect(run.stderr).toMatch(/^Read [\d,]+ Moodle rows \([\d,]+ statements\) in \d/m);
    expectNoSecretNorPersonalValue(run, await personalValues());
    // Not verbose: the stage lines, not the searches.
    const normal = await cli(s, ['plan', '--no-color', '--spec', path]);
    expect(normal.stderr).not.toContain('ldapsearch');
    expect(normal.stderr).not.toMatch(/^SQL /m);
    expect(normal.stderr).toMatch(/^Read [\d,]+ directory entries/m);
    await s.expectNothingWritten();
  });

  it('--verbose on an LDIF file: the search line names the file, the base, the filter and the count', async () => {
    const s = await setup();
    const run = await cli(s, ['plan', '--verbose', '--no-color', '--spec', await spec(s, { ldif: SMALL_LDIF })]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toMatch(
      /^ldapsearch \(in the LDIF file .*small\.ldif\) -b ou=people,dc=ent,dc=example -s sub '\(&\(ESCOUAI=0450001A\).*\)' .* # \d+ entries in \d/m,
    );
    expectNoSecretNorPersonalValue(run, await personalValues());
  });

  it('--log-format json: every stderr line is a JSON object with level, time, msg and one run_id; stdout one JSON plan', async () => {
    const s = await setup();
    const path = await spec(s, ldapSourceWithEnvPassword());
    const run = await cli(s, ['plan', '--json', '--log-format', 'json', '--verbose', '--spec', path]);
    expect(run.code, run.stderr).toBe(0);
    const plan = JSON.parse(run.stdout) as { warnings: string[] };
    expect(plan.warnings.length).toBeGreaterThan(0);
    const lines = jsonLines(run.stderr);
    expect(lines.length).toBeGreaterThan(3);
    const runIds = new Set(lines.map((line) => line.run_id));
    expect(runIds.size).toBe(1);
    expect([...runIds][0]).toMatch(/^[0-9a-f-]{36}$/);
    for (const line of lines) {
      expect(['debug', 'info', 'warn', 'error']).toContain(line.level);
      expect(typeof line.msg).toBe('string');
      expect(Number.isNaN(Date.parse(line.time))).toBe(false);
    }
    const search = lines.find((line) => line.event === 'search' && line.base === 'ou=people,dc=ent,dc=example');
    expect(search).toMatchObject({
      level: 'debug',
      filter: expect.stringContaining('(objectClass=ENTEleve)'),
      scope: 'sub',
    });
    expect(search?.entries).toBeGreaterThan(0);
    expect(String(search?.ldapsearch)).toContain('-b ou=people,dc=ent,dc=example');
    expect(lines.find((line) => line.event === 'stage' && line.stage === 'source')).toMatchObject({
      level: 'info',
      entries: expect.any(Number),
      ms: expect.any(Number),
    });
    expect(lines.some((line) => line.event === 'sql' && line.kind === 'select' && line.table === 'user')).toBe(true);
    // The plan's warnings are in the JSON document, not logged a second time.
    expect(lines.filter((line) => line.level === 'warn')).toEqual([]);
    expectNoSecretNorPersonalValue(run, await personalValues());
  });

  it('--log-format json with the human plan: the plan on stdout, its warnings as warn lines on stderr', async () => {
    const s = await setup();
    const run = await cli(s, [
      'plan',
      '--no-color',
      '--log-format',
      'json',
      '--spec',
      await spec(s, { ldif: SMALL_LDIF }),
    ]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/^Plan: \d+ to create\.$/m);
    const warnings = jsonLines(run.stderr).filter((line) => line.level === 'warn');
    expect(warnings).toContainEqual(
      expect.objectContaining({ event: 'plan-warning', msg: expect.stringContaining('"cas" is not enabled') }),
    );
    expect(jsonLines(run.stderr).filter((line) => line.event === 'stage')).toHaveLength(3);
  });

  it('--log-format json: an error is one more JSON line with its code, no stack', async () => {
    const s = await setup();
    const path = await spec(s, ldapSourceWithEnvPassword());
    // No secrets in the environment: SECRET_UNSET.
    const run = await s.cli(['plan', '--log-format', 'json', '--spec', path]);
    expect(run.code).toBe(1);
    const lines = jsonLines(run.stderr);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 'error', code: 'SECRET_UNSET', exit_code: 1 });
    expect(run.stderr).not.toMatch(/\n\s+at /);
  });

  it('--quiet: warnings on stderr and nothing else; the plan reduced to its counts and summary line', async () => {
    const s = await setup();
    const path = await spec(s, { ldif: SMALL_LDIF });
    const full = await cli(s, ['plan', '--no-color', '--spec', path]);
    const quiet = await cli(s, ['plan', '--quiet', '--no-color', '--spec', path]);
    expect(quiet.code).toBe(0);
    const stderr = quiet.stderr.split('\n').filter((line) => line !== '');
    expect(stderr.length).toBeGreaterThan(0);
    for (const line of stderr) expect(line).toMatch(/^Warning: /);
    expect(withoutStageLines(full.stderr)).toBe(quiet.stderr);
    // The summary: the counts table and the summary line, as in the full plan; no change listed.
    expect(full.stdout).toContain('+ user["');
    expect(quiet.stdout).not.toContain('user["');
    const summary = full.stdout.split('\n').filter((line) => /^Users +\d/.test(line) || line.startsWith('Plan: '));
    expect(summary.length).toBe(2);
    for (const line of summary) expect(quiet.stdout).toContain(line);
    expect(quiet.stdout.length).toBeLessThan(full.stdout.length / 2);
    // JSON is unaffected by --quiet.
    const json = await cli(s, ['plan', '--quiet', '--json', '--spec', path]);
    const document = await cli(s, ['plan', '--json', '--spec', path]);
    expect(JSON.parse(json.stdout)).toMatchObject({ summary: JSON.parse(document.stdout).summary });
    await s.expectNothingWritten();
  });

  it('warnings go to stderr in the human format, never in the plan on stdout', async () => {
    const s = await setup();
    const run = await cli(s, ['plan', '--no-color', '--spec', await spec(s, { ldif: SMALL_LDIF })]);
    expect(run.stderr).toMatch(/^Warning: the auth plugin "cas" is not enabled/m);
    expect(run.stdout).not.toContain('Warning');
    expect(run.stdout).not.toContain('is not enabled');
  });

  it('apply --quiet: the counts, then the result line; the stage lines only without --quiet', async () => {
    const s = await setup();
    const path = await spec(s, { ldif: SMALL_LDIF });
    const run = await cli(s, ['apply', '--quiet', '--auto-approve', '--no-color', '--spec', path]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).not.toContain('user["');
    expect(run.stdout).toMatch(/^Plan: \d+ to create\.$/m);
    expect(run.stdout).toMatch(/\nApply complete: \d+ changes written in one transaction\. State: .*\n$/);
    expect(run.stderr.split('\n').filter((line) => STAGE_LINE.test(line))).toEqual([]);
    const again = await cli(s, ['apply', '--auto-approve', '--no-color', '--spec', path]);
    expect(again.stderr).toMatch(/^Read [\d,]+ directory entries/m);
    expect(again.stderr).toMatch(/^Planned in /m);
  });

  it('--quiet and --verbose together: a usage error', async () => {
    const s = await setup();
    const run = await cli(s, ['plan', '--quiet', '--verbose', '--spec', await spec(s, { ldif: SMALL_LDIF })]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('--quiet and --verbose contradict each other');
    expect(run.stdout).toBe('');
  });

  it('apply logs the writing stage: changes, statements and rows', async () => {
    const s = await setup();
    const path = await spec(s, { ldif: SMALL_LDIF });
    const run = await cli(s, ['apply', '--verbose', '--auto-approve', '--no-color', '--spec', path]);
    expect(run.code, run.stderr).toBe(0);
    const written = /Apply complete: (\d+) changes/.exec(run.stdout)?.[1];
    expect(run.stderr).toMatch(new RegExp(`^Wrote ${written} changes \\([\\d,]+ statements, [\\d,]+ rows\\) in `, 'm'));
    expect(run.stderr).toMatch(/^SQL insert user: \d+ statements?, \d+ rows? in /m);
    expect(run.stderr).toMatch(/^Wrote the state in /m);
  });
});

/** What a person sees (stdout and stderr) on a terminal or a pipe. */
const runBinary = (args: readonly string[], terminal: boolean): Promise<string> =>
  runOnTerminal(args, { terminal, stderr: 'merge' });

describe('progress on a terminal only', () => {
  let ws: Workspace;
  let specPath: string;
  beforeAll(async () => {
    await ensureBuilt();
    ws = await workspace();
    specPath = await collegeInMemory(ws);
  }, 120_000);
  afterAll(async () => ws?.remove());

  it('shows entries read and Moodle rows read on a pseudo-terminal, cleared before the plan', async () => {
    const out = await runBinary(['plan', '--no-color', '--spec', specPath], true);
    expect(out).toMatch(/Reading the directory +[\d,]+ entries +[\d,]+\/s/);
    expect(out).toMatch(/Reading Moodle +[\d,]+ rows/);
    // The bars are erased (cursor up, clear to the end of the screen) before the first log line and the plan.
    const lastBar = out.lastIndexOf('Reading Moodle');
    expect(out.indexOf('\u001b[0J', lastBar)).toBeGreaterThan(lastBar);
    expect(out.indexOf('Plan: 187 to create.')).toBeGreaterThan(lastBar);
  }, 120_000);

  it('apply shows the changes written out of the total with an ETA', async () => {
    // Its own spec name, so its own state file: the plans above start from an empty Moodle and no state.
    const applySpec = ws.path('apply.yaml');
    await writeFile(applySpec, await readFile(specPath, 'utf8'));
    const out = await runBinary(['apply', '--auto-approve', '--no-color', '--spec', applySpec], true);
    expect(out).toMatch(/Writing to Moodle +\[[#.]+\] [\d,]+\/187 changes +ETA /);
    expect(out.indexOf('Apply complete: 187 changes')).toBeGreaterThan(out.lastIndexOf('Writing to Moodle'));
  }, 120_000);

  it('shows nothing on a pipe, with --quiet, or with JSON logs', async () => {
    for (const [args, terminal] of [
      [[], false],
      [['--quiet'], true],
      [['--log-format', 'json'], true],
    ] as const) {
      const out = await runBinary(['plan', '--no-color', '--spec', specPath, ...args], terminal);
      expect(out, args.join(' ')).toContain('Plan: 187 to create.');
      expect(out, args.join(' ')).not.toContain('Reading the directory');
      expect(out, args.join(' ')).not.toContain('Reading Moodle');
    }
  }, 180_000);
});
