import assert from 'node:assert/strict';
import { test } from 'node:test';
import { classify, decodePiOption97 } from '../server/dhcp/classify.js';
import { decode } from '../server/dhcp/codec.js';
import { MessageType, Opt } from '../server/dhcp/options.js';
import {
  httpClientDiscover,
  ipxeDiscover,
  PI_VENDOR_CLASS,
  pi3RomDiscover,
  pi4Discover,
  pi4Request,
  pxeDiscover,
  requestPacket,
  wire,
} from './helpers/dhcp-packets.js';
import type { DhcpPacket } from '../server/dhcp/codec.js';

/** Classifies the packet as it arrives off the wire, not the object it was built from. */
function onWire(packet: DhcpPacket) {
  const result = decode(wire(packet));
  assert.ok(result.ok);
  return classify(result.packet);
}

test('a Pi 4 DISCOVER: EEPROM firmware, model and serial from option 97', () => {
  assert.deepEqual(onWire(pi4Discover('dc:a6:32:01:36:c2', 0x1a2b3c4d, 0xa03111)), {
    mac: 'dc:a6:32:01:36:c2',
    firmware: 'pi-eeprom',
    arch: 'arm64',
    serial: '1a2b3c4d',
    model: 'pi4',
  });
});

test('option 97 bytes from a real Pi 4 dnsmasq log decode to revision a03111', () => {
  const value = Buffer.from('00525069341131a000322ef8ed10203040', 'hex');
  const pi = decodePiOption97(value);
  assert.equal(pi.fourcc, 'RPi4');
  assert.equal(pi.revision, 0xa03111);
  assert.equal(pi.model, 'pi4');
  assert.equal(pi.serial, '403020' + '10');
});

test('CM4 and Pi 5 are told apart by the revision in option 97', () => {
  assert.equal(onWire(pi4Discover('dc:a6:32:00:00:01', 1, 0xb03140)).model, 'cm4');
  const pi5 = pi4Discover('2c:cf:67:00:00:01', 0xdeadbeef, 0xc04170);
  pi5.options.get(Opt.clientUuid)!.write('RPi5', 1, 'latin1');
  assert.deepEqual(onWire(pi5), { mac: '2c:cf:67:00:00:01', firmware: 'pi-eeprom', arch: 'arm64', serial: 'deadbeef', model: 'pi5' });
});

test('the Pi 3B ROM is known by its fixed xid', () => {
  const client = onWire(pi3RomDiscover('b8:27:eb:11:22:33'));
  assert.equal(client.firmware, 'pi-rom');
  assert.equal(client.model, 'pi3b');
});

test('a Pi 3B+ ROM sends its serial repeated in option 97', () => {
  const packet = pi3RomDiscover('b8:27:eb:11:22:34');
  const option97 = Buffer.alloc(17);
  for (let i = 0; i < 4; i++) option97.writeUInt32LE(0x00c0ffee, 1 + i * 4);
  packet.options.set(Opt.clientUuid, option97);
  assert.deepEqual(onWire(packet), { mac: 'b8:27:eb:11:22:34', firmware: 'pi-rom', arch: 'arm64', serial: '00c0ffee', model: 'pi3b+' });
});

test('option 93 = 0 alone is a BIOS PXE ROM, not a Pi, even with a Pi OUI unless option 60 says Pi', () => {
  assert.equal(onWire(pxeDiscover('dc:a6:32:00:00:09', 0)).firmware, 'pxe-bios');
  const ouiOnly = requestPacket({
    mac: 'dc:a6:32:00:00:0a',
    type: MessageType.discover,
    options: [[Opt.vendorClass, PI_VENDOR_CLASS], [Opt.clientArch, [0, 0]]],
  });
  assert.equal(onWire(ouiOnly).firmware, 'pi-eeprom', 'Pi vendor class + Pi OUI without option 97: the fallback');
  const foreign = requestPacket({
    mac: '52:54:00:00:00:0a',
    type: MessageType.discover,
    options: [[Opt.vendorClass, PI_VENDOR_CLASS], [Opt.clientArch, [0, 0]]],
  });
  assert.equal(onWire(foreign).firmware, 'pxe-bios');
});

