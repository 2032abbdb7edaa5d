/**
 * "Being served" marks for store blobs, visible across processes.
 *
 * `rackboot image gc` runs in its own process and cannot see the daemon's transfers. So whoever
 * serves a blob touches its mark file (`<store>/in-use/<digest>`, empty, mtime = last use) when it
 * opens the blob and again while reading it, and gc keeps every blob whose mark is younger than
 * `IN_USE_GRACE_MS`. A separate file, not the blob's own mtime, so `gc --min-age 0` (which drops
 * the protection of fresh imports) still never removes what is being served.
 *
 * Exports: `IN_USE_GRACE_MS`, `markInUse(mark)`, `usedSince(mark, sinceMs)`.
 */
import { constants } from 'node:fs';
import { lstat, open } from 'node:fs/promises';

/** Longer than any pause between two reads of a live transfer (a slow HTTP client, TFTP retries). */
export const IN_USE_GRACE_MS = 10 * 60_000;
/** A mark is rewritten at most this often per blob: reads stay free of file system writes. */
const REFRESH_MS = 30_000;

/** This process's last touch of each mark; `done` settles once it is on disk. */
const lastMarked = new Map<string, { at: number; done: Promise<void> }>();
let warned = false;

/**
 * Touches the mark (creating it) unless this process did so within REFRESH_MS. Never rejects:
 * serving must not fail for want of a mark. Await it before opening the blob, so a gc that
 * starts later sees the mark; reads may fire and forget it.
 */
export function markInUse(mark: string): Promise<void> {
  const now = Date.now();
  const last = lastMarked.get(mark);
  // Synchronous and allocation-free when throttled: the TFTP engine calls this on every read.
  if (last !== undefined && now - last.at < REFRESH_MS) return last.done;
  const done = touch(mark, new Date(now));
  lastMarked.set(mark, { at: now, done });
  return done;
}

async function touch(mark: string, at: Date): Promise<void> {
  try {
    // The directory may hold what someone else put there: a symlink fails (ELOOP) instead of
    // being followed, a FIFO fails (ENXIO) instead of blocking, and nothing is ever truncated.
    const handle = await open(mark, constants.O_WRONLY | constants.O_CREAT | constants.O_NOFOLLOW | constants.O_NONBLOCK, 0o600);
    try {
      await handle.utimes(at, at);
    } finally {
      await handle.close();
    }
  } catch (error) {
    lastMarked.delete(mark); // try again on the next read
    if (warned) return;
    warned = true;
    process.emitWarning(
      `cannot mark ${mark} as being served (${(error as NodeJS.ErrnoException).code}): \`rackboot image gc\` may remove blobs ` +
        'while they are served; let the user the daemon runs as write to its directory and remove anything but plain files from it',
      { code: 'RB_BLOB_IN_USE_MARK' },
    );
  }
}

/** Whether the mark was touched after `sinceMs` (a missing mark: never used). */
export async function usedSince(mark: string, sinceMs: number): Promise<boolean> {
  const info = await lstat(mark).catch(() => undefined);
  return info !== undefined && info.mtimeMs > sinceMs;
}
