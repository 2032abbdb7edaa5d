import { createHash, randomBytes } from 'node:crypto';
import { closeSync, mkdirSync, mkdtempSync, openSync, readdirSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

export const MiB = 1024 * 1024;

/** Files every TFTP test serves, by name: sizes around the 512-byte block edge, and past block-number rollover. */
export const FIXTURE_SIZES = { 'zero.bin': 0, 'b511.bin': 511, 'b512.bin': 512, 'b801.bin': 800 * 512 + 100, 'm1.bin': MiB, 'm70.bin': 70 * MiB } as const;
export type FixtureName = keyof typeof FIXTURE_SIZES;

export interface Fixtures {
  /** The directory with `firmware/` inside (the daemon's assetsDir). */
  assetsDir: string;
  /** Where the files are: `<assetsDir>/firmware`. */
  root: string;
  sha256: Record<FixtureName, string>;
}

/** Writes the fixture files with random content (large ones in 4 MiB pieces). */
export function makeFixtures(skip: FixtureName[] = []): Fixtures {
  const assetsDir = mkdtempSync(path.join(tmpdir(), 'rbt-tftp-'));
  const root = path.join(assetsDir, 'firmware');
  mkdirSync(root);
  const sha256 = {} as Record<FixtureName, string>;
  for (const [name, size] of Object.entries(FIXTURE_SIZES) as Array<[FixtureName, number]>) {
    if (skip.includes(name)) continue;
    const hash = createHash('sha256');
    const fd = openSync(path.join(root, name), 'w');
    for (let done = 0; done < size; ) {
      const piece = randomBytes(Math.min(4 * MiB, size - done));
      writeSync(fd, piece);
      hash.update(piece);
      done += piece.length;
    }
    closeSync(fd);
    sha256[name] = hash.digest('hex');
  }
  return { assetsDir, root, sha256 };
}

/** Open descriptors of a process: a transfer that leaks one shows here. */
export function openFds(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}
