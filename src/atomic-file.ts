/**
 * Atomic file writes that a full disk cannot cut: the text goes to a temporary file next to the target, written
 * in a loop until every byte is accepted (a short write is followed by another, which then fails with ENOSPC
 * or EIO instead of being ignored), fsynced, read back and compared by digest; only then is it renamed over
 * the target. Any failure leaves the target as it was and removes the temporary file.
 *
 * Temporary files are named `<target>.l2m-tmp.<pid>.<random>`, so that those a killed run left behind can be
 * recognised and removed (`removeLeftoverTemporaries`) by a later run that holds the target's lock.
 */
import { createHash, randomBytes } from 'node:crypto';
import { chmod, open, readdir, readFile, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

const TEMP_MARK = 'l2m-tmp';

const digest = (data: Uint8Array): string => createHash('sha256').update(data).digest('hex');

/** Thrown when the temporary file's content is not what was written (a failing disk). */
export class WriteVerificationError extends Error {
  override readonly name = 'WriteVerificationError';
}

/**
 * Writes `text` to `path` atomically with mode `mode`. Rejects with the file system's error (ENOSPC, EIO,
 * EACCES...) or a WriteVerificationError; the caller turns it into its coded error.
 */
export async function writeFileAtomically(path: string, text: string, mode = 0o600): Promise<void> {
  const data = Buffer.from(text, 'utf8');
  const temp = `${path}.${TEMP_MARK}.${process.pid}.${randomBytes(6).toString('hex')}`;
  const handle = await open(temp, 'wx', mode);
  let open_ = true;
  try {
    let offset = 0;
    while (offset < data.length) {
      const { bytesWritten } = await handle.write(data, offset, data.length - offset, offset);
      // A write that accepts nothing without an error would loop forever: call it what it is.
      if (bytesWritten <= 0)
        throw Object.assign(new Error('no space left on device (nothing written)'), { code: 'ENOSPC' });
      offset += bytesWritten;
    }
    await handle.sync();
    open_ = false;
    await handle.close();
    // The umask may have narrowed the mode; it never widens it, but say exactly what the file is.
    await chmod(temp, mode);
    const back = await readFile(temp);
    if (back.length !== data.length || digest(back) !== digest(data)) {
      throw new WriteVerificationError(
        `${temp} reads back ${back.length} bytes unlike the ${data.length} written (a failing disk?)`,
      );
    }
    await rename(temp, path);
  } catch (error) {
    if (open_) await handle.close().catch(() => undefined);
    await rm(temp, { force: true }).catch(() => undefined);
    throw error;
  }
}

/**
 * Names of temporary files of `path` that a run killed mid-write may have left: this tool's
 * (`<name>.l2m-tmp.<pid>.<hex>`) and those of the write-file-atomic library used before
 * (`<name>.<decimal hash>`).
 */
export function isLeftoverTemporary(targetName: string, candidate: string): boolean {
  if (!candidate.startsWith(`${targetName}.`)) return false;
  const rest = candidate.slice(targetName.length + 1);
  return new RegExp(`^${TEMP_MARK}\\.\\d+\\.[0-9a-f]+$`).test(rest) || /^\d+$/.test(rest);
}

/**
 * Removes the temporary files of each of `paths` left by earlier runs; returns the names removed. Call it
 * only while holding the lock that every writer of these paths holds: a concurrent writer's temporary file
 * would be taken for debris otherwise.
 */
export async function removeLeftoverTemporaries(paths: readonly string[]): Promise<string[]> {
  const removed: string[] = [];
  const byDir = new Map<string, string[]>();
  for (const path of paths) byDir.set(dirname(path), [...(byDir.get(dirname(path)) ?? []), basename(path)]);
  for (const [dir, names] of byDir) {
    const entries = await readdir(dir).catch(() => [] as string[]);
    for (const entry of entries) {
      if (!names.some((name) => isLeftoverTemporary(name, entry))) continue;
      await rm(join(dir, entry), { force: true });
      removed.push(join(dir, entry));
    }
  }
  return removed;
}
