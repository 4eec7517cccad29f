/** Digests of computed values: what the state records for objects built from many entries. */
import { createHash } from 'node:crypto';
import type { Fields } from '../model/change.js';

export function digestValues(values: Fields): string {
  const hash = createHash('sha256');
  for (const name of Object.keys(values).sort()) hash.update(`${name}\u0000${String(values[name])}\n`);
  return `sha256:${hash.digest('hex')}`;
}