test('degenerate serials (all-FF, all-zero) are no serial: an x86 ROM with an all-FF UUID stays x86', () => {
  const x86 = pxeDiscover('52:54:00:00:00:0b', 0);
  x86.options.set(Opt.vendorClass, Buffer.from(PI_VENDOR_CLASS, 'latin1'));
  for (const fill of [0xff, 0x00]) {
    x86.options.set(Opt.clientUuid, Buffer.concat([Buffer.from([0]), Buffer.alloc(16, fill)]));
    assert.deepEqual(onWire(x86), { mac: '52:54:00:00:00:0b', firmware: 'pxe-bios', arch: 'x86_64' }, `UUID filled with ${fill}`);
  }
  const pi4 = onWire(pi4Discover('dc:a6:32:00:00:0c', 0xffffffff));
  assert.equal(pi4.firmware, 'pi-eeprom', 'the FourCC still says Pi');
  assert.equal(pi4.serial, undefined);
});

test('a Pi 4/5 REQUEST (option 93 = 0, no option 60) is a Pi like its DISCOVER', () => {
  assert.deepEqual(onWire(pi4Request('dc:a6:32:01:36:c2', '10.50.0.100', '10.50.0.1')), {
    mac: 'dc:a6:32:01:36:c2',
    firmware: 'pi-eeprom',
    arch: 'arm64',
    serial: '1a2b3c4d',
    model: 'pi4',
  });
  const plain = requestPacket({ mac: '52:54:00:00:00:0d', type: MessageType.request, options: [[Opt.clientArch, [0, 0]]] });
  assert.equal(onWire(plain).firmware, 'unknown', 'option 93 = 0 alone is no Pi');
});

test('iPXE by user class or option 175, with its arch', () => {
  assert.deepEqual(onWire(ipxeDiscover('52:54:00:00:00:01', 7)), { mac: '52:54:00:00:00:01', firmware: 'ipxe', arch: 'x86_64' });
  const only175 = pxeDiscover('52:54:00:00:00:02', 0x0b);
  only175.options.set(Opt.ipxeEncap, Buffer.from([0xb1, 1, 1]));
  assert.deepEqual(onWire(only175), { mac: '52:54:00:00:00:02', firmware: 'ipxe', arch: 'arm64' });
});

test('UEFI PXE ROMs by option 93', () => {
  assert.deepEqual(onWire(pxeDiscover('52:54:00:00:00:03', 7)), { mac: '52:54:00:00:00:03', firmware: 'uefi-pxe', arch: 'x86_64' });
  assert.equal(onWire(pxeDiscover('52:54:00:00:00:04', 0x0b)).arch, 'arm64');
  assert.equal(onWire(pxeDiscover('52:54:00:00:00:05', 0)).arch, 'x86_64');
});

test('RISC-V and IA32 types: 0x19 RISC-V 32 UEFI, 0x1b RISC-V 64 UEFI, 0x1c RISC-V 64 HTTP, 6 IA32', () => {
  const seen = (packet: DhcpPacket) => {
    const { firmware, arch } = onWire(packet);
    return `${firmware} ${arch}`;
  };
  assert.equal(seen(pxeDiscover('52:54:00:00:00:0e', 0x19)), 'uefi-pxe riscv32');
  assert.equal(seen(pxeDiscover('52:54:00:00:00:0e', 0x1b)), 'uefi-pxe riscv64');
  assert.equal(seen(httpClientDiscover('52:54:00:00:00:0e', 0x1c)), 'uefi-http riscv64');
  assert.equal(seen(pxeDiscover('52:54:00:00:00:0e', 0x06)), 'uefi-pxe i386');
});

test('UEFI HTTP boot by option 60 HTTPClient', () => {
  assert.deepEqual(onWire(httpClientDiscover('52:54:00:00:00:06', 0x13)), {
    mac: '52:54:00:00:00:06',
    firmware: 'uefi-http',
    arch: 'arm64',
  });
});

test('a plain client is unknown', () => {
  assert.deepEqual(onWire(requestPacket({ mac: '52:54:00:00:00:07', type: MessageType.discover })), {
    mac: '52:54:00:00:00:07',
    firmware: 'unknown',
    arch: 'unknown',
  });
});
