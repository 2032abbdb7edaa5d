import { createReadStream } from 'node:fs';
import type { FastifyReply, FastifyRequest } from 'fastify';
import parseRange from 'range-parser';
import type { ServedFile } from '../boot/files.js';
import { createConcatReadStream } from '../images/concat.js';

/** Sends a boot file with Content-Length, an ETag and single-range support. */
export function sendServedFile(request: FastifyRequest, reply: FastifyReply, file: ServedFile, type: string) {
  reply.type(type).header('accept-ranges', 'bytes');
  if (file.etag) reply.header('etag', `"${file.etag}"`);
  const size = file.kind === 'bytes' ? file.data.length : file.size;
  // An open file's handle is closed on every path: by its stream, or here when nothing is streamed.
  const closeUnstreamed = () => {
    if (file.kind === 'open') void file.handle.close().catch(() => {});
  };
  const header = request.headers.range;
  let start = 0;
  let end = size - 1;
  if (header && size > 0) {
    const ranges = parseRange(size, header, { combine: true });
    if (ranges === -1) {
      closeUnstreamed();
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
  if (file.kind === 'bytes') return reply.send(file.data.subarray(start, end + 1));
  if (size === 0) {
    closeUnstreamed();
    return reply.send('');
  }
  if (file.kind === 'parts') return reply.send(createConcatReadStream(file.parts, { start, end }));
  // fastify destroys the stream when the response ends early (HEAD, a client gone), which closes the handle.
  return reply.send(createReadStream('', { fd: file.handle, start, end, highWaterMark: 256 * 1024 }));
}
