/**
 * A FAT32 file system image built from a list of files, reproducibly (same files, same epoch ->
 * same bytes), with Debian's dosfstools (`mkfs.fat`) and mtools (`mmd`, `mcopy`): no loop mounts,
 * no root, and no FAT code of our own.
 *
 * Exports `buildFatImage(entries, output, options)`, `fatImageSize(entries)`, `FatEntry`,
 * `FatError` (RB_FAT_TOOL_MISSING: a tool is not installed; RB_FAT_BUILD: a tool failed).
 *
 * What makes it reproducible: `mkfs.fat --invariant` (fixed volume id and boot sector times),
 * every timestamp mtools writes taken from SOURCE_DATE_EPOCH (mtools ignores the source files'
 * own times unless asked with -m), directories created and files copied in sorted order (the
 * directory entries, short names and cluster chains follow the order of the calls), and the
 * host's mtools configuration ignored (MTOOLSRC=/dev/null).
 */
import { spawn } from 'node:child_process';
import path from 'node:path';

export interface FatEntry {
  /** Path inside the image, with `/` separators and no leading slash, e.g. `overlays/disable-bt.dtbo`. */
  name: string;
  /** The file to copy (followed if a symlink). */
  source: string;
  size: number;
}

export class FatError extends Error {
  constructor(
    readonly code: 'RB_FAT_TOOL_MISSING' | 'RB_FAT_BUILD',
    message: string,
  ) {
    super(message);
    this.name = 'FatError';
  }
}

const SECTOR = 512;
/** One sector per cluster, as Raspberry Pi's own rpi-make-boot-image: the least slack per file. */
const CLUSTER = SECTOR;
/** FAT32 below this many clusters is read as FAT16 by the spec's own rule; Raspberry Pi recommends FAT32 for boot.img. */
const MIN_FAT32_CLUSTERS = 65_525;
const RESERVED_SECTORS = 32;
const LABEL = 'RACKBOOT';

const PACKAGE_OF: Record<string, string> = { 'mkfs.fat': 'dosfstools', mmd: 'mtools', mcopy: 'mtools' };

/** Directory entries a name takes: its 8.3 entry plus long-name entries of 13 characters each. */
function direntsOf(name: string): number {
  return 1 + Math.ceil(name.length / 13);
}

function directoriesOf(entries: readonly FatEntry[]): string[] {
  const dirs = new Set<string>();
  for (const entry of entries) {
    for (let dir = path.posix.dirname(entry.name); dir !== '.'; dir = path.posix.dirname(dir)) dirs.add(dir);
  }
  // Parents sort before their children.
  return [...dirs].sort();
}

/** Bytes of the image `buildFatImage` makes for these files: FAT32, 512-byte clusters, one FAT. */
export function fatImageSize(entries: readonly FatEntry[]): number {
  const dirents = new Map<string, number>([['.', 3]]); // root: volume label (+ slack)
  for (const dir of directoriesOf(entries)) {
    dirents.set(dir, 2); // "." and ".."
    const parent = path.posix.dirname(dir);
    dirents.set(parent, (dirents.get(parent) ?? 2) + direntsOf(path.posix.basename(dir)));
  }
  let clusters = 0;
  for (const entry of entries) {
    const dir = path.posix.dirname(entry.name);
    dirents.set(dir, (dirents.get(dir) ?? 2) + direntsOf(path.posix.basename(entry.name)));
    clusters += Math.ceil(entry.size / CLUSTER);
  }
  for (const count of dirents.values()) clusters += Math.ceil((count * 32) / CLUSTER);
  // Slack for what the estimate does not model (mkfs.fat's rounding, the FSInfo sector, ...).
  clusters = Math.max(MIN_FAT32_CLUSTERS + 64, Math.ceil(clusters * 1.005) + 128);
  const fatSectors = Math.ceil(((clusters + 2) * 4) / SECTOR);
  const sectors = RESERVED_SECTORS + fatSectors + clusters;
  return Math.ceil((sectors * SECTOR) / 1024) * 1024;
}

function run(tool: string, args: string[], env: NodeJS.ProcessEnv): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(tool, args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      if (stderr.length < 4096) stderr += chunk.toString();
    });
    child.on('error', (error: NodeJS.ErrnoException) => {
      reject(
        error.code === 'ENOENT'
          ? new FatError('RB_FAT_TOOL_MISSING', `${tool} is not installed: HTTP boot builds boot.img with it (apt install ${PACKAGE_OF[tool] ?? tool})`)
          : new FatError('RB_FAT_BUILD', `${tool}: ${error.message}`),
      );
    });
    child.on('close', (code) => {
      if (code === 0) resolve();
      else reject(new FatError('RB_FAT_BUILD', `${tool} ${args.slice(0, 4).join(' ')} ... exited ${code}: ${stderr.trim()}`));
    });
  });
}

/**
 * Writes a FAT32 image holding `entries` to `output` (created; must not exist). `epoch` (seconds)
 * is the time of every file and directory in it.
 */
export async function buildFatImage(entries: readonly FatEntry[], output: string, options: { epoch: number }): Promise<number> {
  const size = fatImageSize(entries);
  const env: NodeJS.ProcessEnv = {
    PATH: process.env['PATH'] ?? '/usr/sbin:/usr/bin:/sbin:/bin',
    LC_ALL: 'C',
    SOURCE_DATE_EPOCH: String(Math.max(315_532_800, Math.floor(options.epoch))), // FAT dates start in 1980
    MTOOLSRC: '/dev/null',
    MTOOLS_SKIP_CHECK: '1',
  };
  await run('mkfs.fat', ['-C', '-F', '32', '-S', String(SECTOR), '-s', '1', '-f', '1', '-R', String(RESERVED_SECTORS), '-n', LABEL, '--invariant', output, String(size / 1024)], env);
  for (const dir of directoriesOf(entries)) await run('mmd', ['-i', output, `::/${dir}`], env);
  const byDir = new Map<string, FatEntry[]>();
  for (const entry of [...entries].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    const dir = path.posix.dirname(entry.name);
    byDir.set(dir, [...(byDir.get(dir) ?? []), entry]);
  }
  for (const [dir, files] of [...byDir].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    // mcopy names each copy after its source's base name: callers give sources named as in the image.
    for (const file of files) {
      if (path.basename(file.source) !== path.posix.basename(file.name)) {
        throw new FatError('RB_FAT_BUILD', `source ${file.source} must be named ${path.posix.basename(file.name)}`);
      }
    }
    await run('mcopy', ['-Q', '-i', output, ...files.map((file) => file.source), dir === '.' ? '::/' : `::/${dir}/`], env);
  }
  return size;
}
