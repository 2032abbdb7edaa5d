/** Request packets as real boot clients send them, for the DHCP tests and the fuzzer's seeds. */
import { BOOTREQUEST, encode, ZERO_IP, type DhcpPacket } from '../../server/dhcp/codec.js';
import { MessageType, Opt } from '../../server/dhcp/options.js';
import { PI_ROM_XID } from '../../server/dhcp/classify.js';
import { macToBytes, parseMac } from '../../server/net/mac.js';

export const PI_VENDOR_CLASS = 'PXEClient:Arch:00000:UNDI:002001';

/**
 * Option 43 a Pi needs, written out byte by byte (facts note) rather than taken from the server, so
 * a slip in its builder cannot hide: 06 01 03 (discovery control), 0a 04 00 "PXE" (menu prompt),
 * 09 <length> 00 00 <text length> <menu text> (boot menu, type 0), ff. dnsmasq's
 * `pxe-service=0,"Raspberry Pi Boot"`: 17 characters, sub-option 9 length 2 + 1 + 17 = 0x14, 32 bytes.
 */
export const PI4_OPTION_43_HEX = '0601030a0400505845' + '0914' + '0000' + '11' + '52617370626572727920506920426f6f74' + 'ff';
/** The Pi 3B ROM's variant, "Raspberry Pi Boot   ": 20 characters (0x14), sub-option 9 length 0x17, 35 bytes. */
export const PI3_ROM_OPTION_43_HEX = '0601030a0400505845' + '0917' + '0000' + '14' + '52617370626572727920506920426f6f74' + '202020' + 'ff';

export interface RequestInit {
  mac: string;
  type: number;
  xid?: number;
  flags?: number;
  hops?: number;
  ciaddr?: string;
  giaddr?: string;
  options?: Array<[number, Buffer | string | number[]]>;
}

function bytes(value: Buffer | string | number[]): Buffer {
  return Buffer.isBuffer(value) ? value : typeof value === 'string' ? Buffer.from(value, 'latin1') : Buffer.from(value);
}

export function chaddr(mac: string): Buffer {
  const buf = Buffer.alloc(16);
  macToBytes(parseMac(mac)!).copy(buf);
  return buf;
}

export function requestPacket(init: RequestInit): DhcpPacket {
  const options = new Map<number, Buffer>([[Opt.messageType, Buffer.from([init.type])]]);
  for (const [code, value] of init.options ?? []) options.set(code, bytes(value));
  return {
    op: BOOTREQUEST,
    htype: 1,
    hlen: 6,
    hops: init.hops ?? 0,
    xid: init.xid ?? 0x12345678,
    secs: 0,
    flags: init.flags ?? 0,
    ciaddr: init.ciaddr ?? ZERO_IP,
    yiaddr: ZERO_IP,
    siaddr: ZERO_IP,
    giaddr: init.giaddr ?? ZERO_IP,
    chaddr: chaddr(init.mac),
    sname: '',
    file: '',
    options,
  };
}

export function wire(packet: DhcpPacket): Buffer {
  return encode(packet).buffer;
}

const PI_PARAMS = [1, 3, 43, 60, 66, 67, 128, 129, 130, 131, 132, 133, 134, 135];

/** Option 97 of a Pi 4/5 EEPROM bootloader: 0, FourCC, revision LE, MAC bytes 2..5, serial LE. */
export function piOption97(fourcc: 'RPi4' | 'RPi5', revision: number, mac: string, serial: number): Buffer {
  const value = Buffer.alloc(17);
  value.write(fourcc, 1, 'latin1');
  value.writeUInt32LE(revision, 5);
  macToBytes(parseMac(mac)!).copy(value, 9, 2, 6);
  value.writeUInt32LE(serial, 13);
  return value;
}

export function pi4Discover(mac: string, serial = 0x1a2b3c4d, revision = 0xa03111, xid = 0x0badcafe): DhcpPacket {
  return requestPacket({
    mac,
    type: MessageType.discover,
    xid,
    options: [
      [Opt.paramRequest, PI_PARAMS],
      [Opt.vendorClass, PI_VENDOR_CLASS],
      [Opt.clientArch, [0, 0]],
      [Opt.clientNdi, [1, 2, 1]],
      [Opt.clientUuid, piOption97('RPi4', revision, mac, serial)],
    ],
  });
}

