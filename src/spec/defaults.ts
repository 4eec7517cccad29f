/**
 * Fills in the schema's `default`s: one explicit pass instead of ajv's `useDefaults`, driven by the schema
 * literal so a new default needs no code. Only objects that are present get defaults; an absent optional
 * object (`tls`, `state`) stays absent unless the schema gives the object itself a default.
 */
import type { Spec, SpecInput } from './schema.js';
import { specSchema } from './schema.js';

type Json = Record<string, unknown>;

/** Returns a new spec with defaults applied; `input` (already validated) is not modified. */
export function applyDefaults(input: SpecInput): Spec {
  // The cast is what the schema walk guarantees: every defaulted property is now present.
  return withDefaults(specSchema, input) as Spec;
}

function withDefaults(schema: unknown, value: unknown): unknown {
  const s = asObject(schema);
  if (Array.isArray(value)) return value.map((item) => withDefaults(s.items, item));
  if (value === null || typeof value !== 'object') return value;
  const properties = asObject(s.properties);
  const out: Json = {};
  for (const [key, item] of Object.entries(value)) {
    out[key] = withDefaults(Object.hasOwn(properties, key) ? properties[key] : s.additionalProperties, item);
  }
  for (const [key, propertySchema] of Object.entries(properties)) {
    const defaultValue = asObject(propertySchema).default;
    if (Object.hasOwn(out, key) || defaultValue === undefined) continue;
    // A defaulted object gets its own properties' defaults too.
    out[key] = withDefaults(propertySchema, structuredClone(defaultValue));
  }
  return out;
}

function asObject(value: unknown): Json {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Json) : {};
}
