import { describe, expect, it } from 'vitest';
import type { EntityType } from '../../src/model/change.js';
import type { DesiredObject } from '../../src/model/desired.js';
import type { SkippedEntry } from '../../src/model/skipped.js';
import { checkObjectTexts, cleanText, isEmailAddress } from '../../src/rules/clean-values.js';
import { desiredUsers } from '../../src/rules/users.js';
import { MOODLE_CONSTRAINTS, person, rulesFor, userSpec } from '../helpers/builders.js';

describe('cleanText: what Moodle would store', () => {
  it('strips tags from names (PARAM_NOTAGS), keeping their text, and says so', () => {
    expect(cleanText('<script>alert(1)</script>Jean', 'notags')).toEqual({
      value: 'alert(1)Jean',
      changes: ['HTML tags removed'],
    });
    expect(cleanText('DUPONT<img src=x onerror=alert(1)>', 'notags').value).toBe('DUPONT');
    expect(cleanText('a < b', 'notags')).toEqual({ value: 'a < b', changes: [] });
    // Raw values keep their markup: only control characters go.
    expect(cleanText('<b>x</b>', 'raw')).toEqual({ value: '<b>x</b>', changes: [] });
  });

  it('removes NUL and other control characters everywhere', () => {
    expect(cleanText('Chl\u0000oé', 'notags')).toEqual({ value: 'Chloé', changes: ['control characters removed'] });
    expect(cleanText('a\u001b]0;x\u0007b\u009b', 'raw').value).toBe('a]0;xb');
    expect(cleanText('Éloïse', 'notags')).toEqual({ value: 'Éloïse', changes: [] });
  });

  it('notes invalid UTF-8 decoded as U+FFFD', () => {
    expect(cleanText('No\uFFFD', 'notags').changes[0]).toContain('U+FFFD');
  });
});

describe('isEmailAddress', () => {
  it('accepts addresses and refuses the rest', () => {
    for (const good of ['a@b.fr', 'jean-baptiste.roy@ent.example', "o'neil+x@sub.example.org"])
      expect(isEmailAddress(good), good).toBe(true);
    for (const bad of ['', 'ines dalmeida at ent', 'a@b', '@b.fr', 'a@b..fr', 'a b@c.fr', 'a@-b.fr'])
      expect(isEmailAddress(bad), bad).toBe(false);
  });
});

describe('user values cleaned by the user rules', () => {
  it('cleans names and empties a non-address e-mail, with a warning naming the DN and field, never the value', () => {
    const entry = person('A1', { givenName: '<b>Jean</b>', mail: 'not an address' });
    const { users, skipped, warnings } = desiredUsers([entry], rulesFor(userSpec()), MOODLE_CONSTRAINTS);
    expect(skipped).toEqual([]);
    expect(users[0]?.values.firstname).toBe('Jean');
    expect(users[0]?.values.email).toBe('');
    expect(warnings).toEqual([
      "uid=A1,ou=people,dc=ent,dc=example: firstname cleaned as Moodle's API would (HTML tags removed)",
      'uid=A1,ou=people,dc=ent,dc=example: email is not an address Moodle would accept; it is left empty',
    ]);
  });

  it('refuses a username with control characters and a name that is empty once cleaned', () => {
    const extended = { ...MOODLE_CONSTRAINTS, extendedUsernameChars: true };
    const { users, skipped } = desiredUsers(
      [person('A\u00001'), person('B2', { sn: '<i></i>' })],
      rulesFor(userSpec()),
      extended,
    );
    expect(users).toEqual([]);
    expect(skipped.map((s) => s.reason)).toEqual([
      'username has characters Moodle refuses (control characters removed)',
      'lastname is empty once cleaned as Moodle would (HTML tags removed)',
    ]);
  });
});

describe('checkObjectTexts', () => {
  const cohort = (key: string, name: string, dn = `uid=${key},ou=people,dc=ent,dc=example`): DesiredObject => ({
    key,
    dn,
    values: { idnumber: key, name, description: '' },
    sourceDigest: '',
  });
  const member = (cohortKey: string, user: string): DesiredObject => ({
    key: `${cohortKey}/${user}`,
    dn: '',
    values: { cohort: cohortKey, user },
    refs: { cohort: { entity: 'cohort', key: cohortKey }, user: { entity: 'user', key: user } },
    sourceDigest: '',
  });
  const columns = new Map([
    [
      'cohort',
      new Map<string, number | null>([
        ['idnumber', 100],
        ['name', 254],
      ]),
    ],
  ]);

  it('leaves out an object whose value is longer than its column (sizes from the site), and its members with it', () => {
    const objects = new Map<EntityType, DesiredObject[]>([
      ['cohort', [cohort('OK', 'Fine'), cohort('LONG', 'N'.repeat(10_000))]],
      ['cohort_member', [member('OK', 'a'), member('LONG', 'b')]],
    ]);
    const skipped: SkippedEntry[] = [];
    const warnings: string[] = [];
    checkObjectTexts(objects, columns, skipped, warnings);
    expect(objects.get('cohort')?.map((o) => o.key)).toEqual(['OK']);
    expect(objects.get('cohort_member')?.map((o) => o.key)).toEqual(['OK/a']);
    expect(skipped).toEqual([
      {
        entity: 'cohort',
        dn: 'uid=LONG,ou=people,dc=ent,dc=example',
        reason:
          'cohort "LONG": its name is 10000 characters long, more than the 254 of Moodle\'s cohort.name column; it is left out',
        kind: 'data',
      },
    ]);
    expect(warnings).toEqual([]);
  });

  it('cleans names with a warning, refuses an identifier that would need cleaning, keeps messages short', () => {
    const long = 'K'.repeat(500);
    const objects = new Map<EntityType, DesiredObject[]>([
      ['cohort', [cohort('A', '<b>Classe</b> A'), cohort('B\u0000', 'B'), cohort(long, 'L')]],
    ]);
    const skipped: SkippedEntry[] = [];
    const warnings: string[] = [];
    checkObjectTexts(objects, columns, skipped, warnings);
    expect(objects.get('cohort')?.map((o) => [o.key, o.values.name])).toEqual([['A', 'Classe A']]);
    expect(warnings).toEqual([
      `uid=A,ou=people,dc=ent,dc=example: cohort "A": name cleaned as Moodle's API would (HTML tags removed)`,
    ]);
    expect(skipped.map((s) => s.reason)).toEqual([
      'cohort "B?": its idnumber has characters Moodle cannot store in an identifier (control characters removed); it is left out',
      `cohort "${'K'.repeat(60)}… (500 characters)": its idnumber is 500 characters long, more than the 100 of Moodle's cohort.idnumber column; it is left out`,
    ]);
  });
});
