import type { Db } from './db.js';
import type { ReadCache } from './read-cache.js';
import type { BlobRef } from '../images/blob-store.js';

export interface ImageRecord {
  id: number;
  name: string;
  version: number;
  arch: string;
  kernel: BlobRef;
  initrd: BlobRef | null;
  /** file name -> digest */
  dtbs: Record<string, string>;
  /** file name -> digest: a firmware set that overrides the shared firmware directory. */
  firmware: Record<string, string>;
  cmdline: string | null;
  configTxt: string | null;
  notes: string | null;
  /** Served to Pis as an HTTP boot ramdisk (boot.img + boot.sig), see server/boot/ramdisk.ts. */
  httpBoot: boolean;
  createdAt: number;
}

export interface NewImage {
  name: string;
  arch: string;
  kernel: BlobRef;
  initrd?: BlobRef | null;
  dtbs?: Record<string, string>;
  firmware?: Record<string, string>;
  cmdline?: string | null;
  configTxt?: string | null;
  notes?: string | null;
  httpBoot?: boolean;
}

interface ImageRow {
  id: number;
  name: string;
  version: number;
  arch: string;
  kernel: string;
  kernel_size: number;
  initrd: string | null;
  initrd_size: number | null;
  dtbs: string;
  firmware: string;
  cmdline: string | null;
  config_txt: string | null;
  notes: string | null;
  http_boot: number;
  created_at: number;
}

/** A file table without a prototype: files are looked up by names from requests, and `constructor` is no file. */
function fileTable(json: string): Record<string, string> {
  return Object.assign(Object.create(null) as Record<string, string>, JSON.parse(json) as Record<string, string>);
}

function toRecord(row: ImageRow): ImageRecord {
  return {
    id: row.id,
    name: row.name,
    version: row.version,
    arch: row.arch,
    kernel: { digest: row.kernel, size: row.kernel_size },
    initrd: row.initrd ? { digest: row.initrd, size: row.initrd_size ?? 0 } : null,
    dtbs: fileTable(row.dtbs),
    firmware: fileTable(row.firmware),
    cmdline: row.cmdline,
    configTxt: row.config_txt,
    notes: row.notes,
    httpBoot: row.http_boot === 1,
    createdAt: row.created_at,
  };
}

/** Arch "any" images boot on every client; others only where the client's arch is unknown or equal. */
export const ANY_ARCH = 'any';

/** Image arches a client arch can boot, preferred first: BIOS iPXE is 32-bit (${buildarch} = i386) on x86-64 machines. */
const RUNS_ON = new Map<string, string[]>([['i386', ['i386', 'x86_64']]]);

/** The image arches a client of `arch` runs, best first. */
export function archesFor(arch: string): string[] {
  return [...(RUNS_ON.get(arch) ?? [arch]), ANY_ARCH];
}

function sameContent(row: ImageRecord, image: NewImage): boolean {
  return (
    row.kernel.digest === image.kernel.digest &&
    (row.initrd?.digest ?? null) === (image.initrd?.digest ?? null) &&
    JSON.stringify(row.dtbs) === JSON.stringify(image.dtbs ?? {}) &&
    JSON.stringify(row.firmware) === JSON.stringify(image.firmware ?? {}) &&
    row.cmdline === (image.cmdline ?? null) &&
    row.configTxt === (image.configTxt ?? null) &&
    row.httpBoot === (image.httpBoot ?? false)
  );
}

export class Images {
  // Prepared once: every boot request resolves its image through these.
  private readonly byIdStmt;
  private readonly versionsStmt;
  /** One row however many versions a name has; the UNIQUE (name, version, arch) index serves it. */
  private readonly newestStmt;

