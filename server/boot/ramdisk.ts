/**
 * Raspberry Pi HTTP boot (bootloader mode 7): the `boot.img` ramdisk and its `boot.sig` for one
 * node's boot, built on demand and cached by content.
 *
 * boot.img is a FAT32 image holding what the Pi would otherwise fetch file by file over TFTP: the
 * firmware (start4*.elf, fixup4*.dat, dtbs, overlays/ from assetsDir/firmware, overridden and
 * extended by the image's own firmware set and dtbs), the node's rendered config.txt and
 * cmdline.txt, the kernel and the initramfs with the node's overlay. The bootloader mounts it as
 * its boot file system (what `boot_ramdisk=1` does for an SD card or TFTP), so the config.txt
 * inside is the node's usual one and names files inside the ramdisk.
 *
 * Why per node: config.txt, cmdline.txt (hostname, booted URL) and the initramfs overlay differ
 * between nodes, so one image per image version would boot every node as the same host. The cache
 * key is the digest of everything that goes in, so nodes with identical content share one file,
 * and a changed assignment, template or firmware file makes a new one. The cache is bounded
 * (httpBoot.cacheMaxBytes, least recently served removed first), builds run one at a time, and
 * at most MAX_WAITING distinct builds may wait: nothing a LAN client sends grows it without bound.
 */
import { createHash, randomUUID, type KeyObject } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, open, readdir, readFile, realpath, rename, rm, stat, symlink, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { BootFiles, ServedFile } from './files.js';
import type { BootPlan } from './policy.js';
import { PI_INITRAMFS_FILE, PI_KERNEL_FILE } from './vars.js';
import type { Config } from '../config/types.js';
import { isInside } from '../files/safe-open.js';
import { PRIVATE_DIR_MODE, PRIVATE_FILE_MODE } from '../files/private.js';
import type { BlobStore } from '../images/blob-store.js';
import type { ImageRecord } from '../inventory/images.js';
import { bootSig } from '../images/boot-sig.js';
import { createConcatReadStream, type ConcatPart } from '../images/concat.js';
import { buildFatImage, fatImageSize } from '../images/fat.js';
import { markInUse } from '../images/in-use.js';
import { formatBytes } from '../timeline/format.js';

/** The largest ramdisk the Raspberry Pi bootloader loads over HTTP. */
export const MAX_RAMDISK_BYTES = 128 * 2 ** 20;
/** Distinct builds that may wait for their turn; more are refused as busy. */
const MAX_WAITING = 16;
/** Files taken from a firmware directory: what a Pi 4/5 boot reads (Pi 3 and kernel*.img files stay out). */
const FIRMWARE_FILE = /^(start4[a-z]*\.elf|fixup4[a-z]*\.dat|[^/]+\.dtb|overlays\/.+)$/;
/** Room for a node's overlay archive (hostname, SSH keys) in an estimate made before any node boots. */
const OVERLAY_ALLOWANCE = 64 * 1024;
/** Bump when the image's content changes for the same inputs, so old cache files are not reused. */
const FORMAT_VERSION = 1;

export class RamdiskError extends Error {
  constructor(
    readonly code: 'RB_RAMDISK_TOO_BIG' | 'RB_RAMDISK_BUSY',
    message: string,
  ) {
    super(message);
    this.name = 'RamdiskError';
  }
}

type Content = { kind: 'path'; path: string; inUseMark?: string } | { kind: 'bytes'; data: Buffer } | { kind: 'parts'; parts: ConcatPart[] };

/** One file of the ramdisk: where it goes, how big, what identifies its content, where it comes from. */
interface Item {
  name: string;
  size: number;
  identity: string;
  content: Content;
}

export interface Ramdisk {
  /** Open boot.img: whoever serves it closes the handle. */
  img: ServedFile & { kind: 'open' };
  sig: string;
}

const sha256 = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');
const byName = (a: Item, b: Item) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

/** Regular files under `root` matching FIRMWARE_FILE (symlinks followed while they stay inside), by relative path. */
async function firmwareFiles(root: string): Promise<Map<string, { path: string; size: number; mtimeMs: number }>> {
  const found = new Map<string, { path: string; size: number; mtimeMs: number }>();
  const realRoot = await realpath(root).catch(() => undefined);
  if (!realRoot) return found;
  for (const entry of await readdir(realRoot, { recursive: true, withFileTypes: true })) {
    const file = path.join(entry.parentPath, entry.name);
    const name = path.relative(realRoot, file).split(path.sep).join('/');
    if (!FIRMWARE_FILE.test(name) || !(entry.isFile() || entry.isSymbolicLink())) continue;
    const real = await realpath(file).catch(() => undefined);
    const info = real && isInside(realRoot, real) ? await stat(real).catch(() => undefined) : undefined;
    if (info?.isFile()) found.set(name, { path: real!, size: info.size, mtimeMs: info.mtimeMs });
  }
  return found;
}

