import type { FastifyReply, FastifyRequest } from 'fastify';
import parseRange from 'range-parser';
import type { ServedFile } from '../boot/files.js';
import { createConcatReadStream } from '../images/concat.js';

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
  if (file.kind === 'bytes') return reply.send(file.data.subarray(start, end + 1));
  return reply.send(size === 0 ? '' : createConcatReadStream(file.parts, { start, end }));
}
