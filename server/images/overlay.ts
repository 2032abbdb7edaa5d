/**
 * Per-node overlay initramfs: the base initramfs blob followed by a small generated newc cpio.gz
 * (hostname, root's SSH authorized keys, extra files). The Linux kernel unpacks concatenated,
 * separately compressed cpio archives in order, later entries overwriting earlier ones, so a node
 * gets its own identity without a rebuilt image.
 *
 * Exports:
 * - `OverlayData`, `OverlayError` (RB_OVERLAY_INVALID).
 * - `OverlayCache`: `initramfsFor(base, overlay)` -> `ConcatFile` ({ key, size, parts }); the
 *   overlay archive is generated once per (base digest, overlay content) and cached as a file.
 * - `overlayEntries(overlay)`: the archive members an overlay becomes (validated).
 * The resulting parts are served with `openConcat` / `createConcatReadStream` from concat.ts.
 */
import { createHash, randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, open, readdir, rename, rm, stat, utimes } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { BlobRef, BlobStore } from './blob-store.js';
import { S_IFDIR, S_IFREG, gzipNewc, type CpioEntry } from './cpio.js';
import type { ConcatFile, ConcatPart } from './concat.js';
import { PRIVATE_DIR_MODE, PRIVATE_FILE_MODE } from '../files/private.js';

export interface OverlayData {
  hostname?: string;
  sshAuthorizedKeys?: string[];
  files?: { path: string; content: string; mode?: number }[];
}

/** `field: problem`; `field` names the OverlayData field (or the base `initrd`) at fault. */
export class OverlayError extends Error {
  readonly code = 'RB_OVERLAY_INVALID';
  constructor(
    readonly field: keyof OverlayData | 'initrd',
    readonly problem: string,
  ) {
    super(`${field}: ${problem}`);
    this.name = 'OverlayError';
  }
}

// Bump when the generated archive changes for the same input, so old cache files are not reused.
const FORMAT_VERSION = 1;
const HOSTNAME = /^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/i;
// Every ASCII cpio format (newc 070701, crc 070702, odc 070707) starts so.
const CPIO_ASCII_MAGIC = Buffer.from('07070', 'latin1');

/** Directories the overlay creates: the kernel applies their mode to an existing directory too. */
const DIR_MODES: Record<string, number> = { root: 0o700, 'root/.ssh': 0o700 };

