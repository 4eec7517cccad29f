/**
 * Course groups, keyed `<course key>/<group idnumber>`. `groups` has no ownership column: the tool knows its
 * groups by key and by the state. Moodle's API keeps idnumbers and names unique within a course (the schema
 * does not), so a desired name another group of the course keeps is a conflict. A managed group the rules no
 * longer produce is deleted (members, grouping links and calendar events with it) or kept: `groups.onRemoved`.
 *
 * Groupings (grouping.ts) are keyed and planned the same way: `diffCourseScoped` serves both.
 */
import { pairKey } from '../model/change.js';
import type { CurrentIndex } from '../model/current.js';
import type { DesiredObject } from '../model/desired.js';
import type { GroupSchema, MoodleGroupRow } from '../moodle/read-groups.js';
import { readGroups } from '../moodle/read-groups.js';
import { writeGroupChanges } from '../moodle/write-groups.js';
import { factsOf } from './catalog.js';
import type { Conflict, DiffInput, Entity, EntityDiff } from './entity.js';
import type { Removal } from './keyed-diff.js';
import { diffKeyed } from './keyed-diff.js';
import { recheckCatalogued } from './recheck.js';

export type GroupRow = MoodleGroupRow;

export type GroupOnRemoved = 'delete' | 'keep';

export interface GroupOptions {
  /** `groups.adopt`: a hand-made group of the course with the desired idnumber becomes managed. */
  readonly adopt: 'never' | 'matching';
  /** `groups.onRemoved`. */
  readonly onRemoved: GroupOnRemoved;
  /** What this install's group tables look like (readGroupSchema). */
  readonly schema: GroupSchema;
}

/** What tells groups and groupings apart in the shared diff: the entity (its nouns and section are in the catalogue). */
export type CourseScopedKind = 'group' | 'grouping';

/** Columns the rules set on an existing group or grouping (course and idnumber are its key). */
export const COURSE_SCOPED_COMPARED = ['name', 'description'] as const;

/** `<course key>/<idnumber>` of a row of a keyed course; null for a row without idnumber (never the tool's). */
export function courseScopedKey(row: GroupRow, index: CurrentIndex): string | null {
  const course = index.key('course', row.courseid);
  return course === undefined || row.idnumber === '' ? null : pairKey(course, row.idnumber);
}

/** The diff shared by groups and groupings. */
export function diffCourseScoped(
  input: DiffInput<GroupRow>,
  options: Pick<GroupOptions, 'adopt' | 'onRemoved'>,
  entity: CourseScopedKind,
): EntityDiff {
  const kind = factsOf(entity);
  const { index, owned, wanted } = input;
  const keyOf = (row: GroupRow): string | null => courseScopedKey(row, index);
  const courseOf = (row: GroupRow): string => index.key('course', row.courseid) ?? `id ${row.courseid}`;
  const describe = (row: GroupRow): string =>
    `Moodle ${kind.noun} id ${row.id} "${row.name}" (${row.idnumber === '' ? 'no idnumber' : `idnumber ${row.idnumber}`} in course ${courseOf(row)})`;
  const desiredByKey = new Map(input.desired.map((d) => [d.key, d]));
  const managedIds = new Set(input.managed.map((m) => m.id));

  /** The name a row has after this plan: the desired one, none when deleted, else its own. */
  const nameAfter = (row: GroupRow): string | null => {
    const key = keyOf(row);
    const desired = key === null ? undefined : desiredByKey.get(key);
    if (desired !== undefined) return String(desired.values.name ?? row.name);
    if (managedIds.has(row.id) && options.onRemoved === 'delete') return null;
    return row.name;
  };

  const courseProblem = (desired: DesiredObject): string | null => {
    const course = desired.refs?.course?.key;
    if (course === undefined) return `${kind.noun} "${desired.key}" names no course`;
    // One the rules produce counts: if it cannot be made, its own conflict says why.
    if (index.id('course', course) !== undefined || owned('course', course) || wanted('course', course)) return null;
    return `the course of ${kind.noun} "${desired.key}", "${course}", is neither produced by the rules nor in Moodle`;
  };

  /** Another group of the course keeping the desired name (the row the desired object matches aside). */
  const nameProblem = (desired: DesiredObject, self: GroupRow | undefined): string | null => {
    const course = desired.refs?.course?.key;
    const courseId = course === undefined ? undefined : index.id('course', course);
    const name = desired.values.name === undefined ? undefined : String(desired.values.name);
    // A name the row already has is no change: an old duplicate made by hand is left as it is.
    if (courseId === undefined || name === undefined || name === self?.name) return null;
    const holder = input.current.find(
      (row) =>
        row.courseid === courseId && row.id !== self?.id && keyOf(row) !== desired.key && nameAfter(row) === name,
    );
    if (holder === undefined) return null;
    return (
      `its name "${name}" is held by ${describe(holder)}; Moodle refuses two ${kind.nouns} of one course with the same name` +
      ' — rename one of them'
    );
  };

  const removed = (_: unknown, row: GroupRow): Removal => {
    if (options.onRemoved === 'keep') return {};
    return {
      change: {
        action: 'delete',
        before: {
          course: courseOf(row),
          idnumber: row.idnumber,
          name: row.name,
          description: row.description ?? '',
        },
        after: {},
        reason: `no longer in the directory (${kind.section}.onRemoved: delete)`,
      },
    };
  };

  const result = diffKeyed(input, {
    entity,
    keyOf,
    describe,
    compared: COURSE_SCOPED_COMPARED,
    adopt: options.adopt,
    checkCreate: (desired) => courseProblem(desired) ?? nameProblem(desired, undefined),
    checkExisting: (desired, row) => nameProblem(desired, row),
    removed,
  });
  return { ...result, conflicts: [...result.conflicts, ...duplicateNames(input.desired, entity)] };
}

/** Two desired objects of one course with the same name: the rules would make what Moodle refuses. */
function duplicateNames(desired: readonly DesiredObject[], entity: CourseScopedKind): Conflict[] {
  const kind = factsOf(entity);
  const byName = new Map<string, DesiredObject[]>();
  for (const d of desired) {
    const id = JSON.stringify([d.refs?.course?.key ?? '', d.values.name ?? '']);
    byName.set(id, [...(byName.get(id) ?? []), d]);
  }
  return [...byName.values()]
    .filter((list) => list.length > 1)
    .flatMap(([first, ...others]) =>
      others.map((d) => ({
        dn: d.dn,
        message:
          `${kind.noun} "${d.key}" and ${kind.noun} "${first?.key}" would have the same name "${String(d.values.name)}" ` +
          'in one course; Moodle refuses that',
      })),
    );
}

/** The pure group diff. */
export function diffGroups(input: DiffInput<GroupRow>, options: Pick<GroupOptions, 'adopt' | 'onRemoved'>) {
  return diffCourseScoped(input, options, 'group');
}

/** The group entity of one run. */
export function groupEntity(options: GroupOptions): Entity<GroupRow> {
  return {
    type: 'group',
    // The groups of the courses read before.
    read: async (db, context) => ({
      rows: await readGroups(db, context.index.ids('course'), context.budget),
      facts: undefined,
    }),
    identify: (row, { index }) => {
      const key = courseScopedKey(row, index);
      return key === null ? null : { id: row.id, key };
    },
    diff: (input) => diffGroups(input, options),
    recheck: (tx, planned, changes, budget, context) =>
      recheckCatalogued('group', tx, planned, changes, budget, context),
    write: (tx, context, changes) => writeGroupChanges(tx, context, changes, options.schema),
  };
}
