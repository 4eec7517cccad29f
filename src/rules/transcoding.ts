/**
 * Transcoding tables for the template filter `map("name")`: a value → another, from an inline map and/or a
 * CSV file (columns `from` and `to`). Pure: the file's content comes read with the spec (spec/load.ts).
 *
 * CSV (read by csv-parse): UTF-8 (a BOM is ignored), RFC 4180 quoting, line breaks inside quotes, separator
 * `,` or `;` as the header line uses, other columns ignored, blank lines skipped. Cells are trimmed:
 * spreadsheets pad cells, and a padded key would never match.
 */
import { CsvError, parse } from 'csv-parse/sync';
import type { Diagnostic } from '../errors.js';
import { UserError } from '../errors.js';
import type { TranscodingFile } from '../spec/load.js';

export type UnknownPolicy = 'error' | 'skip' | 'default' | 'keep';

export interface Transcoding {
  readonly name: string;
  /** The value `value` transcodes to; undefined when the table does not know it. */
  lookup(value: string): string | undefined;
  /** What `map` does with a value the table lacks (see template.ts). */
  readonly onUnknown: UnknownPolicy;
  /** The value for unknown ones when `onUnknown` is `default`. */
  readonly default?: string;
}

export interface TranscodingSource {
  readonly values?: Readonly<Record<string, string>>;
  /** The CSV file, as read when the spec was loaded; its path names it in problems. */
  readonly csv?: TranscodingFile;
  /** Default `error`. */
  readonly onUnknown?: UnknownPolicy;
  readonly default?: string;
  /** Compare `from` values ignoring case. */
  readonly ignoreCase?: boolean;
}

/** One CSV record and the (1-based) line it starts on. */
export interface CsvRecord {
  readonly line: number;
  readonly cells: readonly string[];
}

export interface CsvTable {
  readonly separator: ',' | ';';
  /** Every non-blank record, the header first. */
  readonly records: readonly CsvRecord[];
}

const csvError = (file: string, line: number, message: string): UserError => {
  const full = `${file} line ${line}: ${message}`;
  return new UserError('SPEC_INVALID', full, [{ message: full }]);
};

/** The separator the header line uses most, outside quotes (`,` when it uses neither). */
function detectSeparator(text: string): ',' | ';' {
  let commas = 0;
  let semicolons = 0;
  let quoted = false;
  for (const ch of text) {
    if (ch === '"') quoted = !quoted;
    else if (!quoted && ch === '\n') break;
    else if (!quoted && ch === ',') commas += 1;
    else if (!quoted && ch === ';') semicolons += 1;
  }
  return semicolons > commas ? ';' : ',';
}

const AFTER_QUOTE = (separator: string): string =>
  `unexpected text after a closing quote (write "" for a quote inside a quoted cell, or separate cells with "${separator}")`;

interface ParsedRecord {
  readonly record: string[];
  readonly raw: string;
  readonly info: { readonly lines: number };
}

/**
 * Reads RFC 4180 CSV with csv-parse; throws a SPEC_INVALID UserError naming `file` and the line of malformed
 * quoting. Cells are trimmed outside quotes (spreadsheets pad them).
 */
export function readCsv(input: string, file: string): CsvTable {
  const separator = detectSeparator(input.startsWith('\uFEFF') ? input.slice(1) : input);
  let parsed: ParsedRecord[];
  try {
    // csv-parse's typings do not model `info` and `raw`, which wrap each record as ParsedRecord.
    parsed = parse(input, {
      bom: true,
      delimiter: separator,
      relax_column_count: true,
      skip_empty_lines: true,
      skip_records_with_empty_values: true,
      trim: true,
      info: true,
      raw: true,
    }) as unknown as ParsedRecord[];
  } catch (error) {
    if (!(error instanceof CsvError)) throw error;
    if (error.code === 'CSV_QUOTE_NOT_CLOSED') {
      // csv-parse reports where the file ended; the editor needs the line the quote opened on.
      const opened = input.slice(0, Number(error.bytes_records)).split('\n').length;
      throw csvError(file, opened, 'unterminated quote: a quoted cell needs its closing "');
    }
    const afterQuote =
      error.code === 'CSV_INVALID_CLOSING_QUOTE' || error.code === 'CSV_NON_TRIMABLE_CHAR_AFTER_CLOSING_QUOTE';
    throw csvError(file, Number(error.lines), afterQuote ? AFTER_QUOTE(separator) : error.message);
  }
  // info.lines is the line a record ends on; its raw text holds the blank lines skipped before it and the
  // quoted line breaks inside it, so the line it starts on is counted back from there.
  const records = parsed.map(({ record, raw, info }) => ({
    line:
      info.lines -
      (raw
        .replace(/^(\r?\n)+/, '')
        .replace(/\r?\n$/, '')
        .match(/\n/g)?.length ?? 0),
    cells: record,
  }));
  return { separator, records };
}

