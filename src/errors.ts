/**
 * Typed errors with stable codes. Two audiences:
 * - `UserError`: something in the input (spec, directory, Moodle, files) is wrong; printed without a stack,
 *   saying what is wrong, where, and how to fix it.
 * - `InternalError`: a bug in ldap2moodle; printed with its stack and a "please report" line.
 *
 * Exit codes (EXIT below, documented in the README and every command's --help): 1 for an error with nothing
 * written, 4 for a plan the safety guards refuse (nothing written either); 2 is kept for "changes" with
 * --detailed-exitcode and 3 for "applied, but a postApply command failed". The code string is what scripts
 * and tests should match on.
 */

/** A position in an input file, 1-based. */
export interface SourcePosition {
  readonly file: string;
  readonly line: number;
  readonly column: number;
}

/** One problem found in an input, with where it is. */
export interface Diagnostic {
  readonly message: string;
  /** JSON path in the spec (`/users/fields/username`), when the problem is in the spec. */
  readonly path?: string;
  readonly position?: SourcePosition;
  /** LDAP DN, when the problem is in a directory entry. */
  readonly dn?: string;
  /** Stable code of this problem, when it has one (a safety guard's: `GUARD_USERS_REMOVALS`). */
  readonly code?: string;
}

export type ErrorCode =
  | 'SPEC_INVALID'
  | 'SPEC_READ'
  | 'SECRET_UNSET'
  | 'LDIF_INVALID'
  | 'LDAP_CONNECT'
  | 'LDAP_BIND'
  | 'LDAP_SEARCH'
  | 'SOURCE_EMPTY'
  | 'ENTRY_INVALID'
  | 'MOODLE_CONNECT'
  | 'MOODLE_NOT_FOUND'
  | 'MOODLE_UNSUPPORTED'
  | 'MOODLE_CONFLICT'
  | 'MOODLE_LOCKED'
  | 'MOODLE_QUERY_FAILED'
  | 'PLAN_REFUSED'
  | 'PLAN_STALE'
  | 'PLAN_INVALID'
  | 'PLAN_WRITE'
  | 'PLAN_SIGNATURE'
  | 'OPTION_INVALID'
  | 'STATE_INVALID'
  | 'STATE_WRITE'
  | 'STATE_LOCKED'
  | 'REPORT_WRITE'
  | 'APPLY_FAILED'
  | 'NOT_IMPLEMENTED';

/** The process exit codes, one meaning each. */
export const EXIT = {
  /** Success (with --detailed-exitcode: no changes). */
  ok: 0,
  /** An error; nothing was written. */
  error: 1,
  /** --detailed-exitcode: the plan has changes (plan), or changes were applied (apply). */
  changes: 2,
  /** The changes were committed, but a postApply command failed. */
  postApplyFailed: 3,
  /** The safety guards refused the plan; nothing was written. */
  refused: 4,
} as const;

/** The exit codes as --help and the README list them. */
export const EXIT_CODES_HELP =
  'Exit codes: 0 success; 1 error, nothing written; 2 changes (with --detailed-exitcode: planned by plan, applied by apply); 3 applied, but a postApply command failed (the data is written); 4 refused by a safety guard, nothing written.';

export class UserError extends Error {
  override readonly name = 'UserError';
  get exitCode(): number {
    return this.code === 'PLAN_REFUSED' ? EXIT.refused : EXIT.error;
  }
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly diagnostics: readonly Diagnostic[] = [],
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export class InternalError extends Error {
  override readonly name = 'InternalError';
  readonly exitCode = 1;
}

/** Formats a diagnostic as `file:line:col: message (at /json/path)` or `dn: message`. */
export function formatDiagnostic(d: Diagnostic): string {
  const where = d.position
    ? `${d.position.file}:${d.position.line}:${d.position.column}: `
    : d.dn !== undefined
      ? `${d.dn}: `
      : '';
  const path = d.path !== undefined && d.path !== '' ? ` (at ${d.path})` : '';
  const code = d.code === undefined ? '' : `[${d.code}] `;
  return `${code}${where}${d.message}${path}`;
}
