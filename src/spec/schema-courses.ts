/**
 * The spec sections that fill courses: courses made from templates, their groups, cohort-sync and manual
 * enrolments, and role assignments. Every rule is read like a category or cohort rule (`from`, `when`, `each`),
 * its templates giving the objects' keys and values.
 */
import { ruleCommon, template } from './schema-parts.js';

const roleName = {
  type: 'string',
  pattern: '^[a-z0-9_-]+$',
  description: "A Moodle role's shortname (student, editingteacher, teacher, manager, …); it must exist in Moodle.",
} as const;

const peopleOnly = {
  ...ruleCommon,
  from: { const: 'people', default: 'people', description: 'Only people are enrolled or given roles.' },
} as const;

const taught = {
  taught: {
    value: '{ENTAuxEnsClassesMatieres|structure|inScope}',
    parts: '^(?<uai>[^$]+)\\$(?<class>[^$]+)\\$(?<subject>.+)$',
  },
} as const;

const courseRule = {
  type: 'object',
  examples: [
    {
      when: { profiles: ['teacher'] },
      each: taught,
      idnumber: '{$uai}-{$class|trim}-{$subject|trim}',
      shortname: '{$uai}-{$class|trim}-{$subject|trim}',
      fullname: '{$subject|trim|map("subjectNames")} {$class|trim}',
      category: '{$uai}',
    },
  ],
  additionalProperties: false,
  required: ['idnumber', 'shortname', 'fullname', 'category'],
  properties: {
    ...ruleCommon,
    idnumber: { ...template, description: 'The course idnumber: how the tool finds the course again.' },
    shortname: { ...template, description: 'Unique in Moodle: a shortname held by another course is a conflict.' },
    fullname: template,
    category: { ...template, description: 'idnumber of the category the course is created in.' },
    format: { enum: ['topics', 'weeks'], default: 'topics', description: 'Course format of a created course.' },
    numsections: {
      type: 'integer',
      minimum: 0,
      maximum: 52,
      default: 4,
      description: 'Sections of a created course (besides section 0).',
    },
  },
} as const;

const groupRule = {
  type: 'object',
  examples: [
    {
      when: { profiles: ['teacher'] },
      each: taught,
      course: '{$uai}-{$class|trim}-{$subject|trim}',
      idnumber: '{$uai}-{$class|trim}',
      name: '{$class|trim}',
      members: false,
    },
  ],
  additionalProperties: false,
  required: ['course', 'idnumber', 'name'],
  properties: {
    ...ruleCommon,
    course: { ...template, description: 'idnumber of the course the group is in.' },
    idnumber: { ...template, description: "The group's idnumber in its course: how the tool finds it again." },
    name: { ...template, description: 'Unique in its course.' },
    description: template,
    members: {
      type: 'boolean',
      default: true,
      description: 'from people: the person is a member of the groups the rule gives them.',
    },
    grouping: {
      type: 'object',
      additionalProperties: false,
      required: ['idnumber', 'name'],
      description: 'A grouping of the same course that holds the group.',
      properties: { idnumber: template, name: template },
    },
  },
} as const;

const cohortEnrolRule = {
  type: 'object',
  examples: [
    {
      when: { profiles: ['teacher'] },
      each: taught,
      course: '{$uai}-{$class|trim}-{$subject|trim}',
      cohort: '{@cohortPrefix}{$uai}-{$class|trim}',
      role: 'student',
      group: '{$uai}-{$class|trim}',
    },
  ],
  additionalProperties: false,
  required: ['course', 'cohort'],
  properties: {
    ...ruleCommon,
    course: { ...template, description: 'idnumber of the course.' },
    cohort: {
      ...template,
      description: "idnumber of a cohort the cohort rules produce: its members are the method's enrolments.",
    },
    role: { ...roleName, default: 'student' },
    group: {
      ...template,
      description: "idnumber of a group of the course the method adds its users to (Moodle's customint2).",
    },
  },
} as const;

const manualEnrolRule = {
  type: 'object',
  examples: [
    {
      when: { profiles: ['teacher'] },
      each: taught,
      course: '{$uai}-{$class|trim}-{$subject|trim}',
      role: 'editingteacher',
    },
  ],
  additionalProperties: false,
  required: ['course', 'role'],
  properties: {
    ...peopleOnly,
    course: { ...template, description: 'idnumber of the course the person is enrolled in.' },
    role: roleName,
  },
} as const;

const roleAssignmentRule = {
  type: 'object',
  examples: [
    {
      when: { profiles: ['parent'] },
      each: { child: '{ENTAuxPersRelEleveEleve|person("student")}' },
      context: 'user',
      target: '{$child}',
      role: 'parent',
    },
  ],
  additionalProperties: false,
  required: ['context', 'role'],
  properties: {
    ...peopleOnly,
    context: {
      enum: ['system', 'category', 'course', 'user'],
      description: 'Where the role is held: the whole site, a category, a course, or another user (parents).',
    },
    target: {
      ...template,
      description:
        'idnumber of the category or course, or for a user context the user (a person DN, e.g. from the `person` ' +
        "filter, or a user key); a user context's target defaults to the entry's person when `user` is given.",
    },
    user: {
      ...template,
      description:
        'Who holds the role (a person DN, e.g. `{ENTEleveParents|person("parent")}`, or a user key); the entry\'s person when absent.',
    },
    role: roleName,
  },
} as const;

