/**
 * Content-addressed, immutable blob store: kernels, initramfs, dtbs and firmware files, each kept
 * once under `<root>/sha256/ab/abcd...` and named by its sha256.
 *
 * Exports:
 * - `BlobStore`: `init()` (removes temp leftovers of a crashed import), `pathOf`, `has`,
 *   `putFile`, `putStream` (temp file -> fsync -> rename, optional expected digest and size limit),
 *   `putDirectory` (a firmware set), `servedPart` (a blob as a part to serve, with its in-use
 *   mark), `list`, `usage`, `verify` (rehash everything), `gc`.
 * - `BlobRef`, `BlobError` (stable `code`s), `VerifyReport`, `GcReport`.
 *
 * A blob appears only by rename after fsync, so a crash at any point leaves at most a file in
 * `<root>/tmp`, which the next `init` removes (once its process is gone). Nothing here knows
 * about SQL: callers pass the digests the inventory references.
 */
import { createHash, randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, open, readdir, realpath, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ConcatPart } from './concat.js';
import { PRIVATE_DIR_MODE, PRIVATE_FILE_MODE } from '../files/private.js';
import { IN_USE_GRACE_MS, usedSince } from './in-use.js';

export interface BlobRef {
  digest: string;
  size: number;
}

export type BlobErrorCode = 'RB_BLOB_DIGEST_MISMATCH' | 'RB_BLOB_SOURCE' | 'RB_BLOB_TOO_LARGE' | 'RB_BLOB_FORBIDDEN';

export class BlobError extends Error {
  constructor(
    readonly code: BlobErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'BlobError';
  }
}

export interface PutOptions {
  /** Refuse (and store nothing) unless the content hashes to this sha256 (hex, any case). */
  expectedSha256?: string;
  /** Refuse (and store nothing) as soon as more than this many bytes arrive. */
  maxBytes?: number;
  /** Stops the copy (Ctrl-C); nothing is stored. */
  signal?: AbortSignal;
}

export interface VerifyReport {
  /** Blobs rehashed. */
  checked: number;
  bytes: number;
  /** Blobs whose content no longer hashes to their name. */
  corrupt: { digest: string; actualSha256: string; size: number }[];
  /** Digests the caller expected that have no blob. */
  missing: string[];
  /** Files under sha256/ that are not named like a blob (paths relative to the store root). */
  strays: string[];
}

export interface GcOptions {
  /** Keep blobs younger than this, so an import whose database row is not written yet survives. */
  minAgeMs?: number;
  /** Report what would be removed without removing it. */
  dryRun?: boolean;
}

export interface GcReport {
  removed: BlobRef[];
  freedBytes: number;
  kept: number;
  keptBytes: number;
}

const DIGEST = /^[0-9a-f]{64}$/;
const DEFAULT_GC_MIN_AGE_MS = 15 * 60_000;

export class BlobStore {
  readonly tmpDir: string;
  private readonly blobDir: string;
  /** Marks of blobs being served (in-use.ts), one empty file per digest. */
  private readonly inUseDir: string;

  constructor(readonly root: string) {
    this.tmpDir = path.join(root, 'tmp');
    this.blobDir = path.join(root, 'sha256');
    this.inUseDir = path.join(root, 'in-use');
  }

  /**
   * Creates the layout and removes temp files left by dead processes. Temp files are named after
   * the importing process's pid, so a CLI opening the store while the daemon imports does not
   * delete the daemon's download.
   */
  async init(): Promise<void> {
    for (const dir of [this.tmpDir, this.blobDir, this.inUseDir]) await mkdir(dir, { recursive: true, mode: PRIVATE_DIR_MODE });
    for (const name of await readdir(this.tmpDir)) {
      const pid = Number(/^(\d+)-/.exec(name)?.[1]);
      if (!isAlive(pid)) await rm(path.join(this.tmpDir, name), { recursive: true, force: true });
    }
  }

  pathOf(digest: string): string {
    if (!DIGEST.test(digest)) throw new BlobError('RB_BLOB_SOURCE', `not a sha256 digest: ${digest}`);
    return path.join(this.blobDir, digest.slice(0, 2), digest);
  }

  /** A blob as a part of a served file; reading it through concat.ts marks it in use for gc. */
  servedPart(blob: BlobRef): ConcatPart {
    return { path: this.pathOf(blob.digest), size: blob.size, inUseMark: this.markOf(blob.digest) };
  }

