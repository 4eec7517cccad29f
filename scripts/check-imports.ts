// The import direction of src/: the pipeline's stages import only earlier stages, src/model/ imports nothing
// of the project, the database dialects are imported only inside src/moodle/, and the CLI only through the
// library API (src/index.ts). Prints every violation and
// exits 1 when there is one: `npm run check:imports`; the tests run it too (test/unit/import-direction.test.ts).
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The layers of src/, earliest first: a module may import modules of its own layer or of earlier ones. The
 * entity catalogue is facts that every stage reads, next to the model; `apply` writes the state, so it comes
 * after it; the orchestration (pipeline/, demo, the library API, the CLI) comes last.
 */
export const LAYERS: readonly (readonly string[])[] = [
  ['model', 'entities/catalog.ts'],
  [
    'errors.ts',
    'version.ts',
    'failpoint.ts',
    'duration.ts',
    'lock-wait.ts',
    'lock-file.ts',
    'atomic-file.ts',
    'bounded-read.ts',
    'printable.ts',
    'observe',
  ],
  ['spec'],
  ['source'],
  ['rules'],
  ['moodle'],
  ['entities'],
  ['plan'],
  ['render'],
  ['state'],
  ['apply'],
  ['generate'],
  ['pipeline', 'demo.ts', 'report'],
  ['index.ts'],
  ['cli'],
];

/** The layer of a path relative to src/ (`plan/plan.ts`): the longest matching entry wins. */
export function layerOf(path: string): number {
  let best = { layer: -1, length: -1 };
  LAYERS.forEach((entries, layer) => {
    for (const entry of entries) {
      const matches = entry.endsWith('.ts') ? path === entry : path.startsWith(`${entry}/`);
      if (matches && entry.length > best.length) best = { layer, length: entry.length };
    }
  });
  return best.layer;
}

/**
 * Violations in a graph of `{ from, to }` edges between paths relative to src/: a module importing a later layer,
 * the model importing anything of the project, the catalogue importing more than the model, a dialect imported
 * from outside src/moodle/, the CLI importing anything but itself and src/index.ts, a module in no layer.
 */
/** One import: the importing module and the imported one, relative to src/. */
export interface ImportEdge {
  readonly from: string;
  readonly to: string;
}

export function violations(edges: readonly ImportEdge[]): string[] {
  const out = new Set<string>();
  for (const { from, to } of edges) {
    const a = layerOf(from);
    const b = layerOf(to);
    if (a < 0) out.add(`${from}: in no layer of scripts/check-imports.ts (add its folder)`);
    else if (b < 0) out.add(`${from} imports ${to}, which is in no layer`);
    else if (from.startsWith('model/') && !to.startsWith('model/'))
      out.add(`${from} imports ${to}: src/model/ imports nothing of the project`);
    else if (from === 'entities/catalog.ts' && !to.startsWith('model/'))
      out.add(`${from} imports ${to}: the entity catalogue imports only src/model/`);
    else if (b > a)
      out.add(`${from} imports ${to}: a later stage (${LAYERS[b]?.join(', ')} after ${LAYERS[a]?.join(', ')})`);
    if (from.startsWith('cli/') && !to.startsWith('cli/') && to !== 'index.ts')
      out.add(`${from} imports ${to}: the CLI runs on the library API, src/index.ts, alone`);
    if (to.startsWith('moodle/dialects/') && !from.startsWith('moodle/'))
      out.add(`${from} imports ${to}: dialects are only imported inside src/moodle/`);
  }
  return [...out];
}

/** The import edges of every .ts file under `root` (relative imports only: packages are not the project). */
export function importGraph(root: string): ImportEdge[] {
  const files: string[] = [];
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else if (name.endsWith('.ts')) files.push(path);
    }
  };
  walk(root);
  const edges: ImportEdge[] = [];
  const specifier = /^\s*(?:import|export)\b[^'"]*?\bfrom\s+['"](\.[^'"]+)['"]|^\s*import\s+['"](\.[^'"]+)['"]/gm;
  const dynamic = /\bimport\(\s*['"](\.[^'"]+)['"]\s*\)/g;
  for (const file of files) {
    const text = readFileSync(file, 'utf8');
    const targets = [...text.matchAll(specifier)].flatMap((m) => m[1] ?? m[2] ?? []);
    for (const m of text.matchAll(dynamic)) if (m[1] !== undefined) targets.push(m[1]);
    for (const target of targets) {
      const to = resolve(dirname(file), target).replace(/\.js$/, '.ts');
      const rel = (p: string): string => relative(root, p).split(sep).join('/');
      edges.push({ from: rel(file), to: rel(to) });
    }
  }
  return edges;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', 'src');
  const found = violations(importGraph(root));
  for (const line of found) process.stderr.write(`${line}\n`);
  if (found.length > 0) {
    process.stderr.write(
      `${found.length} import${found.length === 1 ? '' : 's'} against the direction of the pipeline\n`,
    );
    process.exit(1);
  }
  process.stdout.write('imports follow the pipeline: no stage imports a later one\n');
}
