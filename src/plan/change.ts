/**
 * Changes are data: one record per object the apply will touch, with what it is now (`before`), what it will
 * be (`after`), and why. Renderers, guards, the plan file and the apply all read this one shape.
 */
export type EntityType = 'user';

export type ChangeAction = 'create' | 'update' | 'adopt' | 'suspend' | 'unsuspend';

/** A managed column's value as planned and compared. */
export type FieldValue = string | number;
export type Fields = Readonly<Record<string, FieldValue>>;

export interface Change {
  readonly entity: EntityType;
  /** Terraform-style address: `user["jdupont"]`. */
  readonly address: string;
  readonly action: ChangeAction;
  /** The object's natural key (the match key for users). */
  readonly key: string;
  /** Moodle row id, for objects that already exist. */
  readonly moodleId: number | null;
  /** DN of the directory entry the object comes from (null for removals). */
  readonly dn: string | null;
  /** Managed values now (null when creating). */
  readonly before: Fields | null;
  /** Managed values after the apply. */
  readonly after: Fields;
  /** Digest of the source entry (null for removals). */
  readonly sourceDigest: string | null;
  readonly reason: string;
}

/** Address of an object: `type["key"]`, the key JSON-quoted. */
export function addressOf(entity: EntityType, key: string): string {
  return `${entity}[${JSON.stringify(key)}]`;
}

/** Order in which actions are listed (and counted) within an entity. */
export const ACTION_ORDER: readonly ChangeAction[] = ['create', 'adopt', 'update', 'unsuspend', 'suspend'];
