/** Small builders for unit tests of the pure stages (no I/O). */
import type { MoodleUserRow } from '../../src/moodle/read-users.js';
import type { CompiledUserRules, UserConstraints } from '../../src/rules/users.js';
import { compileUserRules } from '../../src/rules/users.js';
import type { LdapEntry } from '../../src/source/entry.js';
import type { Spec } from '../../src/spec/schema.js';

export function person(uid: string, attrs: Record<string, string | string[]> = {}): LdapEntry {
  const attributes: Record<string, string[]> = {
    uid: [uid],
    givenname: ['Given'],
    sn: [`Sn${uid}`],
    mail: [`${uid.toLowerCase()}@ent.example`],
    entpersonjointure: [`AC-TEST$${uid}`],
  };
  for (const [k, v] of Object.entries(attrs)) attributes[k.toLowerCase()] = Array.isArray(v) ? v : [v];
  return { dn: `uid=${uid},ou=people,dc=ent,dc=example`, attributes };
}

export function userSpec(users: Partial<Spec['users']> = {}): Spec {
  return {
    version: 1,
    onDataError: 'skip',
    citesScolaires: false,
    source: { ldif: 'x.ldif' },
    moodle: {
      driver: 'mariadb',
      host: '127.0.0.1',
      port: 3306,
      database: 'm',
      user: 'root',
      prefix: 'mdl_',
      lockTimeout: 10,
    },
    users: {
      search: { base: 'ou=people,dc=ent,dc=example', scope: 'sub', filter: '(objectClass=*)' },
      match: 'username',
      auth: 'cas',
      fields: {
        username: '{uid|lower}',
        idnumber: '{ENTPersonJointure|split("$", 2)}',
        firstname: '{givenName}',
        lastname: '{sn}',
        email: '{mail|first|default("")}',
      },
      onRemoved: 'suspend',
      adopt: 'never',
      onInvalidEntry: 'skip',
      ...users,
    },
  };
}

export function rulesFor(spec: Spec): CompiledUserRules {
  return compileUserRules(spec, () => undefined);
}

/** Moodle 4.5's user column sizes (from the dump's schema). */
export const MOODLE_CONSTRAINTS: UserConstraints = {
  columnMaxLength: new Map<string, number | null>([
    ['auth', 20],
    ['username', 100],
    ['idnumber', 255],
    ['firstname', 100],
    ['lastname', 100],
    ['email', 100],
    ['institution', 255],
    ['department', 255],
    ['city', 120],
    ['country', 2],
  ]),
  extendedUsernameChars: false,
};

export function moodleUser(id: number, username: string, over: Partial<MoodleUserRow> = {}): MoodleUserRow {
  return {
    id,
    username,
    idnumber: '',
    auth: 'manual',
    deleted: 0,
    suspended: 0,
    firstname: 'First',
    lastname: 'Last',
    email: `${username}@example.org`,
    middlename: null,
    alternatename: null,
    institution: '',
    department: '',
    city: '',
    country: '',
    timemodified: 0,
    ...over,
  };
}
