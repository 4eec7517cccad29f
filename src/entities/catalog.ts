/**
 * The entity catalogue: every fact the pipeline needs about a kind of Moodle object, in one record per entity
 * type, read by every stage (rules, plan, guards, scope, views, redaction, apply, state) instead of tables of
 * their own. The record type lists every fact as required and the catalogue `satisfies Record<EntityType, …>`:
 * a new entity type without its record, or a record without one of its facts, does not compile.
 *
 * The catalogue is data: it imports only `src/model/`, so any stage may read it. What an entity *does* (read,
 * diff, write) is in its module (`src/entities/<entity>.ts`) and its reader and writer in `src/moodle/`.
 *
 * The order entities are planned, listed and written in (`ENTITY_ORDER`) is derived from what each depends on
 * (`refs` and `uses`): what an object points at, or whose rows and diff results it reads, comes first. Ties
 * are broken by the order of the records below.
 */
import type { Change, ChangeAction, EntityType } from '../model/change.js';
import type { RemovalLimit } from '../model/plan.js';

/**
 * How Moodle cleans a text value before storing it: `notags` (PARAM_NOTAGS/PARAM_TEXT: NUL and tags removed),
 * `raw` (only control characters removed), `id` (an identifier: a value that would need cleaning is refused,
 * never changed, since it names the object).
 */
export type TextCleaning = 'notags' | 'raw' | 'id';

/** Where, in the key and values of an entity's changes, personal data sits (what redaction pseudonymises). */
export interface PersonalData {
  /**
   * `none`: the key holds no personal value; `user`: the key is a user key; otherwise the key ends with a user
   * key after the key of the object named by `container` (a ref or value: a member's cohort), or, without one,
   * after the first or last `/`; `head: 'context'` marks a role assignment's context, a user's when `user:…`.
   */
  readonly key:
    | 'none'
    | 'user'
    | { readonly userAfter: 'first' | 'last'; readonly container?: string; readonly head?: 'context' };
  /** Values holding personal data: a value (pseudonymised), an e-mail (its domain kept), a role context. */
  readonly fields: Readonly<Record<string, 'value' | 'email' | 'context'>>;
}

/** How the mass-removal guard counts an entity's removals (plan/guards.ts). */
export interface RemovalGuard {
  /** Actions that remove a managed object of this entity. */
  readonly actions: readonly ChangeAction[];
  /** Plural noun in the refusal: "the plan would remove 12 groups". */
  readonly noun: string;
  /** Verb of the refusal: users are suspended, the rest removed. */
  readonly verb: 'suspend' | 'remove';
  /**
   * Its name where people write it: the spec's `guards.maxRemovals.<name>`, `--allow-removals <name>=N`, and
   * the refusal code `GUARD_<NAME>_REMOVALS`.
   */
  readonly name: string;
  /** The default limit (README, "Removal guards": measured with the generator's churn, bench/guards.ts). */
  readonly limit: RemovalLimit;
  /** What "managed" counts: the state's objects, or (objects owned through a parent) what the plan saw. */
  readonly managed: 'state' | 'plan';
}

/** One value of a natural key, as the apply's recheck computes it from a change (src/moodle/recheck-rows.ts). */
export type NaturalKeyPart =
  /** A value of the change (`after`). */
  | { readonly field: string }
  /** The Moodle id of the object a ref names. */
  | { readonly ref: string }
  /** A constant column value. */
  | { readonly literal: string }
  /** The Moodle id of the role named by a value (a shortname). */
  | { readonly roleOf: string }
  /** The id of the manual enrolment instance of the course a ref names. */
  | { readonly manualInstanceOf: string };

/** What the apply re-checks, inside its transaction, before writing an entity's changes. */
export interface RecheckFacts {
  /** Noun of a Moodle row in messages: "Moodle enrolment method id 7". */
  readonly noun: string;
  /** Columns the plan depends on: a change of any of them since the plan makes it stale. */
  readonly columns: readonly string[];
  /** The natural key that rows to create must still find free; null when the entity has none to check. */
  readonly naturalKey: {
    readonly columns: readonly [string, ...string[]];
    readonly parts: readonly [NaturalKeyPart, ...NaturalKeyPart[]];
  } | null;
}

