/**
 * A live LDAP server as a `Source`: one ldapts connection, paged searches streamed page by page.
 *
 * Completeness first: real ENT servers cap plain searches (often at 500 entries) and ldapts reports a
 * capped search as success when the request carries a `sizeLimit`. So no `sizeLimit` is ever sent, every
 * search uses the paged results control, and any error of any page, any referral, or a timeout throws:
 * a sync must never act on a truncated directory.
 */
import { CA_FILE_LIMIT, readBoundedText } from '../../bounded-read.js';
import { isIP } from 'node:net';
import type { ConnectionOptions } from 'node:tls';
import { Client, type Entry, type Filter, FilterParser, ResultCodeError } from 'ldapts';
import { InternalError, UserError } from '../../errors.js';
import type { LdapEntry } from '../entry.js';
import type { SearchRequest, Source } from '../source.js';
import { searchArguments, shellQuote } from '../source.js';
import { bindError, connectError, invalidFilterError, referralError, searchError } from './ldap-errors.js';

export interface LdapTlsOptions {
  /** Path of a PEM CA bundle to trust (it replaces the system CAs for this connection). */
  readonly ca?: string;
  /** Verify the server certificate (default true). */
  readonly verify?: boolean;
  /** Upgrade an ldap:// connection with StartTLS (default false). */
  readonly startTLS?: boolean;
}

export interface LdapSourceOptions {
  /** `ldap://host:port` or `ldaps://host:port`. */
  readonly url: string;
  /** Anonymous when absent. */
  readonly bindDN?: string;
  readonly password?: string;
  /** Entries per page (default 500). */
  readonly pageSize?: number;
  /** Milliseconds to wait for the connection, the bind, or one page (default 30000). */
  readonly timeoutMs?: number;
  readonly tls?: LdapTlsOptions;
}

export const DEFAULT_PAGE_SIZE = 500;
/** The smallest page size tried when the server refuses larger ones (adminLimitExceeded). */
export const MIN_PAGE_SIZE = 10;
const ADMIN_LIMIT_EXCEEDED = 11;

/** The server refused the page size before any entry came: try again with smaller pages. */
class PageSizeRefused extends Error {}
export const DEFAULT_TIMEOUT_MS = 30_000;

/** The URL without any user-info part, for messages and `description`. */
function displayUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.username === '' && parsed.password === '') return url;
    parsed.username = '';
    parsed.password = '';
    return parsed.toString();
  } catch {
    return url;
  }
}

/** ldapts entry → `LdapEntry`: names lower-cased, values string arrays, Buffers decoded as UTF-8. */
export function normalizeEntry(entry: Entry): LdapEntry {
  const attributes: Record<string, string[]> = {};
  for (const [name, raw] of Object.entries(entry)) {
    if (name === 'dn') continue;
    const list = Array.isArray(raw) ? raw : [raw];
    // ldapts adds `[]` for requested attributes the entry lacks: absent attributes stay absent.
    if (list.length === 0) continue;
    const key = name.toLowerCase();
    const target = attributes[key] ?? [];
    for (const value of list) target.push(typeof value === 'string' ? value : value.toString('utf8'));
    attributes[key] = target;
  }
  return { dn: entry.dn, attributes };
}

/**
 * The attributes of an entry holding a value that is not UTF-8: ldapts hands those over as Buffers (it decodes
 * every other value), which `normalizeEntry` decodes with U+FFFD in place of the bad bytes. Lower-cased.
 */
export function invalidUtf8Attributes(entry: Entry): string[] {
  const names: string[] = [];
  for (const [name, raw] of Object.entries(entry)) {
    if (name === 'dn') continue;
    const list = Array.isArray(raw) ? raw : [raw];
    if (list.some((value) => typeof value !== 'string')) names.push(name.toLowerCase());
  }
  return names;
}

interface ResolvedOptions {
  readonly url: string;
  readonly display: string;
  readonly bindDN: string | undefined;
  readonly password: string | undefined;
  readonly pageSize: number;
  readonly timeoutMs: number;
  readonly tls: LdapTlsOptions;
}

function resolve(options: LdapSourceOptions): ResolvedOptions {
  const pageSize = options.pageSize ?? DEFAULT_PAGE_SIZE;
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  if (!Number.isInteger(pageSize) || pageSize < 1) throw new InternalError(`LdapSource: bad pageSize ${pageSize}`);
  if (!Number.isInteger(timeoutMs) || timeoutMs < 1) throw new InternalError(`LdapSource: bad timeoutMs ${timeoutMs}`);
  return {
    url: options.url,
    display: displayUrl(options.url),
    bindDN: options.bindDN,
    password: options.password,
    pageSize,
    timeoutMs,
    tls: options.tls ?? {},
  };
}

