/**
 * Rendering is separate from planning: every output format implements one view over the same `Plan`.
 */
import type { EntityType } from '../model/change.js';
import type { Plan, PlanHeader } from '../model/plan.js';

/** Plural titles of the entities, as every view heads their sections. */
export const ENTITY_TITLES: Readonly<Record<EntityType, string>> = {
  role: 'Roles',
  category: 'Categories',
  profile_field: 'Profile fields',
  user: 'Users',
  profile_data: 'Profile data',
  cohort: 'Cohorts',
  cohort_member: 'Cohort members',
  course: 'Courses',
  group: 'Course groups',
  grouping: 'Groupings',
  grouping_group: 'Grouping groups',
  cohort_enrol: 'Cohort enrolment methods',
  cohort_enrolment: 'Cohort enrolments',
  enrolment: 'Manual enrolments',
  group_member: 'Group members',
  role_assignment: 'Role assignments',
};

export interface PlanView {
  render(plan: Plan, header: PlanHeader): string;
}
