/**
 * Writing the state safely: atomically (temp file written in full, fsynced and read back, then renamed: see
 * src/atomic-file.ts; a full disk is an error before the rename, never a cut state), mode 0600, and in
 * two steps around the Moodle commit so that no crash can lose what the tool owns:
 *
 * 1. inside the apply's transaction, after the writes and before COMMIT, the new state goes to
 *    `<state>.pending`, with the apply's id;
 * 2. after COMMIT, the pending file is renamed over the state file.
 *
 * At the next run a pending file is promoted when Moodle's apply marker carries its apply id (the commit
 * happened) and discarded otherwise (it rolled back). See `resolvePending`.
 */
import { constants } from 'node:fs';
import { access, open, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { removeLeftoverTemporaries, writeFileAtomically } from '../atomic-file.js';
import { UserError } from '../errors.js';
import type { State } from '../model/state.js';
import { parseState } from './read-state.js';

export const pendingPath = (statePath: string): string => `${statePath}.pending`;

const serialize = (data: unknown): string => `${JSON.stringify(data, null, 2)}\n`;

async function writeAtomic(path: string, data: unknown): Promise<void> {
  try {
    await writeFileAtomically(path, serialize(data));
  } catch (error) {
    throw new UserError(
      'STATE_WRITE',
      `cannot write ${path}: ${(error as Error).message}; the previous file, if any, is unchanged`,
      [],
      { cause: error },
    );
  }
}

/**
 * Makes a rename in `dir` durable: the atomic write fsyncs the file, not its directory entry, and a power
 * cut after COMMIT must not lose the pending file (Moodle would then be ahead of every state file). File
 * systems that cannot sync a directory are left alone.
 */
async function syncDirectory(dir: string): Promise<void> {
  // A directory one may write but not read (mode 0300) cannot be opened: the rename stands, unsynced.
  const handle = await open(dir, 'r').catch(() => null);
  if (handle === null) return;
  try {
    await handle.sync();
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'EINVAL' && code !== 'ENOTSUP' && code !== 'EISDIR') throw error;
  } finally {
    await handle.close();
  }
}

export const writeState = (path: string, state: State): Promise<void> => writeAtomic(path, state);

/** The pending file is a complete state carrying its `apply_id`, so that promoting it is a plain rename. */
export async function writePending(statePath: string, pending: State & { readonly apply_id: string }): Promise<void> {
  const path = pendingPath(statePath);
  await writeAtomic(path, pending);
  try {
    await syncDirectory(dirname(path));
  } catch (error) {
    throw new UserError('STATE_WRITE', `cannot sync the directory of ${path}: ${(error as Error).message}`, [], {
      cause: error,
    });
  }
}

/** Replaces the state with the pending file (an atomic rename). */
export async function promotePending(statePath: string): Promise<void> {
  try {
    await rename(pendingPath(statePath), statePath);
    await syncDirectory(dirname(statePath));
  } catch (error) {
    throw new UserError(
      'STATE_WRITE',
      `cannot move ${pendingPath(statePath)} to ${statePath}: ${(error as Error).message}`,
    );
  }
}

export async function discardPending(statePath: string): Promise<void> {
  await rm(pendingPath(statePath), { force: true });
}

export async function readPending(statePath: string): Promise<(State & { readonly apply_id: string }) | null> {
  const path = pendingPath(statePath);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new UserError('STATE_INVALID', `cannot read ${path}: ${(error as Error).message}`);
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    // An atomic write never leaves half a file: a broken one was edited by hand.
    throw new UserError('STATE_INVALID', `${path} is not valid JSON; it was not written by ldap2moodle`);
  }
  const state = parseState(data, path);
  if (typeof state.apply_id !== 'string') throw new UserError('STATE_INVALID', `${path} has no apply_id`);
  return { ...state, apply_id: state.apply_id };
}

/**
 * Fails before anything touches Moodle when the state could not be written afterwards: the directory must
 * exist and accept a new file.
 */
export async function checkStateWritable(statePath: string): Promise<void> {
  const dir = dirname(statePath);
  const probe = join(dir, `.ldap2moodle-probe-${process.pid}`);
  try {
    const info = await stat(dir);
    if (!info.isDirectory()) throw new Error('not a directory');
    await access(dir, constants.W_OK);
    await writeFile(probe, '', { mode: 0o600 });
    await rm(probe, { force: true });
  } catch (error) {
    throw new UserError(
      'STATE_WRITE',
      `the state directory ${dir} is not writable (${(error as Error).message}); nothing was applied. ` +
        'Fix its permissions or set state.path in the spec.',
    );
  }
}

/**
 * Removes the temporary files of the state and pending files that a run killed while writing them left
 * (they hold directory data); returns their paths. Only under the state's lock: every writer holds it.
 */
export const removeStateTemporaries = (statePath: string): Promise<string[]> =>
  removeLeftoverTemporaries([statePath, pendingPath(statePath)]);
