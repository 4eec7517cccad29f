/**
 * A small RFC 2849 reader for LDIF content records (no change records): our own, since no npm LDIF
 * library is maintained. It collects every problem in the file (up to a limit) before throwing, so a
 * user fixes a broken export in one pass.
 */
import { LDIF_FILE_LIMIT, readBoundedRegularFile } from '../../bounded-read.js';
import { type Diagnostic, UserError } from '../../errors.js';
import { type LdapEntry, normalizeDn } from '../entry.js';

const MAX_PROBLEMS = 50;

/** Where a physical line's text starts inside a logical (unfolded) line. */
interface Piece {
  readonly offset: number;
  readonly line: number;
  readonly column: number;
}

/** A line after unfolding, with the map back to the physical lines it came from. */
interface LogicalLine {
  text: string;
  readonly pieces: Piece[];
}

interface AttrValue {
  /** Attribute description (type plus options), lower-cased. */
  readonly name: string;
  readonly value: string;
  /** A base64 value whose bytes are not UTF-8: decoded with U+FFFD in place of the bad bytes. */
  readonly invalidUtf8?: true;
}

/**
 * Attributes (lower-cased descriptions) of each entry, by DN as written, holding a base64 value that is not
 * valid UTF-8. A binary attribute (a photo) is rightly not text: the reader decides which ones matter.
 */
export type InvalidUtf8 = Map<string, Set<string>>;

// AttributeDescription: a name or a numeric OID, then `;options` (RFC 4512 §2.5).
const ATTRIBUTE_DESCRIPTION = /^(?:[A-Za-z][A-Za-z0-9-]*|\d+(?:\.\d+)*)(?:;[A-Za-z0-9-]+)*$/;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const CHANGE_RECORD_LINE = /^(?:changetype|control)\s*:/i;

class Problems {
  readonly list: Diagnostic[] = [];
  truncated = false;
  constructor(readonly file: string) {}

  add(message: string, line: number, column: number): void {
    if (this.list.length >= MAX_PROBLEMS) {
      this.truncated = true;
      return;
    }
    this.list.push({ message, position: { file: this.file, line, column } });
  }

  at(message: string, logical: LogicalLine, offset: number): void {
    let piece = logical.pieces[0] as Piece;
    for (const p of logical.pieces) if (p.offset <= offset) piece = p;
    this.add(message, piece.line, piece.column + (offset - piece.offset));
  }
}

/** Splits the text into records (lists of unfolded lines), dropping comments and separators. */
function splitRecords(text: string, problems: Problems): LogicalLine[][] {
  const records: LogicalLine[][] = [];
  let record: LogicalLine[] = [];
  let current: LogicalLine | undefined;
  // What the previous physical line was, to know what a continuation line continues.
  let previous: 'start' | 'blank' | 'content' | 'comment' | 'skip' = 'start';
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  lines.forEach((raw, index) => {
    const line = index + 1;
    if (raw.startsWith(' ')) {
      if (previous === 'content' && current) {
        current.pieces.push({ offset: current.text.length, line, column: 2 });
        current.text += raw.slice(1);
      } else if (previous === 'start' || previous === 'blank') {
        const where = previous === 'start' ? 'the start of the file' : 'an empty line';
        problems.add(
          `continuation line (starting with a space) after ${where}: there is no line for it to continue; remove the leading space`,
          line,
          1,
        );
        previous = 'skip';
      }
      return;
    }
    current = undefined;
    if (raw === '') {
      if (record.length > 0) records.push(record);
      record = [];
      previous = 'blank';
    } else if (raw.startsWith('#')) {
      previous = 'comment';
    } else {
      current = { text: raw, pieces: [{ offset: 0, line, column: 1 }] };
      record.push(current);
      previous = 'content';
    }
  });
  if (record.length > 0) records.push(record);
  return records;
}

const STRICT_UTF8 = new TextDecoder('utf-8', { fatal: true });

/** Parses `attr: value`, `attr:: base64` (refusing `attr:< url`); reports and returns undefined on error. */
function parseAttrValue(logical: LogicalLine, problems: Problems): AttrValue | undefined {
  const { text } = logical;
  const colon = text.indexOf(':');
  if (colon < 0) {
    problems.at('line has no colon: expected "attribute: value" (or a comment starting with #)', logical, 0);
    return undefined;
  }
  const description = text.slice(0, colon);
  if (!ATTRIBUTE_DESCRIPTION.test(description)) {
    problems.at(`invalid attribute name "${description}" before the colon`, logical, 0);
    return undefined;
  }
  const name = description.toLowerCase();
  const rest = text.slice(colon + 1);
  if (rest.startsWith('<')) {
    problems.at(
      `URL values ("${description}:< …") are not supported: put the value inline, or base64-encode it with "${description}::"`,
      logical,
      colon + 1,
    );
    return undefined;
  }
  if (rest.startsWith(':')) {
    const fill = rest.slice(1).length - rest.slice(1).trimStart().length;
    const encoded = rest.slice(1).trim();
    if (!BASE64.test(encoded)) {
      problems.at(`invalid base64 value for "${description}::"`, logical, colon + 2 + fill);
      return undefined;
    }
    const bytes = Buffer.from(encoded, 'base64');
    try {
      return { name, value: STRICT_UTF8.decode(bytes) };
    } catch {
      return { name, value: bytes.toString('utf8'), invalidUtf8: true };
    }
  }
  // Only the FILL spaces after the colon are dropped; trailing spaces belong to the value (RFC 2849).
  return { name, value: rest.replace(/^ +/, '') };
}