export function overlayEntries(overlay: OverlayData): CpioEntry[] {
  const files = new Map<string, { content: Buffer; mode: number }>();
  const add = (name: string, content: string, mode: number): void => {
    if (files.has(name)) throw new OverlayError('files', `/${name} is given twice`);
    files.set(name, { content: Buffer.from(content, 'utf8'), mode });
  };
  if (overlay.hostname !== undefined) {
    if (!HOSTNAME.test(overlay.hostname)) throw new OverlayError(
        'hostname',
        `"${overlay.hostname}" is not a valid DNS name (dot-separated labels of letters, digits and '-', neither starting nor ending with '-', up to 63 characters each)`,
      );;
    add('etc/hostname', `${overlay.hostname}\n`, 0o644);
  }
  if (overlay.sshAuthorizedKeys?.length) {
    overlay.sshAuthorizedKeys.forEach((key, i) => {
      if (/[\r\n\0]/.test(key) || !key.trim()) throw new OverlayError('sshAuthorizedKeys', `key ${i + 1} is not one non-empty line (one key per entry)`);
    });
    add('root/.ssh/authorized_keys', `${overlay.sshAuthorizedKeys.map((key) => key.trim()).join('\n')}\n`, 0o600);
  }
  for (const file of overlay.files ?? []) {
    const mode = file.mode ?? 0o644;
    if (!Number.isInteger(mode) || mode < 0 || mode > 0o7777) throw new OverlayError('files', `mode of ${file.path} must be permission bits (0-0o7777)`);
    add(overlayName(file.path), file.content, mode);
  }
  const directories = new Set<string>();
  for (const name of files.keys()) {
    for (let dir = path.posix.dirname(name); dir !== '.'; dir = path.posix.dirname(dir)) directories.add(dir);
  }
  for (const name of files.keys()) if (directories.has(name)) throw new OverlayError('files', `/${name} is both a file and a directory`);
  const entries: CpioEntry[] = [
    ...[...directories].map((name) => ({ name, mode: S_IFDIR | (DIR_MODES[name] ?? 0o755), uid: 0, gid: 0, mtime: 0 })),
    ...[...files].map(([name, file]) => ({ name, mode: S_IFREG | file.mode, uid: 0, gid: 0, mtime: 0, data: file.content })),
  ];
  return entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

function overlayName(filePath: string): string {
  if (!filePath.startsWith('/') || filePath.includes('\0')) throw new OverlayError('files', `path ${JSON.stringify(filePath)} must be absolute`);
  const normalized = path.posix.normalize(filePath);
  if (normalized !== filePath || normalized === '/' || normalized.endsWith('/')) {
    throw new OverlayError('files', `path ${filePath} must be a normalized file path (no "..", "//" or trailing "/")`);
  }
  return normalized.slice(1);
}

/**
 * Generates and caches overlay archives under `cacheDir`, one file per key
 * (sha256 of the format version, the base digest and the normalized overlay).
 */
export class OverlayCache {
  private readonly pending = new Map<string, Promise<ConcatPart>>();

  constructor(
    private readonly store: BlobStore,
    readonly cacheDir: string,
  ) {}

  /**
   * The file to serve for `base` with `overlay` on top. With an empty overlay it is the base alone.
   * Throws OverlayError for invalid overlay data.
   */
  async initramfsFor(base: BlobRef, overlay: OverlayData): Promise<ConcatFile> {
    const basePart = this.store.servedPart(base);
    const actual = await stat(basePart.path).catch(() => undefined);
    if (actual?.size !== base.size) {
      throw new OverlayError('initrd', `base initramfs ${base.digest} is missing or not ${base.size} bytes in the store (run image verify)`);
    }
    const entries = overlayEntries(overlay);
    if (entries.length === 0) return { key: base.digest, size: base.size, parts: [basePart] };
    const key = createHash('sha256')
      .update(JSON.stringify({ v: FORMAT_VERSION, base: base.digest, entries: entries.map(({ data, ...rest }) => ({ ...rest, data: data?.toString('base64') })) }))
      .digest('hex');
    let overlayPart = this.pending.get(key);
    if (!overlayPart) {
      overlayPart = this.cached(key, basePart, entries).finally(() => this.pending.delete(key));
      this.pending.set(key, overlayPart);
    }
    const part = await overlayPart;
    return { key, size: base.size + part.size, parts: [basePart, part] };
  }

  /**
   * Removes cache files whose key is not in `keep` (the keys of what nodes currently boot), and
   * temp files of generations that died (older than 10 minutes).
   */
  async prune(keep: Set<string>): Promise<number> {
    let removed = 0;
    const staleBefore = Date.now() - 10 * 60_000;
    for (const name of await readdir(this.cacheDir).catch(() => [] as string[])) {
      const file = path.join(this.cacheDir, name);
      const key = /^([0-9a-f]{64})\.cpio\.gz$/.exec(name)?.[1];
      const stale = key ? !keep.has(key) : name.endsWith('.tmp') && ((await stat(file).catch(() => undefined))?.mtimeMs ?? 0) < staleBefore;
      if (!stale) continue;
      await rm(file, { force: true });
      removed += 1;
    }
    return removed;
  }

  private async cached(key: string, base: ConcatPart, entries: CpioEntry[]): Promise<ConcatPart> {
    const file = path.join(this.cacheDir, `${key}.cpio.gz`);
    const existing = await stat(file).catch(() => undefined);
    if (existing) {
      // Touch, so an age-based cleanup keeps what is served.
      const now = new Date();
      await utimes(file, now, now).catch(() => undefined);
      return { path: file, size: existing.size };
    }
    await mkdir(this.cacheDir, { recursive: true, mode: PRIVATE_DIR_MODE });
    const temp = path.join(this.cacheDir, `.${key}.${randomUUID()}.tmp`);
    try {
      const output = createWriteStream(temp, { mode: PRIVATE_FILE_MODE });
      const padding = await paddingAfter(base);
      if (padding) output.write(Buffer.alloc(padding));
      await pipeline(gzipNewc(entries), output);
      await rename(temp, file);
    } finally {
      await rm(temp, { force: true });
    }
    return { path: file, size: (await stat(file)).size };
  }
}

/**
 * Zero bytes to put between the base and the overlay. The kernel checks 4-byte alignment only for
 * an uncompressed cpio (after one it fails with "broken padding" on an unaligned next archive),
 * and skips zeros between archives. A compressed base needs none, and zeros after a gzip member
 * would stop `zcat` there, so only an uncompressed base gets padded.
 */
async function paddingAfter(base: ConcatPart): Promise<number> {
  const misalignment = base.size % 4;
  if (misalignment === 0) return 0;
  const handle = await open(base.path, 'r');
  try {
    const magic = Buffer.alloc(CPIO_ASCII_MAGIC.length);
    await handle.read(magic, 0, magic.length, 0);
    return magic.equals(CPIO_ASCII_MAGIC) ? 4 - misalignment : 0;
  } finally {
    await handle.close();
  }
}
