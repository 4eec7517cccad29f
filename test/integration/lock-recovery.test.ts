/**
 * Locks that recover (issue 27, item 3): on every lock the tool takes (the state file's, the embedded Moodle's
 * directory lock, the Moodle advisory lock, the Galera lock row), a holder gone from this host or older than
 * lock.staleAfter is taken over with a warning naming it, and a live one is waited for with --lock-timeout.
 */
import { spawn } from 'node:child_process';
import { rm, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { LockNotice } from '../../src/index.js';
import { applySpec, loadSpec, openSpecMoodle } from '../../src/index.js';
import type { HeldApplyLock } from '../../src/moodle/apply-lock.js';
import { acquireApplyLock } from '../../src/moodle/apply-lock.js';
import type { ApplySite } from '../helpers/apply-specs.js';
import { afterApply, applySite, people, usersSection } from '../helpers/apply-specs.js';
import { writeSpec } from '../helpers/spec-files.js';
import { TARGETS } from '../helpers/targets.js';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
});

async function site(target: (typeof TARGETS)[number]): Promise<ApplySite> {
  const s = await applySite(target, people(3));
  cleanups.push(() => s.remove());
  return s;
}

const HOURS = 3_600_000;
const ago = (ms: number): string => new Date(Date.now() - ms).toISOString();
const OTHER_HOST = 'container-4f2a';

/** The pid of a process that has just ended (so no process of this host has it). */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' });
  await new Promise((resolve) => child.on('exit', resolve));
  return child.pid ?? 0;
}

/** Collects the lock notices of a run. */
function notices(): { list: LockNotice[]; onLockNotice: (n: LockNotice) => void } {
  const list: LockNotice[] = [];
  return { list, onLockNotice: (n) => list.push(n) };
}

const lockFile = (holder: Record<string, unknown>): string => `${JSON.stringify(holder)}\n`;

/** The same site's spec with a `lock` section (written beside the main one, same state file). */
async function specWithLock(s: ApplySite, lock: Record<string, unknown>): Promise<string> {
  return writeSpec(
    s.ws,
    {
      version: 1,
      source: { ldif: 'directory.ldif' },
      moodle: s.t.moodleSection(s.ws.dir),
      state: { path: 'ldap2moodle.state.json' },
      lock,
      users: usersSection(),
    },
    'with-lock.yaml',
  );
}

describe.each(TARGETS)('lock files (the state lock) on %s', (target) => {
  it('a stale lock on this host (its process gone) is taken over, with a warning naming it and why', async () => {
    const s = await site(target);
    const pid = await deadPid();
    const started = ago(60_000);
    await writeFile(`${s.statePath}.lock`, lockFile({ pid, host: hostname(), started, tool_version: '0.0.9' }));
    const seen = notices();
    const result = await s.apply({ onLockNotice: seen.onLockNotice });
    expect(result.applied).toBe(true);
    expect(seen.list).toEqual([
      {
        kind: 'takeover',
        message:
          `took over the lock of the state ${s.statePath} held by process ${pid} on ${hostname()} since ${started} ` +
          `(ldap2moodle 0.0.9) (${s.statePath}.lock): its process ${pid} is gone from this host`,
      },
    ]);
  });

  it('a lock from another host older than lock.staleAfter is taken over; a younger one is not', async () => {
    const s = await site(target);
    const started = ago(7 * HOURS);
    await writeFile(`${s.statePath}.lock`, lockFile({ pid: 1, host: OTHER_HOST, started, tool_version: '0.1.0' }));
    const seen = notices();
    expect((await s.apply({ onLockNotice: seen.onLockNotice })).applied).toBe(true);
    expect(seen.list).toHaveLength(1);
    expect(seen.list[0]?.message).toContain(`process 1 on ${OTHER_HOST} since ${started} (ldap2moodle 0.1.0)`);
    expect(seen.list[0]?.message).toMatch(/: it started 7h(0m)?\d*s? ago, more than lock\.staleAfter \(6h\)$/);

    // One hour old: kept under the default 6h, taken over under a spec's `lock: { staleAfter: 30m }`.
    await writeFile(`${s.statePath}.lock`, lockFile({ pid: 1, host: OTHER_HOST, started: ago(HOURS) }));
    await s.setPeople(people(4));
    const kept = await s.applyError();
    expect(kept.code).toBe('STATE_LOCKED');
    const shorter = await specWithLock(s, { staleAfter: '30m' });
    await s.t.release();
    const result = await applySpec(await loadSpec(shorter), { onLockNotice: seen.onLockNotice });
    expect(result.applied).toBe(true);
    await afterApply(s.t);
    expect(seen.list[1]?.message).toMatch(/more than lock\.staleAfter \(30m\)$/);
  });

  it('a fresh lock held elsewhere is waited for with --lock-timeout, then refused naming it and the wait', async () => {
    const s = await site(target);
    const started = ago(1_000);
    await writeFile(`${s.statePath}.lock`, lockFile({ pid: 77, host: OTHER_HOST, started, tool_version: '0.1.0' }));
    const before = await s.checksums();
    const seen = notices();
    const t0 = Date.now();
    const error = await s.applyError({ lockTimeoutMs: 1_500, onLockNotice: seen.onLockNotice });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1_500);
    expect(error.code).toBe('STATE_LOCKED');
    expect(error.message).toContain(`process 77 on ${OTHER_HOST} since ${started} (ldap2moodle 0.1.0)`);
    expect(error.message).toMatch(/after waiting [12]s \(--lock-timeout\)/);
    expect(seen.list).toEqual([
      {
        kind: 'waiting',
        message: `waiting up to 2s for the lock held by process 77 on ${OTHER_HOST} since ${started} (ldap2moodle 0.1.0) (${s.statePath}.lock)`,
      },
    ]);
    expect(await s.checksums()).toEqual(before);
    expect(await s.stateBytes()).toBeNull();

    // Released while a run waits: that run goes on.
    const waiting = s.apply({
      lockTimeoutMs: 60_000,
      onLockNotice: (n) => {
        if (n.kind === 'waiting') setTimeout(() => void rm(`${s.statePath}.lock`), 300);
      },
    });
    expect((await waiting).applied).toBe(true);
  });

  it('the CLI: --lock-timeout waits and says so once; a bad duration is a usage error', async () => {
    const s = await site(target);
    await writeFile(`${s.statePath}.lock`, lockFile({ pid: 77, host: OTHER_HOST, started: ago(0) }));
    const run = await s.cli(['apply', '--spec', s.specPath, '--auto-approve', '--lock-timeout', '1s']);
    expect(run.code).toBe(1);
    expect(run.stderr.match(/waiting up to 1s for the lock held by process 77/g)).toHaveLength(1);
    expect(run.stderr).toContain('Error [STATE_LOCKED]');
    expect(run.stderr).toMatch(/after waiting 1s \(--lock-timeout\)/);
    const bad = await s.cli(['apply', '--spec', s.specPath, '--auto-approve', '--lock-timeout', '5 minutes']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('--lock-timeout: "5 minutes" is not a duration');
  });
});

