/**
 * The cité scolaire example (examples/cite-scolaire: the collège 0450001A and the lycée 0450002B served, the LP
 * 0450003C with the lycée through ENTEtablissementStructRattachFctl) on every target, end to end: the Moodle it
 * makes written out in test/golden/cite-scolaire.txt (the same on the three targets); people shared by the
 * lycée and the LP are one user with what each establishment gives them; a teacher leaving the LP (only LP rows
 * change), a student moving from the LP to the lycée, a parent whose child in the lycée leaves (the collège
 * child's role stays). The integrity checker runs after every apply (collegeSite.apply).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { PlanResult } from '../../src/index.js';
import { courseSideText, readCourseSide } from '../helpers/college-courses.js';
import { dropStaleTestDatabases } from '../helpers/mariadb.js';
import { type CollegeSite, collegeSite, editEntry, removeEntry } from '../helpers/sdet-college.js';
import { CITE_SPEC } from '../helpers/spec-files.js';
import { TARGETS } from '../helpers/targets.js';

const GOLDEN = new URL('../golden/cite-scolaire.txt', import.meta.url);

const LYC = 'ENTStructureSIREN=19450002200018,ou=structures,dc=ent,dc=example';
const LP = 'ENTStructureSIREN=19450003000011,ou=structures,dc=ent,dc=example';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});
beforeAll(async () => {
  await dropStaleTestDatabases();
});

const changeList = (planned: PlanResult): string[] =>
  planned.plan.changes.map((c) => `${c.action} ${c.address}`).sort();

/** Users with their establishments (ent_uai), cohorts with their members, then the course side. */
async function listing(s: CollegeSite): Promise<string> {
  const moodle = await s.read();
  const users = moodle.users.map((u) => `${u.username} ${moodle.profileData.ent_uai?.[u.username] ?? '-'}`).sort();
  const cohorts = Object.entries(moodle.members).map(([cohort, members]) => `${cohort}: ${members.join(' ')}`);
  return `## users (${users.length})\n${users.join('\n')}\n\n## cohorts (${cohorts.length})\n${cohorts.sort().join('\n')}\n\n${courseSideText(await readCourseSide(s.t))}`;
}

