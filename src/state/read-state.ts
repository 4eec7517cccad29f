import { readFile } from 'node:fs/promises';
import { UserError } from '../errors.js';
import type { State } from '../model/state.js';
import { EMPTY_STATE, STATE_FORMAT_VERSION } from '../model/state.js';

/**
 * Reads the state file; a missing file is the empty state of a site never applied to. A file that is not
 * valid JSON, lacks the expected fields, or comes from a newer format is refused: guessing would risk
 * forgetting what the tool owns.
 */
export async function readState(path: string): Promise<State> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return EMPTY_STATE;
    throw new UserError('STATE_INVALID', `cannot read the state file ${path}: ${(error as Error).message}`);
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    throw new UserError(
      'STATE_INVALID',
      `the state file ${path} is not valid JSON (${(error as Error).message}); restore it from its backup — ldap2moodle will not guess what it manages`,
    );
  }
  return parseState(data, path);
}

/** Checks the shape and version of a parsed state document. */
export function parseState(data: unknown, path: string): State {
  const state = data as Partial<State> | null;
  if (
    state === null ||
    typeof state !== 'object' ||
    typeof state.format_version !== 'number' ||
    typeof state.serial !== 'number' ||
    typeof state.lineage !== 'string' ||
    !Array.isArray(state.objects)
  ) {
    throw new UserError('STATE_INVALID', `the state file ${path} lacks format_version, serial, lineage or objects`);
  }
  if (state.format_version > STATE_FORMAT_VERSION) {
    throw new UserError(
      'STATE_INVALID',
      `the state file ${path} has format ${state.format_version}, newer than this ldap2moodle understands (${STATE_FORMAT_VERSION}); upgrade ldap2moodle`,
    );
  }
  return state as State;
}
