/**
 * The "Announcements" forum Moodle 4.5 gives a new course (reference-writes §12). create_course() triggers
 * \core\event\course_created; mod_forum's observer (mod/forum/classes/observer.php, course_created) calls
 * forum_get_course_forum($courseid, 'news') when the format supports news (topics and weeks do) and the course's
 * newsitems is not empty (create_course() leaves 1). That function (mod/forum/lib.php) writes:
 *
 * - a `forum` row: type 'news', name and intro from the language strings forum/namenews and forum/intronews,
 *   introformat 1 (HTML), forcesubscribe = $CFG->forum_announcementsubscription, maxattachments =
 *   $CFG->forum_announcementmaxattachments, assessed 0, timemodified now; the rest the table's defaults;
 * - a `course_modules` row (add_course_module()): course, module = the forum's `modules` id, instance, added now;
 * - course_add_cm_to_section(…, 0): section 0's `sequence` = the module's id and the module's `section` = that
 *   section's id. No module context is created (context_module::instance() makes it when first asked), no grade
 *   item (the forum is not rated), no event handled by other observers.
 *
 * The strings are English ("Announcements", "General news and announcements"): Moodle writes them in the language
 * of the session, from language packs on disk, which the tool cannot read. Without an installed forum module
 * (no `modules` row), its observer does not exist and nothing is written.
 */
import { InternalError } from '../errors.js';
import { insertMany, selectIn, updateManyById } from './batches.js';
import type { Queryable } from './database.js';
import { typedRows } from './read-categories.js';

/** forum/namenews and forum/intronews in Moodle 4.5's English pack (mod/forum/lang/en/forum.php). */
export const NEWS_FORUM_NAME = 'Announcements';
export const NEWS_FORUM_INTRO = 'General news and announcements';

/** $CFG->forum_announcementsubscription / forum_announcementmaxattachments when unset (mod/forum/settings.php). */
const DEFAULTS = { forum_announcementsubscription: 1, forum_announcementmaxattachments: 1 } as const;
type ForumSetting = keyof typeof DEFAULTS;

async function forumModuleId(tx: Queryable): Promise<number | null> {
  const rows = typedRows<{ id: number; name: string }>(
    'modules',
    await tx.query("SELECT id, name FROM {modules} WHERE name = 'forum'"),
    { id: 'number', name: 'string' },
  );
  return rows.find((r) => r.name === 'forum')?.id ?? null;
}

async function forumSettings(tx: Queryable): Promise<Record<ForumSetting, number>> {
  const names = Object.keys(DEFAULTS) as ForumSetting[];
  const rows = await tx.query<{ name: string; value: string | null }>(
    'SELECT name, value FROM {config} WHERE name IN (?, ?)',
    names,
  );
  const out = { ...DEFAULTS } as Record<ForumSetting, number>;
  for (const name of names) {
    const value = rows.find((r) => r.name === name)?.value;
    // PHP's (int) of the setting as stored.
    if (value !== undefined && value !== null) out[name] = Number.parseInt(value.trim(), 10) || 0;
  }
  return out;
}

/** An id per course from rows (id, course), exactly one each. */
function onePerCourse(table: string, rows: readonly { id: number; course: number }[], courses: readonly number[]) {
  const ids = new Map<number, number>();
  for (const row of rows) {
    if (ids.has(row.course)) throw new InternalError(`${table}: two rows for new course ${row.course}`);
    ids.set(row.course, row.id);
  }
  for (const course of courses) {
    if (!ids.has(course)) throw new InternalError(`${table}: no row found again for new course ${course}`);
  }
  return ids;
}

/**
 * Writes the Announcements forum of each of these new courses (their sections written already): forum, course
 * module, section 0's sequence.
 */
export async function writeNewsForums(
  tx: Queryable,
  courseIds: readonly number[],
  now: number,
  budget: number,
): Promise<void> {
  if (courseIds.length === 0) return;
  const module = await forumModuleId(tx);
  if (module === null) return;
  const settings = await forumSettings(tx);
  await insertMany(
    tx,
    'forum',
    ['course', 'type', 'name', 'intro', 'introformat', 'forcesubscribe', 'maxattachments', 'assessed', 'timemodified'],
    courseIds.map((course) => [
      course,
      'news',
      NEWS_FORUM_NAME,
      NEWS_FORUM_INTRO,
      1,
      settings.forum_announcementsubscription,
      settings.forum_announcementmaxattachments,
      0,
      now,
    ]),
    budget,
  );
  const forums = onePerCourse(
    'forum',
    typedRows<{ id: number; course: number }>(
      'forum',
      await selectIn(
        tx,
        (list) => `SELECT id, course FROM {forum} WHERE type = 'news' AND course IN (${list})`,
        [],
        courseIds,
        budget,
      ),
      { id: 'number', course: 'number' },
    ),
    courseIds,
  );
  const sections = onePerCourse(
    'course_sections',
    typedRows<{ id: number; course: number }>(
      'course_sections',
      await selectIn(
        tx,
        (list) => `SELECT id, course FROM {course_sections} WHERE section = 0 AND course IN (${list})`,
        [],
        courseIds,
        budget,
      ),
      { id: 'number', course: 'number' },
    ),
    courseIds,
  );
  await insertMany(
    tx,
    'course_modules',
    ['course', 'module', 'instance', 'section', 'added'],
    courseIds.map((course) => [course, module, forums.get(course) as number, sections.get(course) as number, now]),
    budget,
  );
  const modules = onePerCourse(
    'course_modules',
    typedRows<{ id: number; course: number }>(
      'course_modules',
      await selectIn(
        tx,
        (list) => `SELECT id, course FROM {course_modules} WHERE module = ? AND course IN (${list})`,
        [module],
        courseIds,
        budget,
      ),
      { id: 'number', course: 'number' },
    ),
    courseIds,
  );
  await updateManyById(
    tx,
    'course_sections',
    ['sequence'],
    courseIds.map((course) => ({ id: sections.get(course) as number, values: [String(modules.get(course))] })),
    {},
    budget,
  );
}
