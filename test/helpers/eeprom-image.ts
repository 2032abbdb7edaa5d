// A synthetic bootloader EEPROM image in the documented section layout (no real pieeprom-*.bin can
// be downloaded here), and an independent reader of it, written from the format, not from server/.
const SECTION = 0x55aaf00f;
const FILE = 0x55aaf11f;
const PAD = 0x55aafeef;

export const FAKE_BUILD_TS = 1731428000;
export const FAKE_VERSION = '4b019946';

function section(image: Buffer, offset: number, magic: number, body: Buffer): number {
  image.writeUInt32BE(magic, offset);
  image.writeUInt32BE(body.length, offset + 4);
  body.copy(image, offset + 8);
  return (offset + 8 + body.length + 7) & ~7;
}

/** Sections follow each other without gaps: erased bytes would read as the end of the image. */
function padTo(image: Buffer, offset: number, target: number): void {
  if (offset < target) section(image, offset, PAD, Buffer.alloc(target - offset - 8, 0xff));
}

function fileBody(name: string, content: Buffer): Buffer {
  const header = Buffer.alloc(16); // 12-byte NUL-padded name, 4 bytes the bootloader keeps
  header.write(name, 0, 'latin1');
  return Buffer.concat([header, content]);
}

/**
 * 512 KiB (or 2 MiB) of erased flash holding: a code section with the version strings, bootconf.txt
 * at the start of a 4 KiB sector, and (unless `lastIsConfig`) a pubkey.bin file in the next sector.
 */
export function fakeEepromImage(options: { size?: number; config?: string; lastIsConfig?: boolean } = {}): Buffer {
  const image = Buffer.alloc(options.size ?? 512 * 1024, 0xff);
  const code = Buffer.alloc(3000, 0x11);
  code.write(`RPi: BOOTLOADER release VERSION:${FAKE_VERSION} DATE: 2024/11/12 BUILD_TIMESTAMP=${FAKE_BUILD_TS}\0`, 100, 'latin1');
  padTo(image, section(image, 0, SECTION, code), 0x1000);
  const afterConf = section(image, 0x1000, FILE, fileBody('bootconf.txt', Buffer.from(options.config ?? '[all]\nBOOT_UART=0\nBOOT_ORDER=0xf41\n')));
  if (options.lastIsConfig) return image;
  padTo(image, afterConf, 0x2000);
  section(image, 0x2000, FILE, fileBody('pubkey.bin', Buffer.alloc(264, 0x22)));
  return image;
}

export interface ReadSection {
  offset: number;
  magic: number;
  name?: string;
  content: Buffer;
}

/** Walks the sections: magic and length big-endian, files' content after a 24-byte header, 8-byte alignment. */
export function readSections(image: Buffer): ReadSection[] {
  const found: ReadSection[] = [];
  for (let offset = 0; offset + 8 <= image.length; ) {
    const magic = image.readUInt32BE(offset);
    if (magic === 0xffffffff || magic === 0) break;
    if (((magic & 0xfffff00f) >>> 0) !== SECTION) throw new Error(`bad magic ${magic.toString(16)} at ${offset}`);
    const length = image.readUInt32BE(offset + 4);
    const isFile = magic === FILE;
    found.push({
      offset,
      magic,
      ...(isFile && { name: image.toString('latin1', offset + 8, offset + 20).replace(/\0+$/, '') }),
      content: isFile ? image.subarray(offset + 24, offset + 8 + length) : image.subarray(offset + 8, offset + 8 + length),
    });
    offset = (offset + 8 + length + 7) & ~7;
  }
  return found;
}

export function readBootconf(image: Buffer): string {
  const conf = readSections(image).find((entry) => entry.name === 'bootconf.txt');
  if (!conf) throw new Error('no bootconf.txt');
  return conf.content.toString('latin1');
}
