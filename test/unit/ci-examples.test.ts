/**
 * The CI, cron and systemd examples (examples/ci/) call the CLI with flags that must exist: every
 * `ldap2moodle <command> …` line they hold is parsed by the real command line (clipanion) without running it, so
 * a renamed flag breaks this test instead of a school's pipeline. And none of them fetches the tool by its bare
 * name from a public registry, where anyone could publish it.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { buildCli } from '../../src/cli/main.js';

const EXAMPLES = ['github-actions.yml', 'gitlab-ci.yml', 'cron', 'ldap2moodle.service'] as const;
const read = (name: string): string => readFileSync(new URL(`../../examples/ci/${name}`, import.meta.url), 'utf8');

/** The arguments of each `ldap2moodle <command> …` call, shell quoting and variables simplified. */
function invocations(text: string): string[][] {
  const calls: string[][] = [];
  const commandLines = text.split('\n').filter((line) => !line.trimStart().startsWith('#'));
  for (const match of commandLines
    .join('\n')
    .matchAll(/(?:^|[\s/])ldap2moodle ((?:plan|apply|show|validate|state|force-unlock)\b[^\n|>&;}]*)/gm)) {
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

  for (const name of EXAMPLES) {
    it(`${name}: never fetches ldap2moodle by bare name (npm install or npx without --no)`, () => {
      const commandLines = read(name)
        .split('\n')
        .filter((line) => !line.trimStart().startsWith('#'));
      for (const line of commandLines) {
        expect(line).not.toMatch(/npx (?!--no )[^\n]*ldap2moodle/);
        expect(line).not.toMatch(/npm (?:install|i|exec)\b[^\n]*(?<![./\w-])ldap2moodle(?:@[\w.]+)?(?:\s|$)/);
      }
    });
  }

  it('a bare-name install is caught, so the check above can fail', () => {
    expect('    - npm install --no-save ldap2moodle').toMatch(
      /npm (?:install|i|exec)\b[^\n]*(?<![./\w-])ldap2moodle(?:@[\w.]+)?(?:\s|$)/,
    );
    expect('npx ldap2moodle plan').toMatch(/npx (?!--no )[^\n]*ldap2moodle/);
  });

  it('a mistyped flag is refused, so the check above can fail', () => {
    expect(() => buildCli().process(['plan', '--spec', 'site.yaml', '--detailed-exit-code'])).toThrow();
  });
});