const CONTEXT_LEVELS = ['system', 'user', 'category', 'course', 'module', 'block'] as const;

const roleDeclaration = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'contextLevels'],
  properties: {
    enabled: { type: 'boolean', default: true, description: 'false turns off a role inherited through `extends`.' },
    name: { type: 'string', minLength: 1 },
    description: { type: 'string', default: '' },
    contextLevels: {
      type: 'array',
      minItems: 1,
      uniqueItems: true,
      items: { enum: CONTEXT_LEVELS },
      description: 'Where the role can be assigned (a parent role: user).',
    },
    capabilities: {
      type: 'array',
      uniqueItems: true,
      default: [],
      items: { type: 'string', pattern: '^[a-z][a-z0-9_]*/[a-z0-9_]+:[a-z0-9_]+$' },
      description: 'Capabilities allowed in the system context (each must exist in Moodle).',
    },
  },
} as const;

export const courseSections = {
  courses: {
    type: 'object',
    additionalProperties: false,
    properties: {
      adopt: {
        enum: ['never', 'matching'],
        default: 'matching',
        description:
          'matching: a course with the idnumber (or, without idnumber, the shortname) is taken over, never recreated.',
      },
      onRemoved: {
        enum: ['keep', 'hide'],
        default: 'keep',
        description: 'A managed course the rules no longer produce is kept as it is, or hidden. Never deleted.',
      },
      announcements: {
        type: 'boolean',
        default: true,
        description:
          'A created course gets its "Announcements" forum, as Moodle gives one to every new course whose format ' +
          'has news (topics, weeks); false creates courses without it.',
      },
      rules: { type: 'object', additionalProperties: courseRule },
    },
  },
  groups: {
    type: 'object',
    additionalProperties: false,
    properties: {
      adopt: {
        enum: ['never', 'matching'],
        default: 'never',
        description: 'never: a hand-made group holding an idnumber the rules produce is a conflict.',
      },
      onRemoved: {
        enum: ['delete', 'keep'],
        default: 'delete',
        description:
          'A managed group (or grouping) the rules no longer produce is deleted with its memberships, or kept.',
      },
      rules: { type: 'object', additionalProperties: groupRule },
    },
  },
  enrolments: {
    type: 'object',
    additionalProperties: false,
    properties: {
      cohorts: {
        type: 'object',
        additionalProperties: false,
        description: "Cohort sync methods (Moodle's enrol_cohort), filled at once as Moodle's sync task would.",
        properties: {
          onRemoved: {
            enum: ['delete', 'disable', 'keep'],
            default: 'disable',
            description:
              'A managed method the rules no longer produce: `disable` keeps its enrolments (and grades) inactive ' +
              "and removes its roles, as Moodle's sync does for a disabled method; `delete` unenrols everyone it " +
              'enrolled; `keep` leaves it to Moodle. Either way, someone who leaves its cohort is removed from it ' +
              '(onMemberRemoved), as Moodle does whatever the status of the method.',
          },
          onMemberRemoved: {
            enum: ['moodle', 'unenrol', 'suspend', 'keep'],
            default: 'moodle',
            description:
              "What happens to the enrolments of someone who leaves the cohort, in every method of the tool's " +
              "syncing it, enabled or not: what Moodle's own sync does (enrol_cohort unenrolaction, read from " +
              'Moodle and shown in the plan). Any other value must agree with ' +
              "that setting, since Moodle's hourly sync would undo it.",
          },
          rules: { type: 'object', additionalProperties: cohortEnrolRule },
        },
      },
      manual: {
        type: 'object',
        additionalProperties: false,
        description: 'Manual enrolments (the course\'s "manual" method), owned through the state.',
        properties: {
          adopt: { enum: ['never', 'matching'], default: 'matching' },
          onRemoved: {
            enum: ['unenrol', 'suspend', 'keep'],
            default: 'suspend',
            description: "suspend keeps the person's grades, which unenrolling loses.",
          },
          rules: { type: 'object', additionalProperties: manualEnrolRule },
        },
      },
    },
  },
  roles: {
    type: 'object',
    additionalProperties: false,
    description: 'Roles the tool creates and owns, by shortname (a fresh Moodle has no role for parents).',
    properties: {
      adopt: {
        enum: ['never', 'matching'],
        default: 'never',
        description: 'matching: an existing role with the shortname is taken over (and made as declared).',
      },
      declare: {
        type: 'object',
        propertyNames: { pattern: '^[a-z0-9_-]+$' },
        additionalProperties: roleDeclaration,
      },
    },
  },
  roleAssignments: {
    type: 'object',
    additionalProperties: false,
    properties: {
      component: {
        type: 'string',
        pattern: '^([a-z][a-z0-9]*_[a-z0-9_]+)?$',
        default: '',
        description:
          "Written in role_assignments.component (e.g. local_ldap2moodle: Moodle's UI then locks the assignments); " +
          "'' = ordinary assignments, owned through the state.",
      },
      onRemoved: { enum: ['unassign', 'keep'], default: 'unassign' },
      rules: { type: 'object', additionalProperties: roleAssignmentRule },
    },
  },
} as const;
