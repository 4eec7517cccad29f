/**
 * Reading a file that an input names (a spec, a file it extends, a CSV transcoding, a `${file:}` secret, the
 * plan key): it must be a regular file no bigger than a limit, checked with stat before reading and again by a
 * read that stops at the limit. `/dev/zero`, `/dev/urandom`, a FIFO or a directory would otherwise be read
 * forever, block, or fail with an unhelpful message.
 */
import { constants } from 'node:fs';
import { open } from 'node:fs/promises';

/** 10 MiB: the documented limit of specs, the files they extend, CSV transcodings and secret files. */
export const INPUT_FILE_LIMIT = 10 * 1024 * 1024;

/** 512 MiB: an LDIF export (a string longer than V8's limit could not be decoded anyway). */
export const LDIF_FILE_LIMIT = 512 * 1024 * 1024;

/** 1 MiB: a CA certificate file. */
export const CA_FILE_LIMIT = 1024 * 1024;

/** Why a named file cannot be read: the message says what the file is instead of what is expected. */
export class InputFileError extends Error {
  override readonly name = 'InputFileError';
  constructor(
    message: string,
    readonly code: string | undefined,
  ) {
    super(message);
  }
}

const kindOf = (mode: number): string => {
  const type = mode & constants.S_IFMT;
  if (type === constants.S_IFDIR) return 'a directory';
  if (type === constants.S_IFCHR) return 'a character device';
  if (type === constants.S_IFBLK) return 'a block device';
  if (type === constants.S_IFIFO) return 'a FIFO (named pipe)';
  if (type === constants.S_IFSOCK) return 'a socket';
  return 'not a regular file';
};

const size = (bytes: number): string =>
  bytes >= 1024 * 1024 ? `${(bytes / 1024 / 1024).toFixed(0)} MiB` : `${bytes} bytes`;

/**
 * The bytes of the regular file at `path`, at most `limit` of them. Opened without blocking (a FIFO with no
 * writer must not hang the open) and without following to a device: the opened file itself is checked.
 */
export async function readBoundedRegularFile(path: string, limit: number = INPUT_FILE_LIMIT): Promise<Buffer> {
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (error) {
    const e = error as NodeJS.ErrnoException;
    throw new InputFileError(e.message, e.code);
  }
  try {
    const info = await handle.stat();
    if (!info.isFile()) throw new InputFileError(`${path} is ${kindOf(info.mode)}, not a regular file`, 'ENOTREG');
    if (info.size > limit) {
      throw new InputFileError(`${path} is ${size(info.size)}, over the limit of ${size(limit)}`, 'EFBIG');
    }
    // Read until the end, never more than one byte past the limit: a file that grew since the stat, or one whose
    // stat says 0 bytes (/proc), is still bounded.
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      // The whole file at once when its size is right, then small steps for what it grew by.
      const want = chunks.length === 0 ? Math.max(info.size + 1, 64 * 1024) : 64 * 1024;
      const chunk = Buffer.allocUnsafe(Math.min(want, limit + 1 - total));
      const { bytesRead } = await handle.read(chunk, 0, chunk.length, null);
      if (bytesRead === 0) break;
      chunks.push(chunk.subarray(0, bytesRead));
      total += bytesRead;
      if (total > limit) throw new InputFileError(`${path} is over the limit of ${size(limit)}`, 'EFBIG');
    }
    return Buffer.concat(chunks, total);
  } catch (error) {
    if (error instanceof InputFileError) throw error;
    const e = error as NodeJS.ErrnoException;
    throw new InputFileError(e.message, e.code);
  } finally {
    await handle.close();
  }
}

/**
 * Why the file at `path` must not be read (not a regular file, over `limit`), or null: for checks that do not
 * read (`validate`). A file that cannot be opened is null too: the caller's own check reports it.
 */
export async function wrongInputFile(path: string, limit: number): Promise<string | null> {
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch {
    return null;
  }
  try {
    const info = await handle.stat();
    if (!info.isFile()) return `${path} is ${kindOf(info.mode)}, not a regular file`;
    if (info.size > limit) return `${path} is ${size(info.size)}, over the limit of ${size(limit)}`;
    return null;
  } finally {
    await handle.close();
  }
}

/** readBoundedRegularFile as UTF-8 text. */
export async function readBoundedText(path: string, limit: number = INPUT_FILE_LIMIT): Promise<string> {
  return (await readBoundedRegularFile(path, limit)).toString('utf8');
}
