/**
 * One entry point for `rackboot image import` and the API: a local file, a directory (a firmware
 * set) or an http(s) URL goes into the blob store.
 *
 * Exports `importSource(store, source, options)` -> `ImportResult`, `ImportOptions`,
 * `DEFAULT_IMPORT_LIMITS`, `localPath(source, roots)` (the check of server-side paths).
 */
import { realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { BlobError, type BlobRef, type BlobStore } from './blob-store.js';
import { fetchToStore, type FetchOptions } from './fetch.js';
import { isInside } from '../files/safe-open.js';

export type ImportResult =
  | { kind: 'file'; source: string; blob: BlobRef }
  | { kind: 'directory'; source: string; files: Record<string, BlobRef> };

export interface ImportOptions
  extends Partial<Pick<FetchOptions, 'maxBytes' | 'timeoutMs'>>,
    Pick<FetchOptions, 'onProgress' | 'signal' | 'refuseAddress'> {
  /** Files and URLs only: refuse unless the content has this sha256. `signal` stops any kind. */
  expectedSha256?: string;
  /**
   * Local files and directories must resolve (symlinks followed) inside one of these directories.
   * Unset: anything the process can read (the CLI, which runs as its caller).
   */
  roots?: readonly string[];
}

export const DEFAULT_IMPORT_LIMITS = {
  /** Larger than any kernel or initramfs a Pi or a PXE client loads; newc cannot hold 4 GiB files anyway. */
  maxBytes: 2 * 1024 ** 3,
  /** Inactivity timeout of a download. */
  timeoutMs: 30_000,
} as const;

const URL_SCHEME = /^[a-z][a-z0-9+.-]*:\/\//i;

export async function importSource(store: BlobStore, source: string, options: ImportOptions = {}): Promise<ImportResult> {
  const maxBytes = options.maxBytes ?? DEFAULT_IMPORT_LIMITS.maxBytes;
  if (URL_SCHEME.test(source)) {
    const blob = await fetchToStore(store, source, {
      maxBytes,
      timeoutMs: options.timeoutMs ?? DEFAULT_IMPORT_LIMITS.timeoutMs,
      ...(options.expectedSha256 && { expectedSha256: options.expectedSha256 }),
      ...(options.onProgress && { onProgress: options.onProgress }),
      ...(options.signal && { signal: options.signal }),
      ...(options.refuseAddress && { refuseAddress: options.refuseAddress }),
    });
    return { kind: 'file', source, blob };
  }
  const local = await localPath(source, options.roots);
  const info = await stat(local).catch(() => {
    throw new BlobError('RB_BLOB_SOURCE', `${source} does not exist (give a file, a directory or an http(s) URL)`);
  });
  if (info.isDirectory()) {
    if (options.expectedSha256) throw new BlobError('RB_BLOB_SOURCE', `--sha256 applies to one file or URL, not to the directory ${source}`);
    return { kind: 'directory', source, files: await store.putDirectory(local, { signal: options.signal }) };
  }
  const blob = await store.putFile(local, { expectedSha256: options.expectedSha256, maxBytes, signal: options.signal });
  return { kind: 'file', source, blob };
}

/**
 * The real path of `source` if it lies under one of `roots` (`source` itself when there are no
 * roots to keep to). The refusal does not repeat the path and does not depend on whether it
 * exists, so it tells a caller nothing about files outside the roots.
 */
export async function localPath(source: string, roots: readonly string[] | undefined): Promise<string> {
  if (!roots) return source;
  const real = await realpath(source).catch(() => path.resolve(source));
  for (const root of roots) {
    const realRoot = await realpath(root).catch(() => undefined);
    if (realRoot && isInside(realRoot, real)) return real;
  }
  throw new BlobError(
    'RB_BLOB_FORBIDDEN',
    roots.length
      ? 'the path is outside images.importRoots; put the file under one of them or give an http(s) URL'
      : 'server-side paths are not accepted (images.importRoots is empty); give an http(s) URL, or run `rackboot image add` on the server',
  );
}