  private markOf(digest: string): string {
    return path.join(this.inUseDir, digest);
  }

  async has(digest: string): Promise<boolean> {
    return stat(this.pathOf(digest)).then(
      () => true,
      () => false,
    );
  }

  /** Copies a local file into the store; hashing happens while copying. */
  async putFile(source: string, options: PutOptions = {}): Promise<BlobRef> {
    try {
      await stat(source);
    } catch (error) {
      throw new BlobError('RB_BLOB_SOURCE', `cannot read ${source}: ${(error as NodeJS.ErrnoException).code}`);
    }
    return this.putStream(createReadStream(source), options);
  }

  async putStream(source: Readable, options: PutOptions = {}): Promise<BlobRef> {
    const temp = path.join(this.tmpDir, `${process.pid}-${randomUUID()}`);
    const hash = createHash('sha256');
    const { maxBytes } = options;
    let size = 0;
    try {
      await pipeline(
        source,
        async function* (chunks: AsyncIterable<Buffer>) {
          for await (const chunk of chunks) {
            size += chunk.length;
            if (maxBytes !== undefined && size > maxBytes) {
              throw new BlobError('RB_BLOB_TOO_LARGE', `content exceeds the limit of ${maxBytes} bytes; nothing stored`);
            }
            hash.update(chunk);
            yield chunk;
          }
        },
        createWriteStream(temp, { mode: PRIVATE_FILE_MODE }),
        { signal: options.signal },
      );
      const digest = hash.digest('hex');
      const expected = options.expectedSha256?.toLowerCase();
      if (expected && expected !== digest) {
        throw new BlobError('RB_BLOB_DIGEST_MISMATCH', `sha256 mismatch: expected ${expected}, got ${digest}; nothing stored`);
      }
      await syncPath(temp);
      const final = this.pathOf(digest);
      await mkdir(path.dirname(final), { recursive: true, mode: PRIVATE_DIR_MODE });
      await rename(temp, final);
      // The rename itself is durable only once its directory is synced.
      await syncPath(path.dirname(final));
      return { digest, size };
    } finally {
      await rm(temp, { force: true });
    }
  }

  /**
   * Stores every regular file under `dir` (a firmware set) and returns them by relative path
   * ("overlays/foo.dtbo"). Symlinks to files inside `dir` are stored as the file they point to;
   * anything else (symlinks leaving `dir` or to directories, devices, fifos) is refused before
   * anything is stored.
   */
  async putDirectory(dir: string, options: Pick<PutOptions, 'signal'> = {}): Promise<Record<string, BlobRef>> {
    const files = await collectDirectoryFiles(dir);
    const result: Record<string, BlobRef> = {};
    for (const [relative, absolute] of files) result[relative] = await this.putFile(absolute, options);
    return result;
  }

  /** Every blob in the store with its size, in no particular order. */
  async *list(): AsyncGenerator<BlobRef & { path: string }> {
    for await (const entry of this.walkBlobDir()) {
      if (entry.digest) yield { digest: entry.digest, size: entry.size, path: entry.path };
    }
  }

  async usage(): Promise<{ blobs: number; bytes: number }> {
    let blobs = 0;
    let bytes = 0;
    for await (const blob of this.list()) {
      blobs += 1;
      bytes += blob.size;
    }
    return { blobs, bytes };
  }

  /** Rehashes every blob. `expected` are digests the caller references (reported if missing). */
  async verify(expected: Iterable<string> = []): Promise<VerifyReport> {
    const report: VerifyReport = { checked: 0, bytes: 0, corrupt: [], missing: [], strays: [] };
    const present = new Set<string>();
    for await (const entry of this.walkBlobDir()) {
      if (!entry.digest) {
        report.strays.push(path.relative(this.root, entry.path));
        continue;
      }
      present.add(entry.digest);
      const actualSha256 = await sha256File(entry.path);
      report.checked += 1;
      report.bytes += entry.size;
      if (actualSha256 !== entry.digest) report.corrupt.push({ digest: entry.digest, actualSha256, size: entry.size });
    }
    for (const digest of new Set(expected)) if (!present.has(digest)) report.missing.push(digest);
    return report;
  }

