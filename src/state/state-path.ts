/** Where the state lives: `state.path` (relative to the spec), or `<spec name>.state.json` next to the spec. */
import { basename, extname, isAbsolute, join, resolve } from 'node:path';
import type { LoadedSpec } from '../spec/load.js';

export function statePath(loaded: LoadedSpec): string {
  const configured = loaded.spec.state?.path;
  if (configured !== undefined) return isAbsolute(configured) ? configured : resolve(loaded.dir, configured);
  return join(loaded.dir, `${basename(loaded.path, extname(loaded.path))}.state.json`);
}
