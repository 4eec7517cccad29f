/**
 * Reads a sync spec (YAML, or JSON by extension), reports every problem at once with file:line:column,
 * then resolves secrets and applies defaults. The parsed YAML tree is kept so that later stages can point
 * at spec values too (`positionOf`).
 */
import { createHash } from 'node:crypto';
import { type InputFileError, readBoundedRegularFile } from '../bounded-read.js';
import { dirname, extname, isAbsolute, resolve } from 'node:path';
import type { Document } from 'yaml';
import { isAlias, isCollection, isScalar, LineCounter, parseDocument, visit } from 'yaml';
import type { Diagnostic, SourcePosition } from '../errors.js';
import { UserError } from '../errors.js';
import { applyDefaults } from './defaults.js';
import { resolveExtends } from './extends.js';
import { comparePositions, displayPath, pointerSegments, SpecPositions } from './positions.js';
import type { Spec, SpecInput } from './schema.js';
import { specSchema } from './schema.js';
import { checkReferences, resolveSecrets } from './secrets.js';
import { validateSpec } from './validate.js';
import { explainYamlError } from './yaml-errors.js';
import { MAX_ALIAS_COUNT, MAX_DEPTH, shapeProblem } from './yaml-limits.js';

export interface LoadedSpec {
  /** Validated, secrets resolved, defaults applied. */
  readonly spec: Spec;
  /** Absolute path of the spec file. */
  readonly path: string;
  /** Its directory: callers resolve relative paths in the spec against it. */
  readonly dir: string;
  /** sha256 (hex) of the file bytes, the bases it extends and the transcoding CSV files it reads. */
  readonly hash: string;
  /**
   * The CSV file of each transcoding that has one, by transcoding name, read here so that compiling the
   * rules reads nothing: the rules look a table's file up by the name they iterate, and never resolve a path.
   */
  readonly transcodingFiles: ReadonlyMap<string, TranscodingFile>;
  /** Every resolved `${env:}`/`${file:}` value, for redacting outputs. */
  readonly secrets: readonly string[];
  /** file:line:column of the value at a JSON pointer (`/users/fields/username`); undefined if not written. */
  positionOf(jsonPath: string): SourcePosition | undefined;
}

/** A transcoding's CSV file as read when the spec was loaded. */
export interface TranscodingFile {
  /** Absolute: the spec's `csv` resolved against the spec's directory. */
  readonly path: string;
  /** Its content, decoded as UTF-8 (a BOM is left for the CSV reader). */
  readonly text: string;
}

export interface LoadOptions {
  /** Environment for `${env:…}`; default `process.env`. */
  readonly env?: NodeJS.ProcessEnv;
  /**
   * `false`: leave `${env:…}`/`${file:…}` references as written (their syntax is still checked), for what
   * never connects (`validate`, `state list`, `state show`) and so must not need the secrets. Default `true`.
   */
  readonly resolveSecrets?: boolean;
}

export interface ParseOptions extends LoadOptions {
  /** Directory for relative `${file:…}` paths; default the directory of `file`. */
  readonly dir?: string;
}

/** Loads the spec at `path`; diagnostics show `path` as given. */
export async function loadSpec(path: string, options: LoadOptions = {}): Promise<LoadedSpec> {
  const absolute = resolve(path);
  let bytes: Buffer;
  try {
    bytes = await readBoundedRegularFile(absolute);
  } catch (error) {
    throw new UserError(
      'SPEC_READ',
      `cannot read the spec file ${path} (${absolute}): ${readReason(error as InputFileError)}. Check the path; a relative path is relative to the current directory.`,
      [],
      { cause: error },
    );
  }
  return build(bytes.toString('utf8'), bytes, path, absolute, dirname(absolute), options);
}

const READ_REASONS: Readonly<Record<string, string>> = {
  ENOENT: 'no such file',
  EACCES: 'permission denied',
  EISDIR: 'it is a directory, not a file',
};

