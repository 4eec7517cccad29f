/**
 * Which Moodle the tool may write to. Moodle 4.5 LTS is the tested release; other 4.x and 5.x releases are
 * accepted with a warning when every column the tool reads or writes exists with a compatible type, and
 * refused otherwise, naming what is missing. Anything else is refused.
 */
import { UserError } from '../errors.js';
import type { ColumnInfo, MoodleDatabase } from './database.js';

const INTEGER = ['bigint', 'int', 'integer', 'smallint', 'tinyint', 'mediumint'];
const TEXT = ['varchar', 'char', 'text', 'longtext', 'mediumtext'];

/** Every column the tool touches, by table, with the kind of type it relies on. */
export const REQUIRED_COLUMNS: Readonly<Record<string, Readonly<Record<string, 'integer' | 'text'>>>> = {
  config: { name: 'text', value: 'text' },
  config_plugins: { id: 'integer', plugin: 'text', name: 'text', value: 'text' },
  context: {
    id: 'integer',
    contextlevel: 'integer',
    instanceid: 'integer',
    path: 'text',
    depth: 'integer',
    locked: 'integer',
  },
  sessions: { userid: 'integer' },
  user: {
    id: 'integer',
    auth: 'text',
    confirmed: 'integer',
    policyagreed: 'integer',
    deleted: 'integer',
    suspended: 'integer',
    mnethostid: 'integer',
    username: 'text',
    password: 'text',
    idnumber: 'text',
    firstname: 'text',
    lastname: 'text',
    email: 'text',
    emailstop: 'integer',
    middlename: 'text',
    alternatename: 'text',
    institution: 'text',
    department: 'text',
    city: 'text',
    country: 'text',
    lang: 'text',
    calendartype: 'text',
    timezone: 'text',
    firstaccess: 'integer',
    lastaccess: 'integer',
    lastlogin: 'integer',
    currentlogin: 'integer',
    picture: 'integer',
    descriptionformat: 'integer',
    mailformat: 'integer',
    maildigest: 'integer',
    maildisplay: 'integer',
    autosubscribe: 'integer',
    trackforums: 'integer',
    timecreated: 'integer',
    timemodified: 'integer',
    trustbitmask: 'integer',
  },
};

const TESTED = /^4\.5(\.|\s|$)/;

/** Returns warnings for an untested but compatible release; throws for an incompatible one. */
export async function checkCompatibility(db: MoodleDatabase, release: string): Promise<string[]> {
  const major = Number(/^(\d+)\./.exec(release)?.[1]);
  if (major !== 4 && major !== 5) {
    throw new UserError(
      'MOODLE_UNSUPPORTED',
      `${db.description} runs Moodle ${release}; ldap2moodle supports Moodle 4.x and 5.x (tested with 4.5 LTS).`,
    );
  }
  const problems: string[] = [];
  for (const [table, wanted] of Object.entries(REQUIRED_COLUMNS)) {
    const columns = new Map<string, ColumnInfo>(
      (await db.describeColumns(`${db.prefix}${table}`)).map((c) => [c.name, c]),
    );
    for (const [name, kind] of Object.entries(wanted)) {
      const column = columns.get(name);
      if (column === undefined) problems.push(`${db.prefix}${table}.${name} is missing`);
      else if (!(kind === 'integer' ? INTEGER : TEXT).includes(column.type)) {
        problems.push(
          `${db.prefix}${table}.${name} is ${column.type}, expected ${kind === 'integer' ? 'an integer' : 'text'}`,
        );
      }
    }
  }
  if (problems.length > 0) {
    throw new UserError(
      'MOODLE_UNSUPPORTED',
      `${db.description} (Moodle ${release}) does not have the columns ldap2moodle writes: ${problems.join('; ')}. ` +
        'Nothing was read further or written.',
    );
  }
  return TESTED.test(release)
    ? []
    : [`Moodle ${release} is not the tested release (4.5 LTS); its columns check out, so ldap2moodle goes on`];
}
