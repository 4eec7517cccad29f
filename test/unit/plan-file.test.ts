/**
 * The saved plan file on hand-built plans: its integrity (sha256 of the JSON of everything else, recomputed
 * here independently), the checks readPlanFile makes (JSON, format, integrity), the 0600 mode, and the
 * messages staleReasons gives for each kind of move.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { UserError } from '../../src/errors.js';
import type { Change, EntityType } from '../../src/model/change.js';
import type { DesiredObject } from '../../src/model/desired.js';
import type { Plan } from '../../src/model/plan.js';
import {
  PLAN_FILE_FORMAT_VERSION,
  type PlanFile,
  type PlanFileBody,
  type PlanFingerprints,
  planFileOf,
  planKeyFrom,
  planOfFile,
  readPlanFile,
  staleReasons,
  writePlanFile,
} from '../../src/plan/plan-file.js';

const CHANGE: Change = {
  entity: 'user',
  address: 'user["jdupont"]',
  action: 'create',
  key: 'jdupont',
  moodleId: null,
  dn: 'uid=jdupont,ou=people,dc=ent,dc=example',
  before: null,
  after: { username: 'jdupont', email: 'jean.dupont@ent.example', suspended: 0 },
  sourceDigest: 'sha256:aa',
  reason: 'new in the directory',
};

const PLAN: Plan = {
  changes: [CHANGE],
  skipped: [{ entity: 'user', dn: 'uid=x,ou=people,dc=ent,dc=example', reason: 'no uid' }],
  warnings: ['a warning'],
  desiredCounts: { user: 1 },
  purgeNeeded: false,
  // Saved with the allowance it was made with, and the guard it trips.
  guards: {
    sourceEntries: 1,
    allowance: { all: 5, entities: { cohort_enrolment: 300 } },
    violations: [
      {
        code: 'GUARD_USERS_REMOVALS',
        entity: 'user',
        removals: 12,
        managed: 40,
        limit: { count: 10, percent: 2 },
        allowed: 5,
        message: 'the plan would suspend 12 users',
        allow: '--allow-removals users=12',
      },
    ],
  },
};

const FINGERPRINTS: PlanFingerprints = {
  tool_version: '1.2.3',
  spec_hash: 'abc',
  state: { lineage: 'lin-1', serial: 4 },
  moodle: { user: 'sha256:u', cohort: 'sha256:c', cohort_member: 'sha256:m', profile_data: 'sha256:d' },
  source: 'sha256:s',
};

const DESIRED = new Map<EntityType, readonly DesiredObject[]>([
  ['user', [{ key: 'jdupont', dn: CHANGE.dn ?? '', values: CHANGE.after, sourceDigest: 'sha256:aa' }]],
]);

const HEADER = { source: 'LDIF directory.ldif', target: 'moodle (Moodle 4.5)' };
const NOW = new Date('2026-03-01T08:00:00.000Z');

const sha256 = (text: string): string => `sha256:${createHash('sha256').update(text).digest('hex')}`;

const fileOf = (): PlanFile => planFileOf(PLAN, HEADER, FINGERPRINTS, DESIRED, NOW);

/** `file` with its body edited and resealed. */
function resealed(file: PlanFile, edit: (body: PlanFileBody) => PlanFileBody): PlanFile {
  const { integrity: _old, ...body } = file;
  const next = edit(body);
  return { ...next, integrity: sha256(JSON.stringify(next)) };
}

describe('planFileOf', () => {
  it('holds the plan, header, fingerprints and desired objects, sealed by the sha256 of the rest', () => {
    const file = fileOf();
    const { integrity, ...body } = file;
    expect(body).toEqual({
      format_version: PLAN_FILE_FORMAT_VERSION,
      created_at: '2026-03-01T08:00:00.000Z',
      header: HEADER,
      fingerprints: FINGERPRINTS,
      plan: {
        changes: [CHANGE],
        skipped: PLAN.skipped,
        warnings: ['a warning'],
        desired_counts: { user: 1 },
        purge_needed: false,
        guards: PLAN.guards,
      },
      desired: { user: DESIRED.get('user') },
    });
    expect(integrity).toBe(sha256(JSON.stringify(body)));
    expect(planOfFile(file)).toEqual(PLAN);
  });

  it('gives another integrity for any other content', () => {
    const other = planFileOf({ ...PLAN, warnings: [] }, HEADER, FINGERPRINTS, DESIRED, NOW);
    expect(other.integrity).not.toBe(fileOf().integrity);
  });
});

