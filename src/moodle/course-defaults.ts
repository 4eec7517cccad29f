/**
 * What Moodle 4.5's create_course() adds to a new course besides its row, computed from the site's settings
 * (pure; reference-writes §12, and Moodle's code for what the reference does not show):
 *
 * - the format's options (`course_format_options`, section 0): topics → hiddensections, coursedisplay; weeks →
 *   the same plus automaticenddate (1). hiddensections and coursedisplay default to `moodlecourse/<name>`.
 *   A weeks course with automaticenddate gets its end date from its last section (format_weeks' observer of
 *   course_section_created): start date 0 + one week per section, at least one week.
 * - the default enrolment instances: enrol_course_updated() asks every enabled plugin, in
 *   `enrol_plugins_enabled` order, and those whose `defaultenrol` is set add their instance
 *   (add_default_instance(), values from the plugin's settings). manual, guest and self are known here;
 *   another plugin with defaultenrol set would write rows this tool cannot know: the planner refuses it.
 */
import { randomInt } from 'node:crypto';
import { InternalError } from '../errors.js';
import type { SqlValue } from './database.js';
import type { MoodleSite } from './site.js';

/** The site facts course creation depends on. */
export type CourseSite = Pick<MoodleSite, 'enabledEnrol' | 'pluginConfig'>;

export const COURSE_FORMATS: readonly string[] = ['topics', 'weeks'];

/** Moodle's default `moodlecourse/maxsections` (the most sections the course form offers). */
const MAX_SECTIONS = 52;

/** A week: format_weeks' section length (DateInterval P7D from a UTC start). */
const WEEK = 7 * 24 * 3600;

/** PHP's truthiness of a setting as get_config() returns it ('' and '0' are false). */
const isSet = (value: string | undefined): boolean => value !== undefined && value !== '' && value !== '0';

/** A setting as PHP's (int) cast reads it; absent → `fallback`. */
function integerSetting(site: CourseSite, name: string, fallback: number): number {
  const value = site.pluginConfig.get(name);
  if (value === undefined) return fallback;
  const n = Number.parseInt(value.trim(), 10);
  return Number.isSafeInteger(n) ? n : 0;
}

export function maxSections(site: CourseSite): number {
  const max = integerSetting(site, 'moodlecourse/maxsections', MAX_SECTIONS);
  return max > 0 ? max : MAX_SECTIONS;
}

/** `course_format_options` rows (name, value) of a new course of this format, in the order Moodle writes them. */
export function formatOptions(format: string, site: CourseSite): [string, string][] {
  // Values of the reference install when the site has no setting.
  const options: [string, string][] = [
    ['hiddensections', String(integerSetting(site, 'moodlecourse/hiddensections', 1))],
    ['coursedisplay', String(integerSetting(site, 'moodlecourse/coursedisplay', 0))],
  ];
  if (format === 'weeks') options.push(['automaticenddate', '1']);
  return options;
}

/** `course.enddate` of a new course: weeks with automaticenddate end with their last section; others have none. */
export function endDateOf(format: string, numsections: number): number {
  return format === 'weeks' ? Math.max(numsections, 1) * WEEK : 0;
}

/** The `enrol` columns a default instance sets (enrol, courseid, sortorder and times are the writer's). */
export interface EnrolDefaults {
  readonly enrol: string;
  readonly status: number;
  readonly enrolperiod: number;
  readonly expirynotify: number;
  readonly notifyall: number;
  readonly expirythreshold: number;
  readonly password: string | null;
  readonly roleid: number;
  readonly customint1: number | null;
  readonly customint2: number | null;
  readonly customint3: number | null;
  readonly customint4: number | null;
  readonly customint5: number | null;
  readonly customint6: number | null;
}

/** Plugins that add an instance to every new course: enabled, with `defaultenrol` set, in order. */
export function defaultEnrolPlugins(site: CourseSite): string[] {
  return site.enabledEnrol.filter((p) => isSet(site.pluginConfig.get(`enrol_${p}/defaultenrol`)));
}

const KNOWN = new Set(['manual', 'guest', 'self']);

/** Default-enrol plugins whose instance this tool cannot write. */
export function unknownDefaultEnrol(site: CourseSite): string[] {
  return defaultEnrolPlugins(site).filter((p) => !KNOWN.has(p));
}