  constructor(
    private readonly db: Db,
    private readonly cache: ReadCache,
  ) {
    this.byIdStmt = db.prepare<[number], ImageRow>('SELECT * FROM images WHERE id = ?');
    this.versionsStmt = db.prepare<[string], ImageRow>('SELECT * FROM images WHERE name = ? ORDER BY version, arch');
    this.newestStmt = db.prepare<{ name: string; arch: string | null; version: number | null }, ImageRow>(
      `SELECT * FROM images WHERE name = @name AND (@arch IS NULL OR arch = @arch) AND (@version IS NULL OR version = @version)
       ORDER BY version DESC, arch LIMIT 1`,
    );
  }

  /** Adds a new version of `name`; re-adding the newest version's exact content returns it unchanged. */
  add(image: NewImage, now = Date.now()): { image: ImageRecord; created: boolean } {
    return this.cache.write(() => {
      const newest = this.newest(image.name, image.arch);
      if (newest && newest.arch === image.arch && sameContent(newest, image)) return { image: newest, created: false };
      const version =
        (this.db.prepare<[string], { v: number | null }>('SELECT max(version) AS v FROM images WHERE name = ?').get(image.name)
          ?.v ?? 0) + 1;
      const id = this.db
        .prepare(
          `INSERT INTO images (name, version, arch, kernel, kernel_size, initrd, initrd_size, dtbs, firmware,
             cmdline, config_txt, notes, http_boot, created_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(
          image.name,
          version,
          image.arch,
          image.kernel.digest,
          image.kernel.size,
          image.initrd?.digest ?? null,
          image.initrd?.size ?? null,
          JSON.stringify(image.dtbs ?? {}),
          JSON.stringify(image.firmware ?? {}),
          image.cmdline ?? null,
          image.configTxt ?? null,
          image.notes ?? null,
          image.httpBoot ? 1 : 0,
          now,
        ).lastInsertRowid;
      return { image: this.byId(Number(id))!, created: true };
    });
  }

  byId(id: number): ImageRecord | undefined {
    return this.cache.read(`image:${id}`, () => {
      const row = this.byIdStmt.get(id);
      return row && toRecord(row);
    });
  }

  list(): ImageRecord[] {
    return this.db.prepare<[], ImageRow>('SELECT * FROM images ORDER BY name, version, arch').all().map(toRecord);
  }

  versions(name: string): ImageRecord[] {
    return this.versionsStmt.all(name).map(toRecord);
  }

  /**
   * The image a client of `arch` boots for `name`: the pinned version when given, else the newest
   * version built for an arch the client runs, in order of preference, then "any" builds.
   */
  newest(name: string, arch?: string | null, version?: number | null): ImageRecord | undefined {
    return this.cache.read(`newest:${name}:${arch}:${version}`, () => {
      const pick = (wanted: string | null) => this.newestStmt.get({ name, arch: wanted, version: version ?? null });
      const wanted = !arch || arch === 'unknown' ? [null] : archesFor(arch);
      for (const each of wanted) {
        const row = pick(each);
        if (row) return toRecord(row);
      }
      return undefined;
    });
  }

  /** Removes one version, or every version of the name; refuses while a node is pinned or assigned to it. */
  remove(name: string, version?: number): number {
    const params = version === undefined ? [name] : [name, version];
    const where = version === undefined ? 'name = ?' : 'name = ? AND version = ?';
    return this.cache.write(() => this.db.prepare(`DELETE FROM images WHERE ${where}`).run(...params).changes);
  }

  /** Every blob digest an image row (boot or bootloader EEPROM) points to; the garbage collector keeps these. */
  referencedDigests(): Set<string> {
    const digests = new Set<string>();
    for (const image of this.list()) {
      digests.add(image.kernel.digest);
      if (image.initrd) digests.add(image.initrd.digest);
      for (const digest of [...Object.values(image.dtbs), ...Object.values(image.firmware)]) digests.add(digest);
    }
    // Bootloader EEPROM images share the store.
    for (const row of this.db.prepare<[], { digest: string }>('SELECT digest FROM eeprom_images').all()) digests.add(row.digest);
    return digests;
  }
}
