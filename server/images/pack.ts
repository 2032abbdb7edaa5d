/**
 * `rackboot image pack`: a reproducible gzip'd newc initramfs from a directory or a
 * gen_init_cpio list, without root or external tools.
 *
 * Exports:
 * - `packEntries(input, options)`: the archive members for a directory or a list file, sorted by
 *   name (parents before children), owners root unless the list says otherwise, one fixed mtime.
 * - `packStream(input, options)`: the cpio.gz as a stream (file contents are read as they are
 *   written, so size does not matter).
 * - `packToFile(input, output, options)`: writes the cpio.gz atomically, returns size and sha256.
 * Same input, same bytes: entry order, inode numbers, mtimes and the gzip header are all fixed.
 */
import { createHash, randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { lstat, readFile, readdir, readlink, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { CpioError, S_IFDIR, S_IFMT, gzipNewc, type CpioEntry } from './cpio.js';
import { parseCpioList } from './cpio-list.js';

export interface PackOptions {
  /** mtime of every entry, seconds since the epoch. Default 0 (callers may pass SOURCE_DATE_EPOCH). */
  mtime?: number;
  /** gzip level, default 9. */
  level?: number;
}

export async function packEntries(input: string, options: PackOptions = {}): Promise<CpioEntry[]> {
  const info = await stat(input).catch(() => {
    throw new CpioError('RB_CPIO_INVALID', `cannot read ${input}`);
  });
  const entries = info.isDirectory() ? await treeEntries(input) : await listEntries(input);
  const mtime = options.mtime ?? 0;
  for (const entry of entries) entry.mtime = mtime;
  return entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

export async function packStream(input: string, options: PackOptions = {}): Promise<Readable> {
  return gzipNewc(await packEntries(input, options), options.level);
}

export async function packToFile(
  input: string,
  output: string,
  options: PackOptions = {},
): Promise<{ size: number; sha256: string; entries: number }> {
  const entries = await packEntries(input, options);
  const temp = path.join(path.dirname(path.resolve(output)), `.${path.basename(output)}.${randomUUID()}.tmp`);
  const hash = createHash('sha256');
  let size = 0;
  try {
    await pipeline(
      gzipNewc(entries, options.level),
      async function* (chunks: AsyncIterable<Buffer>) {
        for await (const chunk of chunks) {
          hash.update(chunk);
          size += chunk.length;
          yield chunk;
        }
      },
      createWriteStream(temp),
    );
    await rename(temp, output);
  } finally {
    await rm(temp, { force: true });
  }
  return { size, sha256: hash.digest('hex'), entries: entries.length };
}

/** Everything under `dir` (not `dir` itself), owned by root, modes and device numbers as found. */
async function treeEntries(dir: string): Promise<CpioEntry[]> {
  const entries: CpioEntry[] = [];
  const walk = async (relativeDir: string): Promise<void> => {
    for (const name of await readdir(path.join(dir, relativeDir))) {
      const relative = relativeDir ? `${relativeDir}/${name}` : name;
      const absolute = path.join(dir, relative);
      const info = await lstat(absolute);
      const entry: CpioEntry = { name: relative, mode: info.mode, uid: 0, gid: 0, mtime: 0 };
      if (info.isFile()) entry.data = { path: absolute, size: info.size };
      else if (info.isSymbolicLink()) entry.data = Buffer.from(await readlink(absolute), 'utf8');
      else if (info.isBlockDevice() || info.isCharacterDevice()) {
        // glibc's dev_t encoding
        entry.rdevMajor = ((info.rdev >>> 8) & 0xfff) | (Math.floor(info.rdev / 2 ** 32) & ~0xfff);
        entry.rdevMinor = (info.rdev & 0xff) | ((info.rdev >>> 12) & ~0xff);
      }
      entries.push(entry);
      if (info.isDirectory()) await walk(relative);
    }
  };
  await walk('');
  return entries;
}

/** The list's entries with file contents located (relative to the list's directory) and checked. */
async function listEntries(listFile: string): Promise<CpioEntry[]> {
  const listed = parseCpioList(await readFile(listFile, 'utf8'));
  const baseDir = path.dirname(path.resolve(listFile));
  const directories = new Set(listed.filter(({ entry }) => (entry.mode & S_IFMT) === S_IFDIR).map(({ entry }) => entry.name));
  const seen = new Set<string>();
  for (const { entry, location, line } of listed) {
    if (seen.has(entry.name)) throw new CpioError('RB_CPIO_INVALID', `list line ${line}: "${entry.name}" is listed twice`);
    seen.add(entry.name);
    // The kernel does not create missing parents: the entry would silently not appear.
    const parent = path.posix.dirname(entry.name);
    if (parent !== '.' && !directories.has(parent)) {
      throw new CpioError('RB_CPIO_INVALID', `list line ${line}: parent directory "${parent}" of "${entry.name}" is not listed (add "dir ${parent} 755 0 0")`);
    }
    if (location === undefined) continue;
    const source = path.resolve(baseDir, location);
    const info = await stat(source).catch(() => undefined);
    if (!info?.isFile()) throw new CpioError('RB_CPIO_INVALID', `list line ${line}: ${source} is not a readable regular file`);
    entry.data = { path: source, size: info.size };
  }
  return listed.map(({ entry }) => entry);
}
