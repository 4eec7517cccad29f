/**
 * Checks the JSON Schema cannot express readably: which `moodle` keys go with which driver, a lock.staleAfter
 * of zero. Every problem at once, at its position.
 */
import { parseDuration } from '../duration.js';
import type { Diagnostic } from '../errors.js';
import { UserError } from '../errors.js';
import type { LoadedSpec } from './load.js';

const SERVER_ONLY = ['host', 'port', 'database', 'user', 'password', 'schema', 'lockTimeout'] as const;

export function checkSpecSemantics(loaded: LoadedSpec): void {
  const { moodle } = loaded.spec;
  const problems: Diagnostic[] = [];
  const at = (path: string, message: string): void => {
    problems.push({ message, path, position: loaded.positionOf(path) });
  };
  if (moodle.driver === 'embedded') {
    if (moodle.path === undefined)
      at('/moodle/driver', 'driver "embedded" needs moodle.path (a directory, or ":memory:")');
    for (const key of SERVER_ONLY) {
      // lockTimeout has a default, so only report it when written.
      if (moodle[key] !== undefined && loaded.positionOf(`/moodle/${key}`) !== undefined) {
        at(`/moodle/${key}`, `moodle.${key} does not apply to the embedded Moodle`);
      }
    }
  } else {
    if (moodle.database === undefined) at('/moodle/driver', `driver "${moodle.driver}" needs moodle.database`);
    if (moodle.path !== undefined) at('/moodle/path', 'moodle.path is only for driver "embedded"');
    if (moodle.schema !== undefined && moodle.driver !== 'postgres') {
      at(
        '/moodle/schema',
        'moodle.schema is only for driver "postgres" (MariaDB/MySQL have no schemas inside a database)',
      );
    }
  }
  const staleAfter = loaded.spec.lock?.staleAfter;
  // The schema's pattern admits only durations; zero would take over every lock, live ones included.
  if (staleAfter !== undefined && parseDuration(staleAfter) === 0) {
    at(
      '/lock/staleAfter',
      'lock.staleAfter must be more than 0 (it would take over every lock, live ones too); e.g. 6h',
    );
  }
  const moved = loaded.spec.users.maxRemovals;
  if (moved !== undefined) {
    at(
      '/users/maxRemovals',
      'users.maxRemovals has moved to guards.maxRemovals.users, and its count now means removals always allowed ' +
        '(the limit is the greater of count and percent of the managed users, no longer the lower): write ' +
        `guards: { maxRemovals: { users: { count: …, percent: ${moved.percent ?? '…'} } } } (README, "Safety guards")`,
    );
  }
  if (problems.length > 0) {
    throw new UserError('SPEC_INVALID', `${loaded.path}: ${problems.length} problem(s) in the spec`, problems);
  }
}