describe.each(TARGETS.filter((t) => t === 'embedded'))('the embedded Moodle directory lock on %s', (target) => {
  it('a stale directory lock is taken over with a warning; a fresh one is waited for, then refused', async () => {
    const s = await site(target);
    await s.t.release();
    const lock = join(s.t.label, 'ldap2moodle.lock');
    const started = ago(7 * HOURS);
    await writeFile(lock, lockFile({ pid: 5, host: OTHER_HOST, started, tool_version: '0.1.0' }));
    const seen = notices();
    expect((await s.apply({ onLockNotice: seen.onLockNotice })).applied).toBe(true);
    expect(seen.list.map((n) => n.message)).toEqual([
      expect.stringMatching(
        new RegExp(
          `^took over the lock of the embedded Moodle ${s.t.label} held by process 5 on ${OTHER_HOST} since ` +
            `${started.replace(/\./g, '\\.')} \\(ldap2moodle 0\\.1\\.0\\) .*more than lock\\.staleAfter \\(6h\\)$`,
        ),
      ),
    ]);

    await s.t.release();
    await writeFile(lock, lockFile({ pid: 5, host: OTHER_HOST, started: ago(0) }));
    const run = await s.cli(['plan', '--spec', s.specPath, '--lock-timeout', '1s']);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('waiting up to 1s for the lock held by process 5');
    expect(run.stderr).toContain('Error [MOODLE_LOCKED]');
    expect(run.stderr).toMatch(/after waiting 1s \(--lock-timeout\)/);
    await rm(lock);
  });
});

const SERVERS = TARGETS.filter((t) => t !== 'embedded');

type LockRow = { readonly name: string; readonly value: string };
const lockRows = (s: ApplySite): Promise<LockRow[]> =>
  s.t.query<LockRow>(
    "SELECT name, value FROM mdl_config_plugins WHERE plugin = 'local_ldap2moodle' AND name IN ('lock', 'lock_holder') ORDER BY name",
  );

function rowHolder(over: Record<string, unknown>): Record<string, unknown> {
  return { id: 'row-1', pid: 1, host: OTHER_HOST, started: ago(0), tool_version: '0.1.0', mode: 'row', ...over };
}

