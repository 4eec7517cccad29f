/** Writing the page (or its JSON, its Markdown) where `report --out` says: whole or not at all. */
import { writeFileAtomically } from '../atomic-file.js';
import { UserError } from '../errors.js';

/**
 * Writes `text` to `path` atomically (temporary file, fsync, rename): a web server publishing the page, or a
 * browser with it open, never sees half of one. Mode 0644: the page is meant to be read (it is redacted).
 */
export async function writeReportOutput(path: string, text: string): Promise<void> {
  try {
    await writeFileAtomically(path, text, 0o644);
  } catch (error) {
    throw new UserError('REPORT_WRITE', `cannot write ${path}: ${(error as Error).message}`, [], { cause: error });
  }
}
