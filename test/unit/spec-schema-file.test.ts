import { readFileSync } from 'node:fs';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { describe, expect, it } from 'vitest';
import { compileTemplate, TEMPLATE_FILTERS } from '../../src/rules/template.js';
import { editorSchema } from '../../src/spec/editor-schema.js';
import { specSchema } from '../../src/spec/schema.js';
import { TEMPLATE_FILTER_DOCS } from '../../src/spec/template-docs.js';

// The published schema is generated (`npm run build && npm run schema`); this catches a forgotten regeneration.
describe('schemas/ldap2moodle.schema.json', () => {
  it('is the editor schema generated from src/spec/schema.ts', () => {
    const committed = readFileSync(new URL('../../schemas/ldap2moodle.schema.json', import.meta.url), 'utf8');
    expect(committed).toBe(`${JSON.stringify(editorSchema, null, 2)}\n`);
  });

  it('documents every key in docs/spec-reference.md', () => {
    const reference = readFileSync(new URL('../../docs/spec-reference.md', import.meta.url), 'utf8');
    const missing: string[] = [];
    const walk = (schema: unknown, path: string[]): void => {
      const properties = (schema as { properties?: Record<string, unknown> }).properties ?? {};
      for (const [name, child] of Object.entries(properties)) {
        const key = [...path, name].join('.');
        if (!reference.includes(`### \`${key}\``)) missing.push(key);
        walk(child, [...path, name]);
      }
    };
    walk(specSchema, []);
    expect(missing).toEqual([]);
  });
});

describe('docs/spec-reference.md: the fields inside rules', () => {
  const reference = readFileSync(new URL('../../docs/spec-reference.md', import.meta.url), 'utf8');

  it('documents the fields of every kind of rule, conditions, each and every filter', () => {
    for (const heading of [
      '### `categories.rules.<name>.idnumber`',
      '### `courses.rules.<name>.shortname`',
      '### `enrolments.cohorts.rules.<name>.cohort`',
      '### `roleAssignments.rules.<name>.context`',
      '### `profileFields.fields.<name>.value`',
      '### `users.profiles.<name>.when`',
      '## Templates',
      '## Conditions (`when`)',
      '### `when.linked.from`',
      '### `when.not`',
      '## `each`',
      '### `each.<name>.parts`',
    ]) {
      expect(reference).toContain(heading);
    }
    const undocumented = TEMPLATE_FILTERS.filter((name) => TEMPLATE_FILTER_DOCS[name] === undefined);
    expect(undocumented).toEqual([]);
  });

  it.each(Object.entries(TEMPLATE_FILTER_DOCS).filter(([, doc]) => doc.entry !== undefined))(
    'filter %s: its example gives what the reference says',
    (_, doc) => {
      const entry = { dn: 'uid=x,ou=people,dc=ent,dc=example', attributes: { ...doc.entry } };
      expect(compileTemplate(doc.template).evaluate(entry)).toEqual(doc.gives);
      expect(reference).toContain(`\`${doc.template.replaceAll('|', '\\|')}\``);
    },
  );

  it('every example in the schema is valid where it is given', () => {
    const ajv = new Ajv2020({ strict: true, allErrors: true });
    const invalid: string[] = [];
    const walk = (schema: unknown, path: string): void => {
      if (schema === null || typeof schema !== 'object') return;
      const node = schema as Record<string, unknown>;
      if (Array.isArray(node.examples)) {
        const { $schema: _, $id: __, ...body } = node;
        const validate = ajv.compile(body);
        for (const example of node.examples) {
          if (!validate(example))
            invalid.push(`${path}: ${JSON.stringify(example)} ${ajv.errorsText(validate.errors)}`);
        }
      }
      for (const [key, child] of Object.entries(node)) {
        if (key === 'examples' || key === 'default') continue;
        if (!Array.isArray(child)) walk(child, `${path}/${key}`);
        else for (const [i, c] of child.entries()) walk(c, `${path}/${key}/${i}`);
      }
    };
    walk(specSchema, '#');
    expect(invalid).toEqual([]);
  });
});