export interface EntityFacts {
  /** Plural title heading the entity's section in every view: "Users". */
  readonly title: string;
  /** Singular and plural nouns in messages: "cohort", "cohorts". */
  readonly noun: string;
  readonly nouns: string;
  /** The spec section holding its settings (`adopt`, `onRemoved`), named in messages. */
  readonly section: string;
  /** What its key is made of, in messages: `idnumber`, `course/user`. */
  readonly keyName: string;
  /** The Moodle table of its rows (without prefix). */
  readonly table: string;
  /** What its objects point at, by ref name (a member's `cohort` and `user`): written before it, re-checked by the apply. */
  readonly refs: Readonly<Record<string, EntityType>>;
  /** Other entities whose rows, ownership or diff results its reading or diff uses: planned before it. */
  readonly uses: readonly EntityType[];
  /** True when the state lists its objects one by one; false when they are owned through a parent (members). */
  readonly stateful: boolean;
  /**
   * Whose establishments an object belongs to, for runs scoped to some establishments (plan/scope.ts): its own
   * (recorded in the state, or its desired object's), or those of the object of `entity` whose key is the part
   * of its key before the last `/` (a member's container) or after the first `/` (a profile value's user).
   */
  readonly establishments: 'own' | { readonly entity: EntityType; readonly keyPart: 'before-last' | 'after-first' };
  /**
   * Whether writing a change leaves Moodle's caches stale until a purge (categories, courses, groups are
   * cached; a role's permissions are in the role definitions cache).
   */
  readonly purge: boolean | ((change: Change) => boolean);
  readonly personal: PersonalData;
  /** The mass-removal guard of this entity; null when its removals are not counted (they follow a parent). */
  readonly removals: RemovalGuard | null;
  /**
   * True when the plan drops objects naming objects that exist nowhere (plan/references.ts); false when the
   * entity's own diff checks its references.
   */
  readonly refsCheckedByPlan: boolean;
  /** Which entity a data problem is listed under when several met it: the lowest rank (rules.ts). */
  readonly problemRank: number;
  /** True when its values repeat its refs (a member's cohort and user): views do not list the refs again. */
  readonly refsInValues: boolean;
  /**
   * Its values taken from the directory that are stored in the text column of the same name of `table`, and
   * how Moodle's API cleans each (rules/clean-values.ts): checked against the column's size read from the site
   * and cleaned during planning, so that one bad value leaves out one object, never fails the apply. Users are
   * checked by their own rules (rules/users.ts); entities whose values come from the spec or are refs have none.
   */
  readonly texts: Readonly<Record<string, TextCleaning>>;
  readonly recheck: RecheckFacts;
}

const USER_FIELDS: PersonalData['fields'] = {
  username: 'value',
  idnumber: 'value',
  firstname: 'value',
  lastname: 'value',
  middlename: 'value',
  alternatename: 'value',
  email: 'email',
};

/** Common to the objects keyed `<container>/<user>`. */
const member = (container: string): PersonalData => ({
  key: { userAfter: 'last', container },
  fields: { user: 'value' },
});

const byKeyField = (field: string): RecheckFacts['naturalKey'] => ({ columns: [field], parts: [{ field }] });

