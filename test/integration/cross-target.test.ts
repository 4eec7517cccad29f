/**
 * The same job on every target gives the same Moodle: the example collège (examples/college/directory.ldif
 * with the example's users section) applied to MariaDB, PostgreSQL and the embedded Moodle, then applied
 * again after a rename and a leaver. The user rows, their contexts, the apply marker and the state files must
 * then be equal, row by row and column by column, on natural keys (username; a context by its user) once the
 * ids each database chose are replaced by those keys. The clock is fixed, so timestamps are equal as they are.
 */
import { copyFile, readFile, writeFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applySpec } from '../../src/apply/apply.js';
import type { Change } from '../../src/model/change.js';
import type { State } from '../../src/model/state.js';
import { loadSpec } from '../../src/spec/load.js';
import { afterApply } from '../helpers/apply-specs.js';
import { dropStaleTestDatabases } from '../helpers/mariadb.js';
import { COLLEGE_LDIF, collegeUsers, STATE_FILE, type Workspace, workspace, writeSpec } from '../helpers/spec-files.js';
import { createTarget, type Row, TARGETS, type Target, type TargetName } from '../helpers/targets.js';

const T0 = 1_767_600_000;
const RENAMED = { uid: 'F4500111', from: 'sn: MARTIN-DUBOIS', to: 'sn: MARTIN' };
const LEAVER = 'F4500166';

/** What one target holds after the two applies, ids replaced by natural keys. */
interface View {
  readonly plans: readonly string[][];
  /** Users other than guest and admin, by username, without `id`. */
  readonly users: Readonly<Record<string, Row>>;
  /** User contexts by username: instanceid and the path's own segment as `<ctx:username>`, without `id`. */
  readonly contexts: Readonly<Record<string, Row>>;
  readonly marker: Row;
  readonly state: Row;
}

/** The directory without the leaver's entry and with the renamed person's new surname. */
function changedLdif(text: string): string {
  return text
    .split(/\n(?=dn: )/)
    .filter((block) => !block.startsWith(`dn: uid=${LEAVER},`))
    .map((block) => (block.startsWith(`dn: uid=${RENAMED.uid},`) ? block.replace(RENAMED.from, RENAMED.to) : block))
    .join('\n');
}

async function viewOf(t: Target, ws: Workspace, plans: string[][]): Promise<View> {
  const users = await t.query('SELECT * FROM mdl_user WHERE id > 2 ORDER BY id');
  const nameOf = new Map(users.map((u) => [Number(u.id), String(u.username)]));
  const contexts = await t.query('SELECT * FROM mdl_context WHERE contextlevel = 30 AND instanceid > 2 ORDER BY id');
  const [marker] = await t.query<{ value: string }>(
    "SELECT value FROM mdl_config_plugins WHERE plugin = 'local_ldap2moodle' AND name = 'state'",
  );
  await t.release();
  const state = JSON.parse(await readFile(ws.path(STATE_FILE), 'utf8')) as State & Row;
  const userKey = (id: unknown) => `<user:${nameOf.get(Number(id)) ?? `?${String(id)}`}>`;
  const { lineage: _l, apply_id: _a, ...markerRest } = JSON.parse(String(marker?.value)) as Row;
  // Random per site (lineage, apply id), or a digest of the spec, whose `moodle` section differs per target.
  const { lineage: _sl, apply_id: _sa, spec_hash: _h, objects, ...stateRest } = state;
  return {
    plans,
    users: Object.fromEntries(users.map(({ id: _id, ...u }) => [String(u.username), u])),
    contexts: Object.fromEntries(
      contexts.map(({ id, ...c }) => {
        const name = nameOf.get(Number(c.instanceid)) ?? '?';
        const path = String(c.path).replace(new RegExp(`/${String(id)}$`), `/<ctx:${name}>`);
        return [name, { ...c, instanceid: userKey(c.instanceid), path }];
      }),
    ),
    marker: markerRest,
    state: { ...stateRest, objects: objects.map((o) => ({ ...o, id: userKey(o.id) })) },
  };
}

const summary = (changes: readonly Change[]) => changes.map((c) => `${c.action} ${c.address}`);

/** Both applies on one target; returns what it holds then. */
async function run(target: TargetName, cleanups: (() => Promise<void>)[]): Promise<View> {
  const [t, ws] = await Promise.all([createTarget(target), workspace()]);
  cleanups.push(
    () => t.drop(),
    () => ws.remove(),
  );
  await copyFile(COLLEGE_LDIF, ws.path('directory.ldif'));
  const spec = await writeSpec(ws, {
    version: 1,
    source: { ldif: 'directory.ldif' },
    moodle: t.moodleSection(ws.dir),
    users: await collegeUsers(),
  });
  const first = await applySpec(await loadSpec(spec), { now: () => T0 * 1000 });
  await afterApply(t);
  await writeFile(ws.path('directory.ldif'), changedLdif(await readFile(COLLEGE_LDIF, 'utf8')));
  const second = await applySpec(await loadSpec(spec), { now: () => (T0 + 60) * 1000 });
  await afterApply(t);
  return viewOf(t, ws, [summary(first.planned.plan.changes), summary(second.planned.plan.changes)]);
}

describe(`the same applies on ${TARGETS.join(', ')}`, () => {
  const cleanups: (() => Promise<void>)[] = [];
  const views = new Map<TargetName, View>();
  beforeAll(async () => {
    await dropStaleTestDatabases();
    for (const target of TARGETS) views.set(target, await run(target, cleanups));
  }, 180_000);
  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });
  const reference = (): View => views.get(TARGETS[0] as TargetName) as View;

  it('made the planned changes: 13 creations, then a rename and a suspension', () => {
    const { plans, users } = reference();
    expect(plans[0]).toHaveLength(13);
    expect(plans[1]).toEqual(['update user["f4500111"]', `suspend user["${LEAVER.toLowerCase()}"]`]);
    expect(users.f4500111).toMatchObject({ lastname: 'MARTIN', timemodified: T0 + 60 });
    expect(users[LEAVER.toLowerCase()]).toMatchObject({ suspended: 1, timemodified: T0 + 60 });
    expect(Object.keys(users)).toHaveLength(13);
  });

  for (const target of TARGETS.slice(1)) {
    describe(`${target} holds what ${TARGETS[0]} holds`, () => {
      it('the same plans', () => {
        expect(views.get(target)?.plans).toEqual(reference().plans);
      });

      it('the same user rows, every column', () => {
        const mine = views.get(target)?.users ?? {};
        expect(Object.keys(mine).sort()).toEqual(Object.keys(reference().users).sort());
        for (const [username, row] of Object.entries(reference().users)) expect(mine[username], username).toEqual(row);
      });

      it('the same user contexts, by user', () => {
        expect(views.get(target)?.contexts).toEqual(reference().contexts);
      });

      it('the same apply marker and state file, ids by username', () => {
        expect(views.get(target)?.marker).toEqual(reference().marker);
        expect(views.get(target)?.state).toEqual(reference().state);
      });
    });
  }
});
