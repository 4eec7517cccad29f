/**
 * The same job on every target gives the same Moodle: the collège example (examples/college, its course rules
 * on) applied to MariaDB, PostgreSQL and the embedded Moodle with a fixed clock, then applied again after
 * directory changes (a renamed student, a student changing class, a leaver whose parents lose their role, a
 * teacher losing a class nobody takes over).
 *
 * After each apply, every table the sync touches (TOUCHED_TABLES) is read whole and compared row by row, column
 * by column, between the first target and each other one, on natural keys: ids are replaced by the keys of the
 * rows they point at (test/helpers/natural-keys.ts), so rows that differ only by their ids are equal. The plans
 * and the state files (ids as natural keys) must be the same too.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Change, EntityType } from '../../src/model/change.js';
import type { StateObject } from '../../src/model/state.js';
import { dropStaleTestDatabases } from '../helpers/mariadb.js';
import { type KeyedSite, keyedSite, rowDifferences, type Side } from '../helpers/natural-keys.js';
import type { Snapshot } from '../helpers/reference-rows.js';
import {
  type CollegeSite,
  classLine,
  collegeSite,
  editEntry,
  removeEntry,
  replaceLine,
} from '../helpers/sdet-college.js';
import { TOUCHED_TABLES } from '../helpers/spec-files.js';
import { type Row, TARGETS, type Target, type TargetName } from '../helpers/targets.js';

const T0 = 1_767_600_000;
const TABLES = TOUCHED_TABLES.map((t) => t.replace(/^mdl_/, ''));

/** The Moodle table each kind of state object's `id` is a row of (the state lists no other kinds). */
const STATE_TABLES: Partial<Readonly<Record<EntityType, string>>> = {
  role: 'role',
  category: 'course_categories',
  profile_field: 'user_info_field',
  user: 'user',
  cohort: 'cohort',
  course: 'course',
  group: 'groups',
  grouping: 'groupings',
  cohort_enrol: 'enrol',
  enrolment: 'user_enrolments',
  role_assignment: 'role_assignments',
};

const taught = (klass: string, subject: string): string =>
  `ENTAuxEnsClassesMatieres: ENTStructureSIREN=19450001400015,ou=structures,dc=ent,dc=example$${klass}$${subject}`;

/** The directory of the second apply. */
function changedDirectory(ldif: string): string {
  let out = editEntry(ldif, 'F4500111', (b) => replaceLine(b, 'sn: MARTIN-DUBOIS', 'sn: MARTIN'));
  out = editEntry(out, 'F4500122', (b) => replaceLine(b, classLine('6EME1'), classLine('6EME2')));
  out = removeEntry(out, 'F4500188');
  // Nobody takes 3EME1 maths over: its class group goes, its cohort method is disabled.
  return editEntry(out, 'F45001mm', (b) =>
    b
      .split('\n')
      .filter((l) => l !== taught('3EME1', '061300'))
      .join('\n'),
  );
}

/** What Moodle holds of the leaver's visits before they leave: an open session and a course access. */
async function leaverVisited(s: CollegeSite): Promise<void> {
  const [user] = await s.t.query("SELECT id FROM {user} WHERE username = 'f4500188'");
  const [course] = await s.t.query("SELECT id FROM {course} WHERE shortname = '0450001A-3EME2-061300'");
  const at = T0 + 30;
  await s.t.insert('sessions', {
    state: 0,
    sid: 'leaver-session',
    userid: Number(user?.id),
    sessdata: null,
    timecreated: at,
    timemodified: at,
    firstip: '10.0.0.1',
    lastip: '10.0.0.1',
  });
  await s.t.insert('user_lastaccess', { userid: Number(user?.id), courseid: Number(course?.id), timeaccess: at });
}

/** What one target holds after one apply. */
interface Moment {
  readonly plan: readonly string[];
  readonly rows: KeyedSite;
  /** The state file, object ids as natural keys, without what is random per site or per target. */
  readonly state: Row;
}

