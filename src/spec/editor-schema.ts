/**
 * The schema published for editors (`schemas/ldap2moodle.schema.json`), generated from the tool's own
 * (schema.ts) so that the two never disagree on a key, a type or a form.
 *
 * An editor sees one file at a time, while the tool validates the spec once its bases (`extends`) are merged
 * in. A file that extends may give part of a rule (`classSubject: { enabled: true }`), and a preset or shared
 * fragment is not a whole spec on its own: in those files the keys that are only required of the merged whole
 * are optional. A complete spec (it has `version` and extends nothing) is held to every required key, as the
 * tool holds the merged spec. Unknown keys, types, enums and forms are checked the same way everywhere.
 */
import { specSchema } from './schema.js';

type JsonObject = { readonly [key: string]: unknown };

const isObject = (value: unknown): value is JsonObject =>
  value !== null && typeof value === 'object' && !Array.isArray(value);

/** Keywords whose value is a map of names to schemas. */
const SCHEMA_MAPS = new Set(['properties', 'patternProperties', '$defs']);
/** Keywords whose value is a schema. */
const SCHEMA_VALUES = new Set(['additionalProperties', 'items', 'propertyNames', 'not', 'if', 'then', 'else']);
/** Keywords whose value is a list of schemas. */
const SCHEMA_LISTS = new Set(['oneOf', 'anyOf', 'allOf', 'prefixItems']);

/** A copy of `schema` without any `required` (other constraints kept), walking only schema keywords. */
export function withoutRequired(schema: unknown): unknown {
  if (!isObject(schema)) return schema;
  const out: Record<string, unknown> = {};
  for (const [keyword, value] of Object.entries(schema)) {
    if (keyword === 'required') continue;
    if (SCHEMA_MAPS.has(keyword) && isObject(value)) {
      out[keyword] = Object.fromEntries(Object.entries(value).map(([name, child]) => [name, withoutRequired(child)]));
    } else if (SCHEMA_VALUES.has(keyword)) {
      out[keyword] = withoutRequired(value);
    } else if (SCHEMA_LISTS.has(keyword) && Array.isArray(value)) {
      out[keyword] = value.map(withoutRequired);
    } else {
      out[keyword] = value;
    }
  }
  return out;
}

const { $schema, $id, title, description, ...body } = specSchema;

/** The published schema: strict for a complete spec, required keys relaxed for files that extend and fragments. */
export const editorSchema = {
  $schema,
  $id,
  title,
  description:
    `${description} For editors: a file that \`extends\` others, or a fragment without \`version\` (a preset), ` +
    'may leave keys to its bases, so the keys only required of the merged spec are optional there; a complete ' +
    'spec (`version`, no `extends`) must give them all. `ldap2moodle validate` checks the merged spec in full.',
  $defs: {
    spec: body,
    fragment: withoutRequired(body),
  },
  if: { type: 'object', required: ['version'], not: { required: ['extends'] } },
  // biome-ignore lint/suspicious/noThenProperty: the JSON Schema keyword (this object is data, never awaited)
  then: { $ref: '#/$defs/spec' },
  else: { $ref: '#/$defs/fragment' },
} as const;