  /**
   * Removes blobs that are neither `referenced` (by any image version) nor in use (served by any
   * process within IN_USE_GRACE_MS, see in-use.ts), and that are older than `minAgeMs` (default
   * 15 min). A transfer that opens a blob between the mark check and the
   * unlink still completes: an open file outlives its unlink.
   */
  async gc(referenced: Set<string>, options: GcOptions = {}): Promise<GcReport> {
    const now = Date.now();
    const notAfter = now - (options.minAgeMs ?? DEFAULT_GC_MIN_AGE_MS);
    const servedAfter = now - IN_USE_GRACE_MS;
    const report: GcReport = { removed: [], freedBytes: 0, kept: 0, keptBytes: 0 };
    const present = new Set<string>();
    for await (const entry of this.walkBlobDir()) {
      if (!entry.digest) continue;
      const keep =
        referenced.has(entry.digest) ||
        entry.mtimeMs > notAfter ||
        (await usedSince(this.markOf(entry.digest), servedAfter));
      if (keep) {
        present.add(entry.digest);
        report.kept += 1;
        report.keptBytes += entry.size;
        continue;
      }
      if (!options.dryRun) await rm(entry.path, { force: true });
      report.removed.push({ digest: entry.digest, size: entry.size });
      report.freedBytes += entry.size;
    }
    if (!options.dryRun) await this.removeStaleMarks(present, servedAfter);
    return report;
  }

  /** Marks of blobs that are gone, unless touched within the grace window (a serve racing gc). */
  private async removeStaleMarks(present: Set<string>, servedAfter: number): Promise<void> {
    for (const name of await readdir(this.inUseDir).catch(() => [] as string[])) {
      const mark = this.markOf(name);
      if (!present.has(name) && !(await usedSince(mark, servedAfter))) await rm(mark, { force: true });
    }
  }

  private async *walkBlobDir(): AsyncGenerator<{ path: string; digest?: string; size: number; mtimeMs: number }> {
    const prefixes = await readdir(this.blobDir, { withFileTypes: true }).catch(() => []);
    for (const prefix of prefixes) {
      const prefixPath = path.join(this.blobDir, prefix.name);
      if (!prefix.isDirectory()) {
        yield { path: prefixPath, size: 0, mtimeMs: 0 };
        continue;
      }
      for (const name of await readdir(prefixPath)) {
        const file = path.join(prefixPath, name);
        const info = await stat(file).catch(() => undefined);
        if (!info) continue; // removed meanwhile (a concurrent gc)
        const isBlob = info.isFile() && DIGEST.test(name) && name.startsWith(prefix.name);
        yield { path: file, digest: isBlob ? name : undefined, size: info.size, mtimeMs: info.mtimeMs };
      }
    }
  }
}

function isAlive(pid: number): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function syncPath(target: string): Promise<void> {
  const handle = await open(target, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

export async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(file), hash);
  return hash.digest('hex');
}

/** Regular files under `dir` as [relative path with '/', absolute path], sorted by relative path. */
async function collectDirectoryFiles(dir: string): Promise<[string, string][]> {
  let root: string;
  try {
    root = await realpath(dir);
    if (!(await stat(root)).isDirectory()) throw new Error('ENOTDIR');
  } catch {
    throw new BlobError('RB_BLOB_SOURCE', `${dir} is not a readable directory`);
  }
  const files: [string, string][] = [];
  const walk = async (relativeDir: string): Promise<void> => {
    const entries = await readdir(path.join(root, relativeDir), { withFileTypes: true });
    for (const entry of entries) {
      const relative = relativeDir ? `${relativeDir}/${entry.name}` : entry.name;
      const absolute = path.join(root, relative);
      if (entry.isDirectory()) {
        await walk(relative);
      } else if (entry.isFile()) {
        files.push([relative, absolute]);
      } else if (entry.isSymbolicLink()) {
        const target = await realpath(absolute).catch(() => undefined);
        if (!target || !target.startsWith(root + path.sep)) {
          throw new BlobError('RB_BLOB_SOURCE', `${relative} is a symlink leading outside ${dir} (or nowhere); refusing the directory`);
        }
        if (!(await stat(target)).isFile()) {
          throw new BlobError('RB_BLOB_SOURCE', `${relative} is a symlink to something other than a regular file; refusing the directory`);
        }
        files.push([relative, target]);
      } else {
        throw new BlobError('RB_BLOB_SOURCE', `${relative} is not a regular file (device, fifo or socket); refusing the directory`);
      }
    }
  };
  await walk('');
  return files.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}
