/**
 * Parents linked to their children (SDET preset, as the example collège turns it on), through the pure rules:
 * from the parent's side (ENTAuxPersRelEleveEleve), the child's (ENTEleveParents) and the child's join keys
 * (ENTElevePersRelEleve, legal guardians only); and what bad links get: each reported with the DN that holds
 * it, the rest planned. Plus the template pieces they use: `person`, `mapPart`, `each.where`, a nested `not`.
 */
import { describe, expect, it } from 'vitest';
import { UserError } from '../../src/errors.js';
import { buildPersonIndex } from '../../src/rules/sdet/people.js';
import { compileTemplate } from '../../src/rules/template.js';
import { buildTranscoding } from '../../src/rules/transcoding.js';
import { type LdapEntry, normalizeDn } from '../../src/source/entry.js';
import { collegeDesired, keysOf } from '../helpers/college-desired.js';
import { editEntry, removeEntry, replaceLine } from '../helpers/sdet-college.js';

const person = (uid: string, attributes: Record<string, string[]> = {}): LdapEntry => ({
  dn: `uid=${uid},ou=people,dc=ent,dc=example`,
  attributes: Object.fromEntries(Object.entries(attributes).map(([k, v]) => [k.toLowerCase(), v])),
});
const dnOf = (uid: string): string => `uid=${uid},ou=people,dc=ent,dc=example`;

describe('person, mapPart', () => {
  const child = person('F1', { ENTPersonJointure: ['AC-ORLEANS-TOURS$7100001'] });
  const parent = person('P1', { ENTPersonJointure: ['AC-ORLEANS-TOURS$8200001'] });
  const people = buildPersonIndex([
    { entry: child, profiles: ['student'] },
    { entry: parent, profiles: ['parent'] },
  ]);
  const run = (source: string, entry: LdapEntry) => {
    const problems: string[] = [];
    const transcodings = new Map([
      ['relationKinds', buildTranscoding('relationKinds', { values: { '1': 'parent' }, onUnknown: 'error' })],
    ]);
    const out = compileTemplate(source).evaluate(entry, {
      people,
      transcodings,
      report: (p) => problems.push(p.message),
    });
    return { out, problems };
  };

  it('resolves a DN in any escaping or case, and a join key with or without its source, to the entry’s DN', () => {
    const holder = person('X', {
      links: [
        'UID=f1,OU=People,DC=ent,DC=example',
        'uid=F\\31,ou=people,dc=ent,dc=example',
        '7100001',
        'AC-ORLEANS-TOURS$7100001',
      ],
    });
    expect(run('{links|person}', holder)).toEqual({
      out: [dnOf('F1'), dnOf('F1'), dnOf('F1'), dnOf('F1')],
      problems: [],
    });
  });

  it('reports a person not in the directory, and one without the profile asked for', () => {
    const holder = person('X', { links: [dnOf('NOBODY'), dnOf('P1'), dnOf('F1')] });
    expect(run('{links|person("student")}', holder)).toEqual({
      out: [dnOf('F1')],
      problems: [
        `person "${dnOf('NOBODY')}" is not in the directory`,
        `person "${dnOf('P1')}" is not a student (profiles parent)`,
      ],
    });
  });

  it('mapPart transcodes one $-part and keeps the rest; an unknown code is the table’s onUnknown', () => {
    const holder = person('X', { rel: ['8200001$1$1$1$1$1', '8200009$7$0$0$0$0'] });
    expect(run('{rel|mapPart(2, "relationKinds")}', holder)).toEqual({
      out: ['8200001$parent$1$1$1$1'],
      problems: ['"7" is not in transcoding "relationKinds"'],
    });
  });
});

