/**
 * The sync spec's JSON Schema: the single source of truth. `schemas/ldap2moodle.schema.json` is generated
 * from this literal (`npm run schema`), and the TypeScript types below are derived from it, so the
 * validator, the published schema and the code can never disagree.
 */
import type { FromSchema, JSONSchema } from 'json-schema-to-ts';
import { DURATION_PATTERN } from '../duration.js';
import { DEFAULT_STALE_AFTER } from '../lock-wait.js';
import { courseSections } from './schema-courses.js';
import {
  categoryRule,
  cohortRule,
  usersCondition,
  dn,
  removalLimit,
  search,
  template,
  transcoding,
  UAI_PATTERN,
  userFields,
  userProfile,
} from './schema-parts.js';

export const specSchema = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  $id: 'urn:ldap2moodle:spec:1',
  title: 'ldap2moodle sync spec',
  description: 'What ldap2moodle keeps in step: where the directory is, which Moodle, and how entries map to it.',
  type: 'object',
  additionalProperties: false,
  required: ['version', 'source', 'moodle', 'users'],
  properties: {
    version: { const: 1, description: 'Spec format version. Always 1 for now.' },
    extends: {
      description:
        'Specs this one builds on, merged first (objects merged key by key, this spec winning): `sdet` (the shipped ' +
        'SDET preset) or paths relative to this file.',
      oneOf: [
        { type: 'string', minLength: 1 },
        { type: 'array', minItems: 1, items: { type: 'string', minLength: 1 } },
      ],
    },
    directory: {
      type: 'object',
      additionalProperties: false,
      description: 'Where people and structures (establishments) are in the directory.',
      properties: { people: search, structures: search },
    },
    establishments: {
      type: 'array',
      items: { type: 'string', pattern: UAI_PATTERN },
      uniqueItems: true,
      description:
        'UAIs of the establishments this Moodle serves (quote them). The `inScope` filter keeps only these; ' +
        "all the directory's when absent.",
    },
    ownership: {
      type: 'object',
      additionalProperties: false,
      required: ['people', 'objects'],
      description:
        'Which establishments own what, recorded in the state: a run scoped to some establishments ' +
        '(`--establishment UAI`) never changes or removes what belongs to others.',
      properties: {
        people: {
          ...template,
          description: "A person's establishments (their user, profile data): UAIs, e.g. `{$uais}`.",
        },
        objects: {
          ...template,
          description:
            "The establishment of an object a rule makes, evaluated with the rule's variables: e.g. `{$uai}`.",
        },
      },
    },
    citesScolaires: {
      type: 'boolean',
      default: false,
      description:
        'Also serve the establishments attached to a served one through ENTEtablissementStructRattachFctl (a lycée ' +
        'professionnel attached to its lycée: one cité scolaire), and those it is attached to.',
    },
    vars: {
      type: 'object',
      additionalProperties: { type: 'string' },
      description: 'Constants usable as `{$name}` in every template (e.g. the school year).',
    },
    templates: {
      type: 'object',
      additionalProperties: { type: 'string' },
      description: 'Named templates, inserted where `{@name}` is written (a farm of schools shares them).',
    },
    transcodings: { type: 'object', additionalProperties: transcoding },
    onDataError: {
      enum: ['skip', 'fail'],
      default: 'skip',
      description:
        'A data error (a structure not in the directory, a value in no known form, a transcoding miss, two rules ' +
        'giving one cohort different names): `skip` lists it in the plan, `fail` stops the run.',
    },
    profileFields: {
      type: 'object',
      additionalProperties: false,
      description: 'Custom user profile fields (user_info_field) the tool creates and fills.',
      properties: {
        category: {
          type: 'string',
          minLength: 1,
          default: 'ENT',
          description: 'Profile field category (reused by name, created when missing).',
        },
        adopt: { enum: ['never', 'matching'], default: 'never' },
        fields: {
          type: 'object',
          propertyNames: { pattern: '^[a-z][a-z0-9_]*$' },
          additionalProperties: {
            type: 'object',
            additionalProperties: false,
            required: ['name', 'value'],
            properties: {
              enabled: { type: 'boolean', default: true },
              name: { type: 'string', minLength: 1 },
              value: template,
              visible: { enum: ['none', 'private', 'everyone', 'teachers'], default: 'private' },
              locked: { type: 'boolean', default: true },
            },
          },
        },
      },
    },
    categories: {
      type: 'object',
      additionalProperties: false,
      properties: {
        adopt: { enum: ['never', 'matching'], default: 'never' },
        rules: { type: 'object', additionalProperties: categoryRule },
      },
    },
    cohorts: {
      type: 'object',
      additionalProperties: false,
      properties: {
        component: {
          type: 'string',
          pattern: '^[a-z][a-z0-9_]*$',
          default: 'local_ldap2moodle',
          description: "Written in cohort.component: Moodle's UI then shows the cohorts as not editable by hand.",
        },
        adopt: { enum: ['never', 'matching'], default: 'never' },
        onRemoved: {
          enum: ['release', 'delete', 'keep'],
          default: 'release',
          description:
            'A managed cohort no longer produced: `release` clears its component and forgets it (members kept, like ' +
            "last year's classes), `delete` removes it and its members, `keep` leaves it managed as it is.",
        },
        rules: { type: 'object', additionalProperties: cohortRule },
      },
    },
    ...courseSections,
    postApply: {
      type: 'array',
      description:
        "Commands run after a successful commit (e.g. Moodle's cache purge); a failure is reported, never rolled back.",
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['run'],
        properties: {
          run: { type: 'array', minItems: 1, items: { type: 'string', minLength: 1 } },
          cwd: { type: 'string', minLength: 1 },
          timeout: { type: 'integer', minimum: 1, default: 300 },
          when: { enum: ['always', 'purge-needed'], default: 'purge-needed' },
        },
      },
    },
    source: {
      type: 'object',
      description: 'Where the directory entries come from: exactly one of `ldif` or `ldap`.',
      additionalProperties: false,
      minProperties: 1,
      maxProperties: 1,
      properties: {
        ldif: {
          type: 'string',
          minLength: 1,
          description: 'Path of an LDIF file (RFC 2849 content records), relative to the spec file.',
        },
        ldap: {
          type: 'object',
          additionalProperties: false,
          required: ['url', 'baseDN'],
          description: 'A live LDAP server, read with paged searches.',
          properties: {
            url: {
              type: 'string',
              pattern: '^ldaps?://',
              description: 'ldap://host:port or ldaps://host:port.',
            },
            bindDN: { ...dn, description: 'DN to bind as. Anonymous when absent.' },
            password: {
              type: 'string',
              description: 'Bind password. Use `${env:NAME}` or `${file:/path}`: never write it in the spec.',
            },
            baseDN: {
              ...dn,
              description: 'Default search base; entity searches are relative to nothing else.',
            },
            pageSize: {
              type: 'integer',
              minimum: 1,
              maximum: 10000,
              default: 500,
              description:
                'Entries per page of the paged results control. A server that refuses pages this large (adminLimitExceeded) is read with pages halved until it accepts them (down to 10); the plan warns with the size that worked.',
            },
            timeout: {
              type: 'integer',
              minimum: 1,
              default: 30000,
              description: 'Milliseconds to wait for a connection or a page before failing the run.',
            },
            tls: {
              type: 'object',
              additionalProperties: false,
              properties: {
                ca: { type: 'string', minLength: 1, description: 'Path of a PEM CA bundle to trust.' },
                verify: { type: 'boolean', default: true, description: 'Verify the server certificate.' },
                startTLS: { type: 'boolean', default: false, description: 'Upgrade an ldap:// connection.' },
              },
            },
          },
        },
      },
    },
    moodle: {
      type: 'object',
      additionalProperties: false,
      required: ['driver'],
      description:
        "The Moodle site's database: a MariaDB/MySQL or PostgreSQL server, or `embedded` (a Moodle 4.5 in a local " +
        'directory, no server: for trying the tool and for examples).',
      properties: {
        driver: {
          enum: ['mariadb', 'mysql', 'postgres', 'embedded'],
          description: 'Database kind. `embedded` needs `path`; the others need `database`.',
        },
        path: {
          type: 'string',
          minLength: 1,
          description:
            'embedded only: directory of the embedded Moodle, relative to the spec (created on first use), or `:memory:`.',
        },
        host: { type: 'string', minLength: 1, default: '127.0.0.1' },
        port: {
          type: 'integer',
          minimum: 1,
          maximum: 65535,
          description: 'Default: 3306 (MariaDB/MySQL), 5432 (PostgreSQL).',
        },
        database: { type: 'string', minLength: 1, description: 'Database name holding Moodle ($CFG->dbname).' },
        schema: {
          type: 'string',
          pattern: '^[a-z_][a-z0-9_]*$',
          description: "postgres only: the schema holding Moodle's tables. Default: public.",
        },
        user: { type: 'string', minLength: 1, description: 'Default: root (MariaDB/MySQL), postgres (PostgreSQL).' },
        password: { type: 'string', description: 'Use `${env:NAME}` or `${file:/path}`.' },
        prefix: {
          type: 'string',
          pattern: '^[a-z0-9_]*$',
          default: 'mdl_',
          description: 'Moodle table prefix ($CFG->prefix).',
        },
        lockTimeout: {
          type: 'integer',
          minimum: 1,
          maximum: 3600,
          default: 10,
          description:
            'Seconds an apply waits for a row Moodle itself is writing before its transaction is rolled back and retried.',
        },
      },
    },
    guards: {
      type: 'object',
      additionalProperties: false,
      description: 'Safety guards run on every plan (README, "Safety guards").',
      properties: {
        maxRemovals: {
          type: 'object',
          additionalProperties: false,
          description:
            'Removal limits per entity: a plan removing (suspending, deleting, releasing, disabling) more than `count` ' +
            'objects of an entity **and** more than `percent` of the managed ones is refused, with the code ' +
            '`GUARD_<ENTITY>_REMOVALS`; `--allow-removals entity=N` allows it for one run. `default` applies to the ' +
            'entities not named; unset values keep the built-in defaults.',
          properties: {
            default: removalLimit,
            users: removalLimit,
            cohorts: removalLimit,
            courses: removalLimit,
            groups: removalLimit,
            cohort_enrolment_methods: removalLimit,
            cohort_enrolments: removalLimit,
            manual_enrolments: removalLimit,
            role_assignments: removalLimit,
          },
        },
      },
    },
    state: {
      type: 'object',
      additionalProperties: false,
      properties: {
        path: {
          type: 'string',
          minLength: 1,
          description: 'State file path, relative to the spec. Default: `<spec name>.state.json` next to it.',
        },
      },
    },
    reports: {
      type: 'object',
      additionalProperties: false,
      description:
        'The run reports: every plan and apply (refused and failed ones too) writes one, read by `ldap2moodle report`.',
      properties: {
        dir: {
          type: 'string',
          minLength: 1,
          description:
            'Directory of the run reports, relative to the spec. Default: `<spec name>.reports/` next to the state file.',
        },
        keep: {
          type: 'integer',
          minimum: 1,
          default: 400,
          description: 'Reports kept: the oldest beyond this number are removed after each run.',
        },
      },
    },
    lock: {
      type: 'object',
      additionalProperties: false,
      description: 'The locks that keep one apply at a time (Moodle, state file, embedded Moodle directory).',
      properties: {
        staleAfter: {
          type: 'string',
          minLength: 1,
          pattern: DURATION_PATTERN,
          default: DEFAULT_STALE_AFTER,
          description:
            'A lock whose holder started longer ago than this (e.g. `6h`, `30m`, `1h30m`) is taken over with a ' +
            'warning, whatever host it came from; a holder on this host whose process is gone is taken over at once. A MariaDB/PostgreSQL advisory lock held by a live session is never taken over (the server holds it). Default: 6h.',
        },
      },
    },
    users: {
      type: 'object',
      additionalProperties: false,
      required: ['auth', 'fields'],
      description: 'Which directory entries become Moodle users, and how.',
      properties: {
        search: { ...search, description: 'Same as directory.people (for specs without profiles).' },
        when: {
          ...usersCondition,
          description:
            'Who among the people searched is a user at all (e.g. in a served establishment); `reason` (here or ' +
            'in `not`) says why the others are not, which a managed user suspended for it is shown with.',
        },
        profiles: {
          type: 'object',
          additionalProperties: userProfile,
          description:
            'Kinds of people, in order of precedence: a person is synced with the first enabled profile they match ' +
            '(its fields merged over users.fields); every profile they match is in `{$profiles}`.',
        },
        match: {
          enum: ['username', 'idnumber'],
          default: 'username',
          description: 'How a directory person is found in Moodle: by username or by idnumber.',
        },
        auth: {
          type: 'string',
          pattern: '^[a-z0-9_]+$',
          maxLength: 20,
          description: 'Moodle auth plugin of the users (cas, ldap, shibboleth, …). It must be enabled in Moodle.',
        },
        fields: { ...userFields, required: ['username', 'firstname', 'lastname'] },
        onRemoved: {
          enum: ['keep', 'suspend'],
          default: 'suspend',
          description: 'What happens to a managed user who is no longer in the directory.',
        },
        adopt: {
          enum: ['never', 'matching'],
          default: 'never',
          description:
            'An unmanaged Moodle user who matches a directory person: `never` is an error naming both, ' +
            '`matching` takes the account over (shown as `~ adopt`).',
        },
        maxRemovals: {
          type: 'object',
          description:
            'Moved to `guards.maxRemovals.users`, where `count` is what is always allowed rather than a cap: a spec ' +
            'that still sets it is refused with a message saying where it went.',
          properties: { count: { type: 'integer', minimum: 0 }, percent: { type: 'number', minimum: 0, maximum: 100 } },
          additionalProperties: false,
        },
        onInvalidEntry: {
          enum: ['skip', 'fail'],
          default: 'skip',
          description:
            'A directory entry that cannot become a valid Moodle user (missing value, too long, bad username, ' +
            'duplicate): `skip` lists it in the plan with its reason, `fail` stops the run.',
        },
      },
    },
  },
} as const satisfies JSONSchema;

/** The spec as written (defaulted properties optional). */
export type SpecInput = FromSchema<typeof specSchema, { keepDefaultedPropertiesOptional: true }>;
/** The spec once defaults are applied (see `applyDefaults`). */
export type Spec = FromSchema<typeof specSchema>;

export type UserFieldName = keyof Spec['users']['fields'];
export const USER_FIELD_NAMES = Object.keys(userFields.properties) as UserFieldName[];
