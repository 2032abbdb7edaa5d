/**
 * Pure DHCPv4 packet codec (RFC 2131 / 2132, RFC 3396 long options). No sockets, no policy.
 * decode() never throws: a malformed packet comes back as { ok: false, reason } so the engine
 * can count and log the drop.
 */

export interface DhcpPacket {
  op: number;
  htype: number;
  hlen: number;
  hops: number;
  xid: number;
  secs: number;
  flags: number;
  ciaddr: string;
  yiaddr: string;
  siaddr: string;
  giaddr: string;
  /** The 16-byte chaddr field; the hardware address is its first hlen bytes. */
  chaddr: Buffer;
  sname: string;
  file: string;
  /**
   * Options by code, in wire order. Values are raw bytes: unknown options are kept as they came.
   * A code seen several times is concatenated (RFC 3396). Pad, end and overload (52) are
   * consumed by the codec and never appear here.
   */
  options: Map<number, Buffer>;
}

export type DecodeResult = { ok: true; packet: DhcpPacket } | { ok: false; reason: string };

export const BOOTREQUEST = 1;
export const BOOTREPLY = 2;
export const BROADCAST_FLAG = 0x8000;
export const ZERO_IP = '0.0.0.0';

const MAGIC_COOKIE = 0x63825363;
const OPT_PAD = 0;
const OPT_END = 255;
const OPT_OVERLOAD = 52;
const OPT_BOOTFILE = 67;
const OPT_RELAY_AGENT = 82;
const SNAME_OFFSET = 44;
const SNAME_LENGTH = 64;
const FILE_OFFSET = 108;
const FILE_LENGTH = 128;
const COOKIE_OFFSET = 236;
const OPTIONS_OFFSET = 240;
/** BOOTP's minimum message; some relays and ROMs drop shorter replies. */
const MIN_PACKET = 300;
/**
 * Every DHCP client must accept an options field of 312 bytes (RFC 2131 section 2): 236 + 312 =
 * 548 bytes of DHCP payload, a 576-byte IP datagram.
 */
const DEFAULT_MAX_MESSAGE = 548;
/** IPv4 and UDP headers: what separates option 57's datagram size from the DHCP payload. */
const IP_UDP_HEADERS = 28;
/** Option 57 below this is not a legal value (RFC 2132 9.10) and is ignored. */
const MIN_LEGAL_MAX_MESSAGE = 576;

function readIp(buf: Buffer, at: number): string {
  return `${buf[at]}.${buf[at + 1]}.${buf[at + 2]}.${buf[at + 3]}`;
}

function writeIp(buf: Buffer, at: number, ip: string): void {
  const parts = ip.split('.');
  for (let i = 0; i < 4; i++) buf[at + i] = Number(parts[i]) & 255;
}

function readCString(buf: Buffer, at: number, length: number): string {
  const end = buf.indexOf(0, at);
  return buf.toString('latin1', at, end === -1 || end > at + length ? at + length : end);
}

/**
 * Option instances one packet may carry. A full-size datagram of empty options holds ~21,000;
 * real clients send a few dozen (one of every code plus RFC 3396 splits stays under 300), so
 * past this the packet is hostile and decoding stops before it costs anything more.
 */
export const MAX_OPTION_INSTANCES = 512;

/**
 * What the option areas hold before concatenation: each code's values in wire order. Repeats
 * are joined once at the end, so decoding copies each option byte at most once (a concat per
 * repeat made one 63 KB packet cost ~270 ms of event loop).
 */
interface OptionParts {
  values: Map<number, Buffer[]>;
  instances: number;
}

/** Parses one option area into `into`; returns the overload value seen, or an error text. */
function readOptionArea(buf: Buffer, start: number, end: number, into: OptionParts): number | string {
  let overload = 0;
  let i = start;
  while (i < end) {
    const code = buf[i]!;
    if (code === OPT_PAD) {
      i++;
      continue;
    }
    if (code === OPT_END) return overload;
    if (i + 1 >= end) return `option ${code} at byte ${i} has no length`;
    if (++into.instances > MAX_OPTION_INSTANCES) return `more than ${MAX_OPTION_INSTANCES} option instances`;
    const length = buf[i + 1]!;
    const valueEnd = i + 2 + length;
    if (valueEnd > end) return `option ${code} at byte ${i} runs past its area (length ${length})`;
    const value = buf.subarray(i + 2, valueEnd);
    if (code === OPT_OVERLOAD) {
      overload = length === 1 ? value[0]! : 0;
    } else {
      const earlier = into.values.get(code);
      if (earlier) earlier.push(value);
      else into.values.set(code, [value]);
    }
    i = valueEnd;
  }
  // A missing end option is tolerated: several ROMs pad to the end of the frame instead.
  return overload;
}