/** The size boot.img has for these files; throws RB_RAMDISK_TOO_BIG over the bootloader's limit. */
export function checkRamdiskSize(files: readonly { name: string; size: number }[], what: string): number {
  const size = fatImageSize(files.map((file) => ({ name: file.name, source: '', size: file.size })));
  if (size <= MAX_RAMDISK_BYTES) return size;
  const biggest = [...files].sort((a, b) => b.size - a.size).slice(0, 3);
  throw new RamdiskError(
    'RB_RAMDISK_TOO_BIG',
    `${what}: boot.img would be ${size} bytes (${formatBytes(size)}), over the Raspberry Pi bootloader's ${MAX_RAMDISK_BYTES}-byte (128 MiB) ramdisk limit; ` +
      `largest files: ${biggest.map((file) => `${file.name} ${formatBytes(file.size)}`).join(', ')}. ` +
      'Shrink the initramfs (xz/zstd, fewer modules) or the firmware set (leave out overlays and dtbs the nodes do not use)',
  );
}

/**
 * boot.img's files for an image before any node boots it, with their sizes: the shared firmware,
 * the image's own files and room for config.txt, cmdline.txt and a node overlay; for checkRamdiskSize.
 */
export async function estimateRamdisk(
  config: Config,
  image: Pick<ImageRecord, 'kernel' | 'initrd' | 'dtbs' | 'firmware'>,
  blobSize: (name: string, digest: string) => Promise<number>,
): Promise<{ name: string; size: number }[]> {
  const sizes = new Map<string, number>();
  for (const [name, file] of await firmwareFiles(path.join(config.assetsDir, 'firmware'))) sizes.set(name, file.size);
  for (const [name, digest] of [...Object.entries(image.firmware), ...Object.entries(image.dtbs)]) sizes.set(name, await blobSize(name, digest));
  sizes.set(PI_KERNEL_FILE, image.kernel.size);
  if (image.initrd) sizes.set(PI_INITRAMFS_FILE, image.initrd.size + OVERLAY_ALLOWANCE);
  sizes.set('config.txt', 4096);
  sizes.set('cmdline.txt', 4096);
  return [...sizes].map(([name, size]) => ({ name, size }));
}

/** Builds, signs, caches and bounds the ramdisks of HTTP-booting Pis. */
export class Ramdisks {
  private readonly pending = new Map<string, Promise<void>>();
  /** Builds run one after another: each reads and writes up to 128 MiB. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly config: Config,
    private readonly files: BootFiles,
    private readonly store: BlobStore,
    readonly cacheDir: string,
    private readonly signingKey?: KeyObject,
  ) {}

  /** What goes into the node's boot.img, sorted by name; later sources override earlier ones. */
  async items(plan: BootPlan): Promise<Item[]> {
    const { image } = plan;
    const items = new Map<string, Item>();
    for (const [name, file] of await firmwareFiles(path.join(this.config.assetsDir, 'firmware'))) {
      items.set(name, { name, size: file.size, identity: `file:${file.path}:${file.size}:${file.mtimeMs}`, content: { kind: 'path', path: file.path } });
    }
    for (const [name, digest] of [...Object.entries(image.firmware), ...Object.entries(image.dtbs)]) {
      const part = this.store.servedPart({ digest, size: await this.files.blobSize(image.name, name, digest) });
      items.set(name, { name, size: part.size, identity: digest, content: { kind: 'path', ...part } });
    }
    const bytes = (name: string, text: string) => {
      const data = Buffer.from(text);
      items.set(name, { name, size: data.length, identity: sha256(data), content: { kind: 'bytes', data } });
    };
    bytes('config.txt', this.files.configTxt(plan));
    bytes('cmdline.txt', `${this.files.cmdline(plan)}\n`);
    const kernel = this.store.servedPart(image.kernel);
    items.set(PI_KERNEL_FILE, { name: PI_KERNEL_FILE, size: kernel.size, identity: image.kernel.digest, content: { kind: 'path', ...kernel } });
    const initramfs = await this.files.initramfs(plan);
    if (initramfs) {
      items.set(PI_INITRAMFS_FILE, { name: PI_INITRAMFS_FILE, size: initramfs.size, identity: initramfs.key, content: { kind: 'parts', parts: initramfs.parts } });
    }
    return [...items.values()].sort(byName);
  }

