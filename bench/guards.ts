/**
 * The removal guards' measurement (on demand, not a test): `npx tsx bench/guards.ts [people] [--establishments E]`
 * (default 10000). Generates a directory (seed 42), applies it whole into a fresh Moodle 4.5 in the local
 * MariaDB with the collège job of bench/scale.ts (every entity), then plans, from that same day 1, each of:
 *
 * - an ordinary day: the generator's churn at 1% and at 5% of the people (src/generate/churn.ts);
 * - a broken source: one establishment's people gone (students, teachers and staff attached to it, and the
 *   parents of its students alone), and half of the people gone (every other entry).
 *
 * For each, per entity with a removal guard: the removals the plan would make, what it manages, the share, and
 * the verdict of the default limits. These figures are where the defaults of src/entities/catalog.ts come from
 * (README, "Removal guards").
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CATALOG } from '../src/entities/catalog.js';
import { churnDirectory } from '../src/generate/churn.js';
import { directoryLdif, generateDirectory } from '../src/generate/generate.js';
import type { Directory } from '../src/generate/model.js';
import { applySpec, planSpec } from '../src/index.js';
import type { EntityType } from '../src/model/change.js';
import { removalCounts } from '../src/plan/guards.js';
import { loadSpec } from '../src/spec/load.js';
import { halfTheDirectory, SDET_JOB, withoutEstablishment } from '../test/helpers/broken-directory.js';
import { createMoodleDatabase, dropStaleTestDatabases } from '../test/helpers/mariadb.js';
import { moodleSection, writeSpec } from '../test/helpers/spec-files.js';

async function main(argv: readonly string[]): Promise<void> {
  const people = Number(argv.find((a) => /^\d+$/.test(a)) ?? 10000);
  const e = argv.indexOf('--establishments');
  const establishments = e >= 0 ? Number(argv[e + 1]) : undefined;
  await dropStaleTestDatabases();
  const dir = await mkdtemp(join(tmpdir(), 'ldap2moodle-guards-'));
  const moodle = await createMoodleDatabase();
  try {
    const day1 = generateDirectory({ seed: 42, people, ...(establishments === undefined ? {} : { establishments }) });
    const ldif = join(dir, 'directory.ldif');
    const specPath = await writeSpec(
      { dir, path: (name) => join(dir, name), remove: async () => {} },
      { version: 1, source: { ldif }, moodle: moodleSection(moodle.options), ...SDET_JOB },
    );
    await writeFile(ldif, directoryLdif(day1));
    const loaded = await loadSpec(specPath);
    const first = await applySpec(loaded);
    process.stdout.write(
      `${people} people, ${day1.establishments.length} establishments: day 1 applied, ${first.planned.plan.changes.length} changes\n`,
    );
    const scenarios: [string, Directory][] = [
      ['churn 1%', churnDirectory(day1, { seed: 7, share: 0.01 }).directory],
      ['churn 5%', churnDirectory(day1, { seed: 7, share: 0.05 }).directory],
      ...day1.establishments.map((etab, i): [string, Directory] => [
        `lost ${etab.kind} ${etab.uai}`,
        withoutEstablishment(day1, i),
      ]),
      ['half the people', halfTheDirectory(day1)],
    ];
    for (const [name, next] of scenarios) {
      await writeFile(ldif, directoryLdif(next));
      const planned = await planSpec(await loadSpec(specPath), {});
      const counts = removalCounts(planned.plan, planned.state.objects);
      const cells = counts
        .filter((c) => c.removals > 0)
        .map(
          (c) =>
            `${c.entity} ${c.removals}/${c.managed} (${((100 * c.removals) / Math.max(c.managed, 1)).toFixed(1)}%)`,
        );
      const refused = planned.plan.guards?.violations.map((v) => v.entity ?? v.code) ?? [];
      process.stdout.write(
        `\n${name} (${next.people.length} people): ${cells.join(', ') || 'no removals'}\n` +
          `  default limits: ${refused.length === 0 ? 'accepted' : `refused (${refused.join(', ')})`}\n`,
      );
    }
    const entities = Object.keys(CATALOG) as EntityType[];
    process.stdout.write(
      `\nentities with a removal guard: ${entities.filter((x) => CATALOG[x].removals).join(', ')}\n`,
    );
  } finally {
    await moodle.drop();
    await rm(dir, { recursive: true, force: true });
  }
}

await main(process.argv.slice(2));
