/**
 * Several files served as one (base initramfs + overlay), with the exact size known up front
 * (TFTP tsize, HTTP Content-Length).
 *
 * Exports:
 * - `ConcatPart` ({ path, size }), `ConcatFile` ({ key, size, parts }).
 * - `openConcat(parts)` -> `ConcatSource` { size, read(buffer, offset, length, position), close() }:
 *   the shape of the TFTP engine's TftpSource, for positioned reads in large chunks.
 * - `createConcatReadStream(parts, { start, end })`: a byte range (end inclusive, like
 *   fs.createReadStream) as a stream, for HTTP 200 and 206 responses.
 * - `ConcatError` (RB_CONCAT_RANGE, RB_CONCAT_CHANGED: a part is not the size it was announced with).
 *
 * A part that is a store blob carries its in-use mark (in-use.ts): it is touched before the part
 * is opened and, throttled, while it is read, so `rackboot image gc` in another process keeps it.
 */
import { createReadStream } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { markInUse } from './in-use.js';
import type { TftpSource } from '../tftp/source.js';

export interface ConcatPart {
  path: string;
  size: number;
  /** Store blobs only (BlobStore.servedPart): the mark that tells gc the blob is being served. */
  inUseMark?: string;
}

export interface ConcatFile {
  /** Identifies the content (the base digest, or the overlay cache key). */
  key: string;
  size: number;
  parts: ConcatPart[];
}

/** Positioned reads over the parts: exactly what the TFTP engine serves from. */
export type ConcatSource = TftpSource;

export class ConcatError extends Error {
  constructor(
    readonly code: 'RB_CONCAT_RANGE' | 'RB_CONCAT_CHANGED',
    message: string,
  ) {
    super(message);
    this.name = 'ConcatError';
  }
}

export function concatSize(parts: readonly ConcatPart[]): number {
  return parts.reduce((total, part) => total + part.size, 0);
}

/** Resolves once the mark is written (or throttled away); parts without a mark need nothing. */
function markPart(part: ConcatPart): Promise<void> {
  return part.inUseMark ? markInUse(part.inUseMark) : Promise.resolve();
}

function changed(part: ConcatPart): ConcatError {
  return new ConcatError('RB_CONCAT_CHANGED', `${part.path} is no longer ${part.size} bytes; the served file would be corrupt`);
}

export async function openConcat(parts: readonly ConcatPart[]): Promise<ConcatSource> {
  const handles: FileHandle[] = [];
  try {
    for (const part of parts) {
      await markPart(part);
      const handle = await open(part.path, 'r');
      handles.push(handle);
      if ((await handle.stat()).size !== part.size) throw changed(part);
    }
  } catch (error) {
    await Promise.all(handles.map((handle) => handle.close()));
    throw error;
  }
  const size = concatSize(parts);
  return {
    size,
    async read(buffer, offset, length, position) {
      let done = 0;
      let partStart = 0;
      for (let index = 0; index < parts.length && done < length; index += 1) {
        const part = parts[index] as ConcatPart;
        const partEnd = partStart + part.size;
        const at = position + done;
        if (at < partEnd) {
          const want = Math.min(length - done, partEnd - at);
          void markPart(part); // long transfers stay marked; not awaited, reads never wait on it
          const { bytesRead } = await (handles[index] as FileHandle).read(buffer, offset + done, want, at - partStart);
          if (bytesRead !== want) throw changed(part);
          done += want;
        }
        partStart = partEnd;
      }
      return done;
    },
    async close() {
      await Promise.all(handles.map((handle) => handle.close()));
    },
  };
}

export function createConcatReadStream(parts: readonly ConcatPart[], range: { start?: number; end?: number } = {}): Readable {
  const size = concatSize(parts);
  const start = range.start ?? 0;
  const end = range.end ?? size - 1;
  if (!Number.isInteger(start) || !Number.isInteger(end) || start < 0 || end >= size || start > end + 1) {
    throw new ConcatError('RB_CONCAT_RANGE', `range ${start}-${end} is outside a ${size}-byte file`);
  }
  return Readable.from(rangeChunks(parts, start, end));
}

async function* rangeChunks(parts: readonly ConcatPart[], start: number, end: number): AsyncGenerator<Buffer> {
  let partStart = 0;
  for (const part of parts) {
    const partEnd = partStart + part.size; // exclusive
    const from = Math.max(start, partStart);
    const to = Math.min(end + 1, partEnd); // exclusive
    if (from < to) {
      await markPart(part);
      let read = 0;
      for await (const chunk of createReadStream(part.path, { start: from - partStart, end: to - partStart - 1, highWaterMark: 256 * 1024 })) {
        void markPart(part); // a slow client keeps the mark fresh; not awaited
        read += (chunk as Buffer).length;
        yield chunk as Buffer;
      }
      if (read !== to - from) throw changed(part);
    }
    partStart = partEnd;
  }
}
