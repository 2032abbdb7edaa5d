/**
 * Modes of what rackboot keeps under dataDir: the inventory (node settings, SSH keys), the image
 * store and the caches are the daemon's alone, whatever umask the daemon or a CLI run has.
 *
 * Exports `PRIVATE_DIR_MODE`, `PRIVATE_FILE_MODE`, `ensurePrivateDir(dir)`, `ensurePrivateFile(file)`.
 */
import { chmodSync, closeSync, mkdirSync, openSync } from 'node:fs';

export const PRIVATE_DIR_MODE = 0o700;
/** New files get this (a umask can only take bits away from it). */
export const PRIVATE_FILE_MODE = 0o600;

/** Creates `dir` (and missing parents) and sets it to 0700 even when it already existed. */
export function ensurePrivateDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: PRIVATE_DIR_MODE });
  restrict(dir, PRIVATE_DIR_MODE);
}

/** Creates `file` empty when missing and sets it to 0600 even when it already existed. */
export function ensurePrivateFile(file: string): void {
  closeSync(openSync(file, 'a', PRIVATE_FILE_MODE));
  restrict(file, PRIVATE_FILE_MODE);
}

function restrict(target: string, mode: number): void {
  try {
    chmodSync(target, mode);
  } catch (error) {
    // Another user's data dir (a CLI run by someone with group access): its owner sets the modes.
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') throw error;
  }
}
