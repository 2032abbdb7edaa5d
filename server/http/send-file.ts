import { createReadStream } from 'node:fs';
import { PassThrough, type Readable } from 'node:stream';
import type { FastifyReply, FastifyRequest } from 'fastify';
import parseRange from 'range-parser';
import type { ServedFile } from '../boot/files.js';

/** Streams [start, end] (inclusive) of files laid back to back, opening each only when reached. */
function streamParts(parts: { path: string; size: number }[], start: number, end: number): Readable {
  const out = new PassThrough();
  (async () => {
    let offset = 0;
    for (const part of parts) {
      const from = Math.max(start - offset, 0);
      const to = Math.min(end - offset, part.size - 1);
      offset += part.size;
      if (to < from) continue;
      for await (const chunk of createReadStream(part.path, { start: from, end: to, highWaterMark: 256 * 1024 })) {
        if (!out.write(chunk)) await new Promise((resolve) => out.once('drain', resolve));
      }
    }
    out.end();
  })().catch((error: Error) => out.destroy(error));
  return out;
}

/** Sends a boot file with Content-Length, an ETag and single-range support. */
export function sendServedFile(request: FastifyRequest, reply: FastifyReply, file: ServedFile, type: string) {
  reply.type(type).header('accept-ranges', 'bytes');
  if (file.etag) reply.header('etag', `"${file.etag}"`);
  const size = file.kind === 'bytes' ? file.data.length : file.size;
  const header = request.headers.range;
  let start = 0;
  let end = size - 1;
  if (header && size > 0) {
    const ranges = parseRange(size, header, { combine: true });
    if (ranges === -1) {
      return reply.code(416).header('content-range', `bytes */${size}`).send();
    }
    // Multiple ranges would need multipart bodies; no boot client asks for them, so send it whole.
    if (ranges !== -2 && ranges.length === 1) {
      start = ranges[0]!.start;
      end = ranges[0]!.end;
      reply.code(206).header('content-range', `bytes ${start}-${end}/${size}`);
    }
  }
  reply.header('content-length', end - start + 1);
  if (request.method === 'HEAD' || size === 0) return reply.send(file.kind === 'bytes' ? file.data.subarray(start, end + 1) : '');
  return reply.send(file.kind === 'bytes' ? file.data.subarray(start, end + 1) : streamParts(file.parts, start, end));
}
