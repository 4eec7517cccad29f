/** `state list` and `state show`: the state file read back as addresses and objects, without Moodle. */
import { afterEach, describe, expect, it } from 'vitest';
import type { ApplySite } from '../helpers/apply-specs.js';
import { applySite, people } from '../helpers/apply-specs.js';
import { TARGETS } from '../helpers/targets.js';

const sites: ApplySite[] = [];
afterEach(async () => {
  await Promise.all(sites.splice(0).map((s) => s.remove()));
});

describe.each(TARGETS)('state commands after an apply on %s', (target) => {
  it('list the addresses in the state order, filter by type, show one object as JSON', async () => {
    const s = await applySite(target, people(3));
    sites.push(s);
    const before = await s.cli(['state', 'list', '--spec', s.specPath]);
    expect(before).toMatchObject({ code: 0, stdout: '' }); // never applied: nothing managed
    expect((await s.apply()).applied).toBe(true);
    const state = await s.state();

    const list = await s.cli(['state', 'list', '--spec', s.specPath]);
    expect(list.code, list.stderr).toBe(0);
    expect(list.stdout).toBe(`${state.objects.map((o) => o.address).join('\n')}\n`);
    expect(list.stdout.split('\n')).toEqual(
      expect.arrayContaining(['user["p0001"]', 'user["p0002"]', 'user["p0003"]']),
    );

    const users = await s.cli(['state', 'list', '--spec', s.specPath, '--type', 'user']);
    expect(users.stdout).toBe('user["p0001"]\nuser["p0002"]\nuser["p0003"]\n');
    const cohorts = await s.cli(['state', 'list', '--spec', s.specPath, '--type', 'cohort']);
    expect(cohorts).toMatchObject({ code: 0, stdout: '' });
    const bad = await s.cli(['state', 'list', '--spec', s.specPath, '--type', 'users']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('unknown --type users');

    const show = await s.cli(['state', 'show', '--spec', s.specPath, 'user["p0002"]']);
    expect(show.code, show.stderr).toBe(0);
    const object = state.objects.find((o) => o.address === 'user["p0002"]');
    expect(JSON.parse(show.stdout)).toEqual(object);
    expect(show.stdout).toContain('\n  "address": "user[\\"p0002\\"]",\n'); // indented for people
    const byFile = await s.cli(['state', 'show', '--state', s.statePath, 'user["p0002"]']);
    expect(byFile.stdout).toBe(show.stdout);

    const missing = await s.cli(['state', 'show', '--spec', s.specPath, 'user["p0009"]']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('the state has no object user["p0009"]');
    const near = await s.cli(['state', 'show', '--spec', s.specPath, 'p0003']);
    expect(near.stderr).toContain('did you mean user["p0003"]');
    const noFile = await s.cli(['state', 'list', '--state', s.ws.path('nope.json')]);
    expect(noFile.code).toBe(1);
    expect(noFile.stderr).toContain('there is no state file');
  });
});
