/**
 * The JSON Schema of the machine-readable plan (`plan --json`, `show FILE --json`), published as
 * `schemas/plan.schema.json` (`npm run schema`). Consumers check `format_version`; a field is added in a minor
 * format version, removed or changed only in a major one.
 */
import type { JSONSchema } from 'json-schema-to-ts';
import { ENTITY_ORDER } from '../entities/catalog.js';
import { ACTION_ORDER } from '../model/change.js';

const fields = {
  type: 'object',
  description: 'Managed values: Moodle column (or, for members, cohort/user keys) → value.',
  additionalProperties: { type: ['string', 'number'] },
} as const;

export const planJsonSchema = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  $id: 'urn:ldap2moodle:plan:0.2',
  title: 'ldap2moodle plan (JSON)',
  description: 'What an apply would change in Moodle, as printed by `ldap2moodle plan --json`.',
  type: 'object',
  additionalProperties: false,
  required: [
    'format_version',
    'tool_version',
    'source',
    'target',
    'summary',
    'changes',
    'skipped',
    'warnings',
    'purge_needed',
    'refused',
  ],
  properties: {
    format_version: { const: '0.2' },
    tool_version: { type: 'string' },
    source: { type: 'string', description: 'The directory read (no credentials).' },
    target: { type: 'string', description: 'The Moodle database and release (no credentials).' },
    state: { type: 'string', description: 'The state file the plan was made against.' },
    summary: {
      type: 'object',
      additionalProperties: false,
      required: [...ACTION_ORDER],
      properties: Object.fromEntries(ACTION_ORDER.map((a) => [a, { type: 'integer', minimum: 0 }])),
    },
    changes: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['address', 'type', 'action', 'moodle_id', 'dn', 'before', 'after', 'reason'],
        properties: {
          address: { type: 'string', description: 'Terraform-style address: `cohort["0450001A-3EME1"]`.' },
          type: { enum: [...ENTITY_ORDER] },
          action: { enum: [...ACTION_ORDER] },
          moodle_id: { type: ['integer', 'null'], description: 'Row id of an existing object.' },
          dn: { type: ['string', 'null'], description: 'Directory entry the object comes from.' },
          before: { oneOf: [fields, { type: 'null' }] },
          after: fields,
          refs: {
            type: 'object',
            description: 'Objects this one points at (a cohort’s category, a member’s cohort and user), by address.',
            additionalProperties: { type: 'string' },
          },
          reason: { type: 'string' },
        },
      },
    },
    skipped: {
      type: 'array',
      description: 'Directory entries or values left out, with the reason.',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['entity', 'dn', 'reason'],
        properties: {
          entity: { enum: [...ENTITY_ORDER] },
          dn: { type: 'string' },
          reason: { type: 'string' },
          kind: { const: 'data', description: 'A data problem (onDataError), not an invalid entry.' },
        },
      },
    },
    warnings: { type: 'array', items: { type: 'string' } },
    purge_needed: {
      type: 'boolean',
      description: "True when the apply writes rows Moodle's caches do not see until purged (categories).",
    },
    refused: {
      type: 'boolean',
      description: 'True when safety guards refuse the plan (`guards.violations`): shown, never applied as it is.',
    },
    guards: {
      type: 'object',
      additionalProperties: false,
      required: ['allow_removals', 'allow_empty_source', 'violations'],
      description: 'The safety guards: the allowance the plan was made with, and every guard it trips.',
      properties: {
        allow_removals: {
          type: ['string', 'null'],
          description: 'The `--allow-removals` value the plan was made with (`users=200,cohort_enrolments=2000`).',
        },
        allow_empty_source: { type: 'boolean' },
        violations: {
          type: 'array',
          items: {
            type: 'object',
            additionalProperties: false,
            required: ['code', 'removals', 'managed', 'message', 'allow'],
            properties: {
              code: { type: 'string', description: '`GUARD_<ENTITY>_REMOVALS` or `GUARD_EMPTY_SOURCE`.' },
              entity: { enum: [...ENTITY_ORDER] },
              removals: { type: 'integer', minimum: 0 },
              managed: { type: 'integer', minimum: 0 },
              limit: {
                type: 'object',
                additionalProperties: false,
                required: ['count', 'percent'],
                properties: { count: { type: 'integer', minimum: 0 }, percent: { type: 'number', minimum: 0 } },
              },
              allowed: { type: 'integer', minimum: 0, description: 'An allowance given, too small.' },
              message: { type: 'string' },
              allow: { type: 'string', description: 'The option that allows it for one run.' },
            },
          },
        },
      },
    },
  },
} as const satisfies JSONSchema;
