/**
 * `cache_flags` accesslib/dirtyusers: Moodle's mark that a user's role assignments changed, so that a user
 * logged in now reloads their access on the next page (Moodle's mark_user_dirty()). Every writer that adds or
 * removes a role assignment or an enrolment marks its users: name = user id, value 1, timemodified now,
 * expiry now + sessiontimeout. There is no unique index: an existing mark is refreshed, never duplicated.
 */
import { executeIn, insertMany, selectIn } from './batches.js';
import type { Queryable } from './database.js';
import type { WriteContext } from './write-context.js';

const FLAG_TYPE = 'accesslib/dirtyusers';

/** Marks `userIds` dirty (refreshing marks that exist, adding the others). */
export async function markUsersDirty(tx: Queryable, context: WriteContext, userIds: Iterable<number>): Promise<void> {
  const ids = [...new Set(userIds)].sort((a, b) => a - b);
  if (ids.length === 0) return;
  const names = ids.map(String);
  const expiry = context.now + context.site.sessionTimeout;
  const existing = await selectIn<{ name: string }>(
    tx,
    (list) => `SELECT name FROM {cache_flags} WHERE flagtype = ? AND name IN (${list})`,
    [FLAG_TYPE],
    names,
    context.budget,
  );
  const marked = new Set(existing.map((r) => r.name));
  await executeIn(
    tx,
    (list) =>
      `UPDATE {cache_flags} SET timemodified = ?, value = ?, expiry = ? WHERE flagtype = ? AND name IN (${list})`,
    [context.now, '1', expiry, FLAG_TYPE],
    names.filter((n) => marked.has(n)),
    context.budget,
  );
  await insertMany(
    tx,
    'cache_flags',
    ['flagtype', 'name', 'timemodified', 'value', 'expiry'],
    names.filter((n) => !marked.has(n)).map((n) => [FLAG_TYPE, n, context.now, '1', expiry]),
    context.budget,
  );
}
