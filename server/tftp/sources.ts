import type { FileHandle } from 'node:fs/promises';
import type { TftpSource } from './source.js';

/**
 * Serves an already open file. Reading through the descriptor (not the path) is what keeps a
 * transfer consistent when the file is replaced by rename while it runs.
 */
export function handleSource(handle: FileHandle, size: number): TftpSource {
  return {
    size,
    read: async (buffer, offset, length, position) => (await handle.read(buffer, offset, length, position)).bytesRead,
    close: () => handle.close(),
  };
}

/** Generated content (config.txt, cmdline.txt): served from memory. */
export function bufferSource(buf: Buffer): TftpSource {
  return {
    size: buf.length,
    read: async (buffer, offset, length, position) => buf.copy(buffer, offset, position, Math.min(buf.length, position + length)),
    close: async () => {},
  };
}
