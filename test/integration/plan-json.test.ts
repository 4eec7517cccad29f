/**
 * The JSON plan (`plan --json`, `show FILE --json`) against its published schema, schemas/plan.schema.json:
 * the collège's first plan (creates) and a second one with updates and deletes, on the first target.
 */
import { readFileSync } from 'node:fs';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { afterAll, describe, expect, it } from 'vitest';
import { planJsonSchema } from '../../src/render/plan-schema.js';
import { type CollegeSite, classLine, collegeSite, editEntry, replaceLine } from '../helpers/sdet-college.js';
import { TARGETS } from '../helpers/targets.js';

const TARGET = TARGETS[0] ?? 'embedded';
// Strict, but union types (`["string", "number"]`) are how the schema says "a value".
const validate = new Ajv2020({ strict: true, allErrors: true, allowUnionTypes: true }).compile(planJsonSchema);

const valid = (text: string): Record<string, unknown> => {
  const document = JSON.parse(text) as Record<string, unknown>;
  const ok = validate(document);
  expect(validate.errors ?? []).toEqual([]);
  expect(ok).toBe(true);
  return document;
};

describe(`the JSON plan and its schema (on ${TARGET})`, () => {
  const sites: CollegeSite[] = [];
  afterAll(async () => {
    for (const site of sites) await site.remove();
  });

  it('schemas/plan.schema.json is the schema literal of src/render/plan-schema.ts (npm run schema)', () => {
    const committed = readFileSync(new URL('../../schemas/plan.schema.json', import.meta.url), 'utf8');
    expect(committed).toBe(`${JSON.stringify(planJsonSchema, null, 2)}\n`);
  });

  it('a first plan and a plan of updates and deletes are valid, and say what they change', async () => {
    const site = await collegeSite(TARGET);
    sites.push(site);
    const first = await site.cli(['plan', '--spec', site.specPath, '--json']);
    expect(first.code).toBe(0);
    const created = valid(first.stdout);
    expect(created.summary).toMatchObject({ create: 187, update: 0, delete: 0 });
    expect(created.purge_needed).toBe(true);
    const changes = created.changes as { address: string; refs?: Record<string, string> }[];
    expect(changes.find((c) => c.address === 'cohort["0450001A-6EME1"]')?.refs).toEqual({
      category: 'category["0450001A"]',
    });

    expect((await site.cli(['apply', '--spec', site.specPath, '--auto-approve'])).code).toBe(0);
    const moved = editEntry(await site.ldif(), 'F4500111', (block) =>
      replaceLine(block, classLine('6EME1'), classLine('6EME2')),
    );
    await site.writeLdif(moved);
    const second = await site.cli(['plan', '--spec', site.specPath, '--json']);
    const updated = valid(second.stdout);
    // The membership, the two class courses' cohort enrolments and the school-life class group move.
    expect(updated.summary).toMatchObject({ create: 4, update: 1, delete: 4 });
    expect(updated.purge_needed).toBe(false);
    expect(invalidWithout(updated, 'changes')).toBe(false);
  });
});

/** The schema is not vacuous: the same document without a required key fails it. */
function invalidWithout(document: Record<string, unknown>, key: string): boolean {
  const { [key]: _, ...rest } = document;
  return validate(rest);
}