/** Consumes a leading `version:` line of the first record, checking it says 1. */
function dropVersionLine(records: LogicalLine[][], problems: Problems): void {
  const first = records[0];
  const line = first?.[0];
  if (!first || !line || !/^version\s*:/i.test(line.text)) return;
  const parsed = parseAttrValue(line, problems);
  if (parsed && parsed.value.trim() !== '1') {
    problems.at(`unsupported LDIF version "${parsed.value}": only "version: 1" exists`, line, 0);
  }
  first.shift();
  if (first.length === 0) records.shift();
}

function parseRecord(
  record: readonly LogicalLine[],
  problems: Problems,
  seen: Map<string, number>,
  invalidUtf8?: InvalidUtf8,
): LdapEntry | undefined {
  const first = record[0] as LogicalLine;
  if (!/^dn:/i.test(first.text)) {
    problems.at('record does not start with a "dn:" line: every entry must begin with "dn: <DN>"', first, 0);
    return undefined;
  }
  const changeLine = record.find((l) => CHANGE_RECORD_LINE.test(l.text));
  if (changeLine) {
    problems.at(
      'change records are not supported: give content records (dn: followed by the attributes, as ldapsearch -L or slapcat write them)',
      changeLine,
      0,
    );
    return undefined;
  }
  const dnValue = parseAttrValue(first, problems);
  if (!dnValue) return undefined;
  const dn = dnValue.value;
  let valid = true;
  if (dn !== '' && !dn.includes('=')) {
    problems.at(`invalid DN "${dn}": expected attribute=value pairs separated by commas`, first, 0);
    valid = false;
  } else {
    const key = normalizeDn(dn);
    const earlier = seen.get(key);
    const line = (first.pieces[0] as Piece).line;
    if (earlier !== undefined) {
      problems.at(`duplicate entry: DN "${dn}" already appears at line ${earlier}`, first, 0);
      valid = false;
    } else seen.set(key, line);
  }
  // A null-prototype record, so attribute names such as "constructor" never hit Object.prototype.
  const attributes: Record<string, string[]> = Object.create(null);
  for (const logical of record.slice(1)) {
    const parsed = parseAttrValue(logical, problems);
    if (!parsed) {
      valid = false;
      continue;
    }
    if (parsed.name === 'dn') {
      problems.at(
        'second "dn:" line in one record: separate records with an empty line (a line holding only spaces continues the previous line, it does not separate)',
        logical,
        0,
      );
      valid = false;
      continue;
    }
    if (parsed.invalidUtf8 === true && invalidUtf8 !== undefined) {
      const names = invalidUtf8.get(dn) ?? new Set<string>();
      names.add(parsed.name);
      invalidUtf8.set(dn, names);
    }
    const list = attributes[parsed.name];
    if (list) list.push(parsed.value);
    else attributes[parsed.name] = [parsed.value];
  }
  if (valid && Object.keys(attributes).length === 0) {
    problems.at(`entry "${dn}" has no attributes`, first, 0);
    valid = false;
  }
  return valid ? { dn, attributes } : undefined;
}

function invalid(file: string, problems: Problems): UserError {
  const list = [...problems.list];
  if (problems.truncated) list.push({ message: `too many problems: only the first ${MAX_PROBLEMS} are listed` });
  const first = problems.list[0] as Diagnostic;
  const where = first.position ? `${first.position.file}:${first.position.line}:${first.position.column}` : file;
  const count = problems.truncated ? `more than ${MAX_PROBLEMS}` : String(problems.list.length);
  return new UserError(
    'LDIF_INVALID',
    `LDIF file ${file} is invalid (${count} problem${count === '1' ? '' : 's'}; the first at ${where}: ${first.message}). ` +
      'Fix the file (RFC 2849 content records) and run again.',
    list,
  );
}

/**
 * Parses LDIF content records into entries; `file` is used in error positions. Throws `LDIF_INVALID`. Base64
 * values that are not UTF-8 are noted in `invalidUtf8` when given.
 */
export function parseLdif(text: string, file: string, invalidUtf8?: InvalidUtf8): LdapEntry[] {
  const problems = new Problems(file);
  const records = splitRecords(text, problems);
  dropVersionLine(records, problems);
  const seen = new Map<string, number>();
  const entries: LdapEntry[] = [];
  for (const record of records) {
    const entry = parseRecord(record, problems, seen, invalidUtf8);
    if (entry) entries.push(entry);
  }
  if (problems.list.length > 0) throw invalid(file, problems);
  return entries;
}

/** Reads and parses an LDIF file (UTF-8). Throws `LDIF_INVALID` if it cannot be read or is not valid LDIF. */
export async function readLdifFile(path: string, invalidUtf8?: InvalidUtf8): Promise<LdapEntry[]> {
  let bytes: Buffer;
  try {
    bytes = await readBoundedRegularFile(path, LDIF_FILE_LIMIT);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new UserError(
      'LDIF_INVALID',
      `cannot read LDIF file ${path}: ${reason}. Check the path (relative paths are resolved from the spec file).`,
      [],
      { cause: error },
    );
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    const lenient = bytes.toString('utf8');
    const before = lenient.slice(0, lenient.indexOf('\uFFFD')).split('\n');
    const position = { file: path, line: before.length, column: (before.at(-1)?.length ?? 0) + 1 };
    throw new UserError(
      'LDIF_INVALID',
      `LDIF file ${path} is not valid UTF-8 (first bad byte at ${path}:${position.line}:${position.column}). ` +
        'Convert it to UTF-8 (e.g. iconv -f latin1 -t utf-8) or base64-encode binary values with "attr::".',
      [{ message: 'invalid UTF-8 byte sequence', position }],
    );
  }
  return parseLdif(text, path, invalidUtf8);
}
