import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { editorSchema } from '../../src/spec/editor-schema.js';
import { specSchema } from '../../src/spec/schema.js';

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
