/**
 * Saved plans end to end, through the CLI in-process, on every target: `plan --out FILE` then
 * `apply --spec S FILE` applies exactly that plan; it is refused (PLAN_STALE, nothing written) once the state,
 * a managed Moodle value, the spec or the tool version moved, and accepted when only activity times changed;
 * a damaged file is PLAN_INVALID; `--detailed-exitcode` and `show FILE` behave as Terraform's.
 *
 * One collège site per target, the tests in order: the first ones run on the fresh site (nothing applied),
 * the later ones on the site the earlier applies left, each edit of the LDIF giving the next plan its changes.
 */
import { createHash } from 'node:crypto';
import { appendFile, readFile, stat, writeFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PlanFile, PlanFileBody } from '../../src/plan/plan-file.js';
import { TOOL_VERSION } from '../../src/version.js';
import { dropStaleTestDatabases } from '../helpers/mariadb.js';
import { type CollegeSite, collegeSite, editEntry, replaceLine } from '../helpers/sdet-college.js';
import { type CliRun, stripAnsi, userErrorParagraph, withoutStageLines } from '../helpers/spec-files.js';
import { TARGETS } from '../helpers/targets.js';

beforeAll(async () => {
  await dropStaleTestDatabases();
});

/** Recomputed here as documented (sha256 of the JSON of everything but `integrity`), not imported. */
const integrityOf = (body: PlanFileBody): string =>
  `sha256:${createHash('sha256').update(JSON.stringify(body)).digest('hex')}`;

const readPlan = async (path: string): Promise<PlanFile> => JSON.parse(await readFile(path, 'utf8')) as PlanFile;

async function writePlanText(path: string, text: string): Promise<void> {
  await writeFile(path, text, { mode: 0o600 });
}

/** `file` with `edit` applied to its body; the integrity recomputed only when `reseal`. */
function edited(file: PlanFile, edit: (body: PlanFileBody) => PlanFileBody, reseal: boolean): PlanFile {
  const { integrity, ...body } = file;
  const next = edit(body);
  return { ...next, integrity: reseal ? integrityOf(next) : integrity };
}

/** The indented reason lines under the `Error [CODE]: …` paragraph. */
const reasonLines = (run: CliRun): string[] =>
  run.stderr
    .split('\n')
    .slice(1)
    .filter((l) => l !== '')
    .map((l) => l.trim());

const STALE_HEAD =
  /^the saved plan \(made [^)]+\) no longer applies: nothing was written; make a new one with `plan --out`$/;
const stateMoved = (from: number, to: number): string =>
  `the state moved from serial ${from} to ${to} (another apply ran since the plan)`;
const rowsChanged = (entity: string): string =>
  `Moodle's ${entity} rows changed since the plan (edited in Moodle, or by another tool)`;
const SPEC_CHANGED = 'the spec (or a file it extends, or a CSV file of its transcodings) changed since the plan';