/** TLS settings for the socket; `undefined` for a plain ldap:// connection. */
async function tlsSettings(options: ResolvedOptions, host: string): Promise<ConnectionOptions | undefined> {
  const { tls, display } = options;
  const ldaps = options.url.toLowerCase().startsWith('ldaps:');
  const configured = tls.ca !== undefined || tls.verify !== undefined;
  if (ldaps && tls.startTLS === true) {
    throw new UserError(
      'LDAP_CONNECT',
      `cannot connect to ${display}: source.ldap.tls.startTLS is set on an ldaps:// URL, which is already encrypted. Use ldap:// with StartTLS, or ldaps:// without it.`,
    );
  }
  if (!ldaps && tls.startTLS !== true) {
    if (configured) {
      // ldapts would silently switch to TLS on any TLS option; say instead that the URL is plain.
      throw new UserError(
        'LDAP_CONNECT',
        `cannot connect to ${display}: source.ldap.tls is set but the connection is not encrypted. Use an ldaps:// URL or set source.ldap.tls.startTLS: true.`,
      );
    }
    return undefined;
  }
  const settings: ConnectionOptions = { rejectUnauthorized: tls.verify !== false, host };
  if (isIP(host) === 0) settings.servername = host;
  if (tls.ca !== undefined) {
    try {
      settings.ca = await readBoundedText(tls.ca, CA_FILE_LIMIT);
    } catch (error) {
      throw new UserError(
        'LDAP_CONNECT',
        `cannot connect to ${display}: the CA file ${tls.ca} (source.ldap.tls.ca) cannot be read: ${error instanceof Error ? error.message : String(error)}.`,
        [],
        { cause: error },
      );
    }
  }
  return settings;
}

/** A connected (and bound, unless anonymous) ldapts client. */
async function openClient(options: ResolvedOptions): Promise<Client> {
  const { url, display, bindDN, password, timeoutMs } = options;
  let host: string;
  try {
    host = new URL(url).hostname.replace(/^\[|\]$/g, '');
  } catch {
    throw new UserError('LDAP_CONNECT', `cannot connect to ${display}: not a valid ldap:// or ldaps:// URL.`);
  }
  if (bindDN !== undefined && (password === undefined || password === '')) {
    throw new UserError(
      'LDAP_BIND',
      `bind as ${bindDN} not attempted: no password is set (server ${display}). Set source.ldap.password, e.g. to \${env:LDAP_PASSWORD}, or remove bindDN for an anonymous bind.`,
    );
  }
  const tls = await tlsSettings(options, host);
  const startTLS = options.tls.startTLS === true;
  let client: Client;
  try {
    client = new Client({
      url,
      timeout: timeoutMs,
      connectTimeout: timeoutMs,
      ...(tls !== undefined && !startTLS ? { tlsOptions: tls } : {}),
    });
  } catch (error) {
    throw connectError(display, error, timeoutMs);
  }
  try {
    if (startTLS) await client.startTLS(tls ?? {});
    if (bindDN === undefined) {
      // No bind to open the connection: read the root DSE, so that an unreachable server fails here.
      await client.search('', { scope: 'base', filter: '(objectClass=*)', attributes: ['1.1'] });
    }
  } catch (error) {
    await client.unbind().catch(() => undefined);
    throw connectError(display, error, timeoutMs);
  }
  if (bindDN !== undefined) {
    try {
      await client.bind(bindDN, password);
    } catch (error) {
      await client.unbind().catch(() => undefined);
      // A result code means the server answered: the credentials (or the account) are the problem.
      if (error instanceof ResultCodeError) throw bindError(display, bindDN, error);
      throw connectError(display, error, timeoutMs);
    }
  }
  return client;
}

export class LdapSource implements Source {
  readonly description: string;
  // Private (#) so that neither the password nor the client shows up when the source is logged or inspected.
  readonly #options: ResolvedOptions;
  #client: Client | undefined;
  /** The page size searches use: the spec's, or the smaller one the server accepted. */
  #pageSize: number;
  readonly #warnings: string[] = [];

  private constructor(options: ResolvedOptions, client: Client) {
    this.#options = options;
    this.#client = client;
    this.#pageSize = options.pageSize;
    this.description = options.display;
  }

  /** Connects and binds; throws `LDAP_CONNECT` or `LDAP_BIND`. */
  static async connect(options: LdapSourceOptions): Promise<LdapSource> {
    const resolved = resolve(options);
    return new LdapSource(resolved, await openClient(resolved));
  }

