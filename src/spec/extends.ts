/**
 * `extends`: a spec builds on presets and shared fragments (a farm of similar schools writes its conventions
 * once). Bases are merged first, in order, then the spec itself: objects key by key, anything else replaced.
 * The merged spec is validated as a whole; a base alone need not be a complete spec.
 *
 * `sdet` names the preset shipped with the tool (presets/sdet.yaml); anything else is a path relative to the
 * file that names it.
 */
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type InputFileError, readBoundedRegularFile } from '../bounded-read.js';
import type { Diagnostic } from '../errors.js';
import { UserError } from '../errors.js';
import type { SpecPositions } from './positions.js';
import { parseYamlWithLimits } from './yaml-limits.js';

/** Presets shipped in the package (two levels up from src/spec and from dist/spec alike). */
export const PRESETS_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'presets');
const PRESETS: ReadonlySet<string> = new Set(['sdet']);

type Json = Record<string, unknown>;
const isObject = (value: unknown): value is Json =>
  value !== null && typeof value === 'object' && !Array.isArray(value);

/** Merges `over` onto `base`: objects recursively, other values replaced. Neither input is modified. */
export function mergeSpecs(base: unknown, over: unknown): unknown {
  if (!isObject(base) || !isObject(over)) return structuredClone(over);
  const out: Json = { ...structuredClone(base) };
  for (const [key, value] of Object.entries(over))
    out[key] = Object.hasOwn(out, key) ? mergeSpecs(out[key], value) : structuredClone(value);
  return out;
}

export interface ResolvedExtends {
  /** The merged spec, without `extends`. */
  readonly data: unknown;
  /** Files merged in (absolute), bases first: their contents are part of the spec's hash. */
  readonly files: readonly { readonly path: string; readonly bytes: Buffer }[];
  /** What the spec's bases give, merged, before the spec itself; absent when it extends nothing. */
  readonly bases?: SpecBases;
}

/** The bases of a spec: their merged content and their names as the spec writes them. */
export interface SpecBases {
  readonly data: unknown;
  readonly names: readonly string[];
}

function namesOf(value: unknown, file: string): string[] {
  if (value === undefined) return [];
  if (typeof value === 'string') return [value];
  if (Array.isArray(value) && value.every((v) => typeof v === 'string')) return value as string[];
  throw new UserError('SPEC_INVALID', `${file}: extends must be a preset name or a path, or a list of them`);
}

function locate(name: string, dir: string): string {
  if (PRESETS.has(name)) return join(PRESETS_DIR, `${name}.yaml`);
  return isAbsolute(name) ? name : resolve(dir, name);
}

/** file:line:column of `offset` in `text`. */
function positionIn(text: string, offset: number, file: string): NonNullable<Diagnostic['position']> {
  const before = text.slice(0, offset);
  const lineStart = before.lastIndexOf('\n') + 1;
  return { file, line: before.split('\n').length, column: offset - lineStart + 1 };
}

/**
 * Resolves `extends` of an already parsed spec (recursively; a cycle is an error). `positions` (of the spec
 * itself) places problems with its own `extends` at that key.
 */
export async function resolveExtends(
  data: unknown,
  file: string,
  dir: string,
  positions?: SpecPositions,
): Promise<ResolvedExtends> {
  const files: { path: string; bytes: Buffer }[] = [];
  let bases: SpecBases | undefined;
  const load = async (value: unknown, from: string, fromDir: string, chain: readonly string[]): Promise<unknown> => {
    if (!isObject(value) || value.extends === undefined) return value;
    const { extends: names, ...own } = value;
    let merged: unknown = {};
    for (const name of namesOf(names, from)) {
      const path = locate(name, fromDir);
      if (chain.includes(path)) {
        throw new UserError(
          'SPEC_INVALID',
          `${from}: extends "${name}" makes a cycle (${[...chain, path].join(' → ')})`,
        );
      }
      let bytes: Buffer;
      try {
        bytes = await readBoundedRegularFile(path);
      } catch (error) {
        const e = error as InputFileError;
        // A device, a FIFO, a directory or a huge file: the spec must name another file (SPEC_INVALID).
        if (e.code === 'ENOTREG' || e.code === 'EFBIG') {
          const at = chain.length === 1 ? positions?.report(['extends'], 'value') : undefined;
          const diagnostic: Diagnostic = { message: e.message, path: '/extends', ...(at ? { position: at } : {}) };
          throw new UserError('SPEC_INVALID', `${from}: extends "${name}": ${e.message}`, [diagnostic]);
        }
        const known = PRESETS.has(name)
          ? ''
          : ` (known presets: ${[...PRESETS].join(', ')}; a path is relative to ${fromDir})`;
        throw new UserError('SPEC_READ', `${from}: extends "${name}": cannot read ${path}${known}`, [], {
          cause: error,
        });
      }
      const text = bytes.toString('utf8');
      const parsed = parseYamlWithLimits(text);
      if (!('data' in parsed)) {
        const position = positionIn(text, parsed.offset, path);
        throw new UserError('SPEC_INVALID', `${path}: ${parsed.message}`, [{ message: parsed.message, position }]);
      }
      files.push({ path, bytes });
      merged = mergeSpecs(merged, await load(parsed.data, path, dirname(path), [...chain, path]));
    }
    if (chain.length === 1) bases = { data: merged, names: namesOf(names, from) };
    return mergeSpecs(merged, own);
  };
  const merged = await load(data, file, dir, [resolve(file)]);
  return { data: merged, files, ...(bases === undefined ? {} : { bases }) };
}