describe.each(TARGETS)('saved plans on %s', (target) => {
  let s: CollegeSite;
  let n = 0;
  /** A new plan file path in the workspace. */
  const planPath = (): string => s.ws.path(`p${++n}.plan`);

  beforeAll(async () => {
    s = await collegeSite(target);
  });
  afterAll(async () => {
    await s?.remove();
  });

  /** Runs `argv` and asserts that neither Moodle's synced tables nor any state file changed. */
  async function writesNothing(argv: readonly string[]): Promise<CliRun> {
    const before = await s.written();
    const stateBefore = await s.stateFiles();
    const run = await s.cli(argv);
    expect(await s.written()).toEqual(before);
    expect(await s.stateFiles()).toEqual(stateBefore);
    return run;
  }

  async function expectStale(file: string, reasons: readonly string[]): Promise<void> {
    const run = await writesNothing(['apply', '--spec', s.specPath, file]);
    expect(userErrorParagraph(run, 'PLAN_STALE')).toMatch(STALE_HEAD);
    expect(reasonLines(run)).toEqual(reasons);
  }

  async function expectInvalid(file: string, why: string): Promise<void> {
    for (const argv of [
      ['apply', '--spec', s.specPath, file],
      ['show', file],
    ]) {
      const run = await writesNothing(argv);
      const message = userErrorParagraph(run, 'PLAN_INVALID');
      expect(message).toContain(`${file} is not a usable saved plan: `);
      expect(message).toContain(why);
      expect(message).toContain('Nothing was written');
    }
  }

  /** Saves a plan with `plan --out`; returns its path and what `plan` printed. */
  async function savePlan(): Promise<{ file: string; run: CliRun }> {
    const file = planPath();
    const run = await s.cli(['plan', '--spec', s.specPath, '--out', file]);
    expect(run.code, run.stderr).toBe(0);
    // The log, its stage lines and the plan's warnings aside: the note of where the plan is.
    const notes = withoutStageLines(run.stderr)
      .split(/(?<=\n)/)
      .filter((line) => !line.startsWith('Warning: '));
    expect(notes.join('')).toBe(
      `Saved the plan to ${file}. To apply exactly this plan: ldap2moodle apply --spec ${s.specPath} ${file}\n`,
    );
    return { file, run };
  }

  /** Changes the mail of `uid` in the LDIF, so that the next plan has one update. */
  async function editMail(uid: string, from: string, to: string): Promise<void> {
    await s.writeLdif(editEntry(await s.ldif(), uid, (b) => replaceLine(b, `mail: ${from}`, `mail: ${to}`)));
  }

  it('plan --detailed-exitcode: 2 when there are changes, 1 on an error, never 2 on an error', async () => {
    const changes = await s.cli(['plan', '--spec', s.specPath, '--detailed-exitcode']);
    expect(changes.code, changes.stderr).toBe(2);
    expect(changes.stdout).toMatch(/^Plan: \d+ to create\.$/m);

    const bad = await s.writeVariant('bad-template', undefined, {
      edits: [['{ENTEleveNivFormation|squish|first|map("levelNames")}', '{ENTEleveNivFormation|first|nosuchfilter}']],
    });
    const error = await s.cli(['plan', '--spec', bad, '--detailed-exitcode']);
    expect(error.code).toBe(1);
    expect(userErrorParagraph(error, 'SPEC_INVALID')).not.toBe('');
    // An error never leaves a plan file behind, either.
    const out = s.ws.path('bad.plan');
    const withOut = await s.cli(['plan', '--spec', bad, '--detailed-exitcode', '--out', out]);
    expect(withOut.code).toBe(1);
    await expect(stat(out)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('a plan file holds no secret the spec resolved', async () => {
    const fileSecret = `file-secret-${target}-7f3a91c2`;
    const envSecret = `env-secret-${target}-c4d2e8b1`;
    await writeFile(s.ws.path('deploy.token'), `${fileSecret}\n`);
    process.env.L2M_TEST_SECRET = envSecret;
    try {
      const edits: [string, string][] =
        // PostgreSQL trusts local connections here, so a password is accepted and ignored; MariaDB's root
        // has none and would refuse one, and the embedded Moodle has no password at all.
        target === 'postgres' ? [['driver: postgres\n', 'driver: postgres\n  password: ${env:L2M_TEST_SECRET}\n']] : [];
      const spec = await s.writeVariant('secret', undefined, {
        edits,
        // A command the spec passes a secret to, as a deployment hook would.
        append: [
          'postApply:',
          '  - run: [node, -e, "process.exit(0)", "${file:deploy.token}", "${env:L2M_TEST_SECRET}"]',
          '    when: always',
          '',
        ].join('\n'),
      });
      const file = s.ws.path('secret.plan');
      const run = await s.cli(['plan', '--spec', spec, '--out', file]);
      expect(run.code, run.stderr).toBe(0);
      const text = await readFile(file, 'utf8');
      expect(text).toContain('"fingerprints"'); // it is a plan file, with changes
      expect((await readPlan(file)).plan.changes.length).toBeGreaterThan(0);
      expect(text).not.toContain(fileSecret);
      expect(text).not.toContain(envSecret);
      // Nor any password of the environment's servers, nor a key named like one.
      for (const [name, value] of Object.entries(process.env)) {
        if (/^L2M_.*PASS/i.test(name) && value !== undefined && value !== '') expect(text).not.toContain(value);
      }
      expect(text).not.toMatch(/"password"\s*:/i);
    } finally {
      delete process.env.L2M_TEST_SECRET;
    }
  });

  it('a hand-edited, truncated or other-format plan file is PLAN_INVALID, for apply and show, nothing written', async () => {
    const { file } = await savePlan();
    const saved = await readPlan(file);
    const text = await readFile(file, 'utf8');

    // One value of one change's `after`, the integrity left as it was.
    const index = saved.plan.changes.findIndex((c) => c.entity === 'user' && typeof c.after.email === 'string');
    expect(index).toBeGreaterThanOrEqual(0);
    const tampered = s.ws.path('tampered.plan');
    await writePlanText(
      tampered,
      JSON.stringify(
        edited(
          saved,
          (body) => ({
            ...body,
            plan: {
              ...body.plan,
              changes: body.plan.changes.map((c, i) =>
                i === index ? { ...c, after: { ...c.after, email: 'attacker@evil.example' } } : c,
              ),
            },
          }),
          false,
        ),
      ),
    );
    await expectInvalid(tampered, 'its integrity digest does not match its content');

    const truncated = s.ws.path('truncated.plan');
    await writePlanText(truncated, text.slice(0, Math.floor(text.length / 2)));
    await expectInvalid(truncated, 'it is not JSON (');
    await expectInvalid(truncated, 'was it truncated?');

    // Another format, even correctly sealed, is refused for its format.
    const other = s.ws.path('other-format.plan');
    await writePlanText(other, JSON.stringify(edited(saved, (body) => ({ ...body, format_version: 99 }), true)));
    await expectInvalid(other, 'its format is version 99, this ldap2moodle reads version 2');

    const notPlan = s.ws.path('array.plan');
    await writePlanText(notPlan, '[1, 2]\n');
    await expectInvalid(notPlan, 'not a plan file');

    // The original, next to its damaged copies, is still a valid plan.
    expect((await s.cli(['show', file])).code).toBe(0);
  });

  it('show FILE prints the plan as plan printed it; show --json has the same changes', async () => {
    const { file, run } = await savePlan();
    const show = await writesNothing(['show', file]);
    expect(show.code, show.stderr).toBe(0);
    // The same warnings as plan logged, on stderr too.
    const warnings = run.stderr.split('\n').filter((line) => line.startsWith('Warning: '));
    expect(show.stderr).toBe(warnings.map((line) => `${line}\n`).join(''));
    const [planHeader, ...planBody] = stripAnsi(run.stdout).split('\n');
    const [showHeader, ...showBody] = stripAnsi(show.stdout).split('\n');
    expect(showBody).toEqual(planBody);
    expect(showHeader).toEqual(planHeader);

    const json = await s.cli(['show', file, '--json', '--no-redact']);
    expect(json.code, json.stderr).toBe(0);
    const shown = JSON.parse(json.stdout) as { changes: { address: string; action: string }[] };
    const planJson = await s.cli(['plan', '--spec', s.specPath, '--json', '--no-redact']);
    const planned = JSON.parse(planJson.stdout) as typeof shown;
    expect(shown.changes.length).toBeGreaterThan(0);
    expect(shown).toEqual(planned);
    expect(shown.changes.map((c) => `${c.action} ${c.address}`)).toEqual(
      (await readPlan(file)).plan.changes.map((c) => `${c.action} ${c.address}`),
    );
  });

  it('a plan saved by another tool version is PLAN_STALE, naming both versions', async () => {
    const { file } = await savePlan();
    const other = s.ws.path('other-version.plan');
    const otherVersion = `${TOOL_VERSION}-other.1`;
    await writePlanText(
      other,
      `${JSON.stringify(
        edited(
          await readPlan(file),
          (body) => ({ ...body, fingerprints: { ...body.fingerprints, tool_version: otherVersion } }),
          true,
        ),
      )}\n`,
    );
    // Sealed correctly: show accepts it, apply refuses it for its version only.
    expect((await s.cli(['show', other])).code).toBe(0);
    await expectStale(other, [`the plan was made by ldap2moodle ${otherVersion}, this is ${TOOL_VERSION}`]);
  });

  it('a plan is PLAN_STALE once the spec changed, even by a comment', async () => {
    const { file } = await savePlan();
    const original = await readFile(s.specPath);
    await appendFile(s.specPath, '# reviewed by the IT team\n');
    try {
      await expectStale(file, [SPEC_CHANGED]);
    } finally {
      await writeFile(s.specPath, original);
    }
    // The same bytes again: the plan applies again (checked by the next test with a fresh plan).
  });

  it('a plan is PLAN_STALE once a CSV file of its transcodings changed, the spec itself unchanged', async () => {
    const { file } = await savePlan();
    const levels = s.ws.path('levels.csv');
    const original = await readFile(levels);
    await appendFile(levels, '2NDE,Seconde\n');
    try {
      await expectStale(file, [SPEC_CHANGED]);
    } finally {
      await writeFile(levels, original);
    }
  });

  it('plan --out then apply FILE applies exactly the plan, as a plain apply would', async () => {
    const file = planPath();
    const json = await s.cli(['plan', '--spec', s.specPath, '--json', '--out', file]);
    expect(json.code, json.stderr).toBe(0);
    // stdout is the JSON plan alone; the "Saved the plan" line went to stderr.
    const printed = JSON.parse(json.stdout) as { changes: unknown[] };
    expect(printed.changes.length).toBe((await readPlan(file)).plan.changes.length);
    expect(json.stderr).toMatch(/^Saved the plan to /);
    expect((await stat(file)).mode & 0o777).toBe(0o600);

    const apply = await s.cli(['apply', '--spec', s.specPath, file]);
    expect(apply.code, apply.stderr).toBe(0);
    expect(apply.stdout).toMatch(
      /Apply complete: \d+ changes written in one transaction\. State: .+ \(serial 1\)\.\n$/,
    );
    expect((await s.state()).serial).toBe(1);
    await s.expectIntegrity();

    const again = await s.cli(['plan', '--spec', s.specPath, '--detailed-exitcode']);
    expect(again.code, again.stdout).toBe(0);
    expect(again.stdout).toContain('No changes. Moodle matches the spec.');

    // The same Moodle and the same state as a plain apply on another fresh site.
    const plain = await collegeSite(target);
    try {
      const run = await plain.cli(['apply', '--auto-approve', '--spec', plain.specPath]);
      expect(run.code, run.stderr).toBe(0);
      expect(await s.read()).toEqual(await plain.read());
      expect((await s.state()).objects).toEqual((await plain.state()).objects);
    } finally {
      await plain.remove();
    }

    // Applied once: the same file again is stale (the state moved), nothing written.
    await expectStale(file, [
      stateMoved(0, 1),
      ...(await readPlan(file)).plan.changes
        .map((c) => c.entity)
        .filter((e, i, all) => all.indexOf(e) === i)
        .map((e) => rowsChanged(e.replace('_', ' '))),
    ]);
  });

  it('a saved plan still applies after only activity times of a managed user changed in Moodle', async () => {
    await editMail('F4500111', 'eloise.martin-dubois@ent.example', 'eloise.md@ent.example');
    const { file } = await savePlan();
    expect((await readPlan(file)).plan.changes.map((c) => `${c.action} ${c.address}`)).toEqual([
      'update user["f4500111"]',
    ]);
    // A login, and a profile save that changed nothing managed (timemodified is read, but not a managed value).
    const changed = await s.t.execute(
      'UPDATE {user} SET lastaccess = ?, lastlogin = ?, currentlogin = ?, timemodified = ? WHERE username = ?',
      [1_900_000_000, 1_899_999_000, 1_900_000_000, 1_900_000_001, 'f4500122'],
    );
    expect(changed).toBe(1);
    // An account ldap2moodle has nothing to do with, created meanwhile (and edited), is not a reason either.
    const other = await s.t.insert('user', { auth: 'manual', confirmed: 1, mnethostid: 1, username: 'teacher.local' });
    const context = await s.t.insert('context', { contextlevel: 30, instanceid: other, depth: 2, path: null });
    await s.t.execute('UPDATE {context} SET path = ? WHERE id = ?', [`/1/${context}`, context]);
    await s.t.execute('UPDATE {user} SET city = ? WHERE id = ?', ['Orléans', other]);
    const apply = await s.cli(['apply', '--spec', s.specPath, file]);
    expect(apply.code, apply.stderr).toBe(0);
    expect((await s.state()).serial).toBe(2);
    const users = (await s.read()).users;
    expect(users.find((u) => u.username === 'f4500111')?.email).toBe('eloise.md@ent.example');
  });

  it('a saved plan is PLAN_STALE after another apply ran since, nothing written', async () => {
    await editMail('F4500122', 'noe.lefevre@ent.example', 'noe.l@ent.example');
    const { file } = await savePlan();
    const plain = await s.cli(['apply', '--auto-approve', '--spec', s.specPath]);
    expect(plain.code, plain.stderr).toBe(0);
    expect((await s.state()).serial).toBe(3);
    await expectStale(file, [stateMoved(2, 3), rowsChanged('user')]);
  });

  it('a saved plan is PLAN_STALE after a managed value was edited in Moodle by hand, nothing written', async () => {
    await editMail('F4500133', 'ines.dalmeida@ent.example', 'ines.da@ent.example');
    const { file } = await savePlan();

    const byHand = async (sql: string, params: readonly string[]) => expect(await s.t.execute(sql, params)).toBe(1);
    await byHand('UPDATE {user} SET email = ? WHERE username = ?', ['hand.edited@ent.example', 'f4500144']);
    await expectStale(file, [rowsChanged('user')]);
    await byHand('UPDATE {user} SET email = ? WHERE username = ?', ['francois.moreau@ent.example', 'f4500144']);

    await byHand('UPDATE {cohort} SET name = ? WHERE idnumber = ?', ['Renamed by hand', '0450001A-ELV']);
    await expectStale(file, [rowsChanged('cohort')]);
    await byHand('UPDATE {cohort} SET name = ? WHERE idnumber = ?', ['Élèves 0450001A', '0450001A-ELV']);

    // Both edits undone: Moodle is as the plan read it, and the plan applies.
    const apply = await s.cli(['apply', '--spec', s.specPath, file]);
    expect(apply.code, apply.stderr).toBe(0);
    expect((await s.state()).serial).toBe(4);
    const again = await s.cli(['plan', '--spec', s.specPath, '--detailed-exitcode']);
    expect(again.code, again.stdout).toBe(0);
  });

  it('with a plan key, a forged, unsigned or otherwise signed plan is PLAN_SIGNATURE; without one, apply warns', async () => {
    const key = 'k'.repeat(16) + createHash('sha256').update(target).digest('hex');
    const keyFile = s.ws.path('plan.key');
    await writeFile(keyFile, `${key}\n`, { mode: 0o600 });
    await editMail('F4500155', 'zoe.bernard@ent.example', 'zoe.b@ent.example');
    process.env.L2M_PLAN_KEY = key;
    try {
      const { file } = await savePlan();
      const saved = await readPlan(file);
      expect(saved.signature).toMatch(/^hmac-sha256:[0-9a-f]{64}$/);
      const { signature, ...unsignedPlan } = saved;

      // The attack of issue 28: an e-mail changed to an outside address, the unkeyed digest recomputed.
      const forged = s.ws.path('forged.plan');
      const forgedPlan = edited(
        unsignedPlan,
        (body) => ({
          ...body,
          plan: {
            ...body.plan,
            changes: body.plan.changes.map((c) => ({ ...c, after: { ...c.after, email: 'attacker@evil.example' } })),
          },
        }),
        true,
      );
      await writePlanText(forged, JSON.stringify({ ...forgedPlan, signature }));
      const forgedRun = await writesNothing(['apply', '--spec', s.specPath, forged]);
      expect(userErrorParagraph(forgedRun, 'PLAN_SIGNATURE')).toMatch(/does not match its content/);

      const unsigned = s.ws.path('unsigned.plan');
      await writePlanText(unsigned, JSON.stringify(unsignedPlan));
      const unsignedRun = await writesNothing(['apply', '--spec', s.specPath, unsigned]);
      expect(userErrorParagraph(unsignedRun, 'PLAN_SIGNATURE')).toMatch(/is not signed, and a plan key is configured/);

      process.env.L2M_PLAN_KEY = `${key}-other`;
      const otherKey = await writesNothing(['apply', '--spec', s.specPath, file]);
      expect(userErrorParagraph(otherKey, 'PLAN_SIGNATURE')).toMatch(/signed with another key/);

      process.env.L2M_PLAN_KEY = 'short';
      const short = await writesNothing(['apply', '--spec', s.specPath, file]);
      expect(userErrorParagraph(short, 'PLAN_SIGNATURE')).toMatch(/5 bytes long; use at least 32/);

      // The same key from a file (its final newline ignored) verifies the plan, and the apply says nothing more.
      delete process.env.L2M_PLAN_KEY;
      process.env.L2M_PLAN_KEY_FILE = keyFile;
      const apply = await s.cli(['apply', '--spec', s.specPath, file]);
      expect(apply.code, apply.stderr).toBe(0);
      expect(apply.stderr).not.toMatch(/Warning: no plan key/);
      expect((await s.state()).serial).toBe(5);
      expect(JSON.stringify(await readFile(file, 'utf8'))).not.toContain(key);
    } finally {
      delete process.env.L2M_PLAN_KEY;
      delete process.env.L2M_PLAN_KEY_FILE;
    }

    // No key: an unsigned plan applies, with a warning that its integrity was not protected.
    await editMail('F4500155', 'zoe.b@ent.example', 'zoe.bernard@ent.example');
    const { file } = await savePlan();
    expect((await readPlan(file)).signature).toBeUndefined();
    const apply = await s.cli(['apply', '--spec', s.specPath, file]);
    expect(apply.code, apply.stderr).toBe(0);
    expect(apply.stderr).toMatch(/^Warning: no plan key is configured \(L2M_PLAN_KEY or L2M_PLAN_KEY_FILE\)/m);
  });
});
