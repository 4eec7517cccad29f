/**
 * The JSON Schema of a run report: what one `plan` or `apply` did, written after every run (refused and failed
 * ones too) next to the state, and read back by `ldap2moodle report` (the monitoring page, its JSON and
 * Markdown) and by other tools. Published as `schemas/run-report.schema.json` (`npm run schema`); consumers check
 * `format_version` (a field is added in a minor version, removed or changed only in a major one).
 *
 * The report holds DNs (skipped and held entries, as the state file holds usernames): it stays next to the
 * state, with the same access. Whatever leaves that place (the page, `report --format markdown`) is redacted
 * like the Markdown plan unless asked otherwise. It never holds a secret.
 */
import type { FromSchema, JSONSchema } from 'json-schema-to-ts';
import { STAGES } from '../observe/events.js';

const count = { type: 'integer', minimum: 0 } as const;
const milliseconds = { type: 'number', minimum: 0, description: 'Milliseconds.' } as const;

/** Changes per action of one entity; actions with none are absent. */
const actionCounts = {
  type: 'object',
  additionalProperties: false,
  properties: {
    create: count,
    adopt: count,
    update: count,
    unsuspend: count,
    suspend: count,
    release: count,
    delete: count,
    held: count,
    skipped: { ...count, description: 'Directory entries (or values) left out for this entity.' },
  },
} as const;

export const runReportSchema = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  $id: 'urn:ldap2moodle:run-report:1.0',
  title: 'ldap2moodle run report',
  description: 'What one `plan` or `apply` run did, written after every run, whatever its outcome.',
  type: 'object',
  additionalProperties: false,
  required: [
    'format_version',
    'run_id',
    'tool_version',
    'command',
    'started_at',
    'ended_at',
    'duration_ms',
    'spec',
    'stages',
    'searches',
    'moodle',
    'counts',
    'users',
    'skipped',
    'held',
    'guards',
    'warnings',
    'errors',
    'post_apply',
    'outcome',
    'exit_code',
  ],
  properties: {
    format_version: { const: '1.0' },
    run_id: { type: 'string', description: 'A UUID, unique to the run; also in the log lines of the run.' },
    tool_version: { type: 'string' },
    command: {
      enum: ['plan', 'apply'],
      description: '`apply` with a saved plan file is `apply` too (`plan_file` says which).',
    },
    plan_file: { type: 'string', description: 'The saved plan `apply FILE` applied.' },
    started_at: { type: 'string', format: 'date-time' },
    ended_at: { type: 'string', format: 'date-time' },
    duration_ms: milliseconds,
    spec: {
      type: 'object',
      additionalProperties: false,
      required: ['path', 'hash'],
      properties: {
        path: { type: 'string' },
        hash: { type: 'string', description: 'Digest of the spec as loaded (the state records the same).' },
      },
    },
    source: { type: 'string', description: 'The directory read (no credentials); absent when none was read.' },
    target: {
      type: 'string',
      description: 'The Moodle database (`mariadb://user@host:3306/moodle`, no password); absent when not reached.',
    },
    moodle_release: { type: 'string' },
    state: { type: 'string', description: 'The state file of the run.' },
    establishments: {
      type: 'array',
      items: { type: 'string' },
      description: 'The run was scoped to these establishments (`--establishment`).',
    },
    stages: {
      type: 'array',
      description: 'Each stage that ran, in the order it started (the two reads overlap).',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['stage', 'ms', 'ok'],
        properties: {
          stage: { enum: STAGES },
          ms: milliseconds,
          ok: { type: 'boolean', description: 'False when the stage ended by an error.' },
        },
      },
    },
    searches: {
      type: 'array',
      description: 'Each directory search, with the entries it returned.',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['base', 'scope', 'filter', 'entries', 'ms'],
        properties: {
          base: { type: 'string' },
          scope: { enum: ['base', 'one', 'sub'] },
          filter: { type: 'string' },
          entries: count,
          ms: milliseconds,
        },
      },
    },
    moodle: {
      type: 'object',
      additionalProperties: false,
      required: ['rows_read', 'statements', 'rows_written'],
      properties: {
        rows_read: { ...count, description: 'Rows the SELECTs returned.' },
        statements: { ...count, description: 'SQL statements sent, reads and writes.' },
        rows_written: { ...count, description: 'Rows inserted, updated or deleted.' },
      },
    },
    counts: {
      type: 'object',
      description: 'Per entity (plural name, as in the spec: users, cohort_members, …): changes per action.',
      additionalProperties: actionCounts,
    },
    users: {
      type: 'object',
      additionalProperties: false,
      required: ['desired', 'by_profile', 'by_establishment'],
      description: 'The users the directory asks for (empty when the run stopped before planning).',
      properties: {
        desired: count,
        by_profile: { type: 'object', additionalProperties: count },
        by_establishment: { type: 'object', additionalProperties: count, description: 'UAI → users.' },
      },
    },
    skipped: {
      type: 'array',
      description: 'Every directory entry (or value) left out, with its DN and reason.',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['entity', 'dn', 'reason'],
        properties: {
          entity: { type: 'string' },
          dn: { type: 'string' },
          reason: { type: 'string' },
          kind: { enum: ['invalid-entry', 'data'] },
        },
      },
    },
    held: {
      type: 'array',
      description: 'Every object held as it is, with its address, the DN behind it and the reason.',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['entity', 'address', 'reason'],
        properties: {
          entity: { type: 'string' },
          address: { type: 'string' },
          dn: { type: 'string' },
          reason: { type: 'string' },
        },
      },
    },
    guards: {
      type: 'array',
      description: 'The safety guards the plan tripped (a refused run); empty otherwise.',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['code', 'removals', 'managed', 'message'],
        properties: {
          code: { type: 'string' },
          entity: { type: 'string' },
          removals: count,
          managed: count,
          limit: { type: 'object', additionalProperties: false, properties: { count, percent: { type: 'number' } } },
          message: { type: 'string' },
        },
      },
    },
    warnings: { type: 'array', items: { type: 'string' } },
    errors: {
      type: 'array',
      description: 'What ended the run, with its stable code (INTERNAL for a bug).',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['code', 'message'],
        properties: {
          code: { type: 'string' },
          message: { type: 'string' },
          diagnostics: { type: 'array', items: { type: 'string' } },
        },
      },
    },
    post_apply: {
      type: 'array',
      description: 'The postApply commands, after a commit: command line and output redacted of secrets.',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['command', 'exit_code', 'ms', 'output'],
        properties: {
          command: { type: 'string' },
          exit_code: { type: ['integer', 'null'] },
          signal: { type: 'string' },
          ms: milliseconds,
          output: { type: 'string', description: 'The last 64 KiB, stdout and stderr interleaved.' },
          error: { type: 'string' },
          skipped: { type: 'string' },
        },
      },
    },
    outcome: {
      enum: ['no-changes', 'planned', 'applied', 'post-apply-failed', 'declined', 'refused', 'failed'],
      description:
        'no-changes: nothing to do; planned: a plan with changes (plan); applied: changes committed; post-apply-failed: committed, a postApply command failed; declined: the confirmation was refused; refused: a guard refused the plan, nothing written; failed: an error, nothing written (see errors).',
    },
    exit_code: { type: 'integer', description: 'The exit code of the command (README, "Exit codes").' },
  },
} as const satisfies JSONSchema;

export type RunReport = FromSchema<typeof runReportSchema>;
export type RunOutcome = RunReport['outcome'];
