/**
 * Text from outside (a directory value, a DN, a database's message) on its way to a terminal, a log line or a
 * page: every control character shown as a visible escape, so a uid carrying `ESC ]0;…` or `ESC [2J` cannot
 * retitle or clear the reader's terminal, and a newline inside a value cannot start a fake line. Used at the
 * render edge only: the data keeps its bytes (the plan file, the JSON plan, the database).
 */

/** C0 controls, DEL, C1 controls (a lone U+009B is a CSI on some terminals) and the Unicode line separators. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/gu;

/** JSON's short forms where JSON has one, `\u00XX` otherwise: the same escapes as `JSON.stringify` shows. */
const SHORT: Readonly<Record<string, string>> = { '\b': '\\b', '\t': '\\t', '\n': '\\n', '\f': '\\f', '\r': '\\r' };

/** `text` with every control character escaped (`\n`, `\u001b`…); text without any is returned as it is. */
export function printable(text: string): string {
  return text.replace(CONTROL, (ch) => SHORT[ch] ?? `\\u${(ch.codePointAt(0) ?? 0).toString(16).padStart(4, '0')}`);
}

/**
 * A message made of several lines (an error with its detail), each line escaped: the message's own line breaks
 * stay, a carriage return or escape inside a line does not.
 */
export function printableLines(text: string): string {
  return text.split('\n').map(printable).join('\n');
}
