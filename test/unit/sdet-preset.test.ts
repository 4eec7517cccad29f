/**
 * The SDET preset (presets/sdet.yaml) on the fixture directory, through the pure rules only: the example
 * collège's spec with other establishments or templates, the LDIF read in memory, desiredState computed.
 * What the fixture's header promises (a cité scolaire sharing staff, a student who changed establishment
 * with a stale ESCOUAICourant, teachers in two unrelated establishments) is checked object by object.
 */
import { describe, expect, it } from 'vitest';
import type { DesiredState } from '../../src/rules/rules.js';
import { collegeDesired as desired, keysOf as keys } from '../helpers/college-desired.js';

const membersOf = (state: DesiredState, cohort: string): string[] =>
  keys(state, 'cohort_member')
    .filter((k) => k.startsWith(`${cohort}/`))
    .map((k) => k.slice(cohort.length + 1));
const cohortsOf = (state: DesiredState, user: string): string[] =>
  keys(state, 'cohort_member')
    .filter((k) => k.endsWith(`/${user}`))
    .map((k) => k.slice(0, -user.length - 1));
const serving =
  (...uais: string[]) =>
  (spec: string) =>
    spec.replace("establishments: ['0450001A']", `establishments: [${uais.map((u) => `'${u}'`).join(', ')}]`);

describe('the SDET preset on the fixture directory', () => {
  it('a cité scolaire (lycée + LP): shared staff are one user, in the staff cohort of each establishment', async () => {
    const state = await desired(serving('0450002B', '0450003C'));
    expect(state.skipped).toEqual([]);
    expect(keys(state, 'category')).toEqual(
      expect.arrayContaining(['0450002B', '0450003C', '0450002B-SECONDE-GENERALE-TECHNO-YC-BT']),
    );
    // Martine ÉTIENNE heads both; Corinne VIDAL is admin officer in both.
    expect(keys(state, 'user').filter((k) => k === 'f45001vv')).toEqual(['f45001vv']);
    expect(cohortsOf(state, 'f45001vv')).toEqual(['0450002B-PERS', '0450003C-PERS']);
    expect(cohortsOf(state, 'f45001ww')).toEqual(['0450002B-PERS', '0450003C-PERS']);
    // Nobody of the collège.
    expect(keys(state, 'cohort').filter((k) => k.startsWith('0450001A'))).toEqual([]);
  });

  it('a student who moved from the LP to the lycée counts at the lycée only, whatever ESCOUAICourant says', async () => {
    const state = await desired(serving('0450002B', '0450003C'));
    expect(cohortsOf(state, 'f45001gg')).toEqual(['0450002B-2NDE1', '0450002B-ELV']);
    const user = (state.objects.get('user') ?? []).find((u) => u.key === 'f45001gg');
    expect(user?.values.institution).toBe('0450002B');
    expect(user?.profile).toBe('student');
  });

  it('a teacher of two unrelated establishments is synced where this Moodle serves, with that establishment only', async () => {
    const state = await desired();
    expect(cohortsOf(state, 'f45001mm')).toEqual(['0450001A-ENS']);
    const data = (state.objects.get('profile_data') ?? []).find((d) => d.key === 'ent_uai/f45001mm');
    expect(data?.values).toEqual({ data: '0450001A' });
    const both = await desired(serving('0450001A', '0450002B'));
    expect(cohortsOf(both, 'f45001mm')).toEqual(['0450001A-ENS', '0450002B-ENS']);
    expect((both.objects.get('profile_data') ?? []).find((d) => d.key === 'ent_uai/f45001mm')?.values).toEqual({
      data: '0450001A,0450002B',
    });
  });

  it('a documentalist (ENTAuxEnseignant + National_DOC) is synced as a teacher and listed under both profiles', async () => {
    const state = await desired(serving('0450002B'));
    const roche = (state.objects.get('user') ?? []).find((u) => u.key === 'f45001ss');
    expect(roche?.profile).toBe('teacher');
    expect((state.objects.get('profile_data') ?? []).find((d) => d.key === 'ent_profiles/f45001ss')?.values).toEqual({
      data: 'teacher,staff',
    });
    expect(cohortsOf(state, 'f45001ss')).toEqual(['0450002B-ENS', '0450002B-PERS']);
  });

  it('a school-year prefix is written once per idnumber: never doubled, the same at every run', async () => {
    const withYear = (spec: string) => `${spec}\ntemplates:\n  cohortPrefix: '2026-'\n`;
    const first = await desired(withYear);
    const again = await desired(withYear);
    const cohorts = keys(first, 'cohort');
    expect(cohorts).toContain('2026-0450001A-6EME1');
    expect(cohorts).toContain('2026-0450001A-ENS');
    expect(cohorts.every((k) => k.startsWith('2026-0450001A-') && !k.includes('2026-2026'))).toBe(true);
    expect(keys(again, 'cohort')).toEqual(cohorts);
    expect(membersOf(first, '2026-0450001A-6EME1')).toEqual(['f4500111', 'f4500122']);
  });

  it('each profile has its own auth and fields: parents with another auth plugin, no department', async () => {
    const state = await desired((spec) =>
      spec.replace('    parent:\n      enabled: true', '    parent:\n      enabled: true\n      auth: email'),
    );
    const users = new Map((state.objects.get('user') ?? []).map((u) => [u.key, u]));
    expect(users.get('f45001zz')?.values.auth).toBe('email');
    expect(users.get('f45001zz')?.profile).toBe('parent');
    expect(users.get('f4500111')?.values.auth).toBe('cas');
    // The teacher profile adds department (the discipline of the served establishment); students have none.
    expect(users.get('f45001mm')?.values.department).toBe('MATHEMATIQUES');
    expect(users.get('f4500111')?.values).not.toHaveProperty('department');
  });

  it('parents are a profile to switch on: off, no parent is a user nor in a cohort', async () => {
    const state = await desired((spec) =>
      spec.replace('    parent:\n      enabled: true', '    parent:\n      enabled: false'),
    );
    const users = keys(state, 'user');
    expect(users).not.toContain('f45001zz');
    expect(users).toHaveLength(13);
    expect(keys(state, 'cohort')).not.toContain('0450001A-TUT');
  });
});