interface Run {
  readonly install: KeyedSite;
  /** The ids of the users, as handed out (they differ per target: see moveIds). */
  readonly userIds: readonly string[];
  /** After the first apply, after the second. */
  readonly moments: readonly [Moment, Moment];
}

/** The snapshot with the apply marker's random parts (lineage, apply id) left out of its value. */
function withoutMarkerIds(snapshot: Snapshot): Snapshot {
  const plugins = new Map(snapshot.get('config_plugins'));
  for (const [id, row] of plugins) {
    if (row.plugin !== 'local_ldap2moodle' || row.name !== 'state') continue;
    const { lineage: _l, apply_id: _a, ...marker } = JSON.parse(String(row.value)) as Row;
    plugins.set(id, { ...row, value: JSON.stringify(marker) });
  }
  return new Map([...snapshot, ['config_plugins', plugins]]);
}

async function momentOf(s: CollegeSite, changes: readonly Change[]): Promise<Moment> {
  const rows = keyedSite(withoutMarkerIds(await s.t.snapshot(TABLES)));
  // Random per site (lineage, apply id), or a digest of the spec, whose `moodle` section differs per target.
  const { lineage: _l, apply_id: _a, spec_hash: _h, objects, ...state } = await s.state();
  const ownKey = (o: StateObject): string => {
    const table = STATE_TABLES[o.type];
    if (table === undefined) throw new Error(`state objects of type ${o.type}: add their table to STATE_TABLES`);
    return rows.keyOf(table, o.id);
  };
  return {
    plan: changes.map((c) => `${c.action} ${c.address}`),
    rows,
    state: { ...state, objects: objects.map((o) => ({ ...o, id: ownKey(o) })) },
  };
}

/**
 * Makes every table hand out ids `by` further on than it would: each target then gives the same rows other ids,
 * so that an id column NATURAL_KEYS does not map shows up as a difference.
 */
async function moveIds(t: Target, by: number): Promise<void> {
  for (const table of TABLES) {
    const [row] = await t.query(`SELECT COALESCE(MAX(id), 0) + 1 + ${by} AS next FROM {${table}}`);
    const next = Number(row?.next);
    if (t.family === 'mariadb') await t.execute(`ALTER TABLE {${table}} AUTO_INCREMENT = ${next}`);
    else await t.query(`SELECT setval('${t.prefix}${table}_id_seq', ${next}, false)`);
  }
}

/** Both applies on one target. */
async function run(target: TargetName, cleanups: (() => Promise<void>)[]): Promise<Run> {
  const s = await collegeSite(target);
  cleanups.push(() => s.remove());
  await moveIds(s.t, 1000 * TARGETS.indexOf(target));
  const install = keyedSite(await s.t.snapshot(TABLES));
  const first = await s.apply({ now: () => T0 * 1000 });
  const afterFirst = await momentOf(s, first.planned.plan.changes);
  const userIds = (await s.t.query('SELECT id FROM {user} ORDER BY id')).map((u) => String(u.id));
  await leaverVisited(s);
  await s.writeLdif(changedDirectory(await s.ldif()));
  const second = await s.apply({ now: () => (T0 + 60) * 1000 });
  return { install, userIds, moments: [afterFirst, await momentOf(s, second.planned.plan.changes)] };
}