export const CATALOG = {
  role: {
    title: 'Roles',
    noun: 'role',
    nouns: 'roles',
    section: 'roles',
    keyName: 'shortname',
    table: 'role',
    refs: {},
    uses: [],
    stateful: true,
    establishments: 'own',
    // A role's permissions changed: Moodle's role definitions cache (roledefs) holds the old ones until a purge.
    purge: (ch) => ch.action !== 'create' && ch.after.capabilities !== undefined,
    personal: { key: 'none', fields: {} },
    removals: null,
    refsCheckedByPlan: false,
    problemRank: 1,
    refsInValues: false,
    texts: {},
    recheck: {
      noun: 'role',
      columns: ['shortname', 'name', 'description', 'archetype'],
      naturalKey: byKeyField('shortname'),
    },
  },
  category: {
    title: 'Categories',
    noun: 'category',
    nouns: 'categories',
    section: 'categories',
    keyName: 'idnumber',
    table: 'course_categories',
    refs: { parent: 'category' },
    uses: [],
    stateful: true,
    establishments: 'own',
    // Written by SQL, invisible to Moodle's category caches until a purge (reference-writes §10).
    purge: true,
    personal: { key: 'none', fields: {} },
    removals: null,
    refsCheckedByPlan: false,
    problemRank: 2,
    refsInValues: false,
    texts: { idnumber: 'id', name: 'notags', description: 'raw' },
    recheck: {
      noun: 'category',
      columns: ['idnumber', 'name', 'description', 'parent', 'path'],
      naturalKey: byKeyField('idnumber'),
    },
  },
  profile_field: {
    title: 'Profile fields',
    noun: 'profile field',
    nouns: 'profile fields',
    section: 'profileFields',
    keyName: 'shortname',
    table: 'user_info_field',
    refs: {},
    uses: [],
    stateful: true,
    establishments: 'own',
    purge: false,
    personal: { key: 'none', fields: {} },
    removals: null,
    refsCheckedByPlan: false,
    problemRank: 1,
    refsInValues: false,
    texts: {},
    recheck: {
      noun: 'profile field',
      columns: ['shortname', 'name', 'datatype', 'categoryid', 'locked', 'visible'],
      naturalKey: byKeyField('shortname'),
    },
  },
  user: {
    title: 'Users',
    noun: 'user',
    nouns: 'users',
    section: 'users',
    keyName: 'username',
    table: 'user',
    refs: {},
    uses: [],
    stateful: true,
    establishments: 'own',
    purge: false,
    personal: { key: 'user', fields: USER_FIELDS },
    removals: {
      actions: ['suspend'],
      noun: 'users',
      verb: 'suspend',
      name: 'users',
      limit: { count: 10, percent: 2 },
      managed: 'state',
    },
    refsCheckedByPlan: false,
    problemRank: 0,
    refsInValues: false,
    texts: {},
    // The managed fields of the spec are checked too; a username taken meanwhile is checked by the user
    // entity itself, under the database's collation (src/moodle/recheck-users.ts).
    recheck: { noun: 'user', columns: ['username', 'deleted', 'suspended', 'auth'], naturalKey: null },
  },
  profile_data: {
    title: 'Profile data',
    noun: 'profile value',
    nouns: 'profile values',
    section: 'profileFields',
    keyName: 'field/user',
    table: 'user_info_data',
    refs: { field: 'profile_field', user: 'user' },
    uses: [],
    stateful: false,
    establishments: { entity: 'user', keyPart: 'after-first' },
    purge: false,
    personal: { key: { userAfter: 'first', container: 'field' }, fields: { user: 'value' } },
    removals: null,
    refsCheckedByPlan: false,
    problemRank: 1,
    refsInValues: true,
    texts: { data: 'raw' },
    recheck: {
      noun: 'profile value',
      columns: ['userid', 'fieldid', 'data'],
      // Moodle's unique index is (userid, fieldid).
      naturalKey: { columns: ['userid', 'fieldid'], parts: [{ ref: 'user' }, { ref: 'field' }] },
    },
  },
  cohort: {
    title: 'Cohorts',
    noun: 'cohort',
    nouns: 'cohorts',
    section: 'cohorts',
    keyName: 'idnumber',
    table: 'cohort',
    refs: { category: 'category' },
    uses: [],
    stateful: true,
    establishments: 'own',
    purge: false,
    personal: { key: 'none', fields: {} },
    removals: {
      actions: ['delete', 'release'],
      noun: 'cohorts',
      verb: 'remove',
      name: 'cohorts',
      limit: { count: 5, percent: 5 },
      managed: 'state',
    },
    refsCheckedByPlan: false,
    problemRank: 2,
    refsInValues: false,
    texts: { idnumber: 'id', name: 'notags', description: 'raw' },
    recheck: {
      noun: 'cohort',
      columns: ['idnumber', 'contextid', 'name', 'component', 'description', 'visible'],
      naturalKey: byKeyField('idnumber'),
    },
  },
  cohort_member: {
    title: 'Cohort members',
    noun: 'cohort member',
    nouns: 'cohort members',
    section: 'cohorts',
    keyName: 'cohort/user',
    table: 'cohort_members',
    refs: { cohort: 'cohort', user: 'user' },
    uses: [],
    stateful: false,
    establishments: { entity: 'cohort', keyPart: 'before-last' },
    purge: false,
    personal: member('cohort'),
    // Members follow their cohort: the enrolments they bring (cohort sync) are what is counted.
    removals: null,
    refsCheckedByPlan: false,
    problemRank: 2,
    refsInValues: true,
    texts: {},
    recheck: {
      noun: 'cohort member',
      columns: ['cohortid', 'userid'],
      naturalKey: { columns: ['cohortid', 'userid'], parts: [{ ref: 'cohort' }, { ref: 'user' }] },
    },
  },
  course: {
    title: 'Courses',
    noun: 'course',
    nouns: 'courses',
    section: 'courses',
    keyName: 'idnumber',
    table: 'course',
    refs: { category: 'category' },
    uses: [],
    stateful: true,
    establishments: 'own',
    // Listed through the category caches.
    purge: true,
    personal: { key: 'none', fields: {} },
    removals: {
      actions: ['suspend'],
      noun: 'courses (hiding them)',
      verb: 'remove',
      name: 'courses',
      limit: { count: 5, percent: 5 },
      managed: 'state',
    },
    refsCheckedByPlan: true,
    // Course-side objects are made from the same values as cohorts (a class value): the first one reported keeps it.
    problemRank: 2,
    refsInValues: false,
    texts: { idnumber: 'id', shortname: 'notags', fullname: 'notags' },
    recheck: {
      noun: 'course',
      columns: ['idnumber', 'shortname', 'fullname', 'category', 'visible'],
      naturalKey: byKeyField('idnumber'),
    },
  },
  group: {
    title: 'Course groups',
    noun: 'group',
    nouns: 'groups',
    section: 'groups',
    keyName: 'idnumber',
    table: 'groups',
    refs: { course: 'course' },
    uses: [],
    stateful: true,
    establishments: 'own',
    // The course's groupdata cache (reference-writes §19).
    purge: true,
    personal: { key: 'none', fields: {} },
    removals: {
      actions: ['delete'],
      noun: 'groups',
      verb: 'remove',
      name: 'groups',
      limit: { count: 10, percent: 5 },
      managed: 'state',
    },
    refsCheckedByPlan: true,
    problemRank: 2,
    refsInValues: false,
    texts: { idnumber: 'id', name: 'notags', description: 'raw' },
    recheck: {
      noun: 'group',
      columns: ['courseid', 'idnumber', 'name', 'description'],
      naturalKey: { columns: ['courseid', 'idnumber'], parts: [{ ref: 'course' }, { field: 'idnumber' }] },
    },
  },
  grouping: {
    title: 'Groupings',
    noun: 'grouping',
    nouns: 'groupings',
    section: 'groups',
    keyName: 'idnumber',
    table: 'groupings',
    refs: { course: 'course' },
    uses: [],
    stateful: true,
    establishments: 'own',
    purge: true,
    personal: { key: 'none', fields: {} },
    removals: null,
    refsCheckedByPlan: true,
    problemRank: 2,
    refsInValues: false,
    texts: { idnumber: 'id', name: 'notags', description: 'raw' },
    recheck: {
      noun: 'grouping',
      columns: ['courseid', 'idnumber', 'name', 'description'],
      naturalKey: { columns: ['courseid', 'idnumber'], parts: [{ ref: 'course' }, { field: 'idnumber' }] },
    },
  },
  grouping_group: {
    title: 'Grouping groups',
    noun: 'grouping-group link',
    nouns: 'grouping-group links',
    section: 'groups',
    keyName: 'grouping/group',
    table: 'groupings_groups',
    refs: { grouping: 'grouping', group: 'group' },
    uses: [],
    stateful: false,
    establishments: { entity: 'grouping', keyPart: 'before-last' },
    purge: true,
    personal: { key: 'none', fields: {} },
    removals: null,
    refsCheckedByPlan: true,
    problemRank: 2,
    refsInValues: false,
    texts: {},
    recheck: {
      noun: 'grouping-group link',
      columns: ['groupingid', 'groupid'],
      naturalKey: { columns: ['groupingid', 'groupid'], parts: [{ ref: 'grouping' }, { ref: 'group' }] },
    },
  },
  cohort_enrol: {
    title: 'Cohort enrolment methods',
    noun: 'cohort enrolment method',
    nouns: 'cohort enrolment methods',
    section: 'enrolments.cohorts',
    keyName: 'course/cohort/role',
    table: 'enrol',
    refs: { course: 'course', cohort: 'cohort', group: 'group' },
    uses: ['role'],
    stateful: true,
    establishments: 'own',
    purge: false,
    personal: { key: 'none', fields: {} },
    removals: {
      actions: ['delete', 'suspend'],
      noun: 'cohort enrolment methods',
      verb: 'remove',
      name: 'cohort_enrolment_methods',
      limit: { count: 10, percent: 5 },
      managed: 'state',
    },
    refsCheckedByPlan: true,
    problemRank: 2,
    refsInValues: false,
    texts: {},
    recheck: {
      noun: 'enrolment method',
      columns: ['courseid', 'customint1', 'customint2', 'roleid', 'status'],
      // A cohort sync of the same cohort and role added meanwhile would be a duplicate.
      naturalKey: {
        columns: ['courseid', 'enrol', 'customint1', 'roleid'],
        parts: [{ ref: 'course' }, { literal: 'cohort' }, { ref: 'cohort' }, { roleOf: 'role' }],
      },
    },
  },
  cohort_enrolment: {
    title: 'Cohort enrolments',
    noun: 'cohort enrolment',
    nouns: 'cohort enrolments',
    section: 'enrolments.cohorts',
    keyName: 'method/user',
    table: 'user_enrolments',
    refs: { method: 'cohort_enrol', user: 'user' },
    uses: ['group', 'cohort_member'],
    stateful: false,
    establishments: { entity: 'cohort_enrol', keyPart: 'before-last' },
    purge: false,
    personal: member('method'),
    // Owned through their method, not in the state: the guard counts what the plan saw.
    removals: {
      actions: ['delete', 'suspend'],
      noun: 'cohort enrolments',
      verb: 'remove',
      name: 'cohort_enrolments',
      limit: { count: 100, percent: 5 },
      managed: 'plan',
    },
    refsCheckedByPlan: true,
    problemRank: 2,
    refsInValues: false,
    texts: {},
    recheck: {
      noun: 'user enrolment',
      columns: ['enrolid', 'userid', 'status'],
      naturalKey: { columns: ['enrolid', 'userid'], parts: [{ ref: 'method' }, { ref: 'user' }] },
    },
  },
  enrolment: {
    title: 'Manual enrolments',
    noun: 'manual enrolment',
    nouns: 'manual enrolments',
    section: 'enrolments.manual',
    keyName: 'course/user',
    table: 'user_enrolments',
    refs: { course: 'course', user: 'user' },
    uses: ['role'],
    stateful: true,
    establishments: 'own',
    purge: false,
    personal: member('course'),
    removals: {
      actions: ['delete', 'suspend'],
      noun: 'enrolments',
      verb: 'remove',
      name: 'manual_enrolments',
      limit: { count: 10, percent: 5 },
      managed: 'state',
    },
    refsCheckedByPlan: true,
    problemRank: 2,
    refsInValues: false,
    texts: {},
    recheck: {
      noun: 'manual enrolment',
      columns: ['enrolid', 'userid', 'status'],
      naturalKey: { columns: ['enrolid', 'userid'], parts: [{ manualInstanceOf: 'course' }, { ref: 'user' }] },
    },
  },
  group_member: {
    title: 'Group members',
    noun: 'group member',
    nouns: 'group members',
    section: 'groups',
    keyName: 'group/user',
    table: 'groups_members',
    refs: { group: 'group', user: 'user' },
    uses: [],
    stateful: false,
    establishments: { entity: 'group', keyPart: 'before-last' },
    purge: false,
    personal: member('group'),
    removals: null,
    refsCheckedByPlan: true,
    problemRank: 2,
    refsInValues: false,
    texts: {},
    recheck: {
      noun: 'group member',
      columns: ['groupid', 'userid', 'component', 'itemid'],
      naturalKey: { columns: ['groupid', 'userid'], parts: [{ ref: 'group' }, { ref: 'user' }] },
    },
  },
  role_assignment: {
    title: 'Role assignments',
    noun: 'role assignment',
    nouns: 'role assignments',
    section: 'roleAssignments',
    keyName: 'context/role/user',
    table: 'role_assignments',
    refs: { user: 'user', target: 'user', category: 'category', course: 'course' },
    // The manual enrolments' roles are rows of the same shape: their diff tells this one which role each gives.
    uses: ['role', 'enrolment'],
    stateful: true,
    establishments: 'own',
    purge: false,
    personal: { key: { userAfter: 'last', head: 'context' }, fields: { user: 'value', context: 'context' } },
    removals: {
      actions: ['delete'],
      noun: 'role assignments',
      verb: 'remove',
      name: 'role_assignments',
      limit: { count: 5, percent: 5 },
      managed: 'state',
    },
    refsCheckedByPlan: true,
    problemRank: 2,
    refsInValues: false,
    texts: {},
    // role_assignments has no unique index: identical rows are one assignment, never a key to keep free.
    recheck: {
      noun: 'role assignment',
      columns: ['roleid', 'contextid', 'userid', 'component', 'itemid'],
      naturalKey: null,
    },
  },
} satisfies Record<EntityType, EntityFacts>;

