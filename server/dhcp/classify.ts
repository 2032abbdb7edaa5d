/** From a decoded request to the Client the boot policy decides on. Pure. */
import type { Arch, Client, Firmware } from '../boot/client.js';
import { macFromBytes, type Mac } from '../net/mac.js';
import type { DhcpPacket } from './codec.js';
import { Opt, optionText, optionU16, userClasses } from './options.js';

/** Every Pi bootloader sends this vendor class (option 60) and option 93 = 0, like x86 BIOS PXE. */
const PI_VENDOR_CLASS = 'PXEClient:Arch:00000:UNDI:002001';
/** The Pi 3B/3B+ boot ROM uses one transaction id for every DISCOVER. */
export const PI_ROM_XID = 0x26f30339;
/** Fallback only: the list goes stale, option 60 + 97 are what identify a Pi. */
const PI_OUIS = new Set(['b8:27:eb', 'dc:a6:32', 'e4:5f:01', 'd8:3a:dd', '28:cd:c1', '2c:cf:67', '88:a2:9e']);

/** Option 93 (RFC 4578 + IANA registry) to the machine architecture. */
const ARCH_BY_TYPE: ReadonlyMap<number, Arch> = new Map<number, Arch>([
  // 0 is x86 BIOS: the PXE environment is 16/32-bit but the machines are x86-64 today; the
  // firmware field ('pxe-bios') is what picks the BIOS iPXE binary.
  [0x00, 'x86_64'],
  [0x06, 'i386'],
  [0x07, 'x86_64'],
  [0x09, 'x86_64'],
  [0x0a, 'arm32'],
  [0x0b, 'arm64'],
  [0x0f, 'i386'],
  [0x10, 'x86_64'],
  [0x12, 'arm32'],
  [0x13, 'arm64'],
  [0x19, 'riscv32'],
  [0x1a, 'riscv32'],
  [0x1b, 'riscv64'],
  [0x1c, 'riscv64'],
]);
/** UEFI HTTP boot client architecture types. */
const HTTP_ARCH_TYPES = new Set([0x0f, 0x10, 0x12, 0x13, 0x1a, 0x1c]);

/** Board type field of a new-style Pi revision code (bits 4-11) to our model names. */
const PI_MODEL_BY_TYPE: ReadonlyMap<number, string> = new Map([
  [0x08, 'pi3b'],
  [0x0a, 'cm3'],
  [0x0d, 'pi3b+'],
  [0x10, 'cm3+'],
  [0x11, 'pi4'],
  [0x13, 'pi400'],
  [0x14, 'cm4'],
  [0x17, 'pi5'],
  [0x18, 'cm5'],
  [0x19, 'pi500'],
]);

export interface PiIdentity {
  /** 'RPi4' / 'RPi5' when the bootloader sent the FourCC layout. */
  fourcc?: string;
  revision?: number;
  serial?: string;
  model?: string;
}

/**
 * A serial as the 8 hex digits of its TFTP prefix, or undefined for the all-zero and all-FF
 * values: firmware fills unset UUIDs with those (an x86 PXE ROM's all-FF SMBIOS UUID looks like
 * a Pi 3B+ serial repeated), and no Pi has them.
 */
function piSerial(value: number): string | undefined {
  const serial = value >>> 0;
  return serial === 0 || serial === 0xffffffff ? undefined : serial.toString(16).padStart(8, '0');
}

/**
 * Option 97 as Pis fill it (17 bytes, byte 0 = 0): Pi 4/5 `RPi4`/`RPi5` + revision (LE u32) +
 * MAC bytes 2..5 + serial (LE u32); Pi 3B+ and DHCP_OPTION97=0 the serial repeated; Pi 3B a
 * constant. The serial is read little-endian like the FourCC layout's; the boot policy confirms
 * it when the same client asks TFTP for `<serial>/...`.
 */
export function decodePiOption97(value: Buffer | undefined): PiIdentity {
  if (value?.length !== 17 || value[0] !== 0) return {};
  const fourcc = value.toString('latin1', 1, 5);
  if (fourcc === 'RPi4' || fourcc === 'RPi5') {
    const revision = value.readUInt32LE(5);
    const model = PI_MODEL_BY_TYPE.get((revision >>> 4) & 0xff) ?? (fourcc === 'RPi5' ? 'pi5' : 'pi4');
    const serial = piSerial(value.readUInt32LE(13));
    return { fourcc, revision, model, ...(serial && { serial }) };
  }
  const first = value.readUInt32LE(1);
  const repeated = value.readUInt32LE(5) === first && value.readUInt32LE(9) === first && value.readUInt32LE(13) === first;
  const serial = repeated ? piSerial(first) : undefined;
  return serial ? { serial } : {};
}

function archOf(packet: DhcpPacket): { type: number | undefined; arch: Arch } {
  const type = optionU16(packet.options, Opt.clientArch);
  return { type, arch: type === undefined ? 'unknown' : (ARCH_BY_TYPE.get(type) ?? 'unknown') };
}

function isIpxe(packet: DhcpPacket): boolean {
  return packet.options.has(Opt.ipxeEncap) || userClasses(packet.options.get(Opt.userClass)).includes('iPXE');
}

export function clientMac(packet: DhcpPacket): Mac {
  return macFromBytes(packet.chaddr);
}

export function classify(packet: DhcpPacket, mac: Mac = clientMac(packet)): Client {
  const vendorClass = optionText(packet.options, Opt.vendorClass) ?? '';
  const option97 = packet.options.get(Opt.clientUuid);
  const { type, arch } = archOf(packet);

  // iPXE first: a Pi never sends 77 or 175, while x86 BIOS PXE ROMs (iPXE's among them) send the
  // very vendor class and a 17-byte option 97 (their UUID) that Pis send.
  if (isIpxe(packet)) return { mac, firmware: 'ipxe', arch };

  // The Pi 4/5 bootloader's REQUEST carries option 93 = 0 but no option 60: without one, the
  // rest of the evidence (option 97, xid, OUI) decides as it does for its DISCOVER.
  const maybePi = vendorClass.startsWith(PI_VENDOR_CLASS) || (vendorClass === '' && type === 0);
  const pi = maybePi ? decodePiOption97(option97) : {};
  const piRomXid = packet.xid === PI_ROM_XID;
  const piByOui = PI_OUIS.has(mac.slice(0, 8));
  if (maybePi && (pi.serial || pi.fourcc || piRomXid || piByOui)) {
    const rom = piRomXid && !pi.fourcc;
    const client: Client = { mac, firmware: rom ? 'pi-rom' : 'pi-eeprom', arch: 'arm64' };
    if (pi.serial) client.serial = pi.serial;
    const model = pi.model ?? (rom ? (pi.serial ? 'pi3b+' : 'pi3b') : undefined);
    if (model) client.model = model;
    return client;
  }

  if (vendorClass.startsWith('HTTPClient') || (type !== undefined && HTTP_ARCH_TYPES.has(type))) {
    return { mac, firmware: 'uefi-http', arch };
  }
  if (vendorClass.startsWith('PXEClient')) {
    const firmware: Firmware = type === undefined || type === 0 ? 'pxe-bios' : 'uefi-pxe';
    return { mac, firmware, arch };
  }
  return { mac, firmware: 'unknown', arch };
}
