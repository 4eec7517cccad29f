/**
 * The state file: what ldap2moodle manages in a Moodle site. The file is JSON with snake_case keys (it is
 * read by people and by other tools), and this module's types mirror it exactly.
 *
 * Ownership lives here: an object is managed because the state says so, never because of a naming guess.
 */
import type { EntityType, Fields } from './change.js';

export const STATE_FORMAT_VERSION = 1;

export interface StateObject {
  readonly address: string;
  readonly type: EntityType;
  /** Moodle row id. */
  readonly id: number;
  readonly key: string;
  /** Digest of the directory entry last applied. */
  readonly source_digest: string;
  /** Managed values last written (drift detection compares Moodle against these). */
  readonly values: Fields;
  /**
   * The directory entry it was last made from (objects whose key names no person): when that entry is in the
   * directory with an error, the object is held, not removed. Absent in states written before it was recorded.
   */
  readonly dn?: string;
  /** Users: the profile (student, teacher, …) they were last synced as; its `onRemoved` applies when they leave. */
  readonly profile?: string;
  /** True when the tool suspended the user (so that it may unsuspend them when they come back). */
  readonly suspended_by_tool?: boolean;
  /** UAIs of the establishments it belongs to: a run scoped to others never changes or removes it. */
  readonly establishments?: readonly string[];
}

export interface State {
  readonly format_version: number;
  /** Incremented at every successful apply. */
  readonly serial: number;
  /** Random id given at the first apply; a state of another lineage describes another site. */
  readonly lineage: string;
  readonly tool_version: string;
  readonly spec_hash: string;
  /** Id of the apply that wrote this state; Moodle's apply marker carries the same id. */
  readonly apply_id?: string;
  readonly objects: readonly StateObject[];
}

/** The state of a site the tool has never applied to. */
export const EMPTY_STATE: State = {
  format_version: STATE_FORMAT_VERSION,
  serial: 0,
  lineage: '',
  tool_version: '',
  spec_hash: '',
  objects: [],
};
