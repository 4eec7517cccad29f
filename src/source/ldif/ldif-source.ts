/**
 * A `Source` over the entries of an LDIF file, searched in memory the way a server would: base/one/sub
 * scope under an existing base, RFC 4515 filter, requested attributes only.
 */
import { UserError } from '../../errors.js';
import { type LdapEntry, normalizeDn } from '../entry.js';
import { compileFilter } from '../filter.js';
import type { SearchRequest, Source } from '../source.js';
import { searchArguments, shellQuote } from '../source.js';
import type { InvalidUtf8 } from './parse-ldif.js';
import { readLdifFile } from './parse-ldif.js';

interface IndexedEntry {
  readonly entry: LdapEntry;
  readonly dn: string;
  /** Normalised DN of the parent ('' for a top entry). */
  readonly parent: string;
  /** Normalised DNs of every ancestor, nearest first. */
  readonly ancestors: readonly string[];
}

/** The DN without its first RDN: splits at the first unescaped `,` (or legacy `;`). */
function parentDn(dn: string): string | undefined {
  for (let i = 0; i < dn.length; i += 1) {
    const ch = dn[i];
    if (ch === '\\') i += 1;
    else if (ch === ',' || ch === ';') return dn.slice(i + 1);
  }
  return undefined;
}

function index(entry: LdapEntry): IndexedEntry {
  const ancestors: string[] = [];
  for (let up = parentDn(entry.dn); up !== undefined; up = parentDn(up)) ancestors.push(normalizeDn(up));
  return { entry, dn: normalizeDn(entry.dn), parent: ancestors[0] ?? '', ancestors };
}

/** Keeps only the requested attributes (any case, subtypes included) plus objectClass; `*` or none means all. */
function restrict(entry: LdapEntry, requested: readonly string[]): LdapEntry {
  const wanted = new Set(requested.map((a) => a.toLowerCase()));
  if (wanted.size === 0 || wanted.has('*')) return entry;
  wanted.add('objectclass');
  const attributes: Record<string, readonly string[]> = Object.create(null);
  for (const [name, list] of Object.entries(entry.attributes)) {
    const type = name.split(';')[0] as string;
    if (wanted.has(name) || wanted.has(type)) attributes[name] = list;
  }
  return { dn: entry.dn, attributes };
}

export class LdifSource implements Source {
  readonly description: string;
  private readonly entries: readonly IndexedEntry[];
  private readonly dns: ReadonlySet<string>;
  private readonly invalidUtf8: InvalidUtf8;
  private readonly notes: string[] = [];

  constructor(
    readonly path: string,
    entries: readonly LdapEntry[],
    invalidUtf8: InvalidUtf8 = new Map(),
  ) {
    this.description = path;
    this.entries = entries.map(index);
    this.dns = new Set(this.entries.map((e) => e.dn));
    this.invalidUtf8 = invalidUtf8;
  }

  /** Reads and parses the file; throws `LDIF_INVALID` if it cannot. */
  static async open(path: string): Promise<LdifSource> {
    const invalidUtf8: InvalidUtf8 = new Map();
    const entries = await readLdifFile(path, invalidUtf8);
    return new LdifSource(path, entries, invalidUtf8);
  }

  /** Values the searches returned that were not UTF-8 (by DN and attribute, never the value). */
  warnings(): readonly string[] {
    return [...this.notes];
  }

  /** Notes the attributes of a returned entry that hold a value decoded from invalid UTF-8. */
  private noteInvalidUtf8(entry: LdapEntry): void {
    const names = this.invalidUtf8.get(entry.dn);
    if (names === undefined) return;
    for (const name of Object.keys(entry.attributes)) {
      if (!names.has(name)) continue;
      const note = `${entry.dn}: ${name} has a value that is not valid UTF-8 in ${this.path}; it was read with U+FFFD in place of the bad bytes`;
      if (!this.notes.includes(note)) this.notes.push(note);
    }
  }

  async *search(request: SearchRequest): AsyncIterable<LdapEntry> {
    const matches = compileFilter(request.filter);
    const base = normalizeDn(request.base);
    if (!this.dns.has(base)) {
      const tops = this.entries.filter((e) => !this.dns.has(e.parent)).map((e) => `"${e.entry.dn}"`);
      const hint = tops.length > 0 ? `its top entries are ${tops.slice(0, 3).join(', ')}` : 'it has no entries';
      throw new UserError(
        'LDAP_SEARCH',
        `search base "${request.base}" does not exist in ${this.path} (${hint}): fix the base DN in the spec, or the file.`,
        [{ message: 'no such object', dn: request.base }],
      );
    }
    for (const indexed of this.entries) {
      const inScope =
        request.scope === 'base'
          ? indexed.dn === base
          : request.scope === 'one'
            ? indexed.parent === base
            : indexed.dn === base || indexed.ancestors.includes(base);
      if (!inScope || !matches(indexed.entry)) continue;
      const entry = restrict(indexed.entry, request.attributes);
      this.noteInvalidUtf8(entry);
      yield entry;
    }
  }

  /** No server to ask: the same search, as `ldapsearch` would take it, against the file. */
  commandLine(request: SearchRequest): string {
    return `ldapsearch (in the LDIF file ${shellQuote(this.path)}) ${searchArguments(request)}`;
  }

  async close(): Promise<void> {}
}