describe('writePlanFile / readPlanFile', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'l2m-plan-file-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function rejection(path: string): Promise<UserError> {
    const error: unknown = await readPlanFile(path).then(
      () => new Error('readPlanFile accepted the file'),
      (e: unknown) => e,
    );
    if (!(error instanceof UserError)) throw error;
    return error;
  }

  async function refused(text: string, why: string): Promise<void> {
    const path = join(dir, 'bad.plan');
    await writeFile(path, text);
    const error = await rejection(path);
    expect(error.code).toBe('PLAN_INVALID');
    expect(error.message).toBe(
      `${path} is not a usable saved plan: ${why}. Nothing was written; make a new one with \`plan --out\`.`,
    );
  }

  it('round-trips a plan, in a file of mode 0600', async () => {
    const path = join(dir, 'site.plan');
    await writePlanFile(path, fileOf());
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect(await readPlanFile(path)).toEqual(fileOf());
    expect(await readFile(path, 'utf8')).toBe(`${JSON.stringify(fileOf())}\n`);
  });

  it('refuses a hand-edited value (integrity not resealed)', async () => {
    const file = fileOf();
    const changes = [{ ...CHANGE, after: { ...CHANGE.after, email: 'attacker@evil.example' } }];
    await refused(
      JSON.stringify({ ...file, plan: { ...file.plan, changes } }),
      'its integrity digest does not match its content (edited by hand, or damaged)',
    );
  });

  it('refuses a file without integrity, or with its keys reordered', async () => {
    const { integrity, ...body } = fileOf();
    const why = 'its integrity digest does not match its content (edited by hand, or damaged)';
    await refused(JSON.stringify(body), why);
    // The digest is of the JSON as written: the same content in another key order is another file.
    const { header, ...rest } = body;
    await refused(JSON.stringify({ ...rest, header, integrity }), why);
  });

  it('accepts a resealed edit: the integrity catches damage, it is not a signature', async () => {
    const path = join(dir, 'resealed.plan');
    const file = resealed(fileOf(), (body) => ({ ...body, created_at: '2026-03-02T00:00:00.000Z' }));
    await writeFile(path, JSON.stringify(file));
    expect((await readPlanFile(path)).created_at).toBe('2026-03-02T00:00:00.000Z');
  });

  it('refuses a truncated file as not JSON', async () => {
    const text = JSON.stringify(fileOf());
    const path = join(dir, 'cut.plan');
    await writeFile(path, text.slice(0, text.length / 2));
    const error = await rejection(path);
    expect(error.code).toBe('PLAN_INVALID');
    expect(error.message).toMatch(/is not a usable saved plan: it is not JSON \(.+\); was it truncated\?\. Nothing/);
    await refused('', `it is not JSON (Unexpected end of JSON input); was it truncated?`);
  });

  it('refuses other formats and what is not a plan file', async () => {
    await refused(
      JSON.stringify(resealed(fileOf(), (body) => ({ ...body, format_version: PLAN_FILE_FORMAT_VERSION + 1 }))),
      `its format is version ${PLAN_FILE_FORMAT_VERSION + 1}, this ldap2moodle reads version ${PLAN_FILE_FORMAT_VERSION}`,
    );
    await refused(JSON.stringify({ integrity: 'sha256:0' }), 'it has no format_version');
    await refused(JSON.stringify({ format_version: '1' }), 'it has no format_version');
    await refused('[]', 'not a plan file');
    await refused('null', 'not a plan file');
    await refused('"plan"', 'not a plan file');
  });

  it('refuses a sealed file of the wrong shape (a clear error, never an internal one)', async () => {
    const sealed = (body: Record<string, unknown>) => {
      const integrity = sha256(JSON.stringify(body));
      return JSON.stringify({ ...body, integrity });
    };
    await refused(
      sealed({ format_version: PLAN_FILE_FORMAT_VERSION }),
      'it lacks created_at (not made by this ldap2moodle?)',
    );
    const { integrity: _, ...body } = fileOf();
    await refused(
      sealed({ ...body, plan: { ...body.plan, changes: [{ address: 'user["x"]' }] } }),
      'it lacks a well-formed plan.changes[0] (not made by this ldap2moodle?)',
    );
    await refused(
      sealed({ ...body, fingerprints: { ...body.fingerprints, state: null } }),
      'it lacks fingerprints.state (not made by this ldap2moodle?)',
    );
    // The guards' verdict and allowance are part of a saved plan (apply FILE checks them again).
    const { guards: __, ...withoutGuards } = body.plan;
    await refused(sealed({ ...body, plan: withoutGuards }), 'it lacks plan.guards (not made by this ldap2moodle?)');
  });

  it('says when the file cannot be read', async () => {
    const error = await rejection(join(dir, 'missing.plan'));
    expect(error.code).toBe('PLAN_INVALID');
    expect(error.message).toMatch(/^cannot read the plan file .*missing\.plan: ENOENT/);
  });

  it('reports a plan file that cannot be written as PLAN_WRITE', async () => {
    const error: unknown = await writePlanFile(join(dir, 'no', 'such', 'dir.plan'), fileOf()).catch((e) => e);
    expect(error).toBeInstanceOf(UserError);
    expect((error as UserError).code).toBe('PLAN_WRITE');
    expect((error as UserError).message).toContain('cannot write the plan file');
  });
});

