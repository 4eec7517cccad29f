/**
 * Turns what ldapts throws into `UserError`s that say where (URL, bind DN, base, filter), what the server
 * answered and what to change. Never given the password: messages are built from the URL, DNs, filters
 * and the server's own text only.
 */
import { ResultCodeError } from 'ldapts';
import { UserError } from '../../errors.js';
import type { SearchRequest } from '../source.js';

/** RFC 4511 result code names, for the codes a sync can meet. */
const RESULT_NAMES: Readonly<Record<number, string>> = {
  1: 'operationsError',
  2: 'protocolError',
  3: 'timeLimitExceeded',
  4: 'sizeLimitExceeded',
  7: 'authMethodNotSupported',
  8: 'strongerAuthRequired',
  10: 'referral',
  11: 'adminLimitExceeded',
  12: 'unavailableCriticalExtension',
  13: 'confidentialityRequired',
  32: 'noSuchObject',
  34: 'invalidDNSyntax',
  48: 'inappropriateAuthentication',
  49: 'invalidCredentials',
  50: 'insufficientAccessRights',
  51: 'busy',
  52: 'unavailable',
  53: 'unwillingToPerform',
  80: 'other',
};

/** `adminLimitExceeded (11): "illegal pagedResults page size"` — the server's answer, without ldapts' suffix. */
export function describeResult(error: ResultCodeError): string {
  const name = RESULT_NAMES[error.code] ?? 'result code';
  const text = error.message.replace(/\s*Code: 0x[0-9a-f]+$/i, '').trim();
  return `${name} (${error.code})${text === '' ? '' : `: "${text}"`}`;
}

function errnoCode(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null || !('code' in error)) return undefined;
  return typeof error.code === 'string' ? error.code : undefined;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

const isTimeout = (error: unknown): boolean => /timed out|timeout/i.test(messageOf(error));

/** Connection refused, DNS, TLS, timeout, or a StartTLS the server refuses. */
export function connectError(url: string, error: unknown, timeoutMs: number): UserError {
  const code = errnoCode(error);
  let what: string;
  let hint: string;
  if (error instanceof ResultCodeError) {
    what = `the server refused StartTLS: ${describeResult(error)}`;
    hint = 'Use ldaps:// if the server offers it, or set source.ldap.tls.startTLS to false.';
  } else if (code === 'ECONNREFUSED') {
    what = 'connection refused (ECONNREFUSED)';
    hint = 'Check source.ldap.url: is the server running, and is the port right?';
  } else if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') {
    what = `host not found (${code})`;
    hint = 'Check the host name in source.ldap.url and the DNS of this machine.';
  } else if (isTimeout(error)) {
    what = `no answer within ${timeoutMs} ms`;
    hint =
      'Check that the URL points at an LDAP server and that no firewall drops the packets; raise source.ldap.timeout for a slow link.';
  } else if (code === 'ECONNRESET' || (code !== undefined && /CERT|SSL|TLS|SELF_SIGNED|UNABLE_TO/.test(code))) {
    what = `TLS failed: ${messageOf(error)}${code === undefined ? '' : ` (${code})`}`;
    hint =
      'Check that the port speaks TLS (ldaps:// usually 636), that source.ldap.tls.ca holds the CA that signed the server certificate, and that the host name in the URL is the one in the certificate.';
  } else {
    what = `${messageOf(error)}${code === undefined ? '' : ` (${code})`}`;
    hint = 'Check source.ldap.url and the network between this machine and the server.';
  }
  return new UserError('LDAP_CONNECT', `cannot connect to ${url}: ${what}. ${hint}`, [], { cause: error });
}

