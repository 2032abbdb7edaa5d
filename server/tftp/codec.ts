/**
 * TFTP wire format (RFC 1350, options per RFC 2347). Pure: bytes in, plain objects out. `decode`
 * never throws: anything that is not a well-formed packet comes back as `{ kind: 'invalid' }`.
 */

export const Opcode = { RRQ: 1, WRQ: 2, DATA: 3, ACK: 4, ERROR: 5, OACK: 6 } as const;

export const ErrorCode = {
  NOT_DEFINED: 0,
  FILE_NOT_FOUND: 1,
  ACCESS_VIOLATION: 2,
  DISK_FULL: 3,
  ILLEGAL_OPERATION: 4,
  UNKNOWN_TID: 5,
  FILE_EXISTS: 6,
  NO_SUCH_USER: 7,
  OPTION_REFUSED: 8,
} as const;

/** Largest block size RFC 2348 allows (a 65535-byte UDP payload minus IP/UDP/TFTP headers). */
export const MAX_BLKSIZE = 65464;
export const MIN_BLKSIZE = 8;
export const DEFAULT_BLKSIZE = 512;

export interface RequestPacket {
  kind: 'request';
  write: boolean;
  filename: string;
  /** Lower-cased. */
  mode: string;
  /** Option names lower-cased (RFC 2347 names are case-insensitive); the first occurrence wins. */
  options: Map<string, string>;
}

export type Packet =
  | RequestPacket
  | { kind: 'data'; block: number; payload: Buffer }
  | { kind: 'ack'; block: number }
  | { kind: 'error'; code: number; message: string }
  | { kind: 'oack'; options: Map<string, string> }
  | { kind: 'invalid'; reason: string };

/** Splits NUL-terminated strings; a trailing fragment without its NUL is reported separately. */
function nulStrings(buf: Buffer, start: number): { strings: string[]; unterminated: boolean } {
  const strings: string[] = [];
  let from = start;
  while (from < buf.length) {
    const end = buf.indexOf(0, from);
    if (end === -1) return { strings, unterminated: true };
    strings.push(buf.toString('utf8', from, end));
    from = end + 1;
  }
  return { strings, unterminated: false };
}

function optionMap(pairs: string[]): Map<string, string> {
  const options = new Map<string, string>();
  for (let i = 0; i + 1 < pairs.length; i += 2) {
    const name = pairs[i]!.toLowerCase();
    if (!options.has(name)) options.set(name, pairs[i + 1]!);
  }
  return options;
}

export function decode(buf: Buffer): Packet {
  if (buf.length < 2) return { kind: 'invalid', reason: `datagram of ${buf.length} byte(s)` };
  const opcode = buf.readUInt16BE(0);
  switch (opcode) {
    case Opcode.RRQ:
    case Opcode.WRQ: {
      const { strings } = nulStrings(buf, 2);
      const [filename, mode, ...rest] = strings;
      if (filename === undefined || mode === undefined) return { kind: 'invalid', reason: 'request without a NUL-terminated filename and mode' };
      if (filename === '') return { kind: 'invalid', reason: 'request with an empty filename' };
      return { kind: 'request', write: opcode === Opcode.WRQ, filename, mode: mode.toLowerCase(), options: optionMap(rest) };
    }
    case Opcode.DATA:
      if (buf.length < 4) return { kind: 'invalid', reason: 'short DATA' };
      return { kind: 'data', block: buf.readUInt16BE(2), payload: buf.subarray(4) };
    case Opcode.ACK:
      if (buf.length < 4) return { kind: 'invalid', reason: 'short ACK' };
      return { kind: 'ack', block: buf.readUInt16BE(2) };
    case Opcode.ERROR: {
      if (buf.length < 4) return { kind: 'invalid', reason: 'short ERROR' };
      const end = buf.indexOf(0, 4);
      return { kind: 'error', code: buf.readUInt16BE(2), message: buf.toString('utf8', 4, end === -1 ? buf.length : end) };
    }
    case Opcode.OACK:
      return { kind: 'oack', options: optionMap(nulStrings(buf, 2).strings) };
    default:
      return { kind: 'invalid', reason: `unknown opcode ${opcode}` };
  }
}

/** The block number of an ACK, or -1 for any other datagram: the per-packet path, no allocation. */
export function ackBlock(buf: Buffer): number {
  return buf.length >= 4 && buf.readUInt16BE(0) === Opcode.ACK ? buf.readUInt16BE(2) : -1;
}

export function isError(buf: Buffer): boolean {
  return buf.length >= 2 && buf.readUInt16BE(0) === Opcode.ERROR;
}

function nulJoined(opcode: number, strings: readonly string[]): Buffer {
  const parts = strings.map((s) => Buffer.from(s, 'utf8'));
  const out = Buffer.alloc(2 + parts.reduce((n, p) => n + p.length + 1, 0));
  out.writeUInt16BE(opcode, 0);
  let at = 2;
  for (const part of parts) {
    part.copy(out, at);
    at += part.length + 1;
  }
  return out;
}

export function encodeRequest(write: boolean, filename: string, mode: string, options: Iterable<[string, string]> = []): Buffer {
  return nulJoined(write ? Opcode.WRQ : Opcode.RRQ, [filename, mode, ...[...options].flat()]);
}

export function encodeOack(options: Iterable<[string, string]>): Buffer {
  return nulJoined(Opcode.OACK, [...options].flat());
}

export function encodeError(code: number, message: string): Buffer {
  const text = Buffer.from(message, 'utf8');
  const out = Buffer.alloc(5 + text.length);
  out.writeUInt16BE(Opcode.ERROR, 0);
  out.writeUInt16BE(code, 2);
  text.copy(out, 4);
  return out;
}

export function encodeAck(block: number): Buffer {
  const out = Buffer.alloc(4);
  out.writeUInt16BE(Opcode.ACK, 0);
  out.writeUInt16BE(block & 0xffff, 2);
  return out;
}

/** Fills a 4-byte DATA header in place; block numbers roll over to 0 after 65535. */
export function writeDataHeader(header: Buffer, block: number): void {
  header.writeUInt16BE(Opcode.DATA, 0);
  header.writeUInt16BE(block & 0xffff, 2);
}
