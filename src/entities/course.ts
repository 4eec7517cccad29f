/**
 * The course entity, keyed by idnumber. Courses are created as create_course() makes them (write-courses.ts),
 * renamed (fullname, shortname), never moved between categories nor deleted: a managed course the rules no
 * longer produce is kept or hidden (`courses.onRemoved`). With `courses.adopt: matching`, an existing course
 * holding the idnumber, or else one without idnumber holding the shortname, is taken over.
 *
 * Moodle's shortnames are unique (its API checks it; the schema has no unique index): a shortname held by
 * another course, the site course included, is a conflict, never a second holder.
 */
import type { Diagnostic } from '../errors.js';
import type { Change } from '../model/change.js';
import { addressOf } from '../model/change.js';
import type { DesiredObject } from '../model/desired.js';
import type { StateObject } from '../model/state.js';
import type { CourseSite } from '../moodle/course-defaults.js';
import { COURSE_FORMATS, maxSections, unknownDefaultEnrol } from '../moodle/course-defaults.js';
import type { Queryable } from '../moodle/database.js';
import type { MoodleCourseRow } from '../moodle/read-courses.js';
import { coursesByShortname, isSiteCourse, readCourses } from '../moodle/read-courses.js';
import { writeCourseChanges } from '../moodle/write-courses.js';
import type { Conflict, DiffInput, Entity, EntityDiff } from './entity.js';
import { byKey } from './entity.js';
import { changedFields, columnValues, createChange } from './keyed-diff.js';
import { recheckCatalogued } from './recheck.js';

export type CourseRow = MoodleCourseRow;

export type CourseOnRemoved = 'keep' | 'hide';

export interface CourseOptions {
  /** `courses.adopt` (default matching). */
  readonly adopt: 'never' | 'matching';
  /** `courses.onRemoved`. */
  readonly onRemoved: CourseOnRemoved;
  /** The site's enrol plugins and settings: what a new course gets, and whether the tool can write it. */
  readonly site: CourseSite;
}

/** Columns the rules keep up to date on existing courses (format, sections and visibility are set at creation). */
const COMPARED = ['fullname', 'shortname'] as const;

const keyOf = (row: CourseRow): string | null => (isSiteCourse(row) || row.idnumber === '' ? null : row.idnumber);

export const describeCourse = (row: CourseRow): string =>
  `Moodle course id ${row.id} "${row.shortname}" (${row.idnumber === '' ? 'no idnumber' : `idnumber ${row.idnumber}`})`;

/** Shortnames compare as Moodle's check does on MariaDB (case-insensitive). */
const fold = (shortname: string): string => shortname.toLowerCase();

function groupBy<T>(rows: readonly T[], keyOf: (row: T) => string | null): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const row of rows) {
    const key = keyOf(row);
    if (key !== null) out.set(key, [...(out.get(key) ?? []), row]);
  }
  return out;
}

