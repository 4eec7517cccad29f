/**
 * The README's library example is real code: its TypeScript block (after the `library-example` marker) is
 * written to a module importing the project's own src/index.ts instead of the published package, then run on
 * the collège example against an embedded Moodle: plan, save, review, apply, and the state it leaves.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { collegeSite } from '../helpers/sdet-college.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** The code block that follows the marker in the README. */
async function readmeExample(): Promise<string> {
  const readme = await readFile(join(ROOT, 'README.md'), 'utf8');
  const marker = readme.indexOf('<!-- library-example');
  expect(marker, 'the README has a library-example block').toBeGreaterThan(0);
  const block = /```ts\n([\s\S]*?)```/.exec(readme.slice(marker));
  if (block?.[1] === undefined) throw new Error('no ```ts block after the library-example marker');
  return block[1];
}

interface ExampleModule {
  planReviewApply(specPath: string, planPath: string): Promise<{ review: string; changes: number; serial: number }>;
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

describe('the README’s library example', () => {
  it('plans, saves, reviews (redacted Markdown) and applies the collège from code', async () => {
    const code = (await readmeExample()).replace(
      /from 'ldap2moodle';/,
      `from ${JSON.stringify(pathToFileURL(join(ROOT, 'src/index.ts')).href)};`,
    );
    expect(code).toContain('src/index.ts');
    // Inside the project, so that the test runner compiles it like any of its modules.
    const dir = await mkdtemp(join(ROOT, 'test', '.library-example-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const module = join(dir, 'example.ts');
    await writeFile(module, code);
    const example = (await import(pathToFileURL(module).href)) as ExampleModule;

    const site = await collegeSite('embedded');
    cleanups.push(() => site.remove());
    const result = await example.planReviewApply(site.specPath, join(dir, 'site.plan'));

    expect(result.changes).toBeGreaterThan(100);
    expect(result.serial).toBe(1);
    expect(result.review).toMatch(/^#+ .*[Pp]lan/m);
    // Redacted: the collège's usernames appear only as pseudonyms.
    expect(result.review).not.toMatch(/f45001\w\w/i);
    // Applied exactly: the next plan has nothing to do.
    expect((await site.plan()).plan.changes).toEqual([]);
  });
});