/** The Pi 3B boot ROM: fixed xid, constant option 97 (here: a made-up constant that is not a repeated serial). */
export function pi3RomDiscover(mac: string): DhcpPacket {
  const option97 = Buffer.alloc(17);
  for (let i = 1; i < 17; i++) option97[i] = i * 7;
  return requestPacket({
    mac,
    type: MessageType.discover,
    xid: PI_ROM_XID,
    options: [
      [Opt.paramRequest, PI_PARAMS],
      [Opt.vendorClass, PI_VENDOR_CLASS],
      [Opt.clientArch, [0, 0]],
      [Opt.clientNdi, [1, 2, 1]],
      [Opt.clientUuid, option97],
    ],
  });
}

/** iPXE (x86-64 EFI build by default): user class "iPXE", option 175 with its feature flags. */
export function ipxeDiscover(mac: string, archType = 7): DhcpPacket {
  return requestPacket({
    mac,
    type: MessageType.discover,
    options: [
      [Opt.maxMessageSize, [0x05, 0xc0]],
      [Opt.clientArch, [0, archType]],
      [Opt.clientNdi, [1, 3, 0x10]],
      [Opt.vendorClass, `PXEClient:Arch:${String(archType).padStart(5, '0')}:UNDI:003016`],
      [Opt.userClass, 'iPXE'],
      [Opt.paramRequest, [1, 3, 6, 7, 12, 15, 17, 26, 43, 60, 66, 67, 119, 128, 129, 130, 131, 132, 133, 134, 135, 175, 203]],
      [Opt.ipxeEncap, [0xb1, 0x05, 0x01, 0x80, 0x86, 0x10, 0x0e, 0x19, 0x01, 0x01, 0x21, 0x01, 0x01]],
    ],
  });
}

/** A UEFI or BIOS PXE ROM: vendor class PXEClient with its arch, option 93, no user class. */
export function pxeDiscover(mac: string, archType: number): DhcpPacket {
  return requestPacket({
    mac,
    type: MessageType.discover,
    options: [
      [Opt.paramRequest, [1, 3, 6, 43, 60, 66, 67, 128, 129, 130, 131, 132, 133, 134, 135]],
      [Opt.clientArch, [0, archType]],
      [Opt.clientNdi, [1, 3, 0]],
      [Opt.vendorClass, `PXEClient:Arch:${String(archType).padStart(5, '0')}:UNDI:003000`],
    ],
  });
}

export function httpClientDiscover(mac: string, archType = 0x10): DhcpPacket {
  return requestPacket({
    mac,
    type: MessageType.discover,
    options: [
      [Opt.paramRequest, [1, 3, 6, 43, 60, 66, 67]],
      [Opt.clientArch, [0, archType]],
      [Opt.vendorClass, `HTTPClient:Arch:${String(archType).padStart(5, '0')}:UNDI:003000`],
    ],
  });
}

/**
 * A DISCOVER whose options area repeats one option `count` times (values of `valueLength`
 * bytes): the hostile shape that made decoding quadratic. `op` lets it pose as a reply.
 */
export function repeatedOptionPacket(code: number, count: number, valueLength: number, op = 1): Buffer {
  const head = Buffer.from(wire(requestPacket({ mac: '52:54:00:00:0e:01', type: MessageType.discover })).subarray(0, 243));
  head[0] = op;
  const instance = Buffer.alloc(2 + valueLength, 0x61);
  instance[0] = code;
  instance[1] = valueLength;
  return Buffer.concat([head, ...new Array<Buffer>(count).fill(instance), Buffer.from([255])]);
}

/** The Pi 4/5 bootloader's REQUEST: its DISCOVER's options without option 60, plus 50 and 54. */
export function pi4Request(mac: string, requested: string, serverId: string, serial = 0x1a2b3c4d): DhcpPacket {
  const packet = pi4Discover(mac, serial);
  packet.options.delete(Opt.vendorClass);
  packet.options.set(Opt.messageType, Buffer.from([MessageType.request]));
  packet.options.set(Opt.requestedIp, Buffer.from(requested.split('.').map(Number)));
  packet.options.set(Opt.serverId, Buffer.from(serverId.split('.').map(Number)));
  return packet;
}

/** A REQUEST for `ip` from the server `serverId` chose (SELECTING), or without it (INIT-REBOOT). */
export function dhcpRequest(mac: string, ip: string, serverId: string | null): DhcpPacket {
  const options: Array<[number, number[]]> = [[Opt.requestedIp, ip.split('.').map(Number)]];
  if (serverId) options.push([Opt.serverId, serverId.split('.').map(Number)]);
  return requestPacket({ mac, type: MessageType.request, options });
}