  /** The client, reopened with the same TLS and bind if the previous connection was lost between searches. */
  async #session(): Promise<Client> {
    const client = this.#client;
    const bound = this.#options.bindDN === undefined || client?.isBound === true;
    if (client?.isConnected === true && bound) return client;
    // ldapts would reconnect by itself, but without StartTLS and without binding again: reopen properly.
    await client?.unbind().catch(() => undefined);
    this.#client = undefined;
    this.#client = await openClient(this.#options);
    return this.#client;
  }

  /**
   * Streams a search. A server whose maximum page size is below ours answers the first page with
   * adminLimitExceeded (11): the search starts again with pages half as large, down to `MIN_PAGE_SIZE`, and the
   * size that worked is kept for the next searches and named in a warning. Only before any entry came: a
   * search is never restarted half-way (its first entries were already handed on).
   */
  async *search(request: SearchRequest): AsyncGenerator<LdapEntry> {
    while (true) {
      const pageSize = this.#pageSize;
      try {
        yield* this.#pages(request, pageSize);
        if (pageSize !== this.#options.pageSize) this.#notePageSize(pageSize);
        return;
      } catch (error) {
        if (!(error instanceof PageSizeRefused)) throw error;
        this.#pageSize = Math.max(MIN_PAGE_SIZE, Math.floor(pageSize / 2));
      }
    }
  }

  /** What the plan should say about this source (the page size the server accepted). */
  warnings(): readonly string[] {
    return [...this.#warnings];
  }

  #notePageSize(worked: number): void {
    const { display, pageSize } = this.#options;
    const warning =
      `the LDAP server ${display} refuses pages of ${pageSize} entries (adminLimitExceeded): the directory was read ` +
      `with pages of ${worked}; set source.ldap.pageSize to ${worked} to spare the retries`;
    if (!this.#warnings.includes(warning)) this.#warnings.push(warning);
  }

  #noteInvalidUtf8(dn: string, attribute: string): void {
    const warning = `${dn}: ${attribute} has a value that is not valid UTF-8 on ${this.#options.display}; it was read with U+FFFD in place of the bad bytes`;
    if (!this.#warnings.includes(warning)) this.#warnings.push(warning);
  }

  async *#pages(request: SearchRequest, pageSize: number): AsyncGenerator<LdapEntry> {
    const { display, timeoutMs } = this.#options;
    let filter: Filter;
    try {
      filter = FilterParser.parseString(request.filter);
    } catch (error) {
      throw invalidFilterError(display, request, error);
    }
    const client = await this.#session();
    // Never `sizeLimit`: with it, ldapts reports "size limit exceeded" as a successful, truncated result.
    const pages = client.searchPaginated(request.base, {
      scope: request.scope,
      filter,
      attributes: [...request.attributes],
      paged: { pageSize },
    });
    let entriesSoFar = 0;
    try {
      while (true) {
        let page: IteratorResult<{ searchEntries: Entry[]; searchReferences: string[] }>;
        try {
          page = await pages.next();
        } catch (error) {
          const smaller =
            error instanceof ResultCodeError &&
            error.code === ADMIN_LIMIT_EXCEEDED &&
            entriesSoFar === 0 &&
            pageSize > MIN_PAGE_SIZE;
          if (smaller) throw new PageSizeRefused();
          throw searchError(display, request, error, { pageSize, timeoutMs, entriesSoFar });
        }
        if (page.done === true) return;
        const { searchEntries, searchReferences } = page.value;
        // A continuation reference means entries live elsewhere: the result would be incomplete.
        if (searchReferences.length > 0) throw referralError(display, request, searchReferences);
        for (const entry of searchEntries) {
          entriesSoFar += 1;
          for (const name of invalidUtf8Attributes(entry)) this.#noteInvalidUtf8(entry.dn, name);
          yield normalizeEntry(entry);
        }
      }
    } finally {
      // Ends ldapts' generator when the caller stops early or a page is refused.
      await pages.return(undefined).catch(() => undefined);
    }
  }

  commandLine(request: SearchRequest): string {
    const { display, bindDN } = this.#options;
    const pageSize = this.#pageSize;
    const bind = bindDN === undefined ? [] : ['-D', shellQuote(bindDN), '-W'];
    return [
      'ldapsearch -x -LLL',
      '-H',
      shellQuote(display),
      ...bind,
      '-E',
      `pr=${pageSize}/noprompt`,
      searchArguments(request),
    ].join(' ');
  }

  /** Unbinds; safe to call twice. */
  async close(): Promise<void> {
    const client = this.#client;
    this.#client = undefined;
    await client?.unbind().catch(() => undefined);
  }
}