function joinOptions(parts: OptionParts): Map<number, Buffer> {
  const options = new Map<number, Buffer>();
  for (const [code, values] of parts.values) options.set(code, values.length === 1 ? values[0]! : Buffer.concat(values));
  return options;
}

/** The fixed-header fields; options are read only when asked for (decodeOptions). */
export type DhcpHeader = Omit<DhcpPacket, 'options' | 'sname' | 'file'>;

export type HeaderResult = { ok: true; header: DhcpHeader } | { ok: false; reason: string };

/**
 * The checks that cost no option parsing (size, cookie, hlen) and the fixed header, so a caller
 * can turn away a foreign packet (op, htype, subnet) before the options are read.
 */
export function decodeHeader(buf: Buffer): HeaderResult {
  if (buf.length < OPTIONS_OFFSET) return { ok: false, reason: `too short (${buf.length} bytes, need ${OPTIONS_OFFSET})` };
  if (buf.readUInt32BE(COOKIE_OFFSET) !== MAGIC_COOKIE) return { ok: false, reason: 'no DHCP magic cookie' };
  const hlen = buf[2]!;
  if (hlen > 16) return { ok: false, reason: `hardware address length ${hlen} > 16` };
  return {
    ok: true,
    header: {
      op: buf[0]!,
      htype: buf[1]!,
      hlen,
      hops: buf[3]!,
      xid: buf.readUInt32BE(4),
      secs: buf.readUInt16BE(8),
      flags: buf.readUInt16BE(10),
      ciaddr: readIp(buf, 12),
      yiaddr: readIp(buf, 16),
      siaddr: readIp(buf, 20),
      giaddr: readIp(buf, 24),
      chaddr: buf.subarray(28, 44),
    },
  };
}

/** Reads the options (and sname/file, which overload may have used) of a packet whose header passed; completes `header`. */
export function decodeOptions(buf: Buffer, header: DhcpHeader): DecodeResult {
  const parts: OptionParts = { values: new Map(), instances: 0 };
  const overload = readOptionArea(buf, OPTIONS_OFFSET, buf.length, parts);
  if (typeof overload === 'string') return { ok: false, reason: overload };
  // RFC 2131 4.1: with overload, the file field is read before sname.
  if (overload & 1) {
    const problem = readOptionArea(buf, FILE_OFFSET, FILE_OFFSET + FILE_LENGTH, parts);
    if (typeof problem === 'string') return { ok: false, reason: `in overloaded file field: ${problem}` };
  }
  if (overload & 2) {
    const problem = readOptionArea(buf, SNAME_OFFSET, SNAME_OFFSET + SNAME_LENGTH, parts);
    if (typeof problem === 'string') return { ok: false, reason: `in overloaded sname field: ${problem}` };
  }
  // The header is extended in place, not cloned by a leading spread (see boot/ipxe.ts on V8 11.3).
  const packet: DhcpPacket = Object.assign(header, {
    sname: overload & 2 ? '' : readCString(buf, SNAME_OFFSET, SNAME_LENGTH),
    file: overload & 1 ? '' : readCString(buf, FILE_OFFSET, FILE_LENGTH),
    options: joinOptions(parts),
  });
  return { ok: true, packet };
}

export function decode(buf: Buffer): DecodeResult {
  const header = decodeHeader(buf);
  return header.ok ? decodeOptions(buf, header.header) : header;
}

/**
 * The largest reply a client takes, from its option 57. Clients disagree on whether the value
 * counts the IP and UDP headers (dhclient sends its MTU, iPXE the MTU less 28), so they are
 * always taken off: never more than a client can take, never less than every client must.
 */
export function maxReplySize(option57: number | undefined): number {
  if (option57 === undefined || option57 < MIN_LEGAL_MAX_MESSAGE) return DEFAULT_MAX_MESSAGE;
  return option57 - IP_UDP_HEADERS;
}

/**
 * The options to send: a boot file name longer than the file field holds goes into option 67
 * (RFC 2132 9.5) rather than being cut, and the relay agent option goes last (RFC 3046).
 */
