/**
 * Maps JSON paths of the parsed spec back to file:line:column, by walking the YAML syntax tree on demand
 * (one step per path segment, so aliases cost nothing and cannot blow up).
 */
import type { Document, LineCounter, Node as YamlNode } from 'yaml';
import { isAlias, isMap, isScalar, isSeq } from 'yaml';
import type { Diagnostic, SourcePosition } from '../errors.js';

/** Splits a JSON pointer (`/users/fields/username`) into decoded segments. */
export function pointerSegments(pointer: string): string[] {
  if (pointer === '') return [];
  return pointer
    .slice(1)
    .split('/')
    .map((s) => s.replaceAll('~1', '/').replaceAll('~0', '~'));
}

/** Joins segments into a JSON pointer, escaping `~` and `/`. */
export function toPointer(segments: readonly string[]): string {
  return segments.map((s) => `/${s.replaceAll('~', '~0').replaceAll('/', '~1')}`).join('');
}

/** Segments as users read them: `/users/fields/username` (not escaped; keys with `/` are rare). */
export function displayPath(segments: readonly string[]): string {
  return segments.map((s) => `/${s}`).join('');
}

/** Orders diagnostics by file position; those without one go last. */
export function comparePositions(a: Diagnostic, b: Diagnostic): number {
  const pa = a.position;
  const pb = b.position;
  if (pa === undefined || pb === undefined) return (pa === undefined ? 1 : 0) - (pb === undefined ? 1 : 0);
  return pa.line - pb.line || pa.column - pb.column;
}

interface Step {
  /** Offset of the key node, absent for the root and list items. */
  readonly key?: number;
  /** Offset of the value node, absent for an empty value (`key:` with nothing after it). */
  readonly value?: number;
  readonly node: YamlNode | null;
}

export class SpecPositions {
  constructor(
    private readonly doc: Document,
    private readonly lineCounter: LineCounter,
    readonly file: string,
    /** JSON files quote with `"`, YAML examples with `'`. */
    readonly isJson = false,
  ) {}

  /** Position of the value node at `segments`, or undefined when the path is not written in the file. */
  valueAt(segments: readonly string[]): SourcePosition | undefined {
    const steps = this.walk(segments);
    const last = steps[segments.length];
    if (last === undefined) return undefined;
    return this.at(last.value ?? last.key);
  }

  /**
   * Where to report a problem about `segments`: its key (`prefer: 'key'`, for problems with a whole object
   * or with an unknown key) or its value; falls back to the nearest written ancestor, then to 1:1.
   */
  report(segments: readonly string[], prefer: 'key' | 'value'): SourcePosition {
    const steps = this.walk(segments);
    const last = steps[steps.length - 1];
    const exact = steps.length === segments.length + 1;
    const offset =
      last === undefined
        ? undefined
        : exact && prefer === 'value'
          ? (last.value ?? last.key)
          : (last.key ?? last.value);
    return this.at(offset) ?? { file: this.file, line: 1, column: 1 };
  }

  /** A plain (unquoted) scalar as written, quoted the way this file quotes: `'061300'` for the number 61300. */
  quotedSource(segments: readonly string[]): string | undefined {
    const node = this.walk(segments)[segments.length]?.node;
    if (!isScalar(node) || node.type !== 'PLAIN' || node.source === undefined) return undefined;
    return this.isJson ? JSON.stringify(node.source) : `'${node.source.replaceAll("'", "''")}'`;
  }

  at(offset: number | undefined): SourcePosition | undefined {
    if (offset === undefined) return undefined;
    const { line, col } = this.lineCounter.linePos(offset);
    return { file: this.file, line, column: col };
  }

  /** steps[0] is the document root; steps[i] is the node at segments[i - 1]. Stops where the path ends. */
  private walk(segments: readonly string[]): Step[] {
    const root = this.doc.contents;
    const steps: Step[] = [{ node: root, value: root?.range?.[0] }];
    let node = this.resolve(root);
    for (const segment of segments) {
      const next = this.child(node, segment);
      if (next === undefined) break;
      steps.push(next);
      node = this.resolve(next.node);
    }
    return steps;
  }

  private child(node: YamlNode | null, segment: string): Step | undefined {
    if (isMap(node)) {
      // The last pair wins, as in the parsed value when a key is duplicated.
      const pair = node.items.findLast((p) => keyText(this.resolve(p.key as YamlNode | null)) === segment);
      if (pair === undefined) return undefined;
      const key = pair.key as YamlNode | null;
      const value = pair.value as YamlNode | null;
      const range = value?.range;
      const empty = range === undefined || range === null || range[0] === range[1];
      return { key: key?.range?.[0], value: empty ? undefined : range[0], node: value };
    }
    if (isSeq(node) && /^(0|[1-9][0-9]*)$/.test(segment)) {
      const item = node.items[Number(segment)] as YamlNode | null | undefined;
      if (item === undefined) return undefined;
      return { value: item?.range?.[0], node: item };
    }
    return undefined;
  }

  private resolve(node: YamlNode | null): YamlNode | null {
    return isAlias(node) ? (node.resolve(this.doc) ?? null) : node;
  }
}

function keyText(key: YamlNode | null): string | undefined {
  if (key === null) return '';
  return isScalar(key) ? String(key.value ?? '') : undefined;
}
