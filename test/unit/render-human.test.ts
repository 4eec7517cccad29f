import { describe, expect, it } from 'vitest';
import type { Change } from '../../src/model/change.js';
import type { Plan } from '../../src/model/plan.js';
import { HumanPlanView, summaryLine } from '../../src/render/human.js';
import { JsonPlanView } from '../../src/render/json.js';
import { expectGolden } from '../helpers/golden.js';

const golden = (name: string) => new URL(`../golden/plan/${name}`, import.meta.url).pathname;
const header = { source: 'directory.ldif', target: 'mariadb://root@127.0.0.1:3306/moodle (Moodle 4.5.6)' };

function change(over: Partial<Change> & Pick<Change, 'action' | 'key'>): Change {
  return {
    entity: 'user',
    address: `user[${JSON.stringify(over.key)}]`,
    moodleId: null,
    dn: `uid=${over.key},ou=people,dc=ent,dc=example`,
    before: null,
    after: {},
    sourceDigest: null,
    reason: 'because',
    ...over,
  };
}

const plan: Plan = {
  changes: [
    change({
      action: 'create',
      key: 'f4500111',
      after: { auth: 'cas', username: 'f4500111', firstname: 'Éloïse', lastname: 'MARTIN-DUBOIS', email: '' },
      reason: 'in the directory, not in Moodle',
    }),
    change({
      action: 'adopt',
      key: 'f4500122',
      moodleId: 12,
      before: { auth: 'manual' },
      after: { auth: 'cas' },
      reason: 'taken over',
    }),
    change({
      action: 'update',
      key: 'f4500133',
      moodleId: 13,
      before: {
        email: 'old@ent.example',
        institution: 'Collège Le Grand Cèdre, 12 rue des Acacias, 45000 Orléans',
      },
      after: {
        email: 'new@ent.example',
        institution: 'Collège Le Grand Cèdre, 14 rue des Acacias, 45000 Orléans',
      },
      reason: 'directory values differ from Moodle',
    }),
    change({
      action: 'unsuspend',
      key: 'f4500144',
      moodleId: 14,
      before: { suspended: 1 },
      after: { suspended: 0 },
      reason: 'back',
    }),
    change({
      action: 'suspend',
      key: 'f4500155',
      moodleId: 15,
      dn: null,
      before: { suspended: 0 },
      after: { suspended: 1 },
      reason: 'gone',
    }),
  ],
  skipped: [{ entity: 'user', dn: 'uid=F4500166,ou=people,dc=ent,dc=example', reason: 'lastname is empty' }],
  warnings: ['the auth plugin "cas" is not enabled in Moodle'],
  desiredCounts: { user: 4 },
  purgeNeeded: false,
};

describe('human plan rendering', () => {
  it('renders every action, without colour (golden)', () => {
    expectGolden(golden('users.txt'), new HumanPlanView({ color: false }).render(plan, header));
  });

  it('renders colours only when asked (golden)', () => {
    const coloured = new HumanPlanView({ color: true }).render(plan, header);
    expect(coloured).toContain('\u001b[');
    expectGolden(golden('users-color.txt'), coloured);
  });

  it('cuts long entity lists unless --full', () => {
    const many: Plan = {
      ...plan,
      changes: Array.from({ length: 25 }, (_, i) =>
        change({ action: 'create', key: `u${String(i).padStart(2, '0')}` }),
      ),
      skipped: [],
      warnings: [],
    };
    const cut = new HumanPlanView({ color: false }).render(many, header);
    expect(cut).toContain('user["u19"]');
    expect(cut).not.toContain('user["u20"]');
    expect(cut).toContain('… and 5 more users changes (use --full to see them all)');
    const full = new HumanPlanView({ color: false, full: true }).render(many, header);
    expect(full).toContain('user["u24"]');
    expect(full).not.toContain('more users changes');
  });

  it('says so when there is nothing to do', () => {
    const empty: Plan = { changes: [], skipped: [], warnings: [], desiredCounts: { user: 3 }, purgeNeeded: false };
    expect(summaryLine(empty)).toBe('No changes. Moodle matches the spec.');
    expect(new HumanPlanView({ color: false }).render(empty, header)).toContain(
      'No changes. Moodle matches the spec.\n',
    );
    expect(summaryLine(plan)).toBe('Plan: 1 to create, 1 to adopt, 1 to update, 1 to unsuspend, 1 to suspend.');
  });

  it('renders JSON with a format version and every change', () => {
    const doc = JSON.parse(new JsonPlanView('0.1.0').render(plan, header)) as {
      format_version: string;
      changes: { address: string; action: string }[];
      summary: Record<string, number>;
    };
    expect(doc.format_version).toBe('0.2');
    expect(doc.changes.map((c) => `${c.action} ${c.address}`)).toEqual([
      'create user["f4500111"]',
      'adopt user["f4500122"]',
      'update user["f4500133"]',
      'unsuspend user["f4500144"]',
      'suspend user["f4500155"]',
    ]);
    expect(doc.summary.create).toBe(1);
  });

  it('ends with a table of changes per entity and action; a long plan shows its totals first too', () => {
    const short = new HumanPlanView({ color: false }).render(plan, header);
    expect(short).toMatch(
      /\n\s+create\s+adopt\s+update\s+unsuspend\s+suspend\s+in the directory\nUsers\s+1\s+1\s+1\s+1\s+1\s+4\n\nPlan: /,
    );
    expect(short.indexOf('Plan: ')).toBe(short.lastIndexOf('Plan: '));
    const long: Plan = {
      ...plan,
      changes: Array.from({ length: 41 }, (_, i) => change({ action: 'create', key: `u${i}` })),
    };
    const text = new HumanPlanView({ color: false }).render(long, { ...header, state: '/var/lib/l2m/site.state.json' });
    const first = text.indexOf('Plan: 41 to create.');
    expect(first).toBeGreaterThan(0);
    expect(first).toBeLessThan(text.indexOf('user["u0"]'));
    expect(text.lastIndexOf('Plan: 41 to create.')).toBeGreaterThan(text.indexOf('user["u40"]'));
    expect(text.split('\n')[1]).toBe('state /var/lib/l2m/site.state.json');
  });
});