/** Why a file could not be read; a file of the wrong kind or size is said as bounded-read.ts says it. */
export const readReason = (error: InputFileError | NodeJS.ErrnoException): string =>
  error.code === undefined ? String(error.message) : (READ_REASONS[error.code] ?? wrongFile(error) ?? error.code);

const wrongFile = (error: { readonly code?: string; readonly message: string }): string | undefined =>
  isWrongFile(error) ? error.message : undefined;

/** A file that exists but must not be read: not a regular file, or over the size limit (SPEC_INVALID). */
export const isWrongFile = (error: { readonly code?: string }): boolean =>
  error.code === 'ENOTREG' || error.code === 'EFBIG';

/** Same as `loadSpec`, from text; `file` names it in diagnostics and decides YAML or JSON. */
export async function parseSpecText(text: string, file: string, options: ParseOptions = {}): Promise<LoadedSpec> {
  const absolute = resolve(file);
  return build(text, Buffer.from(text, 'utf8'), file, absolute, options.dir ?? dirname(absolute), options);
}

async function build(
  text: string,
  bytes: Buffer,
  file: string,
  absolute: string,
  dir: string,
  options: LoadOptions,
): Promise<LoadedSpec> {
  const parsed = parse(text, file);
  const { positions, problems, fatal } = parsed;
  // `extends`: the bases are merged in before validation, which checks the whole (see extends.ts).
  const merged = fatal ? { data: parsed.data, files: [] } : await resolveExtends(parsed.data, absolute, dir, positions);
  const data = merged.data;
  if (!fatal) {
    const invalid = validateSpec(data, positions, merged.bases);
    // A reference under a key the schema already refuses (a misspelt `passwrd:`) is said once, by the schema.
    const refused = new Set(invalid.map((d) => d.path));
    problems.push(...invalid, ...checkReferences(data, positions).filter((d) => !refused.has(d.path)));
  }
  if (problems.length > 0) {
    const count = problems.length === 1 ? '1 problem' : `${problems.length} problems`;
    throw new UserError('SPEC_INVALID', `${file}: ${count} in the spec`, problems.sort(comparePositions));
  }
  // Validation passed, so `data` has the SpecInput shape.
  const resolved =
    options.resolveSecrets === false
      ? { value: data as SpecInput, secrets: [] }
      : await resolveSecrets(data as SpecInput, { env: options.env ?? process.env, dir, positions });
  const spec = applyDefaults(resolved.value);
  const csvFiles = await readTranscodingFiles(spec, file, dir, positions);
  return {
    spec,
    path: absolute,
    dir,
    hash: specHash(bytes, merged.files, csvFiles),
    transcodingFiles: new Map([...csvFiles].map(([name, { path, text }]) => [name, { path, text }])),
    secrets: resolved.secrets,
    positionOf: (jsonPath) => positions.valueAt(pointerSegments(jsonPath)),
  };
}

/**
 * The spec's digest covers the bases it extends and the CSV files its transcodings read: a preset or a
 * levels.csv changed under a spec is a changed spec (a saved plan made before is stale).
 */
function specHash(
  bytes: Buffer,
  bases: readonly { readonly bytes: Buffer }[],
  csvFiles: ReadonlyMap<string, ReadCsvFile>,
): string {
  const hash = createHash('sha256').update(bytes);
  for (const base of bases) hash.update('\0').update(base.bytes);
  // Labelled with the table's name, so that moving bytes between a base and a CSV file changes the digest;
  // nothing is added without CSV files, so the digests of specs that have none are unchanged.
  for (const [name, csv] of csvFiles) hash.update(`\0csv ${name}\0`).update(csv.bytes);
  return hash.digest('hex');
}

interface ReadCsvFile extends TranscodingFile {
  readonly bytes: Buffer;
}

/**
 * Reads the CSV file of every transcoding that names one (relative paths against the spec's directory, where
 * the spec itself or a base it extends names it). Files unreadable are all reported at once, in one SPEC_READ,
 * each at its `csv:` key when the spec file writes it.
 */