/** Builds a table; every problem in it is reported at once (UserError SPEC_INVALID, one diagnostic each). */
export function buildTranscoding(name: string, source: TranscodingSource): Transcoding {
  const ignoreCase = source.ignoreCase ?? false;
  const onUnknown = source.onUnknown ?? 'error';
  // NFC too: a CSV saved on a Mac may hold decomposed accents, directory values are composed.
  const key = (value: string): string => {
    const trimmed = value.trim().normalize('NFC');
    return ignoreCase ? trimmed.toLowerCase() : trimmed;
  };
  const problems: Diagnostic[] = [];
  const entries = new Map<string, string>();

  if (source.csv !== undefined) {
    for (const [from, to] of csvEntries(source.csv.text, source.csv.path, key, problems)) entries.set(from, to);
  }

  if (source.values !== undefined) {
    const inline = new Map<string, { from: string; to: string }>();
    for (const [from, to] of Object.entries(source.values)) {
      const k = key(from);
      const seen = inline.get(k);
      if (seen !== undefined && seen.to !== to) {
        problems.push({
          message: `values: "${seen.from}" and "${from}" are the same key${ignoreCase ? ' (ignoreCase)' : ''} with different values ("${seen.to}", "${to}")`,
        });
        continue;
      }
      inline.set(k, { from, to });
      // Inline values win over the CSV file: they are the spec's own corrections.
      entries.set(k, to);
    }
  }

  if (source.values === undefined && source.csv === undefined) {
    problems.push({ message: `transcoding "${name}" has neither values nor csv` });
  }
  if (onUnknown === 'default' && source.default === undefined) {
    problems.push({ message: 'onUnknown is "default" but no default value is given: add `default: …`' });
  }
  if (problems.length > 0) {
    const count = problems.length === 1 ? '1 problem' : `${problems.length} problems`;
    throw new UserError('SPEC_INVALID', `transcoding "${name}": ${count}`, problems);
  }

  return {
    name,
    onUnknown,
    ...(source.default === undefined ? {} : { default: source.default }),
    lookup: (value) => entries.get(key(value)),
  };
}

/** The (normalised key, to) pairs of a CSV file; problems are appended to `problems`. */
function csvEntries(
  text: string,
  file: string,
  key: (value: string) => string,
  problems: Diagnostic[],
): Map<string, string> {
  const out = new Map<string, string>();
  let table: CsvTable;
  try {
    table = readCsv(text, file);
  } catch (error) {
    if (!(error instanceof UserError)) throw error;
    problems.push(...error.diagnostics);
    return out;
  }
  const [header, ...rows] = table.records;
  if (header === undefined) {
    problems.push({ message: `${file}: the file is empty; expected a header line naming the columns "from" and "to"` });
    return out;
  }
  const columns = header.cells.map((c) => c.trim().toLowerCase());
  const fromColumn = columns.indexOf('from');
  const toColumn = columns.indexOf('to');
  if (fromColumn < 0 || toColumn < 0) {
    const missing = [fromColumn < 0 ? '"from"' : '', toColumn < 0 ? '"to"' : ''].filter((m) => m !== '').join(' and ');
    problems.push({
      message: `${file} line ${header.line}: the header line has no column ${missing} (it names: ${header.cells.map((c) => `"${c.trim()}"`).join(', ')}; separator "${table.separator}")`,
    });
    return out;
  }
  const firstLine = new Map<string, { line: number; to: string }>();
  for (const row of rows) {
    const from = row.cells[fromColumn];
    const to = row.cells[toColumn];
    if (from === undefined || to === undefined) {
      problems.push({
        message: `${file} line ${row.line}: ${row.cells.length} cell(s), but "${from === undefined ? 'from' : 'to'}" is column ${(from === undefined ? fromColumn : toColumn) + 1}`,
      });
      continue;
    }
    if (from.trim() === '') {
      problems.push({ message: `${file} line ${row.line}: empty "from" value` });
      continue;
    }
    const k = key(from);
    const value = to.trim();
    const seen = firstLine.get(k);
    if (seen !== undefined) {
      if (seen.to !== value) {
        problems.push({
          message: `${file} line ${row.line}: "${from.trim()}" is already at line ${seen.line} with another value ("${seen.to}", here "${value}")`,
        });
      }
      continue;
    }
    firstLine.set(k, { line: row.line, to: value });
    out.set(k, value);
  }
  return out;
}