/** The facts of one entity type. */
export function factsOf(entity: EntityType): EntityFacts {
  return CATALOG[entity];
}

/** The entities an entity is planned and written after: what its objects point at and what it uses. */
export function dependenciesOf(entity: EntityType): EntityType[] {
  const facts = factsOf(entity);
  return [...new Set([...Object.values(facts.refs), ...facts.uses])].filter((e) => e !== entity);
}

/**
 * A topological order of the catalogue by its dependencies, ties broken by the catalogue's own order; throws
 * on a cycle (no order could write every object after what it points at).
 */
export function deriveOrder(entities: readonly EntityType[], dependencies: (e: EntityType) => readonly EntityType[]) {
  const order: EntityType[] = [];
  const placed = new Set<EntityType>();
  while (order.length < entities.length) {
    const next = entities.find((e) => !placed.has(e) && dependencies(e).every((d) => placed.has(d)));
    if (next === undefined) {
      const left = entities.filter((e) => !placed.has(e));
      throw new Error(`the entity catalogue has a dependency cycle among ${left.join(', ')}`);
    }
    order.push(next);
    placed.add(next);
  }
  return order;
}

/** Entities in the order they are planned, listed and written: what an object refers to is written first. */
export const ENTITY_ORDER: readonly EntityType[] = deriveOrder(Object.keys(CATALOG) as EntityType[], dependenciesOf);

