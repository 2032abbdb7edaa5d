/**
 * Parser for the kernel's gen_init_cpio list format (usr/gen_init_cpio.c), so a minimal initramfs
 * can be described in a text file and packed without root:
 *
 *   # comment
 *   dir   <name> <mode> <uid> <gid>
 *   file  <name> <location> <mode> <uid> <gid>
 *   slink <name> <target> <mode> <uid> <gid>
 *   nod   <name> <mode> <uid> <gid> <b|c> <major> <minor>
 *   pipe  <name> <mode> <uid> <gid>
 *   sock  <name> <mode> <uid> <gid>
 *
 * Modes are octal permission bits (the line kind gives the file type), uid/gid decimal. Unlike
 * gen_init_cpio, a relative <location> is resolved against the list file's directory, and hard
 * link names after a `file` line are refused rather than supported.
 *
 * Exports `parseCpioList(text)` -> `ListedEntry[]` (pure; file contents are not read here).
 */
import path from 'node:path';
import { CpioError, S_IFBLK, S_IFCHR, S_IFDIR, S_IFIFO, S_IFLNK, S_IFREG, S_IFSOCK, type CpioEntry } from './cpio.js';

export interface ListedEntry {
  /** The entry without file data (mtime 0); symlink targets are already in `data`. */
  entry: CpioEntry;
  /** `file` lines: the content's path as written in the list. */
  location?: string;
  /** 1-based line number, for error messages. */
  line: number;
}

/** Fields after the name (and location/target) for each kind: mode uid gid [extra]. */
const SHAPES: Record<string, { type: number; fields: number; sourceField: boolean }> = {
  dir: { type: S_IFDIR, fields: 4, sourceField: false },
  file: { type: S_IFREG, fields: 5, sourceField: true },
  slink: { type: S_IFLNK, fields: 5, sourceField: true },
  nod: { type: 0, fields: 7, sourceField: false },
  pipe: { type: S_IFIFO, fields: 4, sourceField: false },
  sock: { type: S_IFSOCK, fields: 4, sourceField: false },
};

export function parseCpioList(text: string): ListedEntry[] {
  const result: ListedEntry[] = [];
  text.split('\n').forEach((raw, index) => {
    const line = index + 1;
    const words = raw.trim().split(/\s+/);
    const kind = words[0];
    if (!kind || kind.startsWith('#')) return;
    const fail = (why: string): never => {
      throw new CpioError('RB_CPIO_INVALID', `list line ${line}: ${why} (${raw.trim()})`);
    };
    const shape = SHAPES[kind] ?? fail(`unknown entry type "${kind}" (expected dir, file, slink, nod, pipe or sock)`);
    if (kind === 'file' && words.length > shape.fields + 1) fail('hard link names after a file line are not supported; list each file once');
    if (words.length !== shape.fields + 1) fail(`"${kind}" takes ${shape.fields} fields`);
    const [name, ...rest] = words.slice(1) as [string, ...string[]];
    const source = shape.sourceField ? rest.shift() : undefined;
    const [mode, uid, gid, ...device] = rest as [string, string, string, ...string[]];
    const entry: CpioEntry = {
      name: archiveName(name, fail),
      mode: shape.type | octalMode(mode, fail),
      uid: decimal(uid, 'uid', fail),
      gid: decimal(gid, 'gid', fail),
      mtime: 0,
    };
    if (kind === 'nod') {
      const [devType, major, minor] = device as [string, string, string];
      if (devType !== 'b' && devType !== 'c') fail(`device type must be b or c, not "${devType}"`);
      entry.mode |= devType === 'b' ? S_IFBLK : S_IFCHR;
      entry.rdevMajor = decimal(major, 'major', fail);
      entry.rdevMinor = decimal(minor, 'minor', fail);
    }
    if (kind === 'slink') entry.data = Buffer.from(source as string, 'utf8');
    result.push(kind === 'file' ? { entry, location: source, line } : { entry, line });
  });
  return result;
}

/** "/bin/sh" and "bin/sh" both become "bin/sh"; anything escaping the root is refused. */
function archiveName(name: string, fail: (why: string) => never): string {
  const normalized = path.posix.normalize(name).replace(/^\/+/, '').replace(/\/+$/, '');
  if (!normalized || normalized === '.' || normalized === '..' || normalized.startsWith('../')) fail(`invalid name "${name}"`);
  return normalized;
}

function octalMode(text: string, fail: (why: string) => never): number {
  if (!/^[0-7]{1,5}$/.test(text) || Number.parseInt(text, 8) > 0o7777) fail(`mode "${text}" is not octal permission bits (0000-7777)`);
  return Number.parseInt(text, 8);
}

function decimal(text: string, what: string, fail: (why: string) => never): number {
  if (!/^\d{1,10}$/.test(text) || Number(text) > 0xffffffff) fail(`${what} "${text}" is not a number`);
  return Number(text);
}