/** generate_password(20): random, with a lower, an upper, a digit and a symbol for any password policy. */
export function randomPassword(): string {
  const classes = ['abcdefghijkmnopqrstuvwxyz', 'ABCDEFGHJKLMNPQRSTUVWXYZ', '23456789', '.,;:!?_-+/*@#&$'];
  const pick = (set: string): string => set.charAt(randomInt(set.length));
  const all = classes.join('');
  const chars = [...classes.map(pick), ...Array.from({ length: 16 }, () => pick(all))];
  for (let i = chars.length - 1; i > 0; i--) {
    const j = randomInt(i + 1);
    [chars[i], chars[j]] = [chars[j] as string, chars[i] as string];
  }
  return chars.join('');
}

/** Moodle's expirynotify 2 means "notify enroller and enrolled": stored as expirynotify 1, notifyall 1. */
function expiry(site: CourseSite, plugin: string): { expirynotify: number; notifyall: number } {
  const value = integerSetting(site, `enrol_${plugin}/expirynotify`, 0);
  return value === 2 ? { expirynotify: 1, notifyall: 1 } : { expirynotify: value, notifyall: 0 };
}

function instanceOf(plugin: string, site: CourseSite, password: () => string): EnrolDefaults {
  const setting = (name: string, fallback = 0) => integerSetting(site, `enrol_${plugin}/${name}`, fallback);
  const none = { customint1: null, customint2: null, customint3: null, customint4: null, customint5: null };
  const base = { enrol: plugin, status: setting('status'), enrolperiod: 0, expirynotify: 0, notifyall: 0 };
  const secret = isSet(site.pluginConfig.get(`enrol_${plugin}/requirepassword`)) ? password() : null;
  switch (plugin) {
    case 'manual':
      return {
        ...base,
        ...none,
        enrolperiod: setting('enrolperiod'),
        ...expiry(site, plugin),
        expirythreshold: setting('expirythreshold', 86400),
        password: null,
        roleid: setting('roleid'),
        customint1: setting('sendcoursewelcomemessage'),
        customint6: null,
      };
    case 'guest':
      // enrol_guest's add_instance() makes the password '' when none is required.
      return { ...base, ...none, expirythreshold: 0, password: secret ?? '', roleid: 0, customint6: null };
    case 'self':
      return {
        ...base,
        enrolperiod: setting('enrolperiod'),
        ...expiry(site, plugin),
        expirythreshold: setting('expirythreshold'),
        password: secret,
        roleid: setting('roleid'),
        customint1: setting('groupkey'),
        customint2: setting('longtimenosee'),
        customint3: setting('maxenrolled'),
        customint4: setting('sendcoursewelcomemessage'),
        customint5: 0,
        customint6: setting('newenrols'),
      };
    default:
      throw new InternalError(`no default instance known for enrol_${plugin}`);
  }
}

/** The default enrolment instances of a new course, in sortorder (0, 1, …). */
export function defaultEnrolInstances(site: CourseSite, password: () => string = randomPassword): EnrolDefaults[] {
  return defaultEnrolPlugins(site).map((p) => instanceOf(p, site, password));
}

/** What the caller of create_course() chooses; the rest of the row is create_course()'s. */
export interface NewCourseValues {
  readonly category: number;
  readonly sortorder: number;
  readonly fullname: string;
  readonly shortname: string;
  readonly idnumber: string;
  readonly format: string;
  readonly numsections: number;
  readonly visible: number;
  readonly now: number;
}

/**
 * The course row create_course() writes for a caller giving only the values above (reference §12): showgrades
 * and newsitems 1 (create_course() does not read moodlecourse/newsitems: the course form does), no dates but a
 * weeks course's automatic end, cacherev now (it versions the modinfo cache), showcompletionconditions 1.
 */
export function newCourseRow(v: NewCourseValues): Record<string, SqlValue> {
  return {
    category: v.category,
    sortorder: v.sortorder,
    fullname: v.fullname,
    shortname: v.shortname,
    idnumber: v.idnumber,
    summary: '',
    summaryformat: 0,
    format: v.format,
    showgrades: 1,
    newsitems: 1,
    startdate: 0,
    enddate: endDateOf(v.format, v.numsections),
    relativedatesmode: 0,
    marker: 0,
    maxbytes: 0,
    legacyfiles: 0,
    showreports: 0,
    visible: v.visible,
    visibleold: v.visible,
    groupmode: 0,
    groupmodeforce: 0,
    defaultgroupingid: 0,
    lang: '',
    calendartype: '',
    theme: '',
    timecreated: v.now,
    timemodified: v.now,
    requested: 0,
    enablecompletion: 0,
    completionnotify: 0,
    cacherev: v.now,
    showactivitydates: 0,
    showcompletionconditions: 1,
  };
}
