/**
 * The modern Pi fleet without a network: the per-model file table (pi-models.ts) as doctor, the
 * timeline and the kernel name read it; Pi 5 serial prefixes shared by two boards; unprefixed TFTP
 * transfers attributed by lease; the Pi 3 ROM reply delay, bounded.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it, mock } from 'node:test';
import { isExpectedMiss, isRequiredFile, piKernelName } from '../server/boot/pi-models.js';
import { checkFirmware, missingPiFiles } from '../server/cli/doctor-checks.js';
import { parseConfig } from '../server/config/load.js';
import { classify } from '../server/dhcp/classify.js';
import { DelayedReplies } from '../server/dhcp/delayed-replies.js';
import { MessageType, Opt } from '../server/dhcp/options.js';
import { BlobStore } from '../server/images/blob-store.js';
import { openInventory } from '../server/inventory/index.js';
import type { Mac } from '../server/net/mac.js';
import { stitchBoots } from '../server/timeline/stitch.js';
import type { TimelineEvent } from '../server/timeline/types.js';
import { dhcpConfig, engineRig } from './helpers/dhcp-engine.js';
import { pi3RomDiscover, pi4Discover, piOption97, requestPacket } from './helpers/dhcp-packets.js';
import { policyEngineLab } from './helpers/policy-engine.js';

const cleanups: (() => void)[] = [];
after(() => cleanups.forEach((cleanup) => cleanup()));

describe('per-model files', () => {
  it('the Pi 5 kernel: kernel= of a section that applies, else kernel_2712.img', () => {
    assert.equal(piKernelName('arm_64bit=1\n', 'pi5'), 'kernel_2712.img');
    assert.equal(piKernelName('arm_64bit=1\n', 'pi4'), 'kernel8.img');
    assert.equal(piKernelName('kernel=Image\n', 'pi5'), 'Image');
    assert.equal(piKernelName('kernel=Image\n[pi4]\nkernel=k4.img\n[pi5]\nkernel=k5.img\n[all]\n', 'pi5'), 'k5.img');
    assert.equal(piKernelName('kernel=Image\n[pi4]\nkernel=k4.img\n[all]\n', 'pi5'), 'Image');
    assert.equal(piKernelName('[cm5]\nkernel=cm.img\n', 'cm5'), 'cm.img');
    assert.equal(piKernelName('', 'x86'), undefined);
  });

  it('the D0 overlay, overlay_map.dtb, config.txt and the device tree are required on a Pi 5; overlay_map.dtb may miss on a Pi 4', () => {
    for (const file of ['overlays/bcm2712d0.dtbo', 'overlays/overlay_map.dtb', 'config.txt', 'bcm2712-rpi-5-b.dtb', 'bcm2712-rpi-cm5l-cm5io.dtb']) {
      assert.ok(isRequiredFile('pi5', file), file);
      assert.ok(!isExpectedMiss('pi5', file), file);
    }
    assert.ok(isExpectedMiss('pi4', 'overlays/overlay_map.dtb'));
    assert.ok(!isRequiredFile('pi4', 'overlays/overlay_map.dtb'));
    for (const file of ['pieeprom.sig', 'armstub8-2712.bin', 'bootsig.bin']) assert.ok(isExpectedMiss('pi5', file), file);
  });

  it('doctor: a CM5 needs one of its two device trees; a Pi 5 the D0 overlay and overlay map', () => {
    const has = (files: string[]) => (file: string) => files.includes(file);
    assert.deepEqual(missingPiFiles('cm5', has(['bcm2712-rpi-cm5l-cm5io.dtb', 'overlays/overlay_map.dtb', 'overlays/bcm2712d0.dtbo'])), []);
    assert.deepEqual(missingPiFiles('cm5', has([])), ['overlays/overlay_map.dtb', 'overlays/bcm2712d0.dtbo', 'bcm2712-rpi-cm5-cm5io.dtb or bcm2712-rpi-cm5l-cm5io.dtb']);
    assert.deepEqual(missingPiFiles('pi4', has(['start4.elf', 'bcm2711-rpi-4-b.dtb'])), ['fixup4.dat']);
    assert.equal(missingPiFiles('x86', has([])), undefined);
  });
});

describe('doctor firmware check for Pi 5 nodes', () => {
  function admin(files: string[], withImage: boolean) {
    const dir = mkdtempSync(path.join(tmpdir(), 'rbt-pi5-doctor-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const assetsDir = path.join(dir, 'assets');
    mkdirSync(path.join(assetsDir, 'firmware', 'overlays'), { recursive: true });
    for (const file of files) writeFileSync(path.join(assetsDir, 'firmware', file), 'x');
    const config = parseConfig({ serverAddress: '10.0.0.1', dataDir: path.join(dir, 'data'), assetsDir }, path.join(dir, 'config.json'));
    const inventory = openInventory(config.dataDir);
    cleanups.push(() => inventory.close());
    const node = inventory.nodes.observe({ mac: '2c:cf:67:00:00:01' as Mac, model: 'pi5' });
    if (withImage) {
      inventory.images.add({ name: 'os', arch: 'arm64', kernel: { digest: 'a'.repeat(64), size: 1 } });
      inventory.assignments.assign(node.id, { imageName: 'os' }, 'test');
    }
    return { config, inventory, store: new BlobStore(path.join(dir, 'blobs')), events: { record() {} } };
  }

  it('fails without a BCM2712 device tree (os_check) and names the missing D0 overlay', () => {
    const [check] = checkFirmware(admin(['overlays/overlay_map.dtb'], true));
    assert.equal(check!.id, 'firmware.pi5');
    assert.equal(check!.status, 'fail');
    assert.match(check!.message, /overlays\/bcm2712d0\.dtbo, bcm2712-rpi-5-b\.dtb missing for 1 of 1 node/);
    assert.match(check!.message, /refuses to boot an OS without a BCM2712 device tree \(os_check\)/);
    assert.match(check!.fix!, /overlays\//);
  });

  it('fails for a Pi 5 without an image (no config.txt), passes with everything', () => {
    const all = ['bcm2712-rpi-5-b.dtb', 'overlays/overlay_map.dtb', 'overlays/bcm2712d0.dtbo'];
    const [bare] = checkFirmware(admin(all, false));
    assert.equal(bare!.status, 'fail');
    assert.match(bare!.message, /no image, so no config\.txt/);
    const [ok] = checkFirmware(admin(all, true));
    assert.equal(ok!.status, 'ok', ok!.message);
  });
});

describe('timeline: Pi 5 required files', () => {
  const T0 = Date.UTC(2026, 0, 1);
  const at = (s: number, source: string, kind: string, detail: Record<string, unknown> = {}): TimelineEvent => ({ at: T0 + s * 1000, source, kind, detail });
  const tftp = (s: number, outcome: string, file: string) =>
    at(s, 'tftp', `tftp-${outcome}`, { file: `5e7a11ce/${file}`, outcome, bytes: 10, durationMs: 5, ...(outcome === 'refused' && { errorCode: 1 }) });
  const pi5Boot = (missing: string[], model: string | undefined = 'pi5') => {
    const files = ['config.txt', 'pieeprom.sig', 'bcm2712-rpi-5-b.dtb', 'overlays/overlay_map.dtb', 'overlays/bcm2712d0.dtbo', 'cmdline.txt', 'armstub8-2712.bin', 'Image', 'rootfs.cpio.gz'];
    const optional = ['pieeprom.sig', 'armstub8-2712.bin'];
    return [
      at(0, 'dhcp', 'discover', { firmware: 'pi-eeprom', ...(model && { model }) }),
      at(0.1, 'dhcp', 'offer', { firmware: 'pi-eeprom', ...(model && { model }) }),
      ...files.map((file, i) => tftp(1 + i, optional.includes(file) || missing.includes(file) ? 'refused' : 'complete', file)),
    ];
  };
  const last = (events: TimelineEvent[], nowS: number) => stitchBoots(events, { now: T0 + nowS * 1000 }).at(-1)!;

  it('a whole Pi 5 boot with only the expected misses is served once quiet, no failure', () => {
    const boot = last(pi5Boot([]), 1_000);
    assert.equal(boot.outcome, 'served');
    assert.equal(boot.failure, null);
  });

  for (const file of ['overlays/bcm2712d0.dtbo', 'overlays/overlay_map.dtb', 'bcm2712-rpi-5-b.dtb']) {
    it(`a Pi 5 that went on without ${file} failed, before the quiet gap`, () => {
      const boot = last(pi5Boot([file]), 20);
      assert.equal(boot.outcome, 'failed');
      assert.equal(boot.failure?.code, 'RB_BOOT_PI_REQUIRED_MISSING');
      assert.match(boot.failure!.message, new RegExp(file.replace(/\./g, '\\.')));
    });
  }

  it('an old EEPROM without "RPi5" in option 97: the BCM2712 device tree tells the Pi 5', () => {
    const boot = last(pi5Boot(['overlays/bcm2712d0.dtbo'], undefined), 20);
    assert.equal(boot.failure?.code, 'RB_BOOT_PI_REQUIRED_MISSING');
    assert.match(boot.failure!.message, /the pi5 asked for overlays\/bcm2712d0\.dtbo/);
  });

  it('the miss is not called while it is the last thing the node did', () => {
    const events = [...pi5Boot([]).slice(0, 6), tftp(5, 'refused', 'overlays/bcm2712d0.dtbo')];
    assert.equal(last(events, 10).outcome, 'in-progress');
    assert.equal(last(events, 1_000).failure?.code, 'RB_BOOT_PI_REQUIRED_MISSING');
  });
});

describe('DHCP: Pi identification and the Pi 3 ROM', () => {
  it('88:a2:9e is a Pi OUI; an "RPi5" option 97 gives model pi5 and the low 32 bits of the serial', () => {
    const byOui = requestPacket({ mac: '88:a2:9e:00:00:01', type: MessageType.discover, options: [[Opt.vendorClass, 'PXEClient:Arch:00000:UNDI:002001'], [Opt.clientArch, [0, 0]]] });
    assert.equal(classify(byOui).firmware, 'pi-eeprom');
    const pi5 = pi4Discover('2c:cf:67:00:00:02');
    pi5.options.set(Opt.clientUuid, piOption97('RPi5', 0xd04170, '2c:cf:67:00:00:02', 0x5e7a11ce));
    assert.deepEqual([classify(pi5).model, classify(pi5).serial], ['pi5', '5e7a11ce']);
  });

  it('the Pi 3 ROM OFFER is held for dhcp.piRomReplyDelayMs and carries mask and router unasked; others are not held', () => {
    const rig = engineRig();
    const rom = pi3RomDiscover('b8:27:eb:00:00:03');
    rom.options.delete(Opt.paramRequest);
    const offer = rig.send(rom)!;
    assert.equal(offer.out.delayMs, 1000);
    assert.equal(offer.reply.options.get(Opt.subnetMask)?.toString('hex'), 'ffffff00');
    assert.equal(offer.reply.options.get(Opt.router)?.toString('hex'), '0a320001');
    assert.equal(rig.send(pi4Discover('dc:a6:32:00:00:04'))!.out.delayMs, undefined);
    assert.equal(engineRig({ config: dhcpConfig({ piRomReplyDelayMs: 0 }) }).send(rom)!.out.delayMs, undefined);
  });

  it('held replies: sent after the delay without blocking, one per client, bounded under a flood', () => {
    mock.timers.enable({ apis: ['setTimeout'] });
    try {
      const sent: string[] = [];
      const held = new DelayedReplies(4);
      assert.ok(held.hold('a', 1000, () => sent.push('a1')));
      assert.ok(held.hold('a', 1000, () => sent.push('a2')), 'the ROM asked again: its newer reply replaces the held one');
      for (let i = 0; i < 10_000; i++) held.hold(`flood-${i}`, 1000, () => sent.push('flood'));
      assert.equal(held.size, 4, 'never more than the bound');
      mock.timers.tick(999);
      assert.equal(sent.length, 0);
      mock.timers.tick(1);
      assert.deepEqual(sent, ['a2', 'flood', 'flood', 'flood']);
      assert.equal(held.size, 0);
      held.hold('b', 1000, () => sent.push('b'));
      held.close();
      mock.timers.tick(2000);
      assert.equal(sent.includes('b'), false, 'close drops what is held');
    } finally {
      mock.timers.reset();
    }
  });
});

describe('policy: shared Pi 5 prefixes and unprefixed transfers', () => {
  const lab = () => {
    const made = policyEngineLab();
    cleanups.push(made.cleanup);
    return made;
  };
  const pi5Discover = (mac: string, serial: number) => {
    const packet = pi4Discover(mac, serial);
    packet.options.set(Opt.clientUuid, piOption97('RPi5', 0xd04170, mac, serial));
    return packet;
  };

  it('two Pi 5 whose serials share the low 32 bits stay two nodes, each asking under the prefix gets its own', () => {
    const { inventory, policy, bind, kinds } = lab();
    const [first, second] = ['2c:cf:67:00:00:0a', '2c:cf:67:00:00:0b'] as Mac[];
    const firstAddress = bind(pi5Discover(first!, 0x5e7a11ce));
    assert.equal(policy.observeTftp({ serial: '5e7a11ce' }, firstAddress, 'config.txt')!.mac, first);
    const secondAddress = bind(pi5Discover(second!, 0x5e7a11ce));
    const asked = policy.observeTftp({ serial: '5e7a11ce' }, secondAddress, 'config.txt')!;
    assert.equal(asked.mac, second, "the second board gets its own node, not the first's");
    assert.equal(policy.observeTftp({ serial: '5e7a11ce' }, firstAddress, 'cmdline.txt')!.mac, first);
    assert.equal(inventory.nodes.list().length, 2);
    assert.equal(inventory.nodes.bySerial('5e7a11ce')!.mac, first);
    assert.deepEqual(policy.transferKey('5e7a11ce/config.txt', secondAddress), { mac: second });
    assert.deepEqual(policy.transferKey('5e7a11ce/config.txt', firstAddress), { serial: '5e7a11ce' });
    policy.observeTftp({ serial: '5e7a11ce' }, secondAddress, 'cmdline.txt');
    assert.equal(kinds(asked.id).filter((kind) => kind === 'serial-shared').length, 1, 'reported once');
  });

  it("an unprefixed transfer (a Pi 3's bootcode.bin) belongs to the node our DHCP leased the address to", () => {
    const { policy, bind } = lab();
    const address = bind(pi4Discover('b8:27:eb:00:00:0c'));
    assert.deepEqual(policy.transferKey('bootcode.bin', address), { mac: 'b8:27:eb:00:00:0c' });
    assert.equal(policy.transferKey('bootcode.bin', '10.50.0.250'), undefined, 'an address nobody leased stays an address');
  });

  it('a node without a model learns it from the device tree its firmware asks for', () => {
    const { policy, inventory } = lab();
    inventory.nodes.observe({ serial: '0a0b0c0d' });
    assert.equal(policy.observeTftp({ serial: '0a0b0c0d' }, '10.50.0.9', 'bcm2712-rpi-cm5l-cm5io.dtb')!.model, 'cm5');
  });
});
