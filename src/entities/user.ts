/**
 * The user entity: how desired users and Moodle's `user` rows are compared.
 *
 * Ownership comes from the state only. A Moodle account the state does not list is someone else's: taking it
 * over needs `users.adopt: matching`. Site admins and the guest account (read from `mdl_config`, not guessed
 * from usernames) are never touched.
 */
import type { Change, FieldValue } from '../model/change.js';
import { addressOf } from '../model/change.js';
import type { SkippedEntry } from '../model/skipped.js';
import type { StateObject } from '../model/state.js';
import type { MoodleUserRow } from '../moodle/read-users.js';
import { readUsers } from '../moodle/read-users.js';
import { recheckUsers } from '../moodle/recheck-users.js';
import type { MoodleSite } from '../moodle/site.js';
import { writeUserChanges } from '../moodle/write-users.js';
import { userKey } from '../rules/users.js';
import { normalizeDn } from '../source/entry.js';
import { CATALOG } from './catalog.js';
import type { Conflict, DiffInput, Entity, EntityDiff } from './entity.js';
import { byKey } from './entity.js';
import { changedFields } from './keyed-diff.js';

export type OnRemoved = 'keep' | 'suspend';

export interface UserDiffOptions {
  readonly match: 'username' | 'idnumber';
  readonly adopt: 'never' | 'matching';
  /** What happens to a managed user no longer in the directory, by the profile it last had. */
  readonly onRemoved: OnRemoved | ((profile: string | undefined) => OnRemoved);
  /** Site admins and guest: never created over, changed, adopted or suspended. */
  readonly protectedIds: ReadonlySet<number>;
}

export interface UserEntityOptions extends UserDiffOptions {
  readonly site: MoodleSite;
  /** Every column some profile manages (rechecked before writing). */
  readonly managedFields: readonly string[];
}

const describeRow = (row: MoodleUserRow): string => `Moodle user id ${row.id} "${row.username}"`;

function currentValues(row: MoodleUserRow, fields: readonly string[]): Record<string, FieldValue> {
  const out: Record<string, FieldValue> = {};
  const columns = row as unknown as Readonly<Record<string, FieldValue | null | undefined>>;
  // NULL and empty are the same to a user: no write is planned to turn one into the other.
  for (const f of fields) out[f] = columns[f] ?? '';
  return out;
}

/**
 * How MariaDB's utf8mb4_unicode_ci compares usernames in its unique key: case, accents and trailing spaces
 * ignored. Two usernames equal in this form cannot both exist there, whatever the code thinks.
 */
export const foldUsername = (username: string): string =>
  username.normalize('NFD').replace(/\p{M}/gu, '').toLowerCase().replace(/ +$/, '');

function indexRows(rows: readonly MoodleUserRow[]) {
  const byFolded = new Map<string, MoodleUserRow>();
  const byUsername = new Map<string, MoodleUserRow>();
  const byIdnumber = new Map<string, MoodleUserRow[]>();
  const byId = new Map<number, MoodleUserRow>();
  for (const row of rows) {
    byId.set(row.id, row);
    byUsername.set(userKey('username', row.username), row);
    byFolded.set(foldUsername(row.username), row);
    if (row.deleted === 0 && row.idnumber !== '') {
      const key = userKey('idnumber', row.idnumber);
      const list = byIdnumber.get(key);
      if (list === undefined) byIdnumber.set(key, [row]);
      else list.push(row);
    }
  }
  return { byUsername, byIdnumber, byId, byFolded };
}

