import { constants } from 'node:fs';
import { open, readlink, realpath, type FileHandle } from 'node:fs/promises';
import path from 'node:path';

import type { RefusalCode } from './refusals.js';

export type SafeOpenCode = RefusalCode;

export class SafeOpenError extends Error {
  constructor(
    readonly code: SafeOpenCode,
    message: string,
  ) {
    super(message);
  }
}

export interface OpenedFile {
  /** Real absolute path (symlinks resolved) of a regular file inside the root. */
  path: string;
  size: number;
  /** Open read-only; the caller closes it. */
  handle: FileHandle;
}

/** Whether `real` is `realRoot` or lies below it (both with symlinks resolved). */
export function isInside(realRoot: string, real: string): boolean {
  return real === realRoot || real.startsWith(realRoot.endsWith(path.sep) ? realRoot : realRoot + path.sep);
}

/** Reasons a client-supplied relative path is refused before touching the file system. */
function unsafeReason(relativePath: string): string | undefined {
  if (relativePath === '') return 'empty path';
  if (relativePath.includes('\0')) return 'NUL byte in path';
  if (relativePath.includes('\\')) return 'backslash in path';
  if (relativePath.startsWith('/')) return 'absolute path';
  if (relativePath.split('/').includes('..')) return '".." in path';
  return undefined;
}

/**
 * Opens `relativePath` under `root` for reading, refusing anything that would leave the root.
 * The errors never name `root`: they reach TFTP and HTTP clients, who have no business knowing
 * the server's directories.
 * Symlinks inside the root are followed; where the opened descriptor really points is checked
 * afterwards (via /proc/self/fd), so a symlink swapped in between check and open cannot escape.
 * Directories, sockets and FIFOs count as not found (O_NONBLOCK keeps a FIFO from hanging the open).
 */
export async function openHandleUnderRoot(root: string, relativePath: string): Promise<OpenedFile> {
  const reason = unsafeReason(relativePath);
  if (reason) throw new SafeOpenError('RB_PATH_TRAVERSAL', `refused ${JSON.stringify(relativePath)}: ${reason}`);
  const realRoot = await realpath(root).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT' || error.code === 'ENOTDIR') throw new SafeOpenError('RB_NOT_FOUND', `${relativePath}: the directory it is served from does not exist`);
    throw error;
  });
  let handle: FileHandle;
  try {
    handle = await open(path.join(realRoot, relativePath), constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EACCES' || code === 'EPERM') throw new SafeOpenError('RB_ACCESS_DENIED', `${relativePath}: permission denied`);
    if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'ELOOP') throw new SafeOpenError('RB_NOT_FOUND', `${relativePath}: no such file`);
    throw error;
  }
  try {
    const real = await readlink(`/proc/self/fd/${handle.fd}`);
    if (!isInside(realRoot, real)) {
      throw new SafeOpenError('RB_PATH_TRAVERSAL', `refused ${JSON.stringify(relativePath)}: it resolves outside the directory it is served from`);
    }
    const stats = await handle.stat();
    if (!stats.isFile()) throw new SafeOpenError('RB_NOT_FOUND', `${relativePath}: not a regular file`);
    return { path: real, size: stats.size, handle };
  } catch (error) {
    await handle.close();
    throw error;
  }
}
