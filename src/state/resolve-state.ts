/**
 * Which state is true: the state file, a pending file left by an interrupted apply, and the apply marker in
 * Moodle are read together. A pending file whose apply id is in Moodle committed (promote it); any other
 * pending file rolled back (discard it). The state must then carry the lineage and serial Moodle last saw:
 * a lost, older or foreign state file is refused, never trusted.
 */
import { UserError } from '../errors.js';
import type { State } from '../model/state.js';
import type { MoodleDatabase } from '../moodle/database.js';
import type { ApplyMarker } from '../moodle/marker.js';
import { readMarker } from '../moodle/marker.js';
import { readState } from './read-state.js';
import { discardPending, promotePending, readPending } from './write-state.js';

export interface ResolvedState {
  readonly state: State;
  readonly marker: ApplyMarker | null;
  /** What was found and done about an interrupted apply, for the plan's reader. */
  readonly notes: readonly string[];
}

export async function resolveState(
  db: MoodleDatabase,
  path: string,
  options: { readonly repair: boolean },
): Promise<ResolvedState> {
  const [fileState, pending, marker] = await Promise.all([readState(path), readPending(path), readMarker(db)]);
  let state = fileState;
  const notes: string[] = [];
  if (pending !== null) {
    const committed = marker !== null && marker.apply_id === pending.apply_id;
    if (committed) state = pending;
    if (options.repair) {
      await (committed ? promotePending(path) : discardPending(path));
      notes.push(
        committed
          ? `an interrupted apply (${pending.apply_id}) had committed in Moodle: its state was recorded`
          : `an interrupted apply (${pending.apply_id}) had not committed in Moodle: its pending state was discarded`,
      );
    } else {
      notes.push(
        `an apply was interrupted (${pending.apply_id}, ${committed ? 'committed' : 'not committed'} in Moodle); ` +
          'this plan takes that into account and the next apply will finalise the state file',
      );
    }
  }
  checkAgainstMarker(state, marker, path);
  return { state, marker, notes };
}

function checkAgainstMarker(state: State, marker: ApplyMarker | null, path: string): void {
  if (marker === null) {
    if (state.serial > 0) {
      throw new UserError(
        'STATE_INVALID',
        `the state file ${path} (lineage ${state.lineage}, serial ${state.serial}) says ldap2moodle applied to this site, ` +
          'but this Moodle carries no ldap2moodle marker: the state belongs to another site, Moodle was restored ' +
          'from a backup older than the first apply, or the Moodle plugin local_ldap2moodle was uninstalled (Moodle ' +
          'then deletes its config_plugins rows, the marker among them; README, "The Moodle plugin"). Point state.path ' +
          'at the right file; nothing was changed.',
      );
    }
    return;
  }
  const seen = `Moodle was last applied with lineage ${marker.lineage}, serial ${marker.serial} (${marker.applied_at})`;
  if (state.serial === 0) {
    throw new UserError(
      'STATE_INVALID',
      `${seen}, but there is no state file at ${path}. Without it ldap2moodle cannot tell which accounts it owns: ` +
        'restore the state file from its backup (it is never committed: it holds directory data) or point state.path at it; nothing was changed.',
    );
  }
  if (state.lineage !== marker.lineage) {
    throw new UserError(
      'STATE_INVALID',
      `${seen}; the state file ${path} is of lineage ${state.lineage}: it describes another site. Nothing was changed.`,
    );
  }
  if (state.serial !== marker.serial) {
    throw new UserError(
      'STATE_INVALID',
      `${seen}; the state file ${path} has serial ${state.serial}: it is ${state.serial < marker.serial ? 'an older copy' : 'ahead of Moodle (was Moodle restored from a backup?)'}. ` +
        'Use the current state file; nothing was changed.',
    );
  }
}
