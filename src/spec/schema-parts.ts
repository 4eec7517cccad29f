/**
 * The building blocks of the spec's JSON Schema (src/spec/schema.ts): templates, searches, conditions, rules,
 * transcodings, user fields and profiles — each used in several places of the schema.
 */
export const template = {
  type: 'string',
  minLength: 1,
  title: 'template',
  description:
    'A template: text with `{attribute|filter|…}` placeholders, e.g. `{uid|lower}` or `{givenName} {sn}`. ' +
    'Filters: lower, upper, trim, squish (trim + one space between words), ascii, first, last, nth(N), join("sep"), split("sep", N), ' +
    'match("regex", "group"), replace("regex", "with"), default("value"). ' +
    '{$name} reads a variable, {@name} inserts a named template. More filters: map("table") (transcoding), ' +
    'structure (structure reference → UAI), inScope (served establishments only), unique, sort, part(N) ' +
    '(= split("$", N)). See the README.',
  examples: ['{uid|lower}', '{givenName|squish} {sn|squish}', '{@cohortPrefix}{$uai}-{$code|trim}'],
} as const;

/** A UAI (an establishment's code: 7 digits and a letter), spaces around it tolerated. */
export const UAI_PATTERN = '^\\s*[0-9]{7}[A-Za-z]\\s*$';

export const dn = { type: 'string', minLength: 1, description: 'An LDAP DN.' } as const;

export const search = {
  type: 'object',
  additionalProperties: false,
  properties: {
    base: { ...dn, description: "Search base. Default: the LDAP source's baseDN (the whole file for an LDIF source)." },
    scope: { enum: ['base', 'one', 'sub'], default: 'sub' },
    filter: { type: 'string', minLength: 3, default: '(objectClass=*)', description: 'RFC 4515 filter.' },
    vars: {
      type: 'object',
      description:
        'Variables computed for each entry, usable as `{$name}` in every rule: the values of all the listed ' +
        'templates, in order, without repeats (e.g. all the establishments a person belongs to).',
      additionalProperties: { type: 'array', minItems: 1, items: template },
    },
  },
} as const;

export const conditionTests = {
  type: 'object',
  additionalProperties: false,
  description: 'Tests that must all hold (see `when`).',
  properties: {
    filter: {
      type: 'string',
      minLength: 3,
      description: 'RFC 4515 filter evaluated on the entry.',
      examples: ['(&(objectClass=ENTAuxEnseignant)(ENTPersonFonctions=*$DIR$*))'],
    },
    profiles: {
      type: 'array',
      minItems: 1,
      items: { type: 'string', minLength: 1 },
      description: 'The person has one of these profiles (names of users.profiles).',
      examples: [['student'], ['teacher', 'staff']],
    },
    value: {
      ...template,
      description: 'A template that must give at least one non-empty value.',
      examples: ['{ENTEleveClasses|structure|inScope}'],
    },
    matches: {
      type: 'string',
      minLength: 1,
      description: 'A regex one of the values of `value` must match.',
      examples: ['^[0-9]{7}[A-Z]\\$(6|5)EME'],
    },
    linked: {
      type: 'object',
      additionalProperties: false,
      minProperties: 1,
      description:
        'The person is linked to another person, whichever side writes the link: one of the `to` templates gives ' +
        'a value on this entry (e.g. `{ENTAuxPersRelEleveEleve|person("student")}`), or one of the `from` ' +
        "templates, evaluated on another person of the directory, gives this person's DN (as the `person` filter " +
        'gives it: `{ENTEleveParents|person("parent")}`). Problems met in the `from` templates are not reported ' +
        'here (the rules that use the link report them).',
      examples: [{ to: ['{ENTAuxPersRelEleveEleve|person("student")}'], from: ['{ENTEleveParents|person("parent")}'] }],
      properties: {
        to: { type: 'array', minItems: 1, items: template, description: "Templates on this person's entry." },
        from: {
          type: 'array',
          minItems: 1,
          items: template,
          description: "Templates on the other people's entries, giving the DNs of the people they link to.",
        },
      },
    },
  },
} as const;

export const condition = {
  ...conditionTests,
  title: 'condition',
  examples: [{ profiles: ['student'], value: '{ENTEleveClasses|structure|inScope}' }],
  description:
    'Which entries a rule applies to: all the given tests must hold (an LDAP filter on the entry, the profiles ' +
    'of the person, a computed value present and matching a regex), and those of `not` must not all hold.',
  properties: {
    ...conditionTests.properties,
    not: {
      ...conditionTests,
      description:
        'Tests that must not all hold (e.g. a student with no class); its own `not` says "unless" ' +
        '(a parent is a user unless they have no child: `not: { profiles: [parent], not: { value: … } }`).',
      examples: [{ profiles: ['student'], not: { value: '{ENTEleveClasses|structure|inScope}' } }],
      properties: { ...conditionTests.properties, not: conditionTests },
    },
  },
} as const;

const reason = {
  type: 'string',
  minLength: 1,
  description:
    'Why a person this test rules out is not a user: a managed user it rules out while their entry is in the ' +
    'directory is suspended with this reason (instead of "no longer in the directory").',
} as const;

/** `users.when`: a condition whose block and `not` may say why they rule a person out. */
export const usersCondition = {
  ...condition,
  properties: {
    ...condition.properties,
    reason: { ...reason, description: `${reason.description} Used when one of the tests (not \`not\`) fails.` },
    not: {
      ...condition.properties.not,
      properties: {
        ...condition.properties.not.properties,
        reason: { ...reason, description: `${reason.description} Used when the \`not\` tests all hold.` },
      },
    },
  },
} as const;