function wireOptions(packet: DhcpPacket): Map<number, Buffer> {
  const options = new Map(packet.options);
  if (packet.file.length >= FILE_LENGTH) options.set(OPT_BOOTFILE, Buffer.from(packet.file, 'latin1'));
  const agent = options.get(OPT_RELAY_AGENT);
  if (agent) {
    options.delete(OPT_RELAY_AGENT);
    options.set(OPT_RELAY_AGENT, agent);
  }
  return options;
}

/** Option instances as they go on the wire: values over 255 bytes are split (RFC 3396). */
function optionChunks(options: Map<number, Buffer>): Buffer[] {
  const chunks: Buffer[] = [];
  for (const [code, value] of options) {
    if (code === OPT_PAD || code === OPT_END || code === OPT_OVERLOAD) continue;
    let at = 0;
    do {
      const part = value.subarray(at, at + 255);
      const chunk = Buffer.allocUnsafe(2 + part.length);
      chunk[0] = code;
      chunk[1] = part.length;
      part.copy(chunk, 2);
      chunks.push(chunk);
      at += 255;
    } while (at < value.length);
  }
  return chunks;
}

interface Area {
  start: number;
  /** Bytes usable for options, the end option excluded. */
  room: number;
  used: number;
}

/**
 * Encodes a packet into at most maxSize bytes (maxReplySize of the client's option 57, never
 * below 548). Options that do not fit in the options area spill into the file and then the
 * sname field when those are empty (option overload); what still does not fit is dropped and
 * reported in `dropped`.
 */
export function encode(packet: DhcpPacket, maxSize = DEFAULT_MAX_MESSAGE): { buffer: Buffer; dropped: number[] } {
  const chunks = optionChunks(wireOptions(packet));
  const file = packet.file.length >= FILE_LENGTH ? '' : packet.file;
  const optionBytes = chunks.reduce((sum, c) => sum + c.length, 0);
  const capacity = Math.max(maxSize, DEFAULT_MAX_MESSAGE);
  const buf = Buffer.alloc(Math.max(MIN_PACKET, Math.min(capacity, OPTIONS_OFFSET + optionBytes + 1)));
  buf[0] = packet.op;
  buf[1] = packet.htype;
  buf[2] = packet.hlen;
  buf[3] = packet.hops;
  buf.writeUInt32BE(packet.xid >>> 0, 4);
  buf.writeUInt16BE(packet.secs & 0xffff, 8);
  buf.writeUInt16BE(packet.flags & 0xffff, 10);
  writeIp(buf, 12, packet.ciaddr);
  writeIp(buf, 16, packet.yiaddr);
  writeIp(buf, 20, packet.siaddr);
  writeIp(buf, 24, packet.giaddr);
  packet.chaddr.copy(buf, 28, 0, 16);
  buf.writeUInt32BE(MAGIC_COOKIE, COOKIE_OFFSET);

  const fits = OPTIONS_OFFSET + optionBytes + 1 <= buf.length;
  // Overload needs 3 bytes for option 52 in the main area.
  const main: Area = { start: OPTIONS_OFFSET, room: buf.length - OPTIONS_OFFSET - 1 - (fits ? 0 : 3), used: 0 };
  const areas: Area[] = [main];
  let overload = 0;
  if (!fits) {
    if (!file) {
      areas.push({ start: FILE_OFFSET, room: FILE_LENGTH - 1, used: 0 });
      overload |= 1;
    }
    if (!packet.sname) {
      areas.push({ start: SNAME_OFFSET, room: SNAME_LENGTH - 1, used: 0 });
      overload |= 2;
    }
    if (overload) {
      buf[main.start] = OPT_OVERLOAD;
      buf[main.start + 1] = 1;
      buf[main.start + 2] = overload;
      main.start += 3;
    }
  }
  const dropped: number[] = [];
  for (const chunk of chunks) {
    const area = areas.find((a) => a.room - a.used >= chunk.length);
    if (!area) {
      dropped.push(chunk[0]!);
      continue;
    }
    chunk.copy(buf, area.start + area.used);
    area.used += chunk.length;
  }
  for (const area of areas) buf[area.start + area.used] = OPT_END;
  if (!(overload & 2)) buf.write(packet.sname.slice(0, SNAME_LENGTH - 1), SNAME_OFFSET, 'latin1');
  if (!(overload & 1)) buf.write(file, FILE_OFFSET, 'latin1');
  const end = Math.max(MIN_PACKET, main.start + main.used + 1);
  return { buffer: overload ? buf : buf.subarray(0, end), dropped };
}
