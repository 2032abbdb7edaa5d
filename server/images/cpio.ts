/**
 * newc ("070701") cpio writer, the format the Linux kernel unpacks as initramfs.
 *
 * Exports:
 * - `CpioEntry`: one archive member; file data is a Buffer or a file on disk streamed at write time.
 * - `newcChunks(entries)`: async generator of archive bytes (headers, names, data, padding,
 *   TRAILER!!!); inodes are numbered in entry order, so the same entries give the same bytes.
 * - `gzipNewc(entries, level)`: the same as a gzip stream with a zero header mtime.
 * - `S_IF*` file type bits, `CpioError` (RB_CPIO_*).
 */
import { createReadStream } from 'node:fs';
import { Readable, pipeline } from 'node:stream';
import { createGzip } from 'node:zlib';

export const S_IFMT = 0o170000;
export const S_IFSOCK = 0o140000;
export const S_IFLNK = 0o120000;
export const S_IFREG = 0o100000;
export const S_IFBLK = 0o060000;
export const S_IFDIR = 0o040000;
export const S_IFCHR = 0o020000;
export const S_IFIFO = 0o010000;

export interface CpioEntry {
  /** Archive path without a leading "/" or "./" ("etc/hostname"). */
  name: string;
  /** File type bits | permission bits. */
  mode: number;
  uid: number;
  gid: number;
  /** Seconds since the epoch. */
  mtime: number;
  rdevMajor?: number;
  rdevMinor?: number;
  /** Regular files: the content, or a file read when the entry is written (its size checked). Symlinks: the target. */
  data?: Buffer | { path: string; size: number };
}

export class CpioError extends Error {
  constructor(
    readonly code: 'RB_CPIO_INVALID' | 'RB_CPIO_SOURCE_CHANGED',
    message: string,
  ) {
    super(message);
    this.name = 'CpioError';
  }
}

const HEADER_SIZE = 110;
const MAX_FIELD = 0xffffffff;
const FIRST_INODE = 721; // what the kernel's gen_init_cpio uses; any fixed start works
const ZEROS = Buffer.alloc(4);
const TRAILER: CpioEntry = { name: 'TRAILER!!!', mode: 0, uid: 0, gid: 0, mtime: 0 };

function pad4(length: number): number {
  return (4 - (length % 4)) % 4;
}

function field(value: number, what: string, entry: string): string {
  if (!Number.isInteger(value) || value < 0 || value > MAX_FIELD) {
    throw new CpioError('RB_CPIO_INVALID', `${entry}: ${what} ${value} does not fit a newc header field`);
  }
  return value.toString(16).padStart(8, '0');
}

function dataSize(entry: CpioEntry): number {
  if (!entry.data) return 0;
  return Buffer.isBuffer(entry.data) ? entry.data.length : entry.data.size;
}

/** Header + NUL-terminated name + padding to a 4-byte boundary. */
function encodeHeader(entry: CpioEntry, ino: number): Buffer {
  const name = Buffer.from(entry.name, 'utf8');
  if (name.includes(0) || name.length === 0) throw new CpioError('RB_CPIO_INVALID', `invalid archive name ${JSON.stringify(entry.name)}`);
  const isDir = (entry.mode & S_IFMT) === S_IFDIR;
  const fields = [
    field(ino, 'inode', entry.name),
    field(entry.mode, 'mode', entry.name),
    field(entry.uid, 'uid', entry.name),
    field(entry.gid, 'gid', entry.name),
    field(isDir ? 2 : 1, 'nlink', entry.name),
    field(entry.mtime, 'mtime', entry.name),
    field(dataSize(entry), 'file size', entry.name),
    field(0, 'devmajor', entry.name),
    field(0, 'devminor', entry.name),
    field(entry.rdevMajor ?? 0, 'rdev major', entry.name),
    field(entry.rdevMinor ?? 0, 'rdev minor', entry.name),
    field(name.length + 1, 'name size', entry.name),
    field(0, 'check', entry.name),
  ];
  const headerLength = HEADER_SIZE + name.length + 1;
  const out = Buffer.alloc(headerLength + pad4(headerLength));
  out.write(`070701${fields.join('')}`, 0, 'latin1');
  name.copy(out, HEADER_SIZE);
  return out;
}

async function* fileData(source: { path: string; size: number }, entryName: string): AsyncGenerator<Buffer> {
  let read = 0;
  // `end` keeps a file that grew since its header was written from corrupting the archive; a
  // file that shrank cannot be repaired once the header is out.
  for await (const chunk of createReadStream(source.path, { end: source.size - 1, highWaterMark: 256 * 1024 })) {
    read += (chunk as Buffer).length;
    yield chunk as Buffer;
  }
  if (read !== source.size) {
    throw new CpioError('RB_CPIO_SOURCE_CHANGED', `${entryName}: ${source.path} changed size while packing (${source.size} -> ${read} bytes)`);
  }
}

/** The archive's bytes, entry by entry, ending with the TRAILER!!! entry. */
export async function* newcChunks(entries: Iterable<CpioEntry> | AsyncIterable<CpioEntry>): AsyncGenerator<Buffer> {
  let ino = FIRST_INODE;
  for await (const entry of entries) {
    yield encodeHeader(entry, ino++);
    const size = dataSize(entry);
    if (entry.data === undefined || size === 0) continue;
    if (Buffer.isBuffer(entry.data)) yield entry.data;
    else yield* fileData(entry.data, entry.name);
    if (pad4(size)) yield ZEROS.subarray(0, pad4(size));
  }
  yield encodeHeader(TRAILER, 0);
}

/**
 * The archive gzip'd. zlib writes a zero mtime and no file name into the gzip header, so the
 * output depends only on the entries (and the zlib build).
 */
export function gzipNewc(entries: Iterable<CpioEntry> | AsyncIterable<CpioEntry>, level = 9): Readable {
  // pipeline destroys both ways: a source error reaches the reader, a reader hanging up stops the reads.
  return pipeline(Readable.from(newcChunks(entries)), createGzip({ level }), () => undefined);
}
