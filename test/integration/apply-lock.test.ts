import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { afterEach, describe, expect, it } from 'vitest';
import type { ApplySite } from '../helpers/apply-specs.js';
import { applySite, people } from '../helpers/apply-specs.js';
import { TARGETS } from '../helpers/targets.js';

const sites: ApplySite[] = [];
afterEach(async () => {
  await Promise.all(sites.splice(0).map((s) => s.remove()));
});

/** A process that stays alive while the test needs a live lock holder. */
function sleeper(): { pid: number; stop(): void } {
  const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' });
  return { pid: child.pid ?? 0, stop: () => child.kill('SIGKILL') };
}

describe.each(TARGETS)('the state lock on %s', (target) => {
  it('refuses a second apply while one holds the state, naming the holder; nothing is written', async () => {
    const site = await applySite(target, people(3));
    sites.push(site);
    const holder = sleeper();
    try {
      // Started just now: a holder older than lock.staleAfter (6h) would be taken over, live or not.
      const started = new Date().toISOString();
      const lock = JSON.stringify({ pid: holder.pid, host: hostname(), started, tool_version: '0.1.0' });
      await writeFile(`${site.statePath}.lock`, lock);
      const before = await site.checksums();
      const error = await site.applyError();
      expect(error.code).toBe('STATE_LOCKED');
      expect(error.message).toContain(`process ${holder.pid} on ${hostname()} since ${started} (ldap2moodle 0.1.0)`);
      expect(await site.checksums()).toEqual(before);
      expect(await site.stateBytes()).toBeNull();
    } finally {
      holder.stop();
    }
  });

  it('takes over a lock left by a process that died, and releases its own', async () => {
    const site = await applySite(target, people(3));
    sites.push(site);
    const dead = sleeper();
    dead.stop();
    await new Promise((resolve) => setTimeout(resolve, 200));
    await writeFile(`${site.statePath}.lock`, JSON.stringify({ pid: dead.pid, host: hostname(), started: 'x' }));
    const result = await site.apply();
    expect(result.applied).toBe(true);
    expect(result.state.serial).toBe(1);
    const again = await site.apply();
    expect(again.applied).toBe(false);
  });
});
