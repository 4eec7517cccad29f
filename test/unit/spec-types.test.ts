import { describe, expect, it } from 'vitest';
import type { Spec, SpecInput } from '../../src/spec/schema.js';

// Type-level guard: if json-schema-to-ts ever silently falls back to `unknown`, these lines stop compiling
// and `tsc --noEmit` fails in CI.
describe('spec types', () => {
  it('are derived from the schema', () => {
    const input: SpecInput = {
      version: 1,
      source: { ldif: 'x.ldif' },
      moodle: { driver: 'mariadb', database: 'moodle' },
      users: {
        search: { base: 'ou=people' },
        auth: 'cas',
        fields: { username: '{uid}', firstname: 'a', lastname: 'b' },
      },
    };
    // @ts-expect-error version must be the literal 1
    const bad: SpecInput = { ...input, version: 2 };
    const full = null as unknown as Spec;
    // @ts-expect-error onRemoved is required once defaults are applied
    const removed: undefined = full?.users.onRemoved;
    expect(input.version).toBe(1);
    expect(bad).toBeDefined();
    expect(removed).toBeUndefined();
  });
});