async function readTranscodingFiles(
  spec: Spec,
  file: string,
  dir: string,
  positions: SpecPositions,
): Promise<ReadonlyMap<string, ReadCsvFile>> {
  // Two tables may share a file: it is read once. All reads start at once; a failure is a value, not a throw.
  const reads = new Map<string, Promise<Buffer | InputFileError>>();
  const readOnce = (path: string): Promise<Buffer | InputFileError> => {
    const started = reads.get(path) ?? readBoundedRegularFile(path).catch((error: InputFileError) => error);
    reads.set(path, started);
    return started;
  };
  const tables = Object.entries(spec.transcodings ?? {}).flatMap(([name, table]) => {
    if (table.csv === undefined) return [];
    const path = isAbsolute(table.csv) ? table.csv : resolve(dir, table.csv);
    return [{ name, path, read: readOnce(path) }];
  });
  const out = new Map<string, ReadCsvFile>();
  const problems: Diagnostic[] = [];
  const unreadable = new Set<string>();
  let wrongKind = false;
  for (const { name, path, read } of tables) {
    const bytes = await read;
    if (Buffer.isBuffer(bytes)) {
      out.set(name, { path, text: bytes.toString('utf8'), bytes });
      continue;
    }
    unreadable.add(path);
    wrongKind ||= isWrongFile(bytes);
    const segments = ['transcodings', name, 'csv'];
    // A table a base of the spec gives is not written in this file: no position rather than a wrong one.
    const written = positions.valueAt(segments) !== undefined;
    problems.push({
      message: `cannot read the transcoding file ${path}: ${readReason(bytes)}`,
      path: displayPath(segments),
      ...(written ? { position: positions.report(segments, 'key') } : {}),
    });
  }
  if (problems.length > 0) {
    const count = unreadable.size === 1 ? 'the transcoding file' : `${unreadable.size} transcoding files`;
    // A device, a FIFO or a huge file named as a table is a spec to fix, not a file to restore.
    throw new UserError(
      wrongKind ? 'SPEC_INVALID' : 'SPEC_READ',
      `${file}: cannot read ${count} ${[...unreadable].join(', ')}. A relative csv path is relative to the spec's directory (${dir}).`,
      problems.sort(comparePositions),
    );
  }
  return out;
}

interface Parsed {
  readonly data: unknown;
  readonly positions: SpecPositions;
  readonly problems: Diagnostic[];
  /** The structure is broken: validating it would only add noise. */
  readonly fatal: boolean;
}

function parse(text: string, file: string): Parsed {
  const isJson = extname(file).toLowerCase() === '.json';
  const lineCounter = new LineCounter();
  const language = isJson ? 'JSON' : 'YAML';
  // JSON is YAML 1.2 flow syntax; the json schema rejects YAML-only plain scalars such as `foo` or `yes`.
  let doc: Document;
  try {
    doc = parseDocument(text, {
      lineCounter,
      uniqueKeys: true,
      prettyErrors: false,
      ...(isJson ? { schema: 'json' as const } : {}),
    });
  } catch (error) {
    // The parser's own recursion (nesting far beyond MAX_DEPTH): a spec problem, not a crash.
    if (!(error instanceof RangeError)) throw error;
    const positions = new SpecPositions(parseDocument(''), lineCounter, file, isJson);
    const message = `the document is nested too deeply to be read (at most ${MAX_DEPTH} levels)`;
    return { data: undefined, positions, problems: [{ message, position: { file, line: 1, column: 1 } }], fatal: true };
  }
  const positions = new SpecPositions(doc, lineCounter, file, isJson);
  // Before any recursive walk of the tree (inspectTree, toJS, validation): see yaml-limits.ts.
  const shape = shapeProblem(doc);
  if (shape !== null) {
    const problems = [{ message: shape.message, position: positions.at(shape.offset) }];
    return { data: undefined, positions, problems, fatal: true };
  }
  const { duplicates, problems } = inspectTree(doc, positions, isJson);
  let fatal = problems.length > 0;
  const syntaxLines = new Set<number>();
  for (const e of doc.errors) {
    if (e.code === 'DUPLICATE_KEY') {
      problems.push({ message: duplicates.get(e.pos[0]) ?? e.message, position: positions.at(e.pos[0]) });
      continue;
    }
    fatal = true;
    const explained =
      e.code === 'MULTIPLE_DOCS'
        ? { message: 'a spec is a single document: remove this `---` and what follows it', offset: e.pos[0] }
        : explainYamlError(e, doc, text, language);
    const position = positions.at(explained.offset);
    // One syntax error per line: the parser's follow-on complaints about the same line are noise.
    if (position !== undefined && syntaxLines.has(position.line)) continue;
    if (position !== undefined) syntaxLines.add(position.line);
    problems.push({ message: explained.message, position });
  }
  // Warnings (unknown tags, unsupported directives) mean the value is not what the file seems to say.
  for (const w of doc.warnings)
    problems.push({ message: `${language}: ${w.message}`, position: positions.at(w.pos[0]) });
  if (fatal) return { data: undefined, positions, problems, fatal };
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT }); // guards against alias bombs
  } catch (error) {
    const message = `invalid ${language}: ${error instanceof Error ? error.message : String(error)}`;
    problems.push({ message, position: positions.at(0) });
    return { data: undefined, positions, problems, fatal: true };
  }
  if (data === null || data === undefined) {
    const message = `the spec is empty: expected a mapping with the keys ${specSchema.required.join(', ')}`;
    problems.push({ message, position: positions.at(0) });
    return { data, positions, problems, fatal: true };
  }
  return { data, positions, problems, fatal };
}

