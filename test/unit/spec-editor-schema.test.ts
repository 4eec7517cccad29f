import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

// What an editor sees: the published schema, compiled by a stock ajv (no option but allErrors, no help from
// the tool), against the files we ship as they stand.
const root = fileURLToPath(new URL('../../', import.meta.url));
const schemaFile = join(root, 'schemas/ldap2moodle.schema.json');
const published: unknown = JSON.parse(readFileSync(schemaFile, 'utf8'));
const validate = new Ajv2020({ allErrors: true }).compile(published as object);

const yamlFiles = (dir: string): string[] =>
  readdirSync(join(root, dir), { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.yaml'))
    .map((f) => join(dir, f));

const shipped = [...yamlFiles('examples'), ...yamlFiles('presets')];
// The `if` wrapper's own "must match then/else schema" only repeats the errors below it.
const errorsOf = (data: unknown): string[] =>
  validate(data)
    ? []
    : (validate.errors ?? [])
        .filter((e) => e.keyword !== 'if')
        .map((e) => `${e.instancePath} ${e.message ?? e.keyword}`);
const read = (file: string): unknown => parse(readFileSync(join(root, file), 'utf8'));

describe('the published schema in an editor', () => {
  it('finds the shipped specs and presets', () => {
    expect(shipped).toContain('examples/college/ldap2moodle.yaml');
    expect(shipped).toContain('presets/sdet.yaml');
  });

  it.each(shipped)('accepts %s as it stands', (file) => {
    expect(errorsOf(read(file))).toEqual([]);
  });

  it.each(yamlFiles('examples'))('%s names the schema for yaml-language-server, at a path that exists', (file) => {
    const line = readFileSync(join(root, file), 'utf8')
      .split('\n')
      .find((l) => l.startsWith('# yaml-language-server: $schema='));
    expect(line).toBeDefined();
    const target = resolve(dirname(join(root, file)), (line ?? '').split('$schema=')[1] ?? '');
    expect(relative(root, target)).toBe('schemas/ldap2moodle.schema.json');
  });

  it('still finds mistakes in a file that extends: unknown keys, wrong types and forms', () => {
    const college = read('examples/college/ldap2moodle.yaml') as Record<string, unknown>;
    const broken = {
      ...college,
      establishments: ['045001A'],
      courses: { rules: { classSubject: { enabled: 'yes', shortnme: '{$code}' } } },
    };
    expect(errorsOf(broken)).toEqual([
      '/establishments/0 must match pattern "^\\s*[0-9]{7}[A-Za-z]\\s*$"',
      '/courses/rules/classSubject must NOT have additional properties',
      '/courses/rules/classSubject/enabled must be boolean',
    ]);
  });

  it('holds a complete spec (version, no extends) to every required key', () => {
    const spec = { version: 1, source: { ldif: 'x.ldif' }, moodle: { driver: 'embedded' }, users: { auth: 'cas' } };
    expect(errorsOf(spec)).toEqual(["/users must have required property 'fields'"]);
  });
});
