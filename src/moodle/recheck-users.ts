/**
 * The users' recheck, inside the apply's transaction, before writing: the user rows the plan changes must still
 * hold the values it was computed from (`checked`: the catalogue's columns and the spec's managed fields;
 * `lastaccess`, `lastip` and the like change at every login and must not make a plan stale), and the usernames
 * it creates must still be free — under the database's collation, which the plan's exact comparison is not.
 */
import type { Diagnostic } from '../errors.js';
import { UserError } from '../errors.js';
import type { Change } from '../model/change.js';
import { selectIn } from './batches.js';
import type { Queryable } from './database.js';
import type { MoodleUserRow } from './read-users.js';
import type { MoodleSite } from './site.js';

export async function recheckUsers(
  tx: Queryable,
  site: MoodleSite,
  planned: readonly MoodleUserRow[],
  all: readonly Change[],
  checked: readonly string[],
  budget: number,
): Promise<Diagnostic[]> {
  const columns = [...new Set(['id', ...checked])];
  const byId = new Map(planned.map((row) => [row.id, row]));
  const changes = all.filter((ch) => ch.entity === 'user');
  const ids = changes.flatMap((ch) => (ch.moodleId === null ? [] : [ch.moodleId]));
  const problems: Diagnostic[] = [];
  // FOR UPDATE: from here to COMMIT, Moodle cannot change these rows under the apply.
  const now = await selectIn<Record<string, unknown> & { id: number }>(
    tx,
    (list) => `SELECT ${columns.join(', ')} FROM {user} WHERE id IN (${list}) FOR UPDATE`,
    [],
    ids,
    budget,
  );
  const seen = new Set<number>();
  for (const row of now) {
    seen.add(row.id);
    const before = byId.get(row.id) as Readonly<Record<string, unknown>> | undefined;
    for (const column of columns) {
      const planValue = before?.[column] ?? '';
      const current = row[column] ?? '';
      if (planValue !== current) {
        problems.push({
          message: `Moodle user id ${row.id}: ${column} is now ${JSON.stringify(current)}, the plan saw ${JSON.stringify(planValue)}`,
        });
      }
    }
  }
  for (const id of ids) if (!seen.has(id)) problems.push({ message: `Moodle user id ${id} no longer exists` });

  const usernames = changes.filter((ch) => ch.action === 'create').map((ch) => String(ch.after.username));
  const taken = await selectIn<{ id: number; username: string }>(
    tx,
    (list) => `SELECT id, username FROM {user} WHERE mnethostid = ? AND username IN (${list})`,
    [site.mnetLocalhostId],
    usernames,
    budget,
  );
  // A row the plan already saw matched only under the database's collation (case, accents, trailing spaces
  // ignored, as by the unique key): planning again would meet it again, so it is a conflict, not staleness.
  const collisions: Diagnostic[] = [];
  for (const row of taken) {
    if (byId.has(row.id)) {
      collisions.push({
        message: `Moodle user id ${row.id} "${row.username}" holds a username this plan creates, equal to it for the database's collation and so for its unique key (mnethostid, username)`,
      });
    } else {
      problems.push({ message: `username "${row.username}" was taken by Moodle user id ${row.id} after the plan` });
    }
  }
  if (collisions.length > 0) {
    throw new UserError(
      'MOODLE_CONFLICT',
      `${collisions.length} username${collisions.length === 1 ? '' : 's'} of this plan collide with existing Moodle accounts that the database compares as equal (it ignores case, accents and trailing spaces); nothing was written. Rename those accounts in Moodle or change the username template`,
      collisions,
    );
  }
  return problems;
}
