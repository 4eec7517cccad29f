import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { UserError } from '../../src/errors.js';
import type { TranscodingSource } from '../../src/rules/transcoding.js';
import { buildTranscoding, readCsv } from '../../src/rules/transcoding.js';
import type { TranscodingFile } from '../../src/spec/load.js';

const fixture = (name: string): string => fileURLToPath(new URL(`../fixtures/transcoding/${name}`, import.meta.url));
const readFile = (path: string): string => readFileSync(path, 'utf8');
/** A fixture CSV file as loadSpec hands it over. */
const csvFixture = (name: string): TranscodingFile => ({ path: fixture(name), text: readFile(fixture(name)) });

/** The UserError building the table throws (fails the test when it builds). */
function failure(source: TranscodingSource): UserError {
  try {
    buildTranscoding('t', source);
  } catch (error) {
    if (error instanceof UserError) return error;
    throw error;
  }
  throw new Error('expected a UserError');
}

describe('readCsv', () => {
  it('reads RFC 4180 quoting: separators, doubled quotes and line breaks inside quotes', () => {
    const table = readCsv(readFile(fixture('levels.csv')), 'levels.csv');
    expect(table.separator).toBe(',');
    expect(table.records).toEqual([
      { line: 1, cells: ['from', 'to', 'comment'] },
      { line: 2, cells: ['6EME', 'Sixième', 'first year, college'] },
      { line: 3, cells: [' 5EME ', 'Cinquième', ''] },
      { line: 4, cells: ['4"EME', 'Quatrième "bis"', 'x'] },
      { line: 6, cells: ['3EME', 'Troisième\nannée'] },
    ]);
  });

  it('detects ";" from the header line, ignores a BOM, CRLF and blank records', () => {
    const table = readCsv(readFile(fixture('semicolon.csv')), 'semicolon.csv');
    expect(table.separator).toBe(';');
    expect(table.records).toEqual([
      { line: 1, cells: ['code', 'label', 'to', 'from'] },
      { line: 2, cells: ['061300', 'x', 'Lycée Mistral', '0613,00'] },
      { line: 4, cells: ['045', 'y', 'Orléans', '045'] },
    ]);
    expect(readCsv('"a;b",c\nx,y', 'f').separator).toBe(',');
    expect(readCsv('a\n', 'f').records).toEqual([{ line: 1, cells: ['a'] }]);
  });

  it('refuses an unterminated quote at the line it opens, and text after a closing quote', () => {
    expect(() => readCsv(readFile(fixture('unterminated.csv')), 'unterminated.csv')).toThrow(
      'unterminated.csv line 3: unterminated quote',
    );
    expect(() => readCsv('from,to\n"a"b,c\n', 'f.csv')).toThrow('f.csv line 2: unexpected text after a closing quote');
    expect(readCsv('"a"  ,b', 'f').records).toEqual([{ line: 1, cells: ['a', 'b'] }]);
  });
});

describe('buildTranscoding', () => {
  it('looks up inline values by trimmed value, case-sensitively unless ignoreCase', () => {
    const t = buildTranscoding('levels', { values: { ' 6EME': 'Sixième', '5EME': 'Cinquième' } });
    expect(t.name).toBe('levels');
    expect(t.onUnknown).toBe('error');
    expect(t.lookup('6EME ')).toBe('Sixième');
    expect(t.lookup('5eme')).toBeUndefined();
    expect(t.lookup('toString')).toBeUndefined();
    const folded = buildTranscoding('levels', { values: { '5EME': 'Cinquième' }, ignoreCase: true });
    expect(folded.lookup(' 5eme')).toBe('Cinquième');
  });

  it('reads a CSV file by its from and to columns, whatever their place', () => {
    const t = buildTranscoding('levels', { csv: csvFixture('levels.csv'), onUnknown: 'keep' });
    expect(t.onUnknown).toBe('keep');
    expect(t.lookup('5EME')).toBe('Cinquième');
    expect(t.lookup('4"EME')).toBe('Quatrième "bis"');
    expect(t.lookup('3EME')).toBe('Troisième\nannée');
    const semi = buildTranscoding('uai', { csv: csvFixture('semicolon.csv') });
    expect(semi.lookup('0613,00')).toBe('Lycée Mistral');
    expect(semi.lookup('061300')).toBeUndefined();
    expect(semi.lookup('045')).toBe('Orléans');
  });

  it('merges inline values over the CSV file', () => {
    const t = buildTranscoding('levels', {
      csv: csvFixture('levels.csv'),
      values: { '6EME': '6e', '2NDE': 'Seconde' },
    });
    expect([t.lookup('6EME'), t.lookup('5EME'), t.lookup('2NDE')]).toEqual(['6e', 'Cinquième', 'Seconde']);
  });

  it('compares NFC forms', () => {
    const t = buildTranscoding('x', { values: { 'E\u0301cole': 'école' } });
    expect(t.lookup('\u00c9cole')).toBe('école');
  });

  it('keeps the default for onUnknown: default, and requires it', () => {
    const t = buildTranscoding('x', { values: { a: 'b' }, onUnknown: 'default', default: '' });
    expect(t.default).toBe('');
    expect(failure({ values: { a: 'b' }, onUnknown: 'default' }).diagnostics.map((d) => d.message)).toEqual([
      'onUnknown is "default" but no default value is given: add `default: …`',
    ]);
  });

  it('reports every duplicate with different values, with the file and both lines', () => {
    const error = failure({ csv: csvFixture('duplicates.csv') });
    expect(error.code).toBe('SPEC_INVALID');
    expect(error.message).toBe('transcoding "t": 2 problems');
    const file = fixture('duplicates.csv');
    expect(error.diagnostics.map((d) => d.message)).toEqual([
      `${file} line 5: "A" is already at line 2 with another value ("1", here "3")`,
      `${file} line 6: "B" is already at line 3 with another value ("2", here "4")`,
    ]);
    const folded = failure({ values: { a: '1', ' A': '2' }, ignoreCase: true });
    expect(folded.diagnostics[0]?.message).toBe(
      'values: "a" and " A" are the same key (ignoreCase) with different values ("1", "2")',
    );
  });

  it('refuses a file without the from and to columns, an unterminated quote, short rows', () => {
    const noHeader = failure({ csv: csvFixture('no-header.csv') });
    expect(noHeader.diagnostics.map((d) => d.message)).toEqual([
      `${fixture('no-header.csv')} line 1: the header line has no column "from" and "to" (it names: "source", "target"; separator ",")`,
    ]);
    const unterminated = failure({ csv: csvFixture('unterminated.csv') });
    expect(unterminated.diagnostics[0]?.message).toContain('unterminated.csv line 3: unterminated quote');
    const short = failure({ csv: { path: 'f.csv', text: 'from,to\na\n,x\n' } });
    expect(short.diagnostics.map((d) => d.message)).toEqual([
      'f.csv line 2: 1 cell(s), but "to" is column 2',
      'f.csv line 3: empty "from" value',
    ]);
    expect(failure({ csv: { path: 'e.csv', text: '\n' } }).diagnostics[0]?.message).toContain(
      'e.csv: the file is empty',
    );
  });

  // An unreadable file is loadSpec's to report (spec-load.test.ts): the table gets the file's text.
  it('reports a table with no entries source', () => {
    expect(failure({}).diagnostics[0]?.message).toBe('transcoding "t" has neither values nor csv');
  });
});
