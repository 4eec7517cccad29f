/**
 * What a run tells its observer (src/observe/events.ts), on each target: the stages in order with their
 * durations, every directory search with its entry count and command line, every SQL statement's kind, table
 * and rows, and progress while writing; never a value read or written.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { applySpec } from '../../src/index.js';
import type { RunEvent } from '../../src/observe/events.js';
import { loadSpec } from '../../src/spec/load.js';
import { collegeSpec, type TestSite, testSite } from '../helpers/spec-files.js';
import { TARGETS } from '../helpers/targets.js';

function collect(): { events: RunEvent[]; observer: { emit(event: RunEvent): void } } {
  const events: RunEvent[] = [];
  return { events, observer: { emit: (event) => events.push(event) } };
}

describe.each(TARGETS)('run events on %s', (target) => {
  const sites: TestSite[] = [];
  afterEach(async () => {
    await Promise.all(sites.splice(0).map((s) => s.remove()));
  });

  it('plan: source, Moodle and planning stages, the searches and the SELECTs', async () => {
    const s = await testSite(target);
    sites.push(s);
    const { events, observer } = collect();
    const result = await s.plan(await collegeSpec(s.ws, s.t), { observer });
    const ends = events.filter((e) => e.type === 'stage-end');
    expect(ends.map((e) => e.stage).sort()).toEqual(['moodle', 'planning', 'source']);
    expect(ends.every((e) => e.ok && e.ms >= 0)).toBe(true);
    // Planning starts once both reads ended.
    const planningStart = events.findIndex((e) => e.type === 'stage-start' && e.stage === 'planning');
    expect(events.slice(planningStart).some((e) => e.type === 'stage-end' && e.stage !== 'planning')).toBe(false);
    const searches = events.filter((e) => e.type === 'search');
    expect(searches.length).toBeGreaterThan(0);
    expect(searches.reduce((n, e) => n + e.entries, 0)).toBeGreaterThanOrEqual(result.sourceEntries);
    for (const search of searches) {
      expect(search.ldapsearch).toContain(`-b ${search.base}`);
      expect(search.ldapsearch).toContain(search.filter);
    }
    const sql = events.filter((e) => e.type === 'sql');
    expect(sql.some((e) => e.kind === 'select' && e.table === 'user')).toBe(true);
    expect(sql.filter((e) => e.kind !== 'select' && e.kind !== 'other')).toEqual([]);
  });

  it('apply: writing and state stages, progress up to every change, no value in any event', async () => {
    const s = await testSite(target);
    sites.push(s);
    const spec = await collegeSpec(s.ws, s.t);
    const { events, observer } = collect();
    await s.t.release();
    const result = await applySpec(await loadSpec(spec), { observer });
    const stages = events.filter((e) => e.type === 'stage-end').map((e) => e.stage);
    expect(stages).toEqual(expect.arrayContaining(['source', 'moodle', 'planning', 'writing', 'state']));
    const writes = result.planned.plan.changes.length;
    const progress = events.filter((e) => e.type === 'progress' && e.stage === 'writing');
    expect(progress.at(-1)).toMatchObject({ done: writes, total: writes });
    const inserted = events.filter((e) => e.type === 'sql' && e.kind === 'insert' && e.table === 'user');
    expect(inserted.reduce((n, e) => n + (e.type === 'sql' ? e.rows : 0), 0)).toBeGreaterThan(0);
    // Names and e-mails of the collège's people appear nowhere in the events.
    const text = JSON.stringify(events);
    expect(text).not.toMatch(/MARTIN-DUBOIS|@ent\.example/);
  });
});
