/** Where the state and the run reports live. */
import { basename, dirname, extname, isAbsolute, join, resolve } from 'node:path';
import type { LoadedSpec } from '../spec/load.js';

/** Where the state lives: `state.path` (relative to the spec), or `<spec name>.state.json` next to the spec. */
export function statePath(loaded: LoadedSpec): string {
  const configured = loaded.spec.state?.path;
  if (configured !== undefined) return isAbsolute(configured) ? configured : resolve(loaded.dir, configured);
  return join(loaded.dir, `${basename(loaded.path, extname(loaded.path))}.state.json`);
}

/** Where the run reports go: `reports.dir` (relative to the spec), or `<spec name>.reports/` next to the state. */
export function reportsDir(loaded: LoadedSpec): string {
  const configured = loaded.spec.reports?.dir;
  if (configured !== undefined) return isAbsolute(configured) ? configured : resolve(loaded.dir, configured);
  return join(dirname(statePath(loaded)), `${basename(loaded.path, extname(loaded.path))}.reports`);
}

/** Reports kept in `reportsDir` (the oldest beyond are removed after each run). */
export const reportsKept = (loaded: LoadedSpec): number => loaded.spec.reports?.keep ?? 400;