describe('planKeyFrom', () => {
  const code = async (env: Record<string, string>): Promise<string> => {
    const error: unknown = await planKeyFrom(env).catch((e) => e);
    expect(error).toBeInstanceOf(UserError);
    return `${(error as UserError).code}: ${(error as UserError).message}`;
  };

  it('is null without a key, the key itself from L2M_PLAN_KEY, a key file without its final newline', async () => {
    expect(await planKeyFrom({})).toBeNull();
    expect(await planKeyFrom({ L2M_PLAN_KEY: '' })).toBeNull();
    const key = 'x'.repeat(40);
    expect((await planKeyFrom({ L2M_PLAN_KEY: key }))?.key.toString()).toBe(key);
    const dir = await mkdtemp(join(tmpdir(), 'l2m-key-'));
    try {
      await writeFile(join(dir, 'key'), `${key}\r\n`);
      const fromFile = await planKeyFrom({ L2M_PLAN_KEY_FILE: join(dir, 'key') });
      expect(fromFile?.key.toString()).toBe(key);
      expect(fromFile?.origin).not.toContain(key);
      expect(await code({ L2M_PLAN_KEY_FILE: dir })).toMatch(/^PLAN_SIGNATURE: .* is a directory, not a regular file/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('refuses a short key, both variables at once, a device as key file', async () => {
    expect(await code({ L2M_PLAN_KEY: 'short' })).toMatch(/^PLAN_SIGNATURE: .*5 bytes long; use at least 32/);
    expect(await code({ L2M_PLAN_KEY: 'x'.repeat(40), L2M_PLAN_KEY_FILE: '/etc/hostname' })).toMatch(/set one/);
    expect(await code({ L2M_PLAN_KEY_FILE: '/dev/zero' })).toMatch(/is a character device, not a regular file/);
  });
});

describe('staleReasons', () => {
  const now = (over: Partial<PlanFingerprints> = {}): PlanFingerprints => ({ ...FINGERPRINTS, ...over });

  it('is empty when nothing moved, whatever the directory read', () => {
    expect(staleReasons(FINGERPRINTS, now())).toEqual([]);
    // The directory is informational: a plan applies as reviewed even if the directory moved on.
    expect(staleReasons(FINGERPRINTS, now({ source: 'sha256:other' }))).toEqual([]);
  });

  it('names both tool versions', () => {
    expect(staleReasons(FINGERPRINTS, now({ tool_version: '1.3.0' }))).toEqual([
      'the plan was made by ldap2moodle 1.2.3, this is 1.3.0',
    ]);
  });

  it('says the spec changed', () => {
    expect(staleReasons(FINGERPRINTS, now({ spec_hash: 'abd' }))).toEqual([
      'the spec (or a file it extends, or a CSV file of its transcodings) changed since the plan',
    ]);
  });

  it('says the state moved, from and to which serial', () => {
    expect(staleReasons(FINGERPRINTS, now({ state: { lineage: 'lin-1', serial: 5 } }))).toEqual([
      'the state moved from serial 4 to 5 (another apply ran since the plan)',
    ]);
    // A plan made before the first apply (no lineage yet) overtaken by one.
    const first = { ...FINGERPRINTS, state: { lineage: '', serial: 0 } };
    expect(staleReasons(first, now({ state: { lineage: 'lin-1', serial: 1 } }))).toEqual([
      'the state moved from serial 0 to 1 (another apply ran since the plan)',
    ]);
  });

  it('names both lineages when the state is another one', () => {
    expect(staleReasons(FINGERPRINTS, now({ state: { lineage: 'lin-2', serial: 4 } }))).toEqual([
      "the state is of another lineage (lin-2, the plan's is lin-1)",
    ]);
    expect(staleReasons(FINGERPRINTS, now({ state: { lineage: '', serial: 0 } }))).toEqual([
      "the state is of another lineage (none, the plan's is lin-1)",
    ]);
  });

  it('names each entity whose Moodle rows changed, in words', () => {
    const moodle = { user: 'sha256:u2', cohort: 'sha256:c', cohort_member: 'sha256:m2', profile_data: 'sha256:d2' };
    expect(staleReasons(FINGERPRINTS, now({ moodle }))).toEqual([
      "Moodle's user rows changed since the plan (edited in Moodle, or by another tool)",
      "Moodle's cohort member rows changed since the plan (edited in Moodle, or by another tool)",
      "Moodle's profile data rows changed since the plan (edited in Moodle, or by another tool)",
    ]);
    // An entity the plan read and that is no longer read counts as changed.
    const { cohort: _gone, ...fewer } = FINGERPRINTS.moodle;
    expect(staleReasons(FINGERPRINTS, now({ moodle: fewer }))).toEqual([
      "Moodle's cohort rows changed since the plan (edited in Moodle, or by another tool)",
    ]);
  });

  it('lists every reason at once, tool first', () => {
    expect(
      staleReasons(FINGERPRINTS, {
        tool_version: '2.0.0',
        spec_hash: 'x',
        state: { lineage: 'lin-1', serial: 9 },
        moodle: { ...FINGERPRINTS.moodle, user: 'sha256:x' },
        source: 'sha256:s',
      }),
    ).toEqual([
      'the plan was made by ldap2moodle 1.2.3, this is 2.0.0',
      'the spec (or a file it extends, or a CSV file of its transcodings) changed since the plan',
      'the state moved from serial 4 to 9 (another apply ran since the plan)',
      "Moodle's user rows changed since the plan (edited in Moodle, or by another tool)",
    ]);
  });
});
