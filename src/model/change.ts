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
 * `delete` removes the row (memberships, profile data, cohorts when the spec says so); `held` writes nothing:
 * the object's directory entry is in the source but has an error, so the object stays as it is in Moodle
 * instead of following that entry (a data error must never look like a departure).
 */
export type ChangeAction = 'create' | 'update' | 'adopt' | 'suspend' | 'unsuspend' | 'release' | 'delete' | 'held';

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

/** What every view and stage needs to know of an action, in one table (Terraform's plans.Action). */
export interface ActionFacts {
  /** The symbol views print before the address (its colour is the view's). */
  readonly symbol: string;
  /** The word after the address, and in the legend. */
  readonly verb: string;
  /** How the summary counts it: "3 to create", "2 held". */
  readonly counted: string;
  /** Whether the apply writes anything for it (a held object is left as it is). */
  readonly writes: boolean;
  /** Whether it ends the tool's ownership of the object (the next state forgets it). */
  readonly forgets: boolean;
  /** Whether it takes something away from people (an account, a membership, an enrolment, a course). */
  readonly removes: boolean;
}

/** Every action, in the order they are listed (and counted) within an entity. */
export const ACTIONS = {
  create: { symbol: '+', verb: 'create', counted: 'to create', writes: true, forgets: false, removes: false },
  adopt: { symbol: '~', verb: 'adopt', counted: 'to adopt', writes: true, forgets: false, removes: false },
  update: { symbol: '~', verb: 'update', counted: 'to update', writes: true, forgets: false, removes: false },
  unsuspend: { symbol: '+', verb: 'unsuspend', counted: 'to unsuspend', writes: true, forgets: false, removes: false },
  suspend: { symbol: '!', verb: 'suspend', counted: 'to suspend', writes: true, forgets: false, removes: true },
  release: { symbol: '~', verb: 'release', counted: 'to release', writes: true, forgets: true, removes: true },
  delete: { symbol: '-', verb: 'delete', counted: 'to delete', writes: true, forgets: true, removes: true },
  held: { symbol: '!', verb: 'held', counted: 'held', writes: false, forgets: false, removes: false },
} as const satisfies Record<ChangeAction, ActionFacts>;

/** Order in which actions are listed (and counted) within an entity. */
export const ACTION_ORDER = Object.keys(ACTIONS) as readonly ChangeAction[];

/** Whether the apply writes something for this change (everything but a held object). */
export const writes = (change: Pick<Change, 'action'>): boolean => ACTIONS[change.action].writes;

/** Key of an object that belongs to two others (a cohort member: cohort key + user key). */
export const pairKey = (a: string, b: string): string => `${a}/${b}`;
