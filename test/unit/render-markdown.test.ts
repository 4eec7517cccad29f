import { describe, expect, it } from 'vitest';
import type { Plan } from '../../src/model/plan.js';
import { MarkdownPlanView } from '../../src/render/markdown.js';
import { redactPlan } from '../../src/render/redact.js';
import { expectGolden } from '../helpers/golden.js';
import { change, samplePlan } from '../helpers/sample-plan.js';

const golden = (name: string) => new URL(`../golden/markdown/${name}`, import.meta.url).pathname;
const header = { source: 'directory.ldif', target: 'mariadb://root@127.0.0.1:3306/moodle (Moodle 4.5.6)' };

describe('markdown plan rendering', () => {
  it('renders every entity and action, unredacted (golden)', () => {
    const md = new MarkdownPlanView().render(samplePlan, header);
    expectGolden(golden('plan.md'), md);
    expect(md.split('\n')[0]).toBe(
      '### ldap2moodle — Plan: 4 to create, 1 to adopt, 2 to update, 1 to suspend, 1 to delete.',
    );
    expect(md).toContain('| Users | 1 | 1 | 1 | 1 | 0 | 3 |');
    expect(md).toContain('<details><summary>Users: 4 changes</summary>');
    expect(md).toContain('- email    = "old@ent.example"\n+ email    = "new@ent.example"');
    expect(md).toContain('"Éloïse"');
    expect(md).not.toContain('pseudonymised');
  });

  it('renders the redacted plan: no name, e-mail or username left (golden)', () => {
    const md = new MarkdownPlanView({ redacted: true }).render(redactPlan(samplePlan), header);
    expectGolden(golden('plan-redacted.md'), md);
    for (const personal of ['Éloïse', 'MARTIN', 'Durand', 'eloise', 'f4500', 'F4500', 'jean dupont']) {
      expect(md).not.toContain(personal);
    }
    expect(md).toContain('pseudonymised');
    expect(md).toContain('@ent.example');
    expect(md).toContain('cohort_member["0450001A-6EME1/u-');
    expect(md).toContain('| Users | 1 | 1 | 1 | 1 | 0 | 3 |');
  });

  it('the summary table has a column per action used and the directory counts', () => {
    const md = new MarkdownPlanView().render(samplePlan, header);
    expect(md).toContain('| Entity | create | adopt | update | suspend | delete | in the directory |');
    expect(md).toContain('| Categories | 1 | 0 | 0 | 0 | 0 | 1 |');
    expect(md).toContain('| Cohort members | 1 | 0 | 0 | 0 | 1 | 2 |');
    // An entity listed in the directory without changes still has its row; one with neither has none.
    expect(md).toContain('| Profile data | 0 | 0 | 1 | 0 | 0 | 2 |');
    expect(md).not.toContain('| Profile fields |');
  });

  it('cuts long lists at --limit (default 50) unless --full', () => {
    const many: Plan = {
      changes: Array.from({ length: 60 }, (_, i) =>
        change({ action: 'create', key: `u${String(i).padStart(2, '0')}` }),
      ),
      skipped: Array.from({ length: 55 }, (_, i) => ({
        entity: 'user' as const,
        dn: `uid=s${i},ou=people`,
        reason: 'x',
      })),
      warnings: [],
      desiredCounts: { user: 60 },
      purgeNeeded: false,
    };
    const cut = new MarkdownPlanView().render(many, header);
    expect(cut).toContain('user["u49"]');
    expect(cut).not.toContain('user["u50"]');
    expect(cut).toContain('… and 10 more users changes (`--full` lists them all)');
    expect(cut).toContain('… and 5 more (`--full` lists them all)');
    const five = new MarkdownPlanView({ limit: 5 }).render(many, header);
    expect(five).toContain('user["u04"]');
    expect(five).not.toContain('user["u05"]');
    expect(five).toContain('… and 55 more users changes');
    const full = new MarkdownPlanView({ full: true, limit: 5 }).render(many, header);
    expect(full).toContain('user["u59"]');
    expect(full).not.toContain('more users changes');
    expect(full).toContain('<details><summary>Users: 60 changes</summary>');
  });

  it('says so when there is nothing to do', () => {
    const empty: Plan = { changes: [], skipped: [], warnings: [], desiredCounts: { user: 3 }, purgeNeeded: false };
    const md = new MarkdownPlanView().render(empty, header);
    expect(md.split('\n')[0]).toBe('### ldap2moodle — No changes. Moodle matches the spec.');
    expect(md).toContain('| Users | 3 |');
    expect(md).not.toContain('<details>');
  });

  it('keeps directory text from becoming markup or breaking a table or a fence', () => {
    const tricky: Plan = {
      changes: [
        change({
          action: 'create',
          key: 'x',
          after: { firstname: '<img src=x onerror=alert(1)>', lastname: '```\n# not a heading' },
          reason: 'a <b>reason</b> with *stars* | and a pipe',
        }),
      ],
      skipped: [{ entity: 'user', dn: 'uid=a|b,ou=people', reason: 'cn "<script>" | bad' }],
      warnings: ['a warning with <html> and _underscores_'],
      desiredCounts: {},
      purgeNeeded: false,
    };
    const md = new MarkdownPlanView().render(tricky, header);
    expect(md).toContain('a \\<b\\>reason\\</b\\> with \\*stars\\* \\| and a pipe');
    expect(md).toContain('````diff');
    expect(md).toContain('| `uid=a\\|b,ou=people` | users | cn "\\<script\\>" \\| bad |');
    expect(md).toContain('- a warning with \\<html\\> and \\_underscores\\_');
    expect(md).not.toMatch(/[^\\]<script>/);
  });

  describe('a plan too long for a merge-request comment', () => {
    // 3,000 users to create, 200 skipped entries: far over 65,000 characters listed in full.
    const big: Plan = {
      ...samplePlan,
      changes: Array.from({ length: 3000 }, (_, i) =>
        change({
          action: 'create',
          key: `u${String(i).padStart(5, '0')}`,
          after: { username: `u${i}`, firstname: 'Prénom', lastname: `NOM-${i}`, email: `u${i}@ent.example` },
          reason: 'in the directory, not in Moodle',
        }),
      ),
      skipped: Array.from({ length: 200 }, (_, i) => ({
        entity: 'user' as const,
        dn: `uid=bad${i},ou=people,dc=ent,dc=example`,
        reason: 'the attribute sn is missing',
        kind: 'data' as const,
      })),
    };

    it('fits under 65,000 characters by default, says what it left out and how to get all of it', () => {
      const full = new MarkdownPlanView({ full: true }).render(big, header);
      expect(full.length).toBeGreaterThan(65_000);
      // 1,000 changes per entity asked (--limit 1000): only as many as fit are listed.
      const md = new MarkdownPlanView({ limit: 1000 }).render(big, header);
      expect(md.length).toBeLessThanOrEqual(65_000);
      expect(md).toContain('**Shortened to fit a comment** (65,000 characters):');
      expect(md).toMatch(/: \d+ of 3000 changes are not listed \(the counts above are complete\)/);
      expect(md).toContain('--format markdown --full');
      // The counts stay complete, and the listing is as long as fits: one more change would not.
      expect(md).toContain('| Users | 3000 |');
      const listed = md.match(/^\*\*`user\[/gm)?.length ?? 0;
      expect(listed).toBeGreaterThan(50);
      expect(md).toMatch(new RegExp(`: ${3000 - listed} of 3000 changes`));
    });

    it('honours another limit, and --full lifts it', () => {
      const md = new MarkdownPlanView({ maxChars: 10_000 }).render(big, header);
      expect(new MarkdownPlanView().render(big, header)).not.toContain('Shortened'); // 50 a list fits 65,000
      expect(md.length).toBeLessThanOrEqual(10_000);
      expect(md).toContain('(10,000 characters)');
      expect(md).toMatch(/: \d+ of 3000 changes and \d+ of 200 skipped entries are not listed/);
      expect(new MarkdownPlanView({ full: true, maxChars: 10_000 }).render(big, header)).not.toContain('Shortened');
    });

    it('a plan that fits is not touched', () => {
      expect(new MarkdownPlanView().render(samplePlan, header)).not.toContain('Shortened');
    });
  });
});