describe.each(SERVERS)('the Moodle apply lock on %s', (target) => {
  it('a Galera lock row is taken over when stale on this host or older than staleAfter, with a warning', async () => {
    const s = await site(target);
    const pid = await deadPid();
    const here = rowHolder({ id: 'dead-here', pid, host: hostname() });
    await s.t.insert('config_plugins', { plugin: 'local_ldap2moodle', name: 'lock', value: JSON.stringify(here) });
    const seen = notices();
    expect((await s.apply({ onLockNotice: seen.onLockNotice })).applied).toBe(true);
    expect(seen.list).toHaveLength(1);
    expect(seen.list[0]?.kind).toBe('takeover');
    expect(seen.list[0]?.message).toContain(
      `held by lock dead-here, held by process ${pid} on ${hostname()} since ${here.started} (ldap2moodle 0.1.0)`,
    );
    expect(seen.list[0]?.message).toMatch(/: its process \d+ is gone from this host$/);
    expect(await lockRows(s)).toEqual([]);

    const old = rowHolder({ id: 'old-one', started: ago(8 * HOURS) });
    await s.t.insert('config_plugins', { plugin: 'local_ldap2moodle', name: 'lock', value: JSON.stringify(old) });
    await s.setPeople(people(4));
    expect((await s.apply({ onLockNotice: seen.onLockNotice })).applied).toBe(true);
    expect(seen.list[1]?.message).toContain(`lock old-one, held by process 1 on ${OTHER_HOST}`);
    expect(seen.list[1]?.message).toMatch(/more than lock\.staleAfter \(6h\)$/);
    expect(await lockRows(s)).toEqual([]);
  });

  it('a fresh lock row from another host is waited for, then refused naming it; released, the wait ends', async () => {
    const s = await site(target);
    const fresh = rowHolder({ id: 'fresh-one' });
    await s.t.insert('config_plugins', { plugin: 'local_ldap2moodle', name: 'lock', value: JSON.stringify(fresh) });
    const seen = notices();
    const error = await s.applyError({ lockTimeoutMs: 1_000, onLockNotice: seen.onLockNotice });
    expect(error.code).toBe('MOODLE_LOCKED');
    expect(error.message).toContain(`lock fresh-one, held by process 1 on ${OTHER_HOST} since ${fresh.started}`);
    expect(error.message).toMatch(/nothing was done after waiting 1s \(--lock-timeout\)/);
    expect(seen.list.map((n) => n.kind)).toEqual(['waiting']);
    expect(seen.list[0]?.message).toBe(
      `waiting up to 1s for the lock held by process 1 on ${OTHER_HOST} since ${fresh.started} (ldap2moodle 0.1.0, lock fresh-one)`,
    );
    // The row-mode lock itself (Galera) waits the same way.
    const db = await openSpecMoodle(await s.load());
    cleanups.push(() => db.close());
    const waited = acquireApplyLock(db, {
      mode: 'row',
      policy: {
        timeoutMs: 60_000,
        staleAfterMs: 6 * HOURS,
        notice: () => {
          setTimeout(() => void s.t.execute("DELETE FROM mdl_config_plugins WHERE name = 'lock'"), 300);
        },
      },
    });
    const held = await waited;
    expect(held.holder?.mode).toBe('row');
    await held.release();
    expect(await lockRows(s)).toEqual([]);
  });

  it('an advisory lock held by a live session is waited for, never taken over, however old its record', async () => {
    const s = await site(target);
    const db = await openSpecMoodle(await s.load());
    let lock: HeldApplyLock | null = await acquireApplyLock(db);
    cleanups.push(async () => {
      await lock?.release();
      await db.close();
    });
    // The record says 8 hours: an apply on another machine that hangs, its session still open.
    const [row] = await lockRows(s);
    const record = JSON.parse(row?.value ?? '{}') as Record<string, unknown>;
    await s.t.execute(
      "UPDATE mdl_config_plugins SET value = ? WHERE plugin = 'local_ldap2moodle' AND name = 'lock_holder'",
      [JSON.stringify({ ...record, started: ago(8 * HOURS) })],
    );
    const seen = notices();
    const error = await s.applyError({ lockTimeoutMs: 1_000, onLockNotice: seen.onLockNotice });
    expect(error.code).toBe('MOODLE_LOCKED');
    expect(error.message).toContain(`lock ${String(record.id)}, held by process ${process.pid}`);
    expect(error.message).toMatch(/after waiting 1s \(--lock-timeout\)/);
    expect(error.message).toContain('an advisory lock is never taken over, only waited for');
    expect(seen.list.map((n) => n.kind)).toEqual(['waiting']);
    expect(seen.list[0]?.message).toMatch(
      new RegExp(
        `^waiting up to 1s for the lock held by process ${process.pid} on .*, lock ${String(record.id)}, database session \\d+\\)$`,
      ),
    );

    // The holder finishes while another run waits: that run goes on.
    const result = await s.apply({
      lockTimeoutMs: 60_000,
      onLockNotice: (n) => {
        if (n.kind !== 'waiting') return;
        setTimeout(() => {
          const held = lock;
          lock = null;
          void held?.release();
        }, 300);
      },
    });
    expect(result.applied).toBe(true);
    expect(await lockRows(s)).toEqual([]);
  });
});
