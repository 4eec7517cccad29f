/**
 * The CI and cron examples (examples/ci/) call the CLI with flags that must exist: every `npx ldap2moodle …`
 * command line they hold is parsed by the real command line (clipanion) without running it, so a renamed flag
 * breaks this test instead of a school's pipeline.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { buildCli } from '../../src/cli/main.js';

const EXAMPLES = ['github-actions.yml', 'gitlab-ci.yml', 'cron'] as const;
const read = (name: string): string => readFileSync(new URL(`../../examples/ci/${name}`, import.meta.url), 'utf8');

/** The arguments of each `npx ldap2moodle …` call, shell quoting and variables simplified. */
function invocations(text: string): string[][] {
  const calls: string[][] = [];
  for (const match of text.matchAll(/npx ldap2moodle ([^\n|>&;]+)/g)) {
    const words = (match[1] as string)
      .trim()
      .split(/\s+/)
      .map((w) => w.replace(/^"|"$/g, '').replace(/^\$\{?[A-Z_]+\}?$/, 'site.yaml'));
    calls.push(words);
  }
  return calls;
}

describe('examples/ci', () => {
  it('the workflow files are YAML', () => {
    expect(parse(read('github-actions.yml'))).toHaveProperty('jobs.apply');
    expect(parse(read('gitlab-ci.yml'))).toHaveProperty('apply.script');
  });

  for (const name of EXAMPLES) {
    it(`${name}: every ldap2moodle command line is one the CLI accepts`, () => {
      const calls = invocations(read(name));
      expect(calls.length).toBeGreaterThan(0);
      const cli = buildCli();
      for (const argv of calls) {
        expect(() => cli.process(argv), argv.join(' ')).not.toThrow();
      }
    });
  }

  it('a mistyped flag is refused, so the check above can fail', () => {
    expect(() => buildCli().process(['plan', '--spec', 'site.yaml', '--detailed-exit-code'])).toThrow();
  });
});
