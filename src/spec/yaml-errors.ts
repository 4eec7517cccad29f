/**
 * YAML syntax errors said where the problem is and in the words of the fix. The yaml package reports some
 * errors where it noticed them rather than where they are: an unclosed quote or `{` at the end of what it
 * swallowed, a misindented key at the start of its line. This moves them to the opening quote or bracket and
 * to the key itself.
 */
import type { Document, Node as YamlNode, YAMLError } from 'yaml';
import { isCollection, isScalar, visit } from 'yaml';

export interface YamlProblem {
  readonly message: string;
  /** Offset in the text where the problem is. */
  readonly offset: number;
}

/** `language` is how the file is named in messages (`YAML`, `JSON`). */
export function explainYamlError(error: YAMLError, doc: Document, text: string, language: string): YamlProblem {
  const offset = error.pos[0];
  const fallback = { message: `invalid ${language}: ${error.message}`, offset };
  if (error.code === 'TAB_AS_INDENT') {
    return { message: `invalid ${language}: a tab indents this line: indent with spaces`, offset };
  }
  if (error.code === 'MISSING_CHAR' && /^Missing closing .?quote/.test(error.message)) {
    const scalar = lastNodeEndingAt(doc, offset, (n) => isScalar(n) && n.type !== 'PLAIN' && n.type !== undefined);
    const start = scalar?.range?.[0];
    if (start === undefined) return fallback;
    const quote = text[start] ?? "'";
    return { message: `invalid ${language}: this quote is never closed: end the value with ${quote}`, offset: start };
  }
  if (/^Flow (map|sequence) .*end with a [}\]]$/.test(error.message)) {
    const flow = lastNodeEndingAt(doc, offset, (n) => isCollection(n) && n.flow === true);
    const start = flow?.range?.[0];
    if (start === undefined) return fallback;
    const open = text[start] ?? '{';
    const close = open === '[' ? ']' : '}';
    return {
      message: `invalid ${language}: this ${open} is never closed: end it with ${close} (a line inside it must be indented more than its key)`,
      offset: start,
    };
  }
  if (
    error.code === 'BAD_INDENT' &&
    /^All (mapping|sequence) items must start at the same column$/.test(error.message)
  ) {
    const what = error.message.includes('mapping') ? 'key' : 'item';
    return {
      message: `invalid ${language}: this ${what} is not in line with the ${what}s before it (the ${what}s of one ${
        what === 'key' ? 'mapping' : 'list'
      } start at the same column)`,
      offset: firstNonBlank(text, offset),
    };
  }
  return fallback;
}

/** The node, among those `matches` accepts, that starts last before `offset` and reaches it. */
function lastNodeEndingAt(doc: Document, offset: number, matches: (node: YamlNode) => boolean): YamlNode | undefined {
  let found: YamlNode | undefined;
  visit(doc, {
    Node(_, node) {
      const range = node.range;
      if (range === undefined || range === null || !matches(node)) return;
      if (range[0] < offset && offset <= range[2] && (found?.range?.[0] ?? -1) < range[0]) found = node;
    },
  });
  return found;
}

/** From `offset`, the first character on its line that is not a space or a tab. */
function firstNonBlank(text: string, offset: number): number {
  let at = offset;
  while (at < text.length && (text[at] === ' ' || text[at] === '\t')) at++;
  return at < text.length && text[at] !== '\n' && text[at] !== '\r' ? at : offset;
}