  /** The node's boot.img (open) and boot.sig, built unless the cache has them. */
  async forPlan(plan: BootPlan): Promise<Ramdisk> {
    const items = await this.items(plan);
    const what = `image ${plan.image.name} v${plan.image.version} for ${plan.node.mac ?? plan.node.serial}`;
    checkRamdiskSize(items, what);
    const ts = Math.floor(plan.image.createdAt / 1000);
    const signer = this.signingKey ? sha256(this.signingKey.export({ type: 'pkcs1', format: 'der' })) : null;
    const key = sha256(JSON.stringify({ v: FORMAT_VERSION, ts, signer, items: items.map((item) => [item.name, item.size, item.identity]) }));
    const img = path.join(this.cacheDir, `${key}.img`);
    const sigFile = path.join(this.cacheDir, `${key}.sig`);
    if (!(await this.touch(img, sigFile))) {
      let build = this.pending.get(key);
      if (!build) {
        if (this.pending.size >= MAX_WAITING) {
          throw new RamdiskError('RB_RAMDISK_BUSY', `${MAX_WAITING} boot.img builds are already waiting; retry in a few seconds`);
        }
        build = this.enqueue(() => this.build(key, items, ts)).finally(() => this.pending.delete(key));
        this.pending.set(key, build);
      }
      await build;
    }
    const handle = await open(img, 'r');
    try {
      const [size, sig] = await Promise.all([handle.stat().then((info) => info.size), readFile(sigFile, 'utf8')]);
      return { img: { kind: 'open', handle, size, etag: key }, sig };
    } catch (error) {
      await handle.close();
      throw error;
    }
  }

  private enqueue(work: () => Promise<void>): Promise<void> {
    const run = this.queue.then(work, work);
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Marks a cached pair as just used; false when either file is missing. */
  private async touch(img: string, sig: string): Promise<boolean> {
    const now = new Date();
    try {
      await utimes(img, now, now);
      await stat(sig);
      return true;
    } catch {
      return false;
    }
  }

  private async build(key: string, items: readonly Item[], ts: number): Promise<void> {
    await mkdir(this.cacheDir, { recursive: true, mode: PRIVATE_DIR_MODE });
    const work = path.join(this.cacheDir, `.${key}.${randomUUID()}.tmp`);
    await mkdir(work, { mode: PRIVATE_DIR_MODE });
    try {
      const stage = path.join(work, 'files');
      const entries = [];
      for (const item of items) entries.push({ name: item.name, size: item.size, source: await this.stage(stage, item) });
      const img = path.join(work, 'boot.img');
      await buildFatImage(entries, img, { epoch: ts });
      const sig = await bootSig(img, { ts, ...(this.signingKey && { key: this.signingKey }) });
      await writeFile(path.join(work, 'boot.sig'), sig, { mode: PRIVATE_FILE_MODE });
      // The signature first: a boot.img is only ever found with its boot.sig beside it.
      await rename(path.join(work, 'boot.sig'), path.join(this.cacheDir, `${key}.sig`));
      await rename(img, path.join(this.cacheDir, `${key}.img`));
    } finally {
      await rm(work, { recursive: true, force: true });
    }
    await this.prune(key);
  }

  /** Puts the item in the staging tree under its own name (mcopy names files after their source). */
  private async stage(stage: string, item: Item): Promise<string> {
    const target = path.join(stage, ...item.name.split('/'));
    await mkdir(path.dirname(target), { recursive: true, mode: PRIVATE_DIR_MODE });
    const { content } = item;
    if (content.kind === 'bytes') await writeFile(target, content.data, { mode: PRIVATE_FILE_MODE });
    else if (content.kind === 'path') {
      if (content.inUseMark) await markInUse(content.inUseMark);
      await symlink(content.path, target);
    } else if (content.parts.length === 1) {
      const [part] = content.parts as [ConcatPart];
      if (part.inUseMark) await markInUse(part.inUseMark);
      await symlink(part.path, target);
    } else {
      await pipeline(createConcatReadStream(content.parts), createWriteStream(target, { mode: PRIVATE_FILE_MODE }));
    }
    return target;
  }

  /** Removes the least recently served ramdisks beyond httpBoot.cacheMaxBytes (never `keep`), and dead temp dirs. */
  async prune(keep?: string): Promise<number> {
    const limit = this.config.httpBoot.cacheMaxBytes;
    const cached: { key: string; size: number; mtimeMs: number }[] = [];
    const staleBefore = Date.now() - 10 * 60_000;
    let removed = 0;
    for (const name of await readdir(this.cacheDir).catch(() => [] as string[])) {
      const file = path.join(this.cacheDir, name);
      const info = await stat(file).catch(() => undefined);
      if (!info) continue;
      const key = /^([0-9a-f]{64})\.img$/.exec(name)?.[1];
      if (key) cached.push({ key, size: info.size, mtimeMs: info.mtimeMs });
      else if (name.endsWith('.tmp') && info.mtimeMs < staleBefore) {
        await rm(file, { recursive: true, force: true });
        removed += 1;
      }
    }
    let total = cached.reduce((sum, entry) => sum + entry.size, 0);
    for (const entry of cached.sort((a, b) => a.mtimeMs - b.mtimeMs)) {
      if (total <= limit) break;
      if (entry.key === keep) continue;
      // An open boot.img keeps being served from its descriptor after the unlink.
      await rm(path.join(this.cacheDir, `${entry.key}.img`), { force: true });
      await rm(path.join(this.cacheDir, `${entry.key}.sig`), { force: true });
      total -= entry.size;
      removed += 1;
    }
    return removed;
  }
}
