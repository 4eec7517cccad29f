/**
 * RFC 2849 output: `attr: value` for safe strings, `attr:: base64` for the others (non-ASCII, a leading
 * space, colon or `<`, a trailing space, NUL/CR/LF), lines folded at 76 columns (continuations start with
 * one space). Every line written is ASCII, so columns are bytes.
 */

export type Attr = readonly [name: string, value: string];

export const LDIF_LINE_WIDTH = 76;

// SAFE-CHAR is %x01-09 / %x0B-0C / %x0E-7F; SAFE-INIT-CHAR also excludes space, colon and "<".
// biome-ignore lint/suspicious/noControlCharactersInRegex: the RFC's character classes are made of control characters
const SAFE_STRING = /^[\x01-\x09\x0b\x0c\x0e-\x7f]*$/;
const UNSAFE_START = /^[ :<]/;

/** True when RFC 2849 does not allow the value as a plain SAFE-STRING (or it ends with a space). */
export function needsBase64(value: string): boolean {
  return UNSAFE_START.test(value) || value.endsWith(' ') || !SAFE_STRING.test(value);
}

/** Folds a line longer than `width`: the first `width` characters, then lines of a space + `width - 1`. */
export function fold(line: string, width = LDIF_LINE_WIDTH): string {
  if (line.length <= width) return line;
  const parts = [line.slice(0, width)];
  for (let at = width; at < line.length; at += width - 1) parts.push(` ${line.slice(at, at + width - 1)}`);
  return parts.join('\n');
}

/** One attribute line (folded), without its newline. */
export function ldifLine(name: string, value: string): string {
  if (value === '') return `${name}:`;
  if (needsBase64(value)) return fold(`${name}:: ${Buffer.from(value, 'utf8').toString('base64')}`);
  return fold(`${name}: ${value}`);
}

/** A whole record: the dn line, the attribute lines, and the empty line that ends it. */
export function ldifRecord(dn: string, attrs: readonly Attr[]): string {
  const lines = [ldifLine('dn', dn)];
  for (const [name, value] of attrs) lines.push(ldifLine(name, value));
  return `${lines.join('\n')}\n\n`;
}

/** Comment lines (`# …`), for a file header; each text line must be ASCII. */
export function ldifComment(lines: readonly string[]): string {
  return lines.map((line) => (line === '' ? '#\n' : `# ${line}\n`)).join('');
}
