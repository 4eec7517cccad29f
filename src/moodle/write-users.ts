/**
 * Writes user changes as Moodle's own API would (reference-writes §2–4, §25, §26): a `user` row with the
 * values `user_create_user()` stores, its user context (level 30, path from the new id, depth 2); updates set
 * only the changed columns plus `timemodified`; a suspension sets `suspended = 1` and ends the user's sessions.
 *
 * Runs inside the apply's transaction. Ids of inserted rows are re-read by natural key: `insertId + i` only
 * holds for some server settings (Galera, MySQL 8's auto-increment defaults break it).
 */
import { InternalError, UserError } from '../errors.js';
import type { Change } from '../model/change.js';
import { executeIn, insertMany, selectIn, updateManyById } from './batches.js';
import type { Queryable, SqlValue } from './database.js';
import type { MoodleSite } from './site.js';
import type { WriteContext } from './write-context.js';

export type { WriteContext } from './write-context.js';

export const CONTEXT_USER = 30;

/** Optional user columns the spec may manage, in insert order. */
const OPTIONAL_COLUMNS = [
  'idnumber',
  'email',
  'middlename',
  'alternatename',
  'institution',
  'department',
  'city',
  'country',
];

/** Columns `user_create_user()` sets to values other than the database defaults (reference-writes §2). */
function fixedColumns(site: MoodleSite, auth: string, now: number): Record<string, SqlValue> {
  return {
    confirmed: 1,
    policyagreed: 0,
    deleted: 0,
    suspended: 0,
    mnethostid: site.mnetLocalhostId,
    // External auth plugins keep no local password: Moodle's AUTH_PASSWORD_NOT_CACHED.
    password: auth === 'manual' ? '' : 'not cached',
    emailstop: 0,
    lang: site.lang,
    calendartype: site.calendarType,
    timezone: '99',
    firstaccess: 0,
    lastaccess: 0,
    lastlogin: 0,
    currentlogin: 0,
    picture: 0,
    descriptionformat: 1,
    mailformat: 1,
    maildigest: 0,
    maildisplay: 2,
    autosubscribe: 1,
    trackforums: 0,
    timecreated: now,
    timemodified: now,
    trustbitmask: 0,
  };
}

const str = (value: unknown): string => (value === undefined ? '' : String(value));

/** Inserts the users of the `create` changes and their contexts; returns their ids by username. */
async function createUsers(tx: Queryable, ctx: WriteContext, creates: readonly Change[]): Promise<Map<string, number>> {
  const ids = new Map<string, number>();
  if (creates.length === 0) return ids;
  const byAuth = new Map<string, Change[]>();
  for (const change of creates) {
    const auth = str(change.after.auth);
    const group = byAuth.get(auth);
    if (group === undefined) byAuth.set(auth, [change]);
    else group.push(change);
  }
  for (const [auth, group] of byAuth) {
    const fixed = fixedColumns(ctx.site, auth, ctx.now);
    const optional = OPTIONAL_COLUMNS.filter((c) => group.some((ch) => ch.after[c] !== undefined));
    const columns = ['auth', 'username', 'firstname', 'lastname', ...optional, ...Object.keys(fixed)];
    const rows = group.map((ch) => [
      auth,
      str(ch.after.username),
      str(ch.after.firstname),
      str(ch.after.lastname),
      ...optional.map((c) => str(ch.after[c])),
      ...Object.values(fixed),
    ]);
    await insertMany(tx, 'user', columns, rows, ctx.budget);
  }
  const usernames = creates.map((ch) => str(ch.after.username));
  const found = await selectIn<{ id: number; username: string }>(
    tx,
    (list) => `SELECT id, username FROM {user} WHERE mnethostid = ? AND username IN (${list})`,
    [ctx.site.mnetLocalhostId],
    usernames,
    ctx.budget,
  );
  for (const row of found) ids.set(row.username, row.id);
  const missing = usernames.filter((u) => !ids.has(u));
  if (missing.length > 0) {
    throw new InternalError(`inserted users not found again by username: ${missing.slice(0, 5).join(', ')}`);
  }
  const userIds = usernames.map((u) => ids.get(u) as number);
  await insertMany(
    tx,
    'context',
    ['contextlevel', 'instanceid', 'depth', 'locked'],
    userIds.map((id) => [CONTEXT_USER, id, 2, 0]),
    ctx.budget,
  );
  // The path holds the context's own id, known only now: set it in one statement per chunk. The parent path
  // is inlined (checked to be /digits…): PostgreSQL cannot type a parameter given to CONCAT.
  if (!/^(\/\d+)+$/.test(ctx.systemContextPath)) {
    throw new InternalError(`unexpected system context path ${JSON.stringify(ctx.systemContextPath)}`);
  }
  await executeIn(
    tx,
    (list) =>
      `UPDATE {context} SET path = CONCAT('${ctx.systemContextPath}/', id) WHERE contextlevel = ? AND instanceid IN (${list})`,
    [CONTEXT_USER],
    userIds,
    ctx.budget,
  );
  return ids;
}

/** Column updates of update/adopt/unsuspend/suspend changes, grouped by the set of columns they change. */
async function updateUsers(tx: Queryable, ctx: WriteContext, changes: readonly Change[]): Promise<void> {
  const groups = new Map<string, Change[]>();
  for (const change of changes) {
    const columns = Object.keys(change.after).sort();
    if (columns.length === 0) continue;
    const signature = columns.join(',');
    const group = groups.get(signature);
    if (group === undefined) groups.set(signature, [change]);
    else group.push(change);
  }
  for (const [signature, group] of groups) {
    const columns = signature.split(',');
    const rows = group.map((ch) => {
      if (ch.moodleId === null) throw new InternalError(`${ch.address}: ${ch.action} without a Moodle id`);
      return { id: ch.moodleId, values: columns.map((c) => ch.after[c] ?? null) };
    });
    await updateManyById(tx, 'user', columns, rows, { timemodified: ctx.now }, ctx.budget);
  }
}

/**
 * Applies the user changes of a plan; the ids of the created users go to `ctx.ids` under their keys (the
 * state and the members written next need them). A username that became taken since the plan is a conflict,
 * not a crash.
 */
export async function writeUserChanges(tx: Queryable, ctx: WriteContext, all: readonly Change[]): Promise<void> {
  const changes = all.filter((ch) => ch.entity === 'user');
  const creates = changes.filter((ch) => ch.action === 'create');
  const ids = await createUsers(tx, ctx, creates).catch((error: unknown) => {
    if (tx.isDuplicateKey(error)) {
      throw new UserError(
        'MOODLE_CONFLICT',
        `a username of this plan was taken in Moodle while applying (${(error as Error).message}); nothing was written — plan again`,
      );
    }
    throw error;
  });
  await updateUsers(
    tx,
    ctx,
    changes.filter((ch) => ch.action !== 'create'),
  );
  const suspended = changes.filter((ch) => ch.action === 'suspend').map((ch) => ch.moodleId as number);
  // Suspension in Moodle's admin form also ends the user's open sessions.
  await executeIn(tx, (list) => `DELETE FROM {sessions} WHERE userid IN (${list})`, [], suspended, ctx.budget);
  for (const change of creates) {
    const id = ids.get(str(change.after.username));
    if (id === undefined) throw new InternalError(`${change.address}: created user not found again`);
    ctx.ids.set('user', change.key, id);
  }
}