/** The pure course diff. */
export function diffCourses(input: DiffInput<CourseRow>, options: CourseOptions): EntityDiff {
  const { index, owned } = input;
  const rowsByKey = groupBy(input.current, keyOf);
  const rowsByShortname = groupBy(input.current, (row) => fold(row.shortname));
  const byId = new Map(input.current.map((row) => [row.id, row]));
  const managedById = new Map<number, StateObject>(input.managed.map((m) => [m.id, m]));
  const changes: Change[] = [];
  const conflicts: Conflict[] = [];
  const warnings: string[] = [];
  const claimed = new Set<number>();
  const desiredByShortname = new Map<string, DesiredObject>();
  const maximum = maxSections(options.site);

  const categoryOf = (desired: DesiredObject): string | undefined => desired.refs?.category?.key;
  const createProblem = (desired: DesiredObject): string | null => {
    const category = categoryOf(desired);
    if (category === undefined) return `course "${desired.key}" has no category`;
    if (index.id('category', category) === undefined && !owned('category', category)) {
      return `the category of course "${desired.key}", "${category}", is neither produced by the rules nor in Moodle`;
    }
    const format = String(desired.values.format ?? '');
    if (!COURSE_FORMATS.includes(format)) return `format ${format}: ldap2moodle creates topics and weeks courses only`;
    const sections = desired.values.numsections;
    if (typeof sections !== 'number' || !Number.isSafeInteger(sections) || sections < 0 || sections > maximum) {
      return `numsections ${String(sections)} of course "${desired.key}" is not a number of sections from 0 to ${maximum} (moodlecourse/maxsections)`;
    }
    return null;
  };
  const categoryName = (id: number): string => {
    const key = index.key('category', id);
    return key === undefined ? `category id ${id}` : `category "${key}"`;
  };

  for (const desired of input.desired) {
    const conflict = (message: string): void => {
      conflicts.push({ dn: desired.dn, message });
    };
    const shortname = String(desired.values.shortname ?? '');
    const twin = desiredByShortname.get(fold(shortname));
    if (twin !== undefined) {
      conflict(
        `courses "${twin.key}" and "${desired.key}" both ask for shortname "${shortname}"; Moodle's shortnames are unique`,
      );
      continue;
    }
    desiredByShortname.set(fold(shortname), desired);
    const rows = rowsByKey.get(desired.key) ?? [];
    if (rows.length > 1) {
      for (const row of rows) claimed.add(row.id);
      conflict(
        `idnumber "${desired.key}" is held by several Moodle courses (${rows.map(describeCourse).join(', ')}); make it unique in Moodle first`,
      );
      continue;
    }
    const holders = (rowsByShortname.get(fold(shortname)) ?? []).filter((r) => r.id !== rows[0]?.id);
    let row = rows[0];
    let adoptedByShortname = false;
    if (row === undefined && holders.length > 0) {
      const [holder] = holders;
      const free = holder !== undefined && holders.length === 1 && keyOf(holder) === null && !isSiteCourse(holder);
      if (options.adopt === 'matching' && free && holder.shortname === shortname && !claimed.has(holder.id)) {
        row = holder;
        adoptedByShortname = true;
      } else {
        conflict(
          `course "${desired.key}": shortname "${shortname}" is held by ${holders.map(describeCourse).join(', ')}; Moodle's shortnames are unique`,
        );
        continue;
      }
    }
    if (row === undefined) {
      const problem = createProblem(desired);
      if (problem !== null) conflict(problem);
      else changes.push(createChange('course', desired));
      continue;
    }
    claimed.add(row.id);
    const managed = managedById.get(row.id);
    if (managed === undefined && options.adopt === 'never') {
      conflict(
        `${describeCourse(row)} exists and is not managed by ldap2moodle; set courses.adopt: matching to take it over`,
      );
      continue;
    }
    // A rename onto a shortname another course holds (a duplicate Moodle already has is left alone).
    if (!adoptedByShortname && row.shortname !== shortname && holders.length > 0) {
      conflict(
        `${describeCourse(row)} cannot take shortname "${shortname}": it is held by ${holders.map(describeCourse).join(', ')}`,
      );
      continue;
    }
    const wantedCategory = categoryOf(desired);
    if (wantedCategory !== undefined && index.id('category', wantedCategory) !== row.category) {
      warnings.push(
        `${addressOf('course', desired.key)}: ${describeCourse(row)} is in ${categoryName(row.category)}, the rules put it in category "${wantedCategory}"; courses are not moved`,
      );
    }
    const delta = changedFields(columnValues(row, COMPARED), columnValues(desired.values, COMPARED));
    const before = { ...delta?.before, ...(adoptedByShortname ? { idnumber: '' } : {}) };
    const after = { ...delta?.after, ...(adoptedByShortname ? { idnumber: desired.key } : {}) };
    const base = {
      entity: 'course' as const,
      address: addressOf('course', desired.key),
      key: desired.key,
      moodleId: row.id,
      dn: desired.dn,
      sourceDigest: desired.sourceDigest,
      before,
      after,
    };
    if (managed === undefined) {
      const by = adoptedByShortname ? 'shortname, idnumber written' : 'idnumber';
      changes.push({
        ...base,
        action: 'adopt',
        reason: `existing unmanaged course taken over by ${by} (courses.adopt: matching)`,
      });
    } else if (row.visible === 0 && managed.suspended_by_tool === true) {
      // Hidden by the tool when the directory dropped it; back in the directory, it is shown again (a course
      // a teacher hid stays hidden: its visibility is not the tool's).
      changes.push({
        ...base,
        action: 'unsuspend',
        before: { ...before, visible: 0 },
        after: { ...after, visible: 1 },
        reason: 'back in the directory (hidden by ldap2moodle under courses.onRemoved: hide)',
      });
    } else if (Object.keys(after).length > 0) {
      changes.push({ ...base, action: 'update', reason: 'directory values differ from Moodle' });
    }
  }

  for (const managed of input.managed) {
    if (claimed.has(managed.id)) continue;
    const row = byId.get(managed.id);
    if (row === undefined) {
      warnings.push(
        `${managed.address}: Moodle course id ${managed.id} was deleted outside ldap2moodle; it will be forgotten`,
      );
      continue;
    }
    if (options.onRemoved === 'keep' || row.visible === 0) continue;
    changes.push({
      entity: 'course',
      address: managed.address,
      key: managed.key,
      // A suspension, so that the state remembers the tool hid it (and shows it again when it comes back).
      action: 'suspend',
      moodleId: row.id,
      dn: null,
      sourceDigest: null,
      before: { visible: row.visible },
      after: { visible: 0 },
      reason: 'no longer in the directory (courses.onRemoved: hide)',
    });
  }

  const creates = changes.filter((c) => c.action === 'create');
  const [first] = creates;
  if (first !== undefined) {
    for (const plugin of unknownDefaultEnrol(options.site)) {
      const more = creates.length > 1 ? ` (and ${creates.length - 1} more)` : '';
      conflicts.push({
        message:
          `${first.address}${more}: enrol_${plugin}/defaultenrol is set, so Moodle adds a ${plugin} enrolment method to ` +
          'every new course, which ldap2moodle cannot write (it knows manual, guest and self); set it to 0 or disable the plugin',
      });
    }
  }

  changes.sort(byKey);
  return { changes, conflicts, warnings };
}