describe(`the same applies of the collège on ${TARGETS.join(', ')}`, () => {
  const cleanups: (() => Promise<void>)[] = [];
  const runs = new Map<TargetName, Run>();
  beforeAll(async () => {
    await dropStaleTestDatabases();
    for (const target of TARGETS) runs.set(target, await run(target, cleanups));
  }, 180_000);
  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });
  const runOf = (target: TargetName): Run => runs.get(target) as Run;
  const first = TARGETS[0] as TargetName;

  it('the first apply fills every synced table but config, sessions and user_lastaccess', () => {
    const { install, moments } = runOf(first);
    const grown = TABLES.filter((t) => (moments[0].rows.tables.get(t)?.size ?? 0) > (install.tables.get(t)?.size ?? 0));
    expect(grown).toEqual(TABLES.filter((t) => !['config', 'sessions', 'user_lastaccess'].includes(t)));
  });

  it('the second apply renames, suspends, moves a student and empties a class; the leaver’s visits go', () => {
    const [, second] = runOf(first).moments;
    // Suspending ends their session; losing their last enrolment in a course, their access to it.
    expect(second.rows.tables.get('sessions')?.size).toBe(0);
    expect(second.rows.tables.get('user_lastaccess')?.size).toBe(0);
    expect(second.plan).toEqual([
      'update user["f4500111"]',
      'suspend user["f4500188"]',
      'update profile_data["ent_classes/f4500122"]',
      'delete cohort_member["0450001A-3EME2/f4500188"]',
      'delete cohort_member["0450001A-6EME1/f4500122"]',
      'create cohort_member["0450001A-6EME2/f4500122"]',
      'delete cohort_member["0450001A-ELV/f4500188"]',
      'delete group["0450001A-3EME1-061300/0450001A-3EME1"]',
      'suspend cohort_enrol["0450001A-3EME1-061300/0450001A-3EME1/student"]',
      'update cohort_enrolment["0450001A-3EME1-061300/0450001A-3EME1/student/f4500155"]',
      'update cohort_enrolment["0450001A-3EME1-061300/0450001A-3EME1/student/f4500166"]',
      'delete cohort_enrolment["0450001A-3EME2-061300/0450001A-3EME2/student/f4500188"]',
      'delete cohort_enrolment["0450001A-3EME2-100100/0450001A-3EME2/student/f4500188"]',
      'delete cohort_enrolment["0450001A-6EME1-020700/0450001A-6EME1/student/f4500122"]',
      'delete cohort_enrolment["0450001A-6EME1-100100/0450001A-6EME1/student/f4500122"]',
      'create cohort_enrolment["0450001A-6EME2-020700/0450001A-6EME2/student/f4500122"]',
      'create cohort_enrolment["0450001A-6EME2-100100/0450001A-6EME2/student/f4500122"]',
      'delete cohort_enrolment["0450001A-VIE-SCOLAIRE/0450001A-ELV/student/f4500188"]',
      'suspend enrolment["0450001A-3EME1-061300/f45001mm"]',
      'delete group_member["0450001A-VIE-SCOLAIRE/0450001A-3EME2/f4500188"]',
      'delete group_member["0450001A-VIE-SCOLAIRE/0450001A-6EME1/f4500122"]',
      'create group_member["0450001A-VIE-SCOLAIRE/0450001A-6EME2/f4500122"]',
      'delete role_assignment["user:f4500188/parent/f45001zz"]',
      'delete role_assignment["user:f4500188/parent/f4500210"]',
    ]);
  });

  for (const target of TARGETS.slice(1)) {
    describe(`${target} holds what ${first} holds`, () => {
      const side = (name: TargetName, moment: 0 | 1): Side => ({
        name,
        rows: runOf(name).moments[moment].rows,
        install: runOf(name).install,
      });

      it('other ids: the comparison rests on natural keys', () => {
        expect(runOf(target).userIds).not.toEqual(runOf(first).userIds);
      });

      it('the same plans', () => {
        expect(runOf(target).moments.map((m) => m.plan)).toEqual(runOf(first).moments.map((m) => m.plan));
      });

      it.each([
        ['first', 0],
        ['second', 1],
      ] as const)(
        'after the %s apply: the same rows in every synced table, every column, on natural keys',
        (_, moment) => {
          // One line per difference, printed as is by the failure's diff.
          expect(rowDifferences(side(first, moment), side(target, moment)).join('\n')).toBe('');
        },
      );

      it('the same state files, ids by natural key', () => {
        expect(runOf(target).moments.map((m) => m.state)).toEqual(runOf(first).moments.map((m) => m.state));
      });
    });
  }
});
