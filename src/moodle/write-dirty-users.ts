/**
 * `cache_flags` marks of Moodle's access caches: accesslib/dirtyusers (mark_user_dirty(): a user's role
 * assignments or enrolments changed) and accesslib/dirtycontexts (context::mark_dirty(): a context's
 * permissions changed), so that sessions open now reload what they know on their next page. Name = user id or
 * context path, value 1, timemodified now, expiry now + sessiontimeout. There is no unique index: an existing
 * mark is refreshed, never duplicated.
 */
import { executeIn, insertMany, selectIn } from './batches.js';
import type { Queryable } from './database.js';
import type { WriteContext } from './write-context.js';

/** Sets (refreshes or adds) the marks `names` of one flag type. */
async function markDirty(tx: Queryable, context: WriteContext, flagType: string, names: readonly string[]) {
  if (names.length === 0) return;
  const expiry = context.now + context.site.sessionTimeout;
  const existing = await selectIn<{ name: string }>(
    tx,
    (list) => `SELECT name FROM {cache_flags} WHERE flagtype = ? AND name IN (${list})`,
    [flagType],
    names,
    context.budget,
  );
  const marked = new Set(existing.map((r) => r.name));
  await executeIn(
    tx,
    (list) =>
      `UPDATE {cache_flags} SET timemodified = ?, value = ?, expiry = ? WHERE flagtype = ? AND name IN (${list})`,
    [context.now, '1', expiry, flagType],
    names.filter((n) => marked.has(n)),
    context.budget,
  );
  await insertMany(
    tx,
    'cache_flags',
    ['flagtype', 'name', 'timemodified', 'value', 'expiry'],
    names.filter((n) => !marked.has(n)).map((n) => [flagType, n, context.now, '1', expiry]),
    context.budget,
  );
}

/** Marks `userIds` dirty (accesslib/dirtyusers). */
export async function markUsersDirty(tx: Queryable, context: WriteContext, userIds: Iterable<number>): Promise<void> {
  const ids = [...new Set(userIds)].sort((a, b) => a - b);
  await markDirty(tx, context, 'accesslib/dirtyusers', ids.map(String));
}

/** Marks contexts dirty by path (accesslib/dirtycontexts). */
export async function markContextsDirty(tx: Queryable, context: WriteContext, paths: readonly string[]): Promise<void> {
  await markDirty(tx, context, 'accesslib/dirtycontexts', [...new Set(paths.filter((p) => p !== ''))].sort());
}
