/**
 * Model → LDIF, streamed: records are produced one at a time and written in chunks of about 64 KiB, so a
 * 50,000-people directory is never held as one string (the model itself is a few tens of MB).
 */
import type { Writable } from 'node:stream';
import { directoryRecords } from './entries.js';
import { ldifComment, ldifRecord } from './ldif-writer.js';
import type { Directory } from './model.js';

const CHUNK_CHARS = 64 * 1024;

export interface LdifOptions {
  /** Header comment lines (ASCII), e.g. how the file was made. */
  readonly comment?: readonly string[];
}

/** The LDIF text in chunks of whole records (the first one starts with the header and `version: 1`). */
export function* directoryLdifChunks(dir: Directory, options: LdifOptions = {}): Generator<string> {
  let chunk = `${ldifComment(options.comment ?? [])}version: 1\n\n`;
  for (const record of directoryRecords(dir)) {
    chunk += ldifRecord(record.dn, record.attrs);
    if (chunk.length >= CHUNK_CHARS) {
      yield chunk;
      chunk = '';
    }
  }
  if (chunk !== '') yield chunk;
}

/** The whole LDIF as one string (tests, small directories). */
export function directoryLdif(dir: Directory, options: LdifOptions = {}): string {
  return [...directoryLdifChunks(dir, options)].join('');
}

/** Writes the LDIF to `out`, waiting for it to drain; does not end it. Resolves with the bytes written. */
export async function writeDirectoryLdif(dir: Directory, out: Writable, options: LdifOptions = {}): Promise<number> {
  let bytes = 0;
  for (const chunk of directoryLdifChunks(dir, options)) {
    bytes += Buffer.byteLength(chunk);
    if (!out.write(chunk)) {
      await new Promise<void>((resolve, reject) => {
        const onError = (error: Error) => {
          out.off('drain', onDrain);
          reject(error);
        };
        const onDrain = () => {
          out.off('error', onError);
          resolve();
        };
        out.once('drain', onDrain);
        out.once('error', onError);
      });
    }
  }
  return bytes;
}

export {
  type GenerateOptions,
  generateDirectory,
  MIN_PEOPLE_PER_ESTABLISHMENT,
  PEOPLE_PER_ESTABLISHMENT,
} from './build.js';
export { type ChurnOptions, type ChurnSummary, churnDirectory } from './churn.js';
export type { Directory } from './model.js';