/** The server answered the bind with an error (a network failure during bind is a connect error). */
export function bindError(url: string, bindDN: string, error: ResultCodeError): UserError {
  const hints: Readonly<Record<number, string>> = {
    49: 'Check source.ldap.bindDN and source.ldap.password (the account may also be locked or expired).',
    34: 'source.ldap.bindDN is not a valid DN.',
    13: 'The server wants an encrypted connection: use ldaps:// or source.ldap.tls.startTLS.',
    8: 'The server wants an encrypted connection: use ldaps:// or source.ldap.tls.startTLS.',
    53: 'Check that source.ldap.password is set and that the account is enabled.',
  };
  const reason = error.code === 49 ? 'invalid credentials' : describeResult(error);
  const hint = hints[error.code] ?? 'Check source.ldap.bindDN and source.ldap.password.';
  return new UserError('LDAP_BIND', `bind as ${bindDN} refused: ${reason} (server ${url}). ${hint}`, [], {
    cause: error,
  });
}

/** Hints for search result codes; the page size is in some of them. */
function searchHint(code: number, pageSize: number): string {
  switch (code) {
    case 11:
      return `The server refuses pages of ${pageSize} entries: lower source.ldap.pageSize (e.g. ${Math.max(1, Math.floor(pageSize / 5))}).`;
    case 4:
      return 'The server stopped at its size limit although the search was paged: it ignores or limits the paged results control (1.2.840.113556.1.4.319) for this account. Ask its administrator to allow paged searches without a total limit for the bind DN (OpenLDAP: limits size.prtotal=unlimited); a truncated directory is never used.';
    case 3:
      return 'The server stopped at its time limit: narrow the filter, or ask the administrator to raise the limit for the bind DN.';
    case 10:
      return 'The base is held by another server (referral), and ldap2moodle does not chase referrals: point source.ldap.url at that server.';
    case 12:
      return 'The server does not support the paged results control; ldap2moodle needs it to read past the size limit.';
    case 32:
      return 'The base DN does not exist on this server: check the base DN in the spec (source.ldap.baseDN or the entity base).';
    case 34:
      return 'The base DN is not a valid DN: check it in the spec.';
    case 50:
      return 'The bind DN may not read this part of the directory: ask the administrator for read access.';
    default:
      return 'Check the base and filter in the spec, and the server logs.';
  }
}

function where(url: string, request: SearchRequest): string {
  return `on ${url} (base "${request.base}", scope ${request.scope}, filter "${request.filter}")`;
}

/** Any failure of any page of a search. */
export function searchError(
  url: string,
  request: SearchRequest,
  error: unknown,
  context: { pageSize: number; timeoutMs: number; entriesSoFar: number },
): UserError {
  const after = context.entriesSoFar > 0 ? ` after ${context.entriesSoFar} entries` : '';
  let what: string;
  let hint: string;
  if (error instanceof ResultCodeError) {
    what = `the server answered ${describeResult(error)}`;
    hint = searchHint(error.code, context.pageSize);
  } else if (isTimeout(error)) {
    what = `no page within ${context.timeoutMs} ms`;
    hint = 'Raise source.ldap.timeout, or lower source.ldap.pageSize so that each page comes sooner.';
  } else {
    what = messageOf(error);
    hint = 'The connection may have been closed by the server or the network; run again.';
  }
  return new UserError('LDAP_SEARCH', `LDAP search failed ${where(url, request)}${after}: ${what}. ${hint}`, [], {
    cause: error,
  });
}

export function invalidFilterError(url: string, request: SearchRequest, error: unknown): UserError {
  return new UserError(
    'LDAP_SEARCH',
    `LDAP search ${where(url, request)} not sent: the filter is not a valid RFC 4515 filter (${messageOf(error)}). Fix the filter in the spec.`,
    [],
    { cause: error },
  );
}

export function referralError(url: string, request: SearchRequest, references: readonly string[]): UserError {
  const shown = references.slice(0, 3).join(', ');
  const more = references.length > 3 ? ` and ${references.length - 3} more` : '';
  return new UserError(
    'LDAP_SEARCH',
    `LDAP search ${where(url, request)} returned referrals to ${shown}${more}: part of the subtree lives on another server, and ldap2moodle does not chase referrals (the result would be incomplete). Point source.ldap.url at the server holding the entries, or narrow the base to exclude the referral.`,
    [],
  );
}
