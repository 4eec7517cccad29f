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
  close(): Promise<void>;
}
