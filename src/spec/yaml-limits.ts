/**
 * Limits on the shape of a YAML document, checked on the parsed tree before anything walks it recursively
 * (yaml's `toJS` and `visit`, the schema validation, the secret resolver): nesting deeper than MAX_DEPTH would
 * exhaust the stack, and an alias inside the anchor it names (`vars: &v { c: *v }`) makes a cyclic value that
 * every later walk follows forever. This walk keeps its own stack, so that it cannot overflow itself.
 * Alias bombs are bounded by yaml's `maxAliasCount` (MAX_ALIAS_COUNT) in `toJS`.
 */
import type { Document, Node as YamlNode } from 'yaml';
import { isAlias, isMap, isPair, isSeq, parseDocument } from 'yaml';

/** Deeper than any spec needs (the deepest shipped one is about 8 levels). */
export const MAX_DEPTH = 64;

/** How many alias expansions `toJS` allows a document (yaml's default, said out loud). */
export const MAX_ALIAS_COUNT = 100;

export interface ShapeProblem {
  readonly message: string;
  /** Offset in the text, for a position. */
  readonly offset: number;
}

const offsetOf = (node: unknown): number => (node as { range?: [number, number, number] } | null)?.range?.[0] ?? 0;

/** The first shape problem of `doc`, or null: nesting beyond MAX_DEPTH, or an alias inside its own anchor. */
export function shapeProblem(doc: Document): ShapeProblem | null {
  // Each frame: a node and the collections it is in (its ancestors, as a chain, for the alias check).
  interface Frame {
    readonly node: unknown;
    readonly depth: number;
    readonly ancestors: Ancestors | null;
  }
  interface Ancestors {
    readonly node: unknown;
    readonly up: Ancestors | null;
  }
  const stack: Frame[] = [{ node: doc.contents, depth: 0, ancestors: null }];
  let aliases = 0;
  while (stack.length > 0) {
    const { node, depth, ancestors } = stack.pop() as Frame;
    if (node === null || node === undefined) continue;
    if (isAlias(node)) {
      aliases += 1;
      // Resolving costs a scan of the document: past the alias limit, toJS refuses the document anyway.
      if (aliases > MAX_ALIAS_COUNT * 10) continue;
      const target = node.resolve(doc);
      for (let a = ancestors; a !== null; a = a.up) {
        if (a.node === target) {
          return {
            message: `the alias *${node.source} is inside its own anchor &${node.source}: its value would contain itself`,
            offset: offsetOf(node),
          };
        }
      }
      continue;
    }
    if (isPair(node)) {
      stack.push({ node: node.value, depth, ancestors }, { node: node.key, depth, ancestors });
      continue;
    }
    if (isMap(node) || isSeq(node)) {
      if (depth >= MAX_DEPTH) {
        return {
          message: `the document is nested more than ${MAX_DEPTH} levels deep: a spec needs far fewer`,
          offset: offsetOf(node),
        };
      }
      const inside = { node, up: ancestors };
      const items = node.items as unknown[];
      for (let i = items.length - 1; i >= 0; i--) stack.push({ node: items[i], depth: depth + 1, ancestors: inside });
    }
  }
  return null;
}

/** A parse of YAML text that refuses what would crash or hang the walks after it; for bases of `extends`. */
export function parseYamlWithLimits(
  text: string,
): { readonly data: unknown } | { readonly message: string; readonly offset: number } {
  const doc = parseDocument(text, { prettyErrors: false });
  const error = doc.errors[0];
  if (error !== undefined) return { message: error.message, offset: error.pos[0] };
  const problem = shapeProblem(doc as Document<YamlNode, true>);
  if (problem !== null) return problem;
  try {
    return { data: doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT }) };
  } catch (e) {
    return { message: e instanceof Error ? e.message : String(e), offset: 0 };
  }
}