export const each = {
  type: 'object',
  title: 'each',
  minProperties: 1,
  examples: [
    { class: { value: '{ENTEleveClasses|structure|inScope}', parts: '^(?<uai>[^$]+)\\$(?<code>.+)$' } },
    { child: '{ENTAuxPersRelEleveEleve|person("student")}' },
  ],
  description:
    'Expands one entry into several objects: one per combination of the values of these templates ' +
    '(`{$name}` in the rule). With `parts`, a regex with named groups, each group is a variable too ' +
    '(`{$uai}`, `{$class}`); a value the regex does not match is reported and left out.',
  additionalProperties: {
    oneOf: [
      template,
      {
        type: 'object',
        additionalProperties: false,
        required: ['value'],
        properties: {
          value: template,
          parts: {
            type: 'string',
            minLength: 1,
            description: 'A regex whose named groups become variables (`{$uai}`, `{$code}`).',
            examples: ['^(?<uai>[^$]+)\\$(?<code>.+)$'],
          },
          where: {
            type: 'object',
            minProperties: 1,
            additionalProperties: { type: 'string', minLength: 1 },
            description:
              'Regexes the named parts must match for the value to count (others are left out silently, unlike a ' +
              'value `parts` does not match): `where: { legal: "^1$" }` keeps legal guardians only.',
            examples: [{ legal: '^1$' }],
          },
        },
      },
    ],
  },
} as const;

export const ruleCommon = {
  enabled: { type: 'boolean', default: true, description: 'false turns off a rule inherited through `extends`.' },
  from: {
    enum: ['people', 'structures'],
    default: 'people',
    description: 'Which entries produce the objects: the people or the structures (establishments) searched.',
  },
  when: condition,
  each,
} as const;

export const categoryRule = {
  type: 'object',
  examples: [
    {
      from: 'structures',
      when: { value: '{$uai|inScope}' },
      idnumber: '{$uai}',
      name: '{ENTStructureNomCourant|squish|first}',
    },
  ],
  additionalProperties: false,
  required: ['idnumber', 'name'],
  properties: {
    ...ruleCommon,
    idnumber: template,
    name: template,
    description: template,
    parent: { ...template, description: 'idnumber of the parent category (top level when absent).' },
  },
} as const;

export const cohortRule = {
  type: 'object',
  examples: [
    {
      when: { profiles: ['student'] },
      each: { class: { value: '{ENTEleveClasses|structure|inScope}', parts: '^(?<uai>[^$]+)\\$(?<code>.+)$' } },
      idnumber: '{@cohortPrefix}{$uai}-{$code|trim}',
      name: '{$uai} {$code|trim}',
      category: '{$uai}',
    },
  ],
  additionalProperties: false,
  required: ['idnumber', 'name'],
  properties: {
    ...ruleCommon,
    idnumber: {
      ...template,
      description:
        'The cohort idnumber scheme, computed once per object (a school-year prefix written here appears once: never doubled).',
    },
    name: template,
    description: template,
    category: {
      ...template,
      description: 'idnumber of the category whose context holds the cohort; the system context when absent.',
    },
    members: {
      type: 'boolean',
      default: true,
      description: 'from people: the person is a member of the cohorts the rule gives them.',
    },
  },
} as const;

export const transcoding = {
  type: 'object',
  additionalProperties: false,
  description: 'A transcoding table for the `map("name")` filter: inline `values` and/or a CSV file (columns from,to).',
  properties: {
    values: { type: 'object', additionalProperties: { type: 'string' } },
    csv: { type: 'string', minLength: 1, description: 'CSV path relative to the spec; header line with from,to.' },
    onUnknown: {
      enum: ['error', 'skip', 'default', 'keep'],
      default: 'error',
      description:
        'A value the table lacks: `error` (a data error), `skip` it with a warning, the `default`, or `keep` it.',
    },
    default: { type: 'string' },
    ignoreCase: { type: 'boolean', default: false },
  },
} as const;

export const userFields = {
  type: 'object',
  additionalProperties: false,
  description: 'How each Moodle user field is computed from the entry.',
  properties: {
    username: template,
    idnumber: template,
    firstname: template,
    lastname: template,
    email: template,
    middlename: template,
    alternatename: template,
    institution: template,
    department: template,
    city: template,
    country: template,
  },
} as const;

export const userProfile = {
  type: 'object',
  additionalProperties: false,
  description: "One kind of person (student, teacher, …): who it is, and the profile's own auth, fields and onRemoved.",
  properties: {
    enabled: { type: 'boolean', default: true, description: 'false: people of this profile only are not synced.' },
    when: condition,
    auth: { type: 'string', pattern: '^[a-z0-9_]+$', maxLength: 20 },
    fields: userFields,
    onRemoved: { enum: ['keep', 'suspend'] },
  },
} as const;

/** A removal limit of `guards.maxRemovals` (plan/guards.ts); unset values keep the built-in default. */
export const removalLimit = {
  type: 'object',
  additionalProperties: false,
  description:
    'Refused when a plan removes more than `count` **and** more than `percent` of the managed objects of the entity.',
  properties: {
    count: { type: 'integer', minimum: 0, description: 'Removals always allowed, whatever the share (small sites).' },
    percent: {
      type: 'number',
      minimum: 0,
      maximum: 100,
      description: 'Beyond `count`, the share of the managed objects a plan may remove.',
    },
  },
} as const;