/** The key of the object a change's key starts with (`personal.key.container`), when the change names it. */
export function containerKeyOf(change: Change): string | undefined {
  const personal = factsOf(change.entity).personal.key;
  if (typeof personal !== 'object' || personal.container === undefined) return undefined;
  const ref = change.refs?.[personal.container];
  if (ref !== undefined) return ref.key;
  const named = change.before?.[personal.container] ?? change.after[personal.container];
  return typeof named === 'string' ? named : undefined;
}

/**
 * Where a key holds a user key (`personal.key`): the part before it (a member's cohort; '' for a user) and the
 * user key; null when the key holds none. The part after the container's key when it is known (keys may hold a
 * `/` themselves), else after the first or last `/`.
 */
export function userPartOf(
  entity: EntityType,
  key: string,
  container?: string,
): { readonly head: string; readonly user: string } | null {
  const personal = factsOf(entity).personal.key;
  if (personal === 'none') return null;
  if (personal === 'user') return { head: '', user: key };
  const at =
    container !== undefined && key.startsWith(`${container}/`)
      ? container.length
      : personal.userAfter === 'first'
        ? key.indexOf('/')
        : key.lastIndexOf('/');
  return at < 0 ? null : { head: key.slice(0, at), user: key.slice(at + 1) };
}

/** A role context held in a user's context (`user:<user key>`, possibly followed by `/…`): that user's key. */
export function contextUserOf(context: string): string | undefined {
  if (!context.startsWith(USER_CONTEXT)) return undefined;
  const end = context.indexOf('/');
  return end < 0 ? context.slice(USER_CONTEXT.length) : context.slice(USER_CONTEXT.length, end);
}

/** The prefix of a role context that is a user's (a parent's role in their child's context). */
export const USER_CONTEXT = 'user:';