describe('parents of the example collège', () => {
  it('hold the parent role in each child’s user context, from whichever side the link is written', async () => {
    const state = await collegeDesired();
    expect(state.skipped).toEqual([]);
    expect(keysOf(state, 'role')).toEqual(['parent']);
    expect(state.objects.get('role')?.[0]?.values).toMatchObject({ contextlevels: '30' });
    expect(keysOf(state, 'role_assignment').filter((k) => k.startsWith('user:'))).toEqual([
      'user:f4500111/parent/f45001yy',
      'user:f4500133/parent/f4500221',
      'user:f4500188/parent/f45001zz',
      'user:f4500188/parent/f4500210',
    ]);
  });

  it('keeps only legal guardians from join keys (ENTElevePersRelEleve field 4) when the other links are off', async () => {
    const state = await collegeDesired((spec) =>
      spec
        .replace('parentOfChild: { enabled: true }', 'parentOfChild: { enabled: false }')
        .replace('childParents: { enabled: true }', 'childParents: { enabled: false }'),
    );
    // F4500188's two relatives are legal guardians (8200002$1$1$1…, 8200003$1$0$1…).
    expect(keysOf(state, 'role_assignment').filter((k) => k.startsWith('user:f4500188/'))).toEqual([
      'user:f4500188/parent/f45001zz',
      'user:f4500188/parent/f4500210',
    ]);
  });

  it('a parent whose only child left is no longer a user (suspended by policy); the dangling link is reported', async () => {
    const state = await collegeDesired(undefined, (ldif) => removeEntry(ldif, 'F4500111'));
    expect(keysOf(state, 'user')).not.toContain('f45001yy');
    expect(keysOf(state, 'role_assignment').filter((k) => k.endsWith('/f45001yy'))).toEqual([]);
    expect(state.skipped).toContainEqual({
      entity: 'user',
      dn: dnOf('F45001yy'),
      reason: `person "${dnOf('F4500111')}" is not in the directory`,
      kind: 'data',
      // Someone who left, seen from the parent's side: not an error of the parent's entry (nothing is held).
      absent: true,
    });
  });

  it('a link to someone who is not a student, and a relation code the spec does not know: reported with the DN', async () => {
    const teacher = dnOf('F45001mm');
    const state = await collegeDesired(undefined, (ldif) =>
      editEntry(
        editEntry(ldif, 'F45001yy', (b) =>
          replaceLine(b, `ENTAuxPersRelEleveEleve: ${dnOf('F4500111')}`, `ENTAuxPersRelEleveEleve: ${teacher}`),
        ),
        'F4500188',
        (b) => replaceLine(b, 'ENTElevePersRelEleve: 8200002$1$1$1$1$1', 'ENTElevePersRelEleve: 8200002$7$1$1$1$1'),
      ),
    );
    expect(state.skipped).toContainEqual(
      expect.objectContaining({
        dn: dnOf('F45001yy'),
        reason: `person "${teacher}" is not a student (profiles teacher)`,
      }),
    );
    expect(state.skipped).toContainEqual(
      expect.objectContaining({ dn: dnOf('F4500188'), reason: '"7" is not in transcoding "relationKinds"' }),
    );
    // F45001yy's own link names no student any more, but the child's ENTEleveParents still names him: a parent
    // user with the role, from the child's side (issue 27). F45001zz keeps the role from the other sides too.
    expect(keysOf(state, 'user')).toContain('f45001yy');
    expect(keysOf(state, 'role_assignment')).toContain('user:f4500111/parent/f45001yy');
    expect(keysOf(state, 'role_assignment')).toContain('user:f4500188/parent/f45001zz');
  });

  it('a parent named only from the child’s side is a user: by ENTEleveParents, or by a legal guardian’s join key', async () => {
    const withoutOwnLink = (ldif: string, parent: string, child: string) =>
      editEntry(ldif, parent, (b) => b.replace(`ENTAuxPersRelEleveEleve: ${dnOf(child)}\n`, ''));
    // F4500221: the child's ENTEleveParents (and join key). F45001yy: only the child's join key (legal guardian).
    const state = await collegeDesired(undefined, (ldif) =>
      editEntry(withoutOwnLink(withoutOwnLink(ldif, 'F4500221', 'F4500133'), 'F45001yy', 'F4500111'), 'F4500111', (b) =>
        b.replace(`ENTEleveParents: ${dnOf('F45001yy')}\n`, ''),
      ),
    );
    expect(state.skipped).toEqual([]);
    expect(keysOf(state, 'user')).toEqual(expect.arrayContaining(['f4500221', 'f45001yy']));
    expect(keysOf(state, 'role_assignment')).toEqual(
      expect.arrayContaining(['user:f4500133/parent/f4500221', 'user:f4500111/parent/f45001yy']),
    );
    expect(state.excluded?.size).toBe(0);
    // A join key without legal guardianship (field 4 not 1) links nobody: F45001yy is then no user, and why.
    const notGuardian = await collegeDesired(undefined, (ldif) =>
      editEntry(withoutOwnLink(ldif, 'F45001yy', 'F4500111'), 'F4500111', (b) =>
        b
          .replace(`ENTEleveParents: ${dnOf('F45001yy')}\n`, '')
          .replace('ENTElevePersRelEleve: 8200001$1$1$1$1$1', 'ENTElevePersRelEleve: 8200001$1$1$0$1$1'),
      ),
    );
    expect(keysOf(notGuardian, 'user')).not.toContain('f45001yy');
    expect(notGuardian.excluded?.get(normalizeDn(dnOf('F45001yy')))).toBe('no child in the directory any more');
  });

  it('a `where` naming a part its `parts` regex does not have is a spec error at its path', async () => {
    const error = await collegeDesired((spec) =>
      // A function: `$'` in a replacement string would mean "the text after the match".
      spec.replace(
        'childLegalGuardians: { enabled: true }',
        () => "childLegalGuardians: { enabled: true, each: { relative: { where: { guardian: '^1$' } } } }",
      ),
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UserError);
    expect((error as UserError).diagnostics).toEqual([
      expect.objectContaining({
        path: '/roleAssignments/rules/childLegalGuardians/each/relative/where/guardian',
        message: '`parts` has no group named "guardian"',
      }),
    ]);
  });
});
