import { afterEach, describe, expect, it } from 'vitest';
import { churnDirectory } from '../../src/generate/churn.js';
import { directoryLdif, generateDirectory } from '../../src/generate/generate.js';
import type { ApplySite } from '../helpers/apply-specs.js';
import { applySite } from '../helpers/apply-specs.js';
import { checkIntegrity } from '../helpers/integrity.js';
import { TARGETS } from '../helpers/targets.js';

const sites: ApplySite[] = [];
afterEach(async () => {
  await Promise.all(sites.splice(0).map((s) => s.remove()));
});

// Every person of a generated directory (students, parents, teachers, staff) as a user.
const EVERYONE = { search: { base: 'ou=people,dc=ent,dc=example', scope: 'sub', filter: '(objectClass=ENTPerson)' } };

describe.each(TARGETS)('a generated directory end to end (%s)', (target) => {
  it('applies 1,000 generated people, then plans nothing; a churned next day converges too', async () => {
    const directory = generateDirectory({ seed: 42, people: 1000 });
    const site = await applySite(target, [], EVERYONE);
    sites.push(site);
    await site.setLdif(directoryLdif(directory));

    const first = await site.apply();
    expect(first.applied).toBe(true);
    const creates = first.planned.plan.changes.filter((c) => c.action === 'create').length;
    expect(creates).toBe(1000);
    expect(first.planned.plan.skipped).toEqual([]);
    expect((await site.plan()).plan.changes).toEqual([]);
    expect((await site.apply()).applied).toBe(false);

    // The next day: a few percent of the people changed; leavers suspended within the default limits.
    const { directory: next, summary } = churnDirectory(directory, { seed: 7, share: 0.03 });
    await site.setLdif(directoryLdif(next));
    const second = await site.apply({ allowRemovals: 1000 });
    expect(second.applied).toBe(true);
    const actions = new Set(second.planned.plan.changes.map((c) => c.action));
    expect(actions.has('create')).toBe(summary.studentsArrived + summary.parentsArrived > 0);
    expect(actions.has('suspend')).toBe(summary.studentsLeft + summary.parentsLeft > 0);
    expect((await site.plan()).plan.changes).toEqual([]);
    expect(await checkIntegrity(site.t)).toEqual([]);
  });
});
