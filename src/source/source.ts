import type { LdapEntry } from './entry.js';

export type SearchScope = 'base' | 'one' | 'sub';

/** One search the rules need: where, how deep, which entries, which attributes. */
export interface SearchRequest {
  readonly base: string;
  readonly scope: SearchScope;
  /** RFC 4515 filter. */
  readonly filter: string;
  /** Attributes to fetch (any case); the source may return more. */
  readonly attributes: readonly string[];
}

/**
 * Where directory entries come from: a live LDAP server or an LDIF file. Both give the same normalised
 * entries. A source either returns every matching entry or throws: never a silent partial result.
 */
export interface Source {
  /** Human description for logs and plans (`ldap://host:389/`, `directory.ldif`); never holds a secret. */
  readonly description: string;
  /** Streams the matching entries. Any failure (page error, referral, timeout, truncation) throws a `UserError`. */
  search(request: SearchRequest): AsyncIterable<LdapEntry>;
  /** The search as a command line a human can rerun (`ldapsearch …`), for the log; never holds a secret. */
  commandLine(request: SearchRequest): string;
  /** Notes for the plan about how the searches went (a smaller page size the server required); none when absent. */
  warnings?(): readonly string[];
  close(): Promise<void>;
}

/** `text` as one shell word (single quotes), for command lines shown to humans. */
export function shellQuote(text: string): string {
  return /^[\w@%+=:,./-]+$/.test(text) ? text : `'${text.replaceAll("'", `'\\''`)}'`;
}

/** The `-b base -s scope 'filter' attributes` part of an `ldapsearch` line. */
export function searchArguments(request: SearchRequest): string {
  return ['-b', shellQuote(request.base), '-s', request.scope, shellQuote(request.filter), ...request.attributes].join(
    ' ',
  );
}