/** The pure user diff (the entity below adds Moodle I/O around it). */
export function diffUsers(input: DiffInput<MoodleUserRow>, options: UserDiffOptions): EntityDiff {
  const onRemoved = typeof options.onRemoved === 'function' ? options.onRemoved : () => options.onRemoved as OnRemoved;
  const { byUsername, byIdnumber, byId, byFolded } = indexRows(input.current);
  const managedById = new Map<number, StateObject>(input.managed.map((m) => [m.id, m]));
  const changes: Change[] = [];
  const conflicts: Conflict[] = [];
  const warnings: string[] = [];
  const skipped: SkippedEntry[] = [];
  const claimed = new Set<number>();

  for (const user of input.desired) {
    const address = addressOf('user', user.key);
    const desired = user.values;
    const username = String(user.values.username ?? '');
    let row: MoodleUserRow | undefined;
    if (options.match === 'username') {
      row = byUsername.get(user.key);
    } else {
      const rows = byIdnumber.get(user.key) ?? [];
      if (rows.length > 1) {
        conflicts.push({
          dn: user.dn,
          message: `idnumber "${user.key}" is held by several Moodle users (${rows.map(describeRow).join(', ')}); make it unique in Moodle first`,
        });
        continue;
      }
      row = rows[0];
      const holder = byUsername.get(userKey('username', username));
      if (holder !== undefined && holder.id !== row?.id) {
        conflicts.push({
          dn: user.dn,
          message: `username "${username}" is already taken by ${describeRow(holder)}${holder.deleted ? ' (a deleted account)' : ''}`,
        });
        continue;
      }
    }

    if (options.match === 'username') {
      // Moodle's idnumber names one person (its user upload refuses to give a new or changed idnumber another
      // account has): such an entry is left out, that account and this entry's own account (if any) left as
      // they are. Accounts that already share one (legacy data) are not this run's doing: left alone.
      const idnumber = String(desired.idnumber ?? '');
      const taking =
        idnumber !== '' && (row === undefined || userKey('idnumber', row.idnumber) !== userKey('idnumber', idnumber));
      const holder = !taking
        ? undefined
        : (byIdnumber.get(userKey('idnumber', idnumber)) ?? []).find((other) => other.id !== row?.id);
      if (holder !== undefined) {
        if (row !== undefined) claimed.add(row.id);
        skipped.push({
          entity: 'user',
          dn: user.dn,
          reason: `its idnumber is already the idnumber of ${describeRow(holder)}; it is left out`,
        });
        continue;
      }
    }
    if (row === undefined) {
      const twin = byFolded.get(foldUsername(username));
      if (twin !== undefined) {
        conflicts.push({
          dn: user.dn,
          message: `username "${username}" collides with ${describeRow(twin)}: Moodle's database compares usernames ignoring case, accents and trailing spaces, so both cannot exist`,
        });
        continue;
      }
      changes.push({
        entity: 'user',
        address,
        action: 'create',
        key: user.key,
        moodleId: null,
        dn: user.dn,
        before: null,
        after: desired,
        sourceDigest: user.sourceDigest,
        reason: 'in the directory, not in Moodle',
      });
      continue;
    }
    claimed.add(row.id);
    if (options.protectedIds.has(row.id)) {
      // One entry named like the admin or guest account is that entry's problem, not the whole school's.
      skipped.push({
        entity: 'user',
        dn: user.dn,
        reason: `maps to ${describeRow(row)}, a site administrator or the guest account, which ldap2moodle never touches; it is left out`,
      });
      continue;
    }
    if (row.deleted !== 0) {
      conflicts.push({
        dn: user.dn,
        message: `${options.match} "${user.key}" belongs to a deleted ${describeRow(row)}; Moodle keeps deleted rows and its unique key (mnethostid, username) covers them: rename or purge that row, or change the template`,
      });
      continue;
    }
    const managed = managedById.get(row.id);
    const before = currentValues(row, Object.keys(desired));
    const delta = changedFields(before, desired);
    if (managed === undefined) {
      if (options.adopt === 'never') {
        conflicts.push({
          dn: user.dn,
          message: `${options.match} "${user.key}" is already used by ${describeRow(row)}, which ldap2moodle does not manage; set users.adopt to "matching" to take it over, or change the template`,
        });
        continue;
      }
      changes.push({
        entity: 'user',
        address,
        action: 'adopt',
        key: user.key,
        moodleId: row.id,
        dn: user.dn,
        before: delta?.before ?? {},
        after: delta?.after ?? {},
        sourceDigest: user.sourceDigest,
        reason: `existing unmanaged account taken over (users.adopt: matching)`,
      });
      continue;
    }
    if (row.suspended !== 0 && managed.suspended_by_tool === true) {
      changes.push({
        entity: 'user',
        address,
        action: 'unsuspend',
        key: user.key,
        moodleId: row.id,
        dn: user.dn,
        before: { ...delta?.before, suspended: 1 },
        after: { ...delta?.after, suspended: 0 },
        sourceDigest: user.sourceDigest,
        reason: 'back in the directory after ldap2moodle suspended it',
      });
      continue;
    }
    if (delta !== null) {
      changes.push({
        entity: 'user',
        address,
        action: 'update',
        key: user.key,
        moodleId: row.id,
        dn: user.dn,
        before: delta.before,
        after: delta.after,
        sourceDigest: user.sourceDigest,
        reason: 'directory values differ from Moodle',
      });
    }
  }

  for (const managed of input.managed) {
    if (claimed.has(managed.id)) continue;
    const row = byId.get(managed.id);
    if (row === undefined || row.deleted !== 0) {
      warnings.push(
        `${managed.address}: Moodle user id ${managed.id} was deleted outside ldap2moodle; it will be forgotten`,
      );
      continue;
    }
    const policy = onRemoved(managed.profile);
    if (policy === 'keep' || row.suspended !== 0 || options.protectedIds.has(row.id)) continue;
    // In the directory read but ruled out by users.when with a reason (a parent whose last child left): that
    // reason; otherwise they left the directory.
    const why = managed.dn === undefined ? undefined : input.excluded?.get(normalizeDn(managed.dn));
    changes.push({
      entity: 'user',
      address: managed.address,
      action: 'suspend',
      key: managed.key,
      moodleId: row.id,
      dn: null,
      before: { suspended: 0 },
      after: { suspended: 1 },
      sourceDigest: null,
      reason: `${why ?? 'no longer in the directory'} (onRemoved: suspend${managed.profile ? ` for ${managed.profile}` : ''})`,
    });
  }

  changes.sort(byKey);
  return { changes, conflicts, warnings, skipped };
}

/** The user entity of one run. */
export function userEntity(options: UserEntityOptions): Entity<MoodleUserRow> {
  // The catalogue's columns, and the fields this spec manages.
  const checked = [...CATALOG.user.recheck.columns, ...options.managedFields];
  return {
    type: 'user',
    read: async (db) => ({ rows: await readUsers(db, options.site), facts: undefined }),
    identify: (row) =>
      row.deleted !== 0
        ? null
        : { id: row.id, key: options.match === 'username' ? userKey('username', row.username) : row.idnumber },
    diff: (input) => diffUsers(input, options),
    recheck: (tx, planned, changes, budget) => recheckUsers(tx, options.site, planned, changes, checked, budget),
    write: (tx, context, changes) => writeUserChanges(tx, context, changes),
  };
}
