/**
 * The Raspberry Pi bootloader EEPROM image (pieeprom-*.bin), as Raspberry Pi's rpi-eeprom-config
 * reads and writes it: a run of sections, each a big-endian magic and length, the next one at the
 * following 8-byte boundary. Modifiable files (bootconf.txt) have their own magic, a 12-byte
 * NUL-padded name and 4 more header bytes before their content. Pure: bytes in, bytes out.
 */

import { digestLines } from '../images/boot-sig.js';

export const EEPROM_IMAGE_SIZES = [512 * 1024, 2 * 1024 * 1024] as const;
export const BOOTCONF_TXT = 'bootconf.txt';

const MAGIC = 0x55aaf00f;
const MAGIC_MASK = 0xfffff00f;
const FILE_MAGIC = 0x55aaf11f;
const PAD_MAGIC = 0x55aafeef;
const SECTION_HEADER = 8;
const FILE_NAME_BYTES = 12;
/** Magic, length, name and the 4 bytes the bootloader keeps before a file's content. */
const FILE_HEADER = SECTION_HEADER + FILE_NAME_BYTES + 4;
/** The bootloader's scratch sector at the end of the image: no section may reach into it. */
const SCRATCH_BYTES = 4096;
/** A modifiable file lives in one 4 KiB erase sector together with its 20-byte header. */
export const MAX_EEPROM_FILE_BYTES = 4096 - 20;

export class EepromImageError extends Error {
  readonly code = 'RB_EEPROM_IMAGE';
}

export interface EepromSection {
  magic: number;
  offset: number;
  /** The length field: bytes after the 8-byte magic and length. */
  length: number;
  /** For modifiable files only. */
  name?: string;
}

const align8 = (offset: number) => (offset + 7) & ~7;

/** The image's sections in order; throws on a size or a header the bootloader would not accept. */
export function eepromSections(image: Buffer): EepromSection[] {
  if (!(EEPROM_IMAGE_SIZES as readonly number[]).includes(image.length)) {
    throw new EepromImageError(`is ${image.length} bytes; a bootloader EEPROM image is 512 KiB (Pi 4) or 2 MiB (Pi 5)`);
  }
  const sections: EepromSection[] = [];
  let offset = 0;
  while (offset + SECTION_HEADER <= image.length) {
    const magic = image.readUInt32BE(offset);
    if (magic === 0 || magic === 0xffffffff) break; // erased flash: no more sections
    if ((magic & MAGIC_MASK) >>> 0 !== MAGIC) {
      throw new EepromImageError(`no section header at offset ${offset} (0x${magic.toString(16)}): not a bootloader EEPROM image, or a corrupted one`);
    }
    const length = image.readUInt32BE(offset + 4);
    if (offset + SECTION_HEADER + length > image.length) throw new EepromImageError(`the section at offset ${offset} runs past the end of the image`);
    const section: EepromSection = { magic, offset, length };
    if (magic === FILE_MAGIC) {
      if (length < FILE_HEADER - SECTION_HEADER) throw new EepromImageError(`the file section at offset ${offset} is shorter than its header`);
      section.name = image.toString('latin1', offset + SECTION_HEADER, offset + SECTION_HEADER + FILE_NAME_BYTES).replace(/\0+$/, '');
    }
    sections.push(section);
    offset = align8(offset + SECTION_HEADER + length);
  }
  return sections;
}

function fileSection(sections: EepromSection[], name: string): number {
  const index = sections.findIndex((section) => section.magic === FILE_MAGIC && section.name === name);
  if (index < 0) throw new EepromImageError(`has no ${name} section: not a bootloader image that takes a configuration`);
  return index;
}

/** The content of a modifiable file (bootconf.txt). */
export function eepromFile(image: Buffer, name = BOOTCONF_TXT): Buffer {
  const sections = eepromSections(image);
  const section = sections[fileSection(sections, name)]!;
  const start = section.offset + FILE_HEADER;
  return Buffer.from(image.subarray(start, start + section.length - (FILE_HEADER - SECTION_HEADER)));
}

/**
 * A copy of the image with the file's content replaced. The new content must fit the space up to
 * the next section that is not padding (or the scratch sector); what it leaves free is erased
 * (0xff), covered by a padding section when there is room for one and a section follows.
 */
export function replaceEepromFile(image: Buffer, content: Buffer, name = BOOTCONF_TXT): Buffer {
  const sections = eepromSections(image);
  const index = fileSection(sections, name);
  const section = sections[index]!;
  if (content.length > MAX_EEPROM_FILE_BYTES) {
    throw new EepromImageError(`${name} would be ${content.length} bytes; the bootloader takes at most ${MAX_EEPROM_FILE_BYTES}`);
  }
  const following = sections.slice(index + 1).find((next) => next.magic !== PAD_MAGIC);
  const limit = following?.offset ?? image.length - SCRATCH_BYTES;
  const end = section.offset + FILE_HEADER + content.length;
  if (end > limit) {
    throw new EepromImageError(`${name} would be ${content.length} bytes; its section in this image holds at most ${limit - section.offset - FILE_HEADER}`);
  }
  const out = Buffer.from(image);
  out.writeUInt32BE(content.length + FILE_HEADER - SECTION_HEADER, section.offset + 4);
  content.copy(out, section.offset + FILE_HEADER);
  let pad = end;
  while (pad % 8 !== 0) out[pad++] = 0xff;
  const isLast = index === sections.length - 1;
  if (limit - pad > SECTION_HEADER && !isLast) {
    out.writeUInt32BE(PAD_MAGIC, pad);
    out.writeUInt32BE(limit - pad - SECTION_HEADER, pad + 4);
    pad += SECTION_HEADER;
  }
  out.fill(0xff, pad, Math.max(pad, limit));
  return out;
}

/** What identifies a bootloader build: the strings the bootloader also prints on its console. */
export interface EepromBuild {
  buildTs: number | null;
  version: string | null;
}

export function eepromBuild(image: Buffer): EepromBuild {
  const after = (marker: string, pattern: RegExp): string | null => {
    const at = image.indexOf(marker, 0, 'latin1');
    if (at < 0) return null;
    return pattern.exec(image.toString('latin1', at + marker.length, at + marker.length + 48))?.[0] ?? null;
  };
  const ts = after('BUILD_TIMESTAMP=', /^\d{1,12}/);
  return { buildTs: ts === null ? null : Number(ts), version: after('VERSION:', /^[0-9a-f]{7,40}/) };
}

/** pieeprom.sig as rpi-eeprom-digest writes it without a signing key. */
export function eepromSignature(sha256Hex: string, ts: number): Buffer {
  return Buffer.from(digestLines(sha256Hex, ts));
}