/** Inside the apply: shortnames the plan writes, taken by another course since it was made. */
async function recheckShortnames(tx: Queryable, changes: readonly Change[], budget: number): Promise<Diagnostic[]> {
  const writes = changes.filter((c) => typeof c.after.shortname === 'string');
  if (writes.length === 0) return [];
  const holders = await coursesByShortname(
    tx,
    writes.map((c) => String(c.after.shortname)),
    budget,
  );
  const problems: Diagnostic[] = [];
  for (const change of writes) {
    const name = fold(String(change.after.shortname));
    for (const holder of holders) {
      if (fold(holder.shortname) !== name || holder.id === change.moodleId) continue;
      problems.push({
        message: `${change.address}: shortname "${holder.shortname}" was taken by Moodle course id ${holder.id} after the plan`,
      });
    }
  }
  return problems;
}

/** The course entity of one run. */
export function courseEntity(options: CourseOptions): Entity<CourseRow> {
  return {
    type: 'course',
    read: async (db) => ({ rows: await readCourses(db), facts: undefined }),
    identify: (row) => {
      const key = keyOf(row);
      return key === null ? null : { id: row.id, key };
    },
    diff: (input) => diffCourses(input, options),
    recheck: async (tx, planned, changes, budget, context) => [
      ...(await recheckCatalogued('course', tx, planned, changes, budget, context)),
      ...(await recheckShortnames(tx, changes, budget)),
    ],
    write: (tx, context, changes) => writeCourseChanges(tx, context, changes),
  };
}
