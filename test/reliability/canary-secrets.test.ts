/**
 * A canary secret scan: the LDAP bind password (from a `${file:}` secret), the database password (from
 * `${env:}`) and the plan-signing key (L2M_PLAN_KEY) are unique canary strings, and every output stream and
 * every file of a sequence of real runs of the built CLI is searched for them: plan (human, --json, --format
 * markdown, --out, --verbose, JSON logs), apply of the saved plan, report (page, JSON, Markdown), with run
 * reports and metrics written. The canaries are searched as they are, base64-encoded and URL-encoded.
 * PostgreSQL trusts local connections, so a canary database password still connects (skipped without it).
 */
import { randomUUID } from 'node:crypto';
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BinRun, ensureBuilt, runBin } from '../helpers/child-apply.js';
import { type SlapdInstance, startSlapd } from '../helpers/slapd.js';
import { COLLEGE_LDIF, collegeUsers, type Workspace, workspace, writeSpec } from '../helpers/spec-files.js';
import { createTarget, TARGETS, type Target } from '../helpers/targets.js';

const CANARIES = {
  ldapPassword: `canary-ldap-${randomUUID()}`,
  databasePassword: `canary-db-${randomUUID()}`,
  planKey: `canary-key-${randomUUID()}`,
};

/** Each canary and the encodings a careless log or report could give it. */
const NEEDLES = Object.entries(CANARIES).flatMap(([name, value]) => [
  { name, form: 'raw', text: value },
  { name, form: 'base64', text: Buffer.from(value).toString('base64') },
  { name, form: 'url', text: encodeURIComponent(value) },
]);

function leaks(where: string, text: string): string[] {
  return NEEDLES.filter((n) => text.includes(n.text)).map((n) => `${n.name} (${n.form}) in ${where}`);
}

/** Every file under `dir`, recursively, with its path relative to it. */
async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
}

describe.runIf(TARGETS.includes('postgres'))('no secret in any output or file', () => {
  let slapd: SlapdInstance;
  let t: Target;
  let ws: Workspace;
  let spec: string;
  /** Outside the workspace, so that the scan of the workspace does not find the canary where it is meant to be. */
  let passwordFile: string | undefined;
  const runs: { args: readonly string[]; run: BinRun }[] = [];

  beforeAll(async () => {
    await ensureBuilt();
    slapd = await startSlapd(COLLEGE_LDIF, { LDAP_ADMIN_PW: CANARIES.ldapPassword });
    t = await createTarget('postgres');
    ws = await workspace();
    passwordFile = join(ws.dir, '..', `${ws.dir.split('/').at(-1) ?? 'ws'}.ldap-password`);
    await writeFile(passwordFile, CANARIES.ldapPassword, { mode: 0o600 });
    spec = await writeSpec(ws, {
      version: 1,
      source: {
        ldap: { url: slapd.url, bindDN: slapd.bindDN, password: `\${file:${passwordFile}}`, baseDN: slapd.baseDN },
      },
      moodle: t.moodleSection(ws.dir, { password: '${env:L2M_CANARY_DB_PASSWORD}' }),
      users: await collegeUsers(),
    });
  }, 180_000);

  afterAll(async () => {
    await t?.drop();
    await ws?.remove();
    await slapd?.stop();
    if (passwordFile !== undefined) await rm(passwordFile, { force: true });
  });

  const env = { L2M_CANARY_DB_PASSWORD: CANARIES.databasePassword, L2M_PLAN_KEY: CANARIES.planKey };
  async function cli(...args: string[]): Promise<BinRun> {
    const run = await runBin(args, env);
    runs.push({ args, run });
    return run;
  }

  it('plan, apply and report print and write no canary', async () => {
    const metrics = ws.path('metrics.prom');
    const planFile = ws.path('site.plan');
    expect((await cli('plan', '--spec', spec)).code).toBe(0);
    expect((await cli('plan', '--spec', spec, '--json')).code).toBe(0);
    expect((await cli('plan', '--spec', spec, '--format', 'markdown')).code).toBe(0);
    expect((await cli('plan', '--spec', spec, '--verbose', '--log-format', 'json')).code).toBe(0);
    const saved = await cli('plan', '--spec', spec, '--out', planFile, '--metrics-file', metrics);
    expect(saved.code, saved.stderr).toBe(0);
    const applied = await cli('apply', '--spec', spec, planFile, '--metrics-file', metrics, '--verbose');
    expect(applied.code, applied.stderr).toBe(0);
    expect(applied.stdout).toContain('Apply complete');
    // The LDAP canary is the real bind password and the key really signed: the runs above used the secrets.
    const reports = ws.path('ldap2moodle.reports');
    expect((await cli('report', '--dir', reports, '--out', ws.path('page.html'))).code).toBe(0);
    expect((await cli('report', '--dir', reports, '--json')).code).toBe(0);
    expect((await cli('report', '--dir', reports, '--format', 'markdown')).code).toBe(0);

    const found: string[] = [];
    for (const { args, run } of runs) {
      found.push(
        ...leaks(`stdout of ${args.join(' ')}`, run.stdout),
        ...leaks(`stderr of ${args.join(' ')}`, run.stderr),
      );
    }
    const files = await filesUnder(ws.dir);
    // What the runs must have written: the state, the saved plan, run reports, metrics, the page.
    const names = files.map((f) => f.slice(ws.dir.length + 1));
    expect(names).toEqual(expect.arrayContaining(['ldap2moodle.state.json', 'site.plan', 'metrics.prom', 'page.html']));
    expect(names.filter((n) => n.startsWith('ldap2moodle.reports/')).length).toBeGreaterThanOrEqual(6);
    for (const file of files) found.push(...leaks(file, await readFile(file, 'latin1')));
    expect(found).toEqual([]);
  }, 240_000);
});