describe.each(TARGETS)('the cité scolaire on %s', (target) => {
  async function site(): Promise<CollegeSite> {
    const s = await collegeSite(target, { spec: { example: CITE_SPEC } });
    cleanups.push(() => s.remove());
    return s;
  }
  async function applied(s: CollegeSite): Promise<void> {
    const result = await s.apply();
    expect(result.applied).toBe(true);
  }

  describe('applied once', () => {
    let shared: CollegeSite;
    beforeAll(async () => {
      shared = await collegeSite(target, { spec: { example: CITE_SPEC } });
      const result = await shared.apply();
      expect(result.applied).toBe(true);
    });
    afterAll(async () => {
      await shared?.remove();
    });

    it('Moodle holds exactly the users, cohorts, courses and what fills them written out', async () => {
      const text = await listing(shared);
      if (process.env.UPDATE_GOLDEN === '1' && target === TARGETS[0]) writeFileSync(GOLDEN, text);
      expect(text).toBe(readFileSync(GOLDEN, 'utf8'));
    });

    it('serves the LP through the lycée’s cité scolaire, and shared staff are one user in both', async () => {
      const side = await readCourseSide(shared.t);
      const categories = await shared.t.query(
        "SELECT idnumber FROM {course_categories} WHERE idnumber <> '' AND parent = 0",
      );
      expect(categories.map((c) => String(c.idnumber)).sort()).toEqual(['0450001A', '0450002B', '0450003C']);
      // The headteacher of the lycée and the LP: one account, manager of both categories.
      const users = await shared.t.query("SELECT COUNT(*) AS n FROM {user} WHERE username = 'f45001vv'");
      expect(Number(users[0]?.n)).toBe(1);
      expect(side.roles.filter((l) => l.endsWith(' manager f45001vv'))).toEqual([
        'category 0450002B manager f45001vv',
        'category 0450003C manager f45001vv',
      ]);
      // A teacher of both: enrolled in the courses of each.
      expect(side.enrolments.filter((l) => l.includes(' manual f45001pp '))).toEqual([
        '0450002B-1G1-043700 manual f45001pp active',
        '0450002B-TG1-043700 manual f45001pp active',
        '0450003C-TBAC COM-043700 manual f45001pp active',
      ]);
      // A parent with children in the collège and the lycée holds the role in both children's contexts.
      expect(side.roles.filter((l) => l.endsWith(' parent f45001zz'))).toEqual([
        'user f4500188 parent f45001zz',
        'user f45001dd parent f45001zz',
      ]);
      expect(changeList(await shared.plan())).toEqual([]);
    });
  });

  it('a teacher leaving the LP: only what the LP gave them changes; the lycée’s stays', async () => {
    const s = await site();
    await applied(s);
    const before = await readCourseSide(s.t);
    await s.writeLdif(
      editEntry(await s.ldif(), 'F45001pp', (b) =>
        b
          .split('\n')
          .filter((l) => !l.includes(LP) && l !== 'ESCOUAI: 0450003C')
          .join('\n'),
      ),
    );
    const plan = await s.plan();
    expect(changeList(plan)).toEqual([
      'delete cohort_member["0450003C-ENS/f45001pp"]',
      // Nobody else teaches that class its subject: the course stays, its class group and sync go quiet.
      'delete group["0450003C-TBAC COM-043700/0450003C-TBAC COM"]',
      'suspend cohort_enrol["0450003C-TBAC COM-043700/0450003C-TBAC COM/student"]',
      'suspend enrolment["0450003C-TBAC COM-043700/f45001pp"]',
      // The sync right after update_status() removes the roles of a disabled method.
      'update cohort_enrolment["0450003C-TBAC COM-043700/0450003C-TBAC COM/student/f45001jj"]',
      'update cohort_enrolment["0450003C-TBAC COM-043700/0450003C-TBAC COM/student/f45001kk"]',
      'update cohort_enrolment["0450003C-TBAC COM-043700/0450003C-TBAC COM/student/f45001ll"]',
      'update profile_data["ent_uai/f45001pp"]',
    ]);
    expect(plan.plan.changes.find((c) => c.entity === 'profile_data')).toMatchObject({
      before: { data: '0450002B,0450003C' },
      after: { data: '0450002B' },
    });
    await applied(s);
    const after = await readCourseSide(s.t);
    // Every row of the lycée is as it was.
    const lycee = (side: typeof before) =>
      Object.values(side)
        .flat()
        .filter((l) => l.includes('0450002B'));
    expect(lycee(after)).toEqual(lycee(before));
    expect(changeList(await s.plan())).toEqual([]);
  });

  it('a student moving from the LP to the lycée (ESCOUAICourant left stale): cohorts, courses and groups follow', async () => {
    const s = await site();
    await applied(s);
    await s.writeLdif(
      editEntry(await s.ldif(), 'F45001ll', (b) =>
        b
          .replace(`ENTEleveClasses: ${LP}$TBAC COM`, `ENTEleveClasses: ${LYC}$TG1`)
          .replace('ESCOUAI: 0450003C', 'ESCOUAI: 0450003C\nESCOUAI: 0450002B'),
      ),
    );
    const plan = await s.plan();
    const changes = changeList(plan);
    expect(changes.filter((c) => c.includes('cohort_member'))).toEqual([
      'create cohort_member["0450002B-ELV/f45001ll"]',
      'create cohort_member["0450002B-TG1/f45001ll"]',
      'delete cohort_member["0450003C-ELV/f45001ll"]',
      'delete cohort_member["0450003C-TBAC COM/f45001ll"]',
    ]);
    expect(changes.filter((c) => c.includes('cohort_enrolment'))).toEqual([
      'create cohort_enrolment["0450002B-TG1-043700/0450002B-TG1/student/f45001ll"]',
      'create cohort_enrolment["0450002B-TG1-061300/0450002B-TG1/student/f45001ll"]',
      'create cohort_enrolment["0450002B-VIE-SCOLAIRE/0450002B-ELV/student/f45001ll"]',
      'delete cohort_enrolment["0450003C-TBAC COM-030201/0450003C-TBAC COM/student/f45001ll"]',
      'delete cohort_enrolment["0450003C-TBAC COM-043700/0450003C-TBAC COM/student/f45001ll"]',
      'delete cohort_enrolment["0450003C-VIE-SCOLAIRE/0450003C-ELV/student/f45001ll"]',
    ]);
    // The collège has nothing to do with it.
    expect(changes.filter((c) => c.includes('0450001A'))).toEqual([]);
    await applied(s);
    const side = await readCourseSide(s.t);
    expect(side.enrolments.filter((l) => l.includes(' f45001ll '))).toEqual([
      '0450002B-TG1-043700 cohort:0450002B-TG1 f45001ll active',
      '0450002B-TG1-061300 cohort:0450002B-TG1 f45001ll active',
      '0450002B-VIE-SCOLAIRE cohort:0450002B-ELV f45001ll active',
    ]);
    expect(changeList(await s.plan())).toEqual([]);
  });

  it('a parent whose child in the lycée leaves: that role goes, the collège child’s stays, the parent stays a user', async () => {
    const s = await site();
    await applied(s);
    await s.writeLdif(removeEntry(await s.ldif(), 'F45001dd'));
    const plan = await s.plan();
    const roles = changeList(plan).filter((c) => c.includes('role_assignment'));
    expect(roles).toEqual([
      'delete role_assignment["user:f45001dd/parent/f45001zz"]',
      'delete role_assignment["user:f45001dd/parent/f4500210"]',
    ]);
    expect(changeList(plan)).not.toContain('suspend user["f45001zz"]');
    // The parents' own links still name the child who left: reported with their DN, the rest planned.
    expect(plan.plan.skipped.map((x) => x.reason)).toContain(
      'person "uid=F45001dd,ou=people,dc=ent,dc=example" is not in the directory',
    );
    await applied(s);
    const side = await readCourseSide(s.t);
    expect(side.roles.filter((l) => l.endsWith(' parent f45001zz'))).toEqual(['user f4500188 parent f45001zz']);
  });

  it('a run scoped to the LP makes only the LP’s changes: the lycée’s rows and shared people stay as they were', async () => {
    const s = await site();
    await applied(s);
    let ldif = await s.ldif();
    // The lycée: a student leaves. The LP: a student changes class. Both: a shared teacher's name is corrected.
    ldif = removeEntry(ldif, 'F4500199');
    ldif = editEntry(ldif, 'F45001kk', (b) =>
      b.replace(`ENTEleveClasses: ${LP}$TBAC COM`, `ENTEleveClasses: ${LP}$2PRO MELEC`),
    );
    ldif = editEntry(ldif, 'F45001pp', (b) => b.replace('sn: LE GALL', 'sn: LE GALL-KERVELLA'));
    await s.writeLdif(ldif);
    const lyceeRows = async () => {
      const side = await readCourseSide(s.t);
      const users = await s.t.query(
        "SELECT username, lastname, suspended FROM {user} WHERE username IN ('f4500199', 'f45001pp') ORDER BY username",
      );
      return {
        rows: Object.values(side)
          .flat()
          .filter((l) => !l.includes('0450003C')),
        users,
      };
    };
    const before = await lyceeRows();

    const scoped = await s.plan({ establishments: ['0450003C'] });
    const changes = changeList(scoped);
    expect(changes.length).toBeGreaterThan(0);
    // Every change is the LP student's: memberships, enrolments, groups of LP objects, and their own class.
    for (const change of changes) expect(change, change).toMatch(/0450003C|f45001kk/);
    expect(changes).toContain('create cohort_member["0450003C-2PRO MELEC/f45001kk"]');
    expect(changes).toContain('update profile_data["ent_classes/f45001kk"]');
    expect(changes).not.toContain('suspend user["f4500199"]');
    expect(changes).not.toContain('update user["f45001pp"]');
    expect(scoped.plan.warnings[0]).toMatch(
      /^this run is scoped to 0450003C: what other establishments own is left as it is \(\d+ changes left for a run of every establishment/,
    );

    const result = await s.apply({ establishments: ['0450003C'] });
    expect(result.applied).toBe(true);
    expect(await lyceeRows()).toEqual(before);
    // The shared teacher's record still says both establishments own them.
    const state = await s.state();
    expect(state.objects.find((o) => o.address === 'user["f45001pp"]')?.establishments).toEqual([
      '0450002B',
      '0450003C',
    ]);

    // A run of every establishment then makes the rest, and nothing of the LP's again.
    const full = changeList(await s.plan());
    expect(full).toContain('suspend user["f4500199"]');
    expect(full).toContain('update user["f45001pp"]');
    expect(full.filter((c) => c.includes('f45001kk'))).toEqual([]);
    await applied(s);
    expect(changeList(await s.plan())).toEqual([]);
  });

  it('a run scoped to an establishment the spec does not serve is refused, naming it; nothing written', async () => {
    const s = await site();
    const before = await s.written();
    const error = await s.applyError({ establishments: ['0450003C', '0999999Z'] });
    expect(error.code).toBe('SPEC_INVALID');
    expect(error.diagnostics.map((d) => d.message)).toEqual([
      '--establishment 0999999Z: not an establishment this spec serves',
    ]);
    expect(await s.written()).toEqual(before);
  });

  it('a run scoped to the LP while only the lycée changed writes nothing: every table as it was', async () => {
    const s = await site();
    await applied(s);
    let ldif = removeEntry(await s.ldif(), 'F4500199');
    ldif = editEntry(ldif, 'F45001pp', (b) => b.replace('sn: LE GALL', 'sn: LE GALL-KERVELLA'));
    await s.writeLdif(ldif);
    const before = await s.written();
    const result = await s.apply({ establishments: ['0450003C'] });
    expect(result.planned.plan.changes).toEqual([]);
    expect(result.applied).toBe(false);
    expect(await s.written()).toEqual(before);
  });

  it('a parent whose only child leaves: the role goes and the parent, no longer a parent user, is suspended', async () => {
    const s = await site();
    await applied(s);
    await s.writeLdif(removeEntry(await s.ldif(), 'F4500111'));
    const changes = changeList(await s.plan());
    expect(changes).toContain('suspend user["f45001yy"]');
    expect(changes).toContain('delete role_assignment["user:f4500111/parent/f45001yy"]');
    await applied(s);
    const side = await readCourseSide(s.t);
    expect(side.roles.filter((l) => l.includes('f45001yy'))).toEqual([]);
  });

  it('from the CLI: a scoped plan saved with --out is applied as it is, its scope with it', async () => {
    const s = await site();
    await applied(s);
    let ldif = editEntry(await s.ldif(), 'F45001kk', (b) =>
      b.replace(`ENTEleveClasses: ${LP}$TBAC COM`, `ENTEleveClasses: ${LP}$2PRO MELEC`),
    );
    ldif = editEntry(ldif, 'F45001pp', (b) => b.replace('sn: LE GALL', 'sn: LE GALL-KERVELLA'));
    await s.writeLdif(ldif);
    const planFile = s.ws.path('lp.plan');
    const planned = await s.cli([
      'plan',
      '--spec',
      s.specPath,
      '--establishment',
      '0450003C',
      '--out',
      planFile,
      '--no-color',
    ]);
    expect(planned.code, planned.stderr).toBe(0);
    // The scope is one of the plan's warnings: in the log on stderr, the plan alone on stdout.
    expect(planned.stderr).toMatch(/^Warning: this run is scoped to 0450003C/m);
    expect(planned.stdout).not.toContain('this run is scoped');
    const twice = await s.cli(['apply', '--spec', s.specPath, planFile, '--establishment', '0450002B', '--no-color']);
    expect(twice.code).toBe(1);
    expect(twice.stderr).toContain('a saved plan keeps the establishments it was made for');
    const run = await s.cli(['apply', '--spec', s.specPath, planFile, '--no-color']);
    expect(run.code, run.stderr).toBe(0);
    const state = await s.state();
    expect(state.objects.find((o) => o.address === 'user["f45001pp"]')?.establishments).toEqual([
      '0450002B',
      '0450003C',
    ]);
    const [pp] = await s.t.query("SELECT lastname FROM {user} WHERE username = 'f45001pp'");
    expect(pp?.lastname).toBe('LE GALL');
    expect(changeList(await s.plan({ establishments: ['0450003C'] }))).toEqual([]);
  });
});
