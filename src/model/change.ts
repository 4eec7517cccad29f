/**
 * Changes are data: one record per object the apply will touch, with what it is now (`before`), what it will
 * be (`after`), and why. Renderers, guards, the plan file and the apply all read this one shape.
 */
export type EntityType =
  | 'role'
  | 'category'
  | 'profile_field'
  | 'user'
  | 'profile_data'
  | 'cohort'
  | 'cohort_member'
  | 'course'
  | 'group'
  | 'grouping'
  | 'grouping_group'
  | 'cohort_enrol'
  | 'cohort_enrolment'
  | 'enrolment'
  | 'group_member'
  | 'role_assignment';

/**
 * `release` hands a managed object back to Moodle's administrators (ownership marker cleared, row kept);
 * `delete` removes the row (memberships, profile data, cohorts when the spec says so).
 */
export type ChangeAction = 'create' | 'update' | 'adopt' | 'suspend' | 'unsuspend' | 'release' | 'delete';

/** A managed column's value as planned and compared. */
export type FieldValue = string | number;
export type Fields = Readonly<Record<string, FieldValue>>;

export interface Change {
  readonly entity: EntityType;
  /** Terraform-style address: `user["jdupont"]`. */
  readonly address: string;
  readonly action: ChangeAction;
  /**
   * The object's natural key: the match key for users, idnumber for categories and cohorts, shortname for
   * profile fields, `<cohort key>/<user key>` for members, `<field>/<user key>` for profile data; course
   * idnumber for courses, `<course>/<group idnumber>` for groups (and groupings), `<course>/<cohort>/<role>`
   * for cohort enrolment methods, `<method>/<user>` for the enrolments they make, `<course>/<user>` for manual
   * enrolments, `<group key>/<user>` for group members, `<context>/<role>/<user>` for role assignments.
   */
  readonly key: string;
  /** Moodle row id, for objects that already exist. */
  readonly moodleId: number | null;
  /** DN of the directory entry the object comes from (null for removals). */
  readonly dn: string | null;
  /** Managed values now (null when creating). */
  readonly before: Fields | null;
  /** Managed values after the apply. */
  readonly after: Fields;
  /**
   * Objects this one points at, by entity and key (a member's cohort and user, a category's parent): they may be
   * created by the same apply, so the writer resolves them to ids through the apply's id registry.
   */
  readonly refs?: Readonly<Partial<Record<string, ObjectRef>>>;
  /** Digest of the source entry (null for removals). */
  readonly sourceDigest: string | null;
  readonly reason: string;
}

export interface ObjectRef {
  readonly entity: EntityType;
  readonly key: string;
}

/** Address of an object: `type["key"]`, the key JSON-quoted. */
export function addressOf(entity: EntityType, key: string): string {
  return `${entity}[${JSON.stringify(key)}]`;
}

/** Order in which actions are listed (and counted) within an entity. */
export const ACTION_ORDER: readonly ChangeAction[] = [
  'create',
  'adopt',
  'update',
  'unsuspend',
  'suspend',
  'release',
  'delete',
];

/** Key of an object that belongs to two others (a cohort member: cohort key + user key). */
export const pairKey = (a: string, b: string): string => `${a}/${b}`;
