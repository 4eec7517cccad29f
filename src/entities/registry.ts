/**
 * The entities of one run, in ENTITY_ORDER, each built with the options the spec and the site give it. This
 * is the only place that names every entity module; their facts are in catalog.ts.
 */
import type { EntityType } from '../model/change.js';
import type { MoodleSite } from '../moodle/site.js';
import type { CompiledRules } from '../rules/rules.js';
import type { LoadedSpec } from '../spec/load.js';
import { ENTITY_ORDER } from './catalog.js';
import { categoryEntity } from './category.js';
import { cohortEntity } from './cohort.js';
import { cohortEnrolEntity } from './cohort-enrol.js';
import { cohortEnrolmentEntity } from './cohort-enrolment.js';
import { cohortMemberEntity } from './cohort-member.js';
import { courseEntity } from './course.js';
import { enrolmentEntity } from './enrolment.js';
import { groupEntity } from './group.js';
import { groupMemberEntity } from './group-member.js';
import { groupingEntity, groupingGroupEntity } from './grouping.js';
import { profileDataEntity } from './profile-data.js';
import { profileFieldEntity } from './profile-field.js';
import type { EntityReader } from './reading.js';
import { readerOf } from './reading.js';
import { roleEntity } from './role.js';
import { roleAssignmentEntity } from './role-assignment.js';
import { userEntity } from './user.js';

/** What an entity is built from: the spec, its compiled rules, the site. */
interface BuildInput {
  readonly spec: LoadedSpec['spec'];
  readonly rules: CompiledRules;
  readonly site: MoodleSite;
}

/** One builder per entity type: a type without one does not compile. */
const BUILDERS = {
  role: ({ spec }) => readerOf(roleEntity({ adopt: spec.roles?.adopt ?? 'never' })),
  category: ({ spec }) => readerOf(categoryEntity({ adopt: spec.categories?.adopt ?? 'never' })),
  profile_field: ({ spec }) => readerOf(profileFieldEntity({ adopt: spec.profileFields?.adopt ?? 'never' })),
  user: ({ spec, rules, site }) => {
    const onRemoved = new Map(rules.profiles.map((p) => [p.name, p.onRemoved]));
    return readerOf(
      userEntity({
        site,
        match: spec.users.match,
        adopt: spec.users.adopt,
        onRemoved: (profile) => onRemoved.get(profile ?? '') ?? spec.users.onRemoved,
        protectedIds: new Set([...site.siteAdminIds, site.siteGuestId]),
        managedFields: [...new Set(['auth', ...rules.profiles.flatMap((p) => [...p.rules.fields.keys()])])],
      }),
    );
  },
  profile_data: ({ rules }) => readerOf(profileDataEntity({ fields: rules.profileFields.map((f) => f.shortname) })),
  cohort: ({ spec }) =>
    readerOf(cohortEntity({ adopt: spec.cohorts?.adopt ?? 'never', onRemoved: spec.cohorts?.onRemoved ?? 'release' })),
  cohort_member: () => readerOf(cohortMemberEntity()),
  course: ({ spec, site }) =>
    readerOf(
      courseEntity({ adopt: spec.courses?.adopt ?? 'matching', onRemoved: spec.courses?.onRemoved ?? 'keep', site }),
    ),
  group: ({ spec, site }) => readerOf(groupEntity(groupOptions(spec, site))),
  grouping: ({ spec, site }) => readerOf(groupingEntity(groupOptions(spec, site))),
  grouping_group: () => readerOf(groupingGroupEntity()),
  cohort_enrol: ({ spec, site }) =>
    readerOf(
      cohortEnrolEntity({
        roles: site.roles,
        onRemoved: spec.enrolments?.cohorts?.onRemoved ?? 'disable',
        pluginEnabled: site.enabledEnrol.includes('cohort'),
      }),
    ),
  cohort_enrolment: ({ spec, site }) =>
    readerOf(
      cohortEnrolmentEntity({
        onMemberRemoved: spec.enrolments?.cohorts?.onMemberRemoved ?? 'moodle',
        unenrolAction: site.pluginConfig.get('enrol_cohort/unenrolaction'),
      }),
    ),
  enrolment: ({ spec }) =>
    readerOf(
      enrolmentEntity({
        adopt: spec.enrolments?.manual?.adopt ?? 'matching',
        onRemoved: spec.enrolments?.manual?.onRemoved ?? 'suspend',
      }),
    ),
  group_member: () => readerOf(groupMemberEntity()),
  role_assignment: ({ spec, rules }) =>
    readerOf(
      roleAssignmentEntity({
        onRemoved: spec.roleAssignments?.onRemoved ?? 'unassign',
        component: spec.roleAssignments?.component ?? '',
        // Roles the spec declares, with the levels they are assignable at (this apply may create them).
        declaredRoles: new Map(
          rules.roles.map((r) => [r.key, String(r.values.contextlevels).split(',').filter(Boolean).map(Number)]),
        ),
      }),
    ),
} satisfies Record<EntityType, (input: BuildInput) => EntityReader>;

function groupOptions(spec: LoadedSpec['spec'], site: MoodleSite) {
  return {
    adopt: spec.groups?.adopt ?? 'never',
    onRemoved: spec.groups?.onRemoved ?? 'delete',
    schema: site.groupSchema,
  } as const;
}

/** The readers of every entity of one run, in ENTITY_ORDER. */
export function entityReaders(loaded: LoadedSpec, rules: CompiledRules, site: MoodleSite): EntityReader[] {
  const input: BuildInput = { spec: loaded.spec, rules, site };
  return ENTITY_ORDER.map((type) => BUILDERS[type](input));
}
