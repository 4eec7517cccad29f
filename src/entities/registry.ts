/**
 * The entities of one run, in ENTITY_ORDER, each built with the options the spec and the site give it. This
 * is the only place that names them all.
 */
import type { MoodleSite } from '../moodle/site.js';
import type { CompiledRules } from '../rules/rules.js';
import type { LoadedSpec } from '../spec/load.js';
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

export function entityReaders(loaded: LoadedSpec, rules: CompiledRules, site: MoodleSite): EntityReader[] {
  const { spec } = loaded;
  const onRemoved = new Map(rules.profiles.map((p) => [p.name, p.onRemoved]));
  const groups = {
    adopt: spec.groups?.adopt ?? 'never',
    onRemoved: spec.groups?.onRemoved ?? 'delete',
    schema: site.groupSchema,
  } as const;
  const enrolments = enrolmentEntity({
    adopt: spec.enrolments?.manual?.adopt ?? 'matching',
    onRemoved: spec.enrolments?.manual?.onRemoved ?? 'suspend',
  });
  const managedFields = [...new Set(['auth', ...rules.profiles.flatMap((p) => [...p.rules.fields.keys()])])];
  // Roles the spec declares, with the context levels they are assignable at (they may be created by this apply).
  const declaredRoles = new Map(
    rules.roles.map((r) => [r.key, String(r.values.contextlevels).split(',').filter(Boolean).map(Number)]),
  );
  return [
    readerOf(roleEntity({ adopt: spec.roles?.adopt ?? 'never' })),
    readerOf(categoryEntity({ adopt: spec.categories?.adopt ?? 'never' })),
    readerOf(profileFieldEntity({ adopt: spec.profileFields?.adopt ?? 'never' })),
    readerOf(
      userEntity({
        site,
        match: spec.users.match,
        adopt: spec.users.adopt,
        onRemoved: (profile) => onRemoved.get(profile ?? '') ?? spec.users.onRemoved,
        protectedIds: new Set([...site.siteAdminIds, site.siteGuestId]),
        managedFields,
      }),
    ),
    readerOf(profileDataEntity({ fields: rules.profileFields.map((f) => f.shortname) })),
    readerOf(
      cohortEntity({
        adopt: spec.cohorts?.adopt ?? 'never',
        onRemoved: spec.cohorts?.onRemoved ?? 'release',
      }),
    ),
    readerOf(cohortMemberEntity()),
    readerOf(
      courseEntity({ adopt: spec.courses?.adopt ?? 'matching', onRemoved: spec.courses?.onRemoved ?? 'keep', site }),
    ),
    readerOf(groupEntity(groups)),
    readerOf(groupingEntity(groups)),
    readerOf(groupingGroupEntity()),
    readerOf(
      cohortEnrolEntity({
        roles: site.roles,
        onRemoved: spec.enrolments?.cohorts?.onRemoved ?? 'disable',
        pluginEnabled: site.enabledEnrol.includes('cohort'),
      }),
    ),
    readerOf(
      cohortEnrolmentEntity({
        onMemberRemoved: spec.enrolments?.cohorts?.onMemberRemoved ?? 'moodle',
        unenrolAction: site.pluginConfig.get('enrol_cohort/unenrolaction'),
      }),
    ),
    readerOf(enrolments),
    readerOf(groupMemberEntity()),
    readerOf(
      roleAssignmentEntity({
        onRemoved: spec.roleAssignments?.onRemoved ?? 'unassign',
        component: spec.roleAssignments?.component ?? '',
        enrolmentRole: enrolments.roleAfterPlan,
        declaredRoles,
      }),
    ),
  ];
}
