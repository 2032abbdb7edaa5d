/**
 * One entry point for `rackboot image import` and the API: a local file, a directory (a firmware
 * set) or an http(s) URL goes into the blob store.
 *
 * Exports `importSource(store, source, options)` -> `ImportResult`, `ImportOptions`,
 * `DEFAULT_IMPORT_LIMITS`.
 */
import { stat } from 'node:fs/promises';
import { BlobError, type BlobRef, type BlobStore } from './blob-store.js';
import { fetchToStore, type FetchOptions } from './fetch.js';

export type ImportResult =
  | { kind: 'file'; source: string; blob: BlobRef }
  | { kind: 'directory'; source: string; files: Record<string, BlobRef> };

export interface ImportOptions extends Partial<Pick<FetchOptions, 'maxBytes' | 'timeoutMs'>>, Pick<FetchOptions, 'onProgress' | 'signal'> {
  /** Files and URLs only: refuse unless the content has this sha256. `signal` stops any kind. */
  expectedSha256?: string;
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
    });
    return { kind: 'file', source, blob };
  }
  const info = await stat(source).catch(() => {
    throw new BlobError('RB_BLOB_SOURCE', `${source} does not exist (give a file, a directory or an http(s) URL)`);
  });
  if (info.isDirectory()) {
    if (options.expectedSha256) throw new BlobError('RB_BLOB_SOURCE', `--sha256 applies to one file or URL, not to the directory ${source}`);
    return { kind: 'directory', source, files: await store.putDirectory(source, { signal: options.signal }) };
  }
  const blob = await store.putFile(source, { expectedSha256: options.expectedSha256, maxBytes, signal: options.signal });
  return { kind: 'file', source, blob };
}