/**
 * Names duplicate keys (by the offset yaml reports them at) and finds what yaml accepts but a spec cannot
 * hold: keys that are lists or mappings, keys that are not text (YAML only), aliases to undefined anchors.
 */
function inspectTree(doc: Document, positions: SpecPositions, isJson: boolean) {
  const duplicates = new Map<number, string>();
  const problems: Diagnostic[] = [];
  visit(doc, {
    Map(_, map) {
      const seen = new Map<string, number>();
      for (const pair of map.items) {
        const key = isAlias(pair.key) ? pair.key.resolve(doc) : pair.key;
        const offset = (pair.key as { range?: [number, number, number] } | null)?.range?.[0] ?? 0;
        if (isCollection(key)) {
          problems.push({
            message: 'a key must be text, not a list or a mapping',
            position: positions.at(offset),
          });
        } else if (!isJson && key !== undefined && !(isScalar(key) && typeof key.value === 'string')) {
          problems.push({ message: nonStringKey(key), position: positions.at(offset) });
        } else if (isScalar(key) && !isAlias(pair.key)) {
          const name = String(key.value ?? '');
          const first = seen.get(name);
          if (first === undefined) seen.set(name, offset);
          else {
            const line = positions.at(first)?.line;
            duplicates.set(offset, `duplicate key ${JSON.stringify(name)} (first written at line ${line})`);
          }
        }
      }
    },
    Alias(_, alias) {
      if (alias.resolve(doc) !== undefined) return;
      const message = `unknown alias *${alias.source}: define the anchor &${alias.source} before using it`;
      problems.push({ message, position: positions.at(alias.range?.[0]) });
    },
  });
  return { duplicates, problems };
}

/**
 * A mapping key YAML read as a number, boolean or null: `toJS` would silently turn `061300:` into "61300"
 * (a UAI or a transcoding key losing its leading zero), so the spec must quote it.
 */
function nonStringKey(key: unknown): string {
  if (!isScalar(key)) return key === null ? 'a key is missing before ":"' : 'a key must be text';
  const written = key.source ?? String(key.value);
  if (written.trim() === '') return 'a key is missing before ":"';
  const value = key.value;
  const kind = typeof value === 'number' ? 'a number' : typeof value === 'boolean' ? 'a boolean' : 'null';
  const why =
    typeof value === 'number' && /^[+-]?0\d/.test(written)
      ? 'so that leading zeros are kept'
      : `so that it stays text (YAML reads it as ${kind})`;
  return `key ${written} must be a string: write it in quotes (${JSON.stringify(written)}) ${why}`;
}
