/**
 * The removal guards on a generated directory with every entity (the collège job of bench/scale.ts), on every
 * target: ordinary days (the generator's churn at 1% and 5%) apply without any flag; a source that lost an
 * establishment, or half of its people, is refused with every guard it trips at once, each with its own code
 * and figures, the plan still printed and saved marked refused; per-entity allowances let it through, including
 * through a saved plan, which records the allowance it was made with.
 *
 * 2,000 people over 6 establishments: an establishment is about a sixth of the people, as at 10,000 people
 * with the generator's default of one establishment per 1,700 (README, "Safety guards").
 */
import { writeFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { churnDirectory } from '../../src/generate/churn.js';
import { directoryLdif, generateDirectory } from '../../src/generate/generate.js';
import type { Directory } from '../../src/generate/model.js';
import type { ApplyOptions, PlanOptions, PlanResult } from '../../src/index.js';
import { applySpec, planSpec, writes } from '../../src/index.js';
import { loadSpec } from '../../src/spec/load.js';
import { afterApply, runCliWithInput } from '../helpers/apply-specs.js';
import { halfTheDirectory, SDET_JOB, withoutEstablishment } from '../helpers/broken-directory.js';
import { dropStaleTestDatabases } from '../helpers/mariadb.js';
import { TOUCHED_TABLES, type Workspace, workspace, writeSpec } from '../helpers/spec-files.js';
import { createTarget, type Target, TARGETS } from '../helpers/targets.js';

beforeAll(async () => {
  await dropStaleTestDatabases();
});

interface JsonPlan {
  readonly refused: boolean;
  readonly guards: {
    readonly allow_removals: string | null;
    readonly violations: { code: string; removals: number; managed: number; allow: string }[];
  };
}

describe.each(TARGETS)('removal guards on %s', (target) => {
  let t: Target;
  let ws: Workspace;
  let specPath: string;
  let day: Directory;
  const ldif = () => ws.path('directory.ldif');
  const setDirectory = async (dir: Directory) => {
    day = dir;
    await writeFile(ldif(), directoryLdif(dir));
  };
  const plan = async (options: PlanOptions = {}): Promise<PlanResult> => {
    await t.release();
    return planSpec(await loadSpec(specPath), options);
  };
  const apply = async (options: ApplyOptions = {}) => {
    await t.release();
    const result = await applySpec(await loadSpec(specPath), options);
    if (result.applied) await afterApply(t);
    return result;
  };
  const cli = async (argv: readonly string[]) => {
    await t.release();
    const [command = '', ...rest] = argv;
    return runCliWithInput([command, ...(command === 'show' ? [] : ['--spec', specPath]), '--no-color', ...rest]);
  };
  const codes = (planned: PlanResult): string[] => planned.plan.guards?.violations.map((v) => v.code) ?? [];

  beforeAll(async () => {
    [t, ws] = await Promise.all([createTarget(target), workspace()]);
    specPath = await writeSpec(ws, {
      version: 1,
      source: { ldif: 'directory.ldif' },
      moodle: t.moodleSection(ws.dir),
      ...SDET_JOB,
    });
    await setDirectory(generateDirectory({ seed: 42, people: 2000, establishments: 6 }));
    expect((await apply()).applied).toBe(true);
  }, 300_000);
  afterAll(async () => {
    await t?.drop();
    await ws?.remove();
  });

  it('ordinary days apply without a flag: the generator churn at 1%, then at 5%', async () => {
    for (const share of [0.01, 0.05]) {
      await setDirectory(churnDirectory(day, { seed: 7, share }).directory);
      const result = await apply();
      expect(result.applied).toBe(true);
      const removals = result.planned.plan.changes.filter((c) => ['suspend', 'delete', 'release'].includes(c.action));
      expect(removals.length).toBeGreaterThan(0);
      expect(result.planned.plan.changes.some((c) => c.entity === 'user' && c.action === 'suspend')).toBe(true);
      expect(codes(result.planned)).toEqual([]);
    }
  }, 300_000);

  it('half the directory gone: refused by the library, every guard listed, nothing written', async () => {
    const before = await t.checksums(TOUCHED_TABLES);
    const current = day;
    await setDirectory(halfTheDirectory(current));
    const planned = await plan();
    expect(codes(planned)).toContain('GUARD_USERS_REMOVALS');
    expect(codes(planned).length).toBeGreaterThan(1);
    const error = await apply().then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toMatchObject({ code: 'PLAN_REFUSED' });
    expect(await t.checksums(TOUCHED_TABLES)).toEqual(before);
    await setDirectory(current);
  }, 300_000);

  it('a lost establishment: every guard at once with the plan shown and saved refused; per-entity allowances, through a saved plan', async () => {
    const before = await t.checksums(TOUCHED_TABLES);
    await setDirectory(withoutEstablishment(day, 0));

    // All violations at once, the plan printed (JSON, refused) and saved marked refused.
    const refused = await cli(['plan', '--json', '--out', ws.path('refused.plan')]);
    expect(refused.code).toBe(4);
    const shown = JSON.parse(refused.stdout) as JsonPlan;
    expect(shown.refused).toBe(true);
    const found = shown.guards.violations.map((v) => v.code);
    expect(found).toContain('GUARD_USERS_REMOVALS');
    expect(found.length).toBeGreaterThan(1);
    for (const v of shown.guards.violations) expect(v.removals).toBeGreaterThan(v.managed * 0.02);
    expect(refused.stderr).toMatch(/^Error \[PLAN_REFUSED\]: the plan is refused by \d+ safety guards/m);
    for (const code of found) expect(refused.stderr).toContain(`[${code}] the plan would`);
    const lift = /run again with --allow-removals (\S+)/.exec(refused.stderr)?.[1];
    expect(lift).toMatch(/^users=\d+(,[a-z_]+=\d+)+$/);

    const human = await cli(['show', ws.path('refused.plan')]);
    expect(human.code).toBe(0);
    expect(human.stdout).toContain(`REFUSED by ${found.length} safety guards`);
    expect(human.stdout).toContain('[GUARD_USERS_REMOVALS]');
    const markdown = await cli(['show', ws.path('refused.plan'), '--format', 'markdown']);
    expect(markdown.stdout).toMatch(/^### ldap2moodle — ⛔ REFUSED — Plan: /);

    // A refused saved plan is not applied.
    const applyRefused = await cli(['apply', ws.path('refused.plan')]);
    expect(applyRefused.code).toBe(4);
    expect(applyRefused.stderr).toContain('Error [PLAN_REFUSED]');
    expect(applyRefused.stdout).toContain('REFUSED by');
    expect(await t.checksums(TOUCHED_TABLES)).toEqual(before);

    // Allowing the users alone leaves the other guards: the users' is gone from the list.
    const users = shown.guards.violations.find((v) => v.code === 'GUARD_USERS_REMOVALS')?.removals;
    const partial = await cli(['plan', '--json', '--allow-removals', `users=${users}`]);
    expect(partial.code).toBe(4);
    const partialPlan = JSON.parse(partial.stdout) as JsonPlan;
    expect(partialPlan.guards.allow_removals).toBe(`users=${users}`);
    expect(partialPlan.guards.violations.map((v) => v.code)).toEqual(found.filter((c) => c !== 'GUARD_USERS_REMOVALS'));
    // One short of what the users need: still refused, saying so.
    const short = await cli(['plan', '--allow-removals', `users=${(users ?? 0) - 1}`]);
    expect(short.stderr).toContain(`more than the ${(users ?? 0) - 1} allowed by --allow-removals`);

    // The allowance the refusal names, saved with the plan: `apply FILE` honours it without any flag.
    const allowed = await cli(['plan', '--allow-removals', lift ?? '', '--out', ws.path('allowed.plan')]);
    expect(allowed.code).toBe(0);
    expect(allowed.stdout).not.toContain('REFUSED');
    const applied = await cli(['apply', ws.path('allowed.plan')]);
    expect(applied.stderr).not.toContain('Error');
    expect(applied.code).toBe(0);
    await afterApply(t);
    expect(await t.checksums(TOUCHED_TABLES)).not.toEqual(before);
    // Converged: nothing left to write (the lost establishment's empty structure holds a few objects, as it should).
    expect((await plan()).plan.changes.filter(writes)).toEqual([]);
  }, 300_000);

  it('an unknown entity in --allow-removals is an error naming the entities', async () => {
    const run = await cli(['plan', '--allow-removals', 'users=3,userz=4']);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('Error [OPTION_INVALID]: --allow-removals users=3,userz=4: "userz" is not an entity');
    expect(run.stderr).toContain('cohort_enrolments');
  });
});
