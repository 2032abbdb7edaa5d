import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { MAX_BOOT_SESSIONS } from '../server/boot/boot-sessions.js';
import { machineArch, type Arch } from '../server/boot/client.js';
import { BootPolicy } from '../server/boot/policy.js';
import { classify } from '../server/dhcp/classify.js';
import { decode } from '../server/dhcp/codec.js';
import { renderTemplate } from '../server/boot/templates.js';
import { parseConfig } from '../server/config/load.js';
import { openInventory } from '../server/inventory/index.js';
import { sqliteLeaseStore } from '../server/inventory/leases.js';
import { parseMac, type Mac } from '../server/net/mac.js';
import type { BootStep } from '../server/timeline/boundaries.js';
import { httpClientDiscover, pxeDiscover, wire } from './helpers/dhcp-packets.js';

function setup(defaultImage: string | null = null, ipxe: Record<string, string> = {}, now?: () => number) {
  const dir = mkdtempSync(path.join(tmpdir(), 'rackboot-policy-'));
  const config = parseConfig({ serverAddress: '10.0.0.1', dataDir: dir, defaultImage, ipxe }, path.join(dir, 'config.json'));
  const inventory = openInventory(dir);
  const blob = (n: number) => ({ digest: n.toString(16).padStart(64, '0'), size: n });
  const add = (name: string, arch: string, n: number) => inventory.images.add({ name, arch, kernel: blob(n) }).image;
  const policy = new BootPolicy(config, inventory, { http: 'http://10.0.0.1:8080' }, now ? { now } : {});
  return { inventory, policy, add };
}

const mac = parseMac('b8:27:eb:00:00:01') as Mac;

describe('boot policy', () => {
  it('picks the newest version built for the client arch, falling back to "any"', () => {
    const { inventory, policy, add } = setup();
    add('os', 'arm64', 1);
    add('os', 'x86_64', 2);
    add('os', 'arm64', 3);
    add('os', 'any', 4);
    const node = policy.observe({ mac }, 'dhcp')!;
    inventory.assignments.assign(node.id, { imageName: 'os' }, 'test');
    assert.equal(policy.plan(node, 'arm64')?.image.version, 3);
    assert.equal(policy.plan(node, 'x86_64')?.image.version, 2);
    assert.equal(policy.plan(node, 'riscv64')?.image.version, 4);
    inventory.assignments.assign(node.id, { imageName: 'os', imageVersion: 1 }, 'test');
    assert.equal(policy.plan(node, 'arm64')?.image.version, 1, 'a pinned version wins');
  });

  it('a one-shot serves exactly the next boot: all its files, late ones too; the next boot gets the standing image', () => {
    let now = Date.UTC(2026, 0, 1);
    const { inventory, policy, add } = setup(null, {}, () => now);
    add('stable', 'any', 1);
    add('rescue', 'any', 2);
    const node = policy.observe({ mac }, 'dhcp')!;
    inventory.assignments.assign(node.id, { imageName: 'stable' }, 'test');
    inventory.assignments.assign(node.id, { imageName: 'rescue', once: true }, 'test');
    const image = (step: BootStep) => policy.bootPlan(node, step)?.image.name;
    const pi = { mac, firmware: 'pi-eeprom', arch: 'arm64' } as const;

    policy.dhcpAnswer(pi, 'discover');
    assert.equal(image('start'), 'rescue');
    policy.bootContact(node, '10.0.0.5');
    assert.equal(image('file'), 'rescue');
    policy.bootServed(policy.bootPlan(node, 'file')!, '10.0.0.5');
    assert.equal(inventory.assignments.current(node.id)?.imageName, 'stable', 'used up by the boot that fetched its last file');
    assert.equal(policy.plan(node)?.reason, 'assigned', 'what the next boot gets');
    now += 100_000;
    assert.equal(image('file'), 'rescue', 'a late file of that boot (a retry)');

    now += 1_000;
    assert.equal(image('start'), 'stable', 'a start request after the last file is the next boot');
    policy.dhcpAnswer(pi, 'discover');
    assert.equal(image('start'), 'stable', 'so is a boot ROM DISCOVER, and the boot after');
  });

  it('one boot keeps one image: a new version waits for the next boot, which the timeline boundaries begin; a new assignment is followed at once', () => {
    let now = Date.UTC(2026, 0, 1);
    const { inventory, policy, add } = setup(null, {}, () => now);
    const node = policy.observe({ mac }, 'dhcp')!;
    const version = (step: BootStep) => policy.bootPlan(node, step)?.image.version;
    const cases: [string, () => void][] = [
      ['2 minutes of silence', () => (now += 121_000)],
      ['a boot ROM DISCOVER', () => policy.dhcpAnswer({ mac, firmware: 'uefi-pxe', arch: 'x86_64' }, 'discover')],
      ['the booted callback', () => policy.booted(node)],
    ];
    add('os', 'any', 1);
    inventory.assignments.assign(node.id, { imageName: 'os' }, 'test');
    assert.equal(version('start'), 1);
    for (const [n, [boundary, cross]] of cases.entries()) {
      add('os', 'any', n + 2);
      // iPXE's own DISCOVER and a REQUEST are part of the boot, as is a start request before its last file.
      policy.dhcpAnswer({ mac, firmware: 'ipxe', arch: 'x86_64' }, 'discover');
      policy.dhcpAnswer({ mac, firmware: 'uefi-pxe', arch: 'x86_64' }, 'request');
      now += 1_000;
      assert.equal(version('start'), n + 1, `before ${boundary}`);
      cross();
      assert.equal(version('file'), n + 2, `after ${boundary}`);
    }
    add('other', 'any', 9);
    inventory.assignments.assign(node.id, { imageName: 'other' }, 'test');
    assert.equal(policy.bootPlan(node, 'file')?.image.name, 'other', 'node assign takes effect at once');
  });

  it('only the node itself completes a boot and uses up its one-shot: from its boot address or its reserved IP; the boots kept are bounded', () => {
    const { inventory, policy, add } = setup();
    add('rescue', 'any', 1);
    const node = policy.observe({ mac }, 'http')!;
    inventory.assignments.assign(node.id, { imageName: 'rescue', once: true }, 'test');
    const pending = () => inventory.assignments.current(node.id)?.consumedAt === null;
    const served = (from: string) => policy.bootServed(policy.bootPlan(policy.observe({ mac }, 'http')!, 'file')!, from);

    served('10.0.0.9');
    assert.ok(pending(), 'no chain script or TFTP file went to 10.0.0.9 for this node');
    policy.bootContact(node, '10.0.0.9');
    for (let other = 1; other <= MAX_BOOT_SESSIONS; other++) policy.booted({ ...node, id: -other });
    served('10.0.0.9');
    assert.ok(pending(), 'the oldest boot made room for newer ones');
    inventory.nodes.upsert({ mac }, { reservedIp: '10.0.0.50' });
    served('::ffff:10.0.0.50');
    assert.equal(pending(), false, 'the reserved IP, as a dual-stack listener reports it');
  });

  it('a standing assignment made after a pending one-shot cancels it: the node boots it and the one-shot image is free', () => {
    const { inventory, policy, add } = setup();
    add('stable', 'any', 1);
    add('rescue', 'any', 2);
    add('next', 'any', 3);
    const node = policy.observe({ mac }, 'dhcp')!;
    inventory.assignments.assign(node.id, { imageName: 'stable' }, 'test');
    inventory.assignments.assign(node.id, { imageName: 'rescue', once: true }, 'test');
    assert.ok(inventory.assignments.imagesInUse().has('rescue'), 'pending: in use');
    inventory.assignments.assign(node.id, { imageName: 'next' }, 'test');
    assert.equal(inventory.assignments.current(node.id)?.imageName, 'next');
    assert.deepEqual([...inventory.assignments.imagesInUse()], ['next']);
  });

  it('unassigned nodes boot the default image; an explicit "none" does not', () => {
    const { inventory, policy, add } = setup('fallback');
    add('fallback', 'any', 1);
    const node = policy.observe({ mac }, 'dhcp')!;
    assert.equal(policy.plan(node)?.reason, 'default');
    inventory.assignments.assign(node.id, { imageName: null }, 'test');
    assert.equal(policy.plan(node), undefined);
  });

  it('links a serial seen over TFTP with the MAC DHCP reports later, once the Pi asks TFTP under it from its leased address', () => {
    const { inventory, policy } = setup();
    const bySerial = policy.observe({ serial: '1a2b3c4d' }, 'tftp')!;
    inventory.nodes.upsert({ serial: '1a2b3c4d' }, { hostname: 'rack1-node7' });
    inventory.assignments.assign(bySerial.id, { imageName: 'x' }, 'test');
    policy.dhcpAnswer({ mac, firmware: 'pi-eeprom', arch: 'arm64', serial: '1a2b3c4d', model: 'pi4' });
    sqliteLeaseStore(inventory.db).saveBatch([{ ip: '10.0.0.50', mac, state: 'bound', expiresAt: Date.now() + 60_000 }]);
    const linked = policy.observeTftp({ serial: '1a2b3c4d' }, '10.0.0.50')!;
    assert.equal(linked.serial, '1a2b3c4d');
    assert.equal(linked.mac, mac);
    assert.equal(inventory.nodes.list().length, 1);
    assert.equal(linked.hostname, 'rack1-node7');
    assert.equal(inventory.assignments.current(linked.id)?.imageName, 'x', 'the assignment made by serial survives');
  });

  it('answers DHCP by firmware: Pi, iPXE (option 224 ends in a query), PXE ROM, HTTP boot', () => {
    const { policy } = setup();
    assert.deepEqual(policy.dhcpAnswer({ mac, firmware: 'pi-eeprom', arch: 'arm64', serial: '1a2b3c4d' }), {
      kind: 'pi',
      tftpServer: '10.0.0.1',
    });
    const ipxe = policy.dhcpAnswer({ mac, firmware: 'ipxe', arch: 'x86_64' });
    assert.deepEqual(ipxe, {
      kind: 'ipxe',
      chainUrl: 'http://10.0.0.1:8080/chain?mac=${mac}&arch=${buildarch}',
      bootFile: 'http://10.0.0.1:8080/boot.ipxe',
    });
    assert.deepEqual(policy.dhcpAnswer({ mac, firmware: 'pxe-bios', arch: 'i386' }), { kind: 'pxe', nextServer: '10.0.0.1', bootFile: 'undionly.kpxe' });
    assert.deepEqual(policy.dhcpAnswer({ mac, firmware: 'uefi-pxe', arch: 'arm64' }), { kind: 'pxe', nextServer: '10.0.0.1', bootFile: 'snp.efi' });
    assert.deepEqual(policy.dhcpAnswer({ mac, firmware: 'uefi-http', arch: 'x86_64' }), { kind: 'http', bootFile: 'http://10.0.0.1:8080/ipxe/ipxe.efi' });
    assert.equal(policy.dhcpAnswer({ mac, firmware: 'unknown', arch: 'unknown' }), null);
  });
});

describe('iPXE binary by ROM arch', () => {
  /** From the DISCOVER on the wire to the policy's answer, as the engine goes. */
  it("the recorded arch is the machine's: DHCP option 93 wins over a 32-bit iPXE build, a 64-bit build proves itself", () => {
    const { inventory, policy, add } = setup('os', { bios: 'undionly.kpxe', uefiX64: 'ipxe.efi' });
    add('os', 'i386', 1);
    add('os', 'x86_64', 2);
    const archOf = (text: string) => inventory.nodes.byMac(parseMac(text)!)?.arch;
    const cases: [string, Parameters<typeof wire>[0] | null, Arch, Arch][] = [
      // [MAC, the DHCP DISCOVER before iPXE, iPXE's ${buildarch}, the arch recorded after the chain request]
      ['52:54:00:0a:00:01', pxeDiscover('52:54:00:0a:00:01', 0), 'i386', 'x86_64'], // BIOS PC, undionly.kpxe (always i386)
      ['52:54:00:0a:00:02', pxeDiscover('52:54:00:0a:00:02', 7), 'i386', 'x86_64'], // x86-64 UEFI, a 32-bit iPXE build
      ['52:54:00:0a:00:03', pxeDiscover('52:54:00:0a:00:03', 7), 'x86_64', 'x86_64'],
      ['52:54:00:0a:00:05', null, 'i386', 'i386'], // iPXE we never saw DHCP from: its build is the best guess
    ];
    for (const [text, discover, buildarch, expected] of cases) {
      if (discover) answerFor(policy, discover);
      const node = policy.observeChain(parseMac(text)!, buildarch)!;
      assert.equal(archOf(text), expected, `${text}: recorded`);
      assert.equal(node.arch, expected, `${text}: the node the chain request plans with`);
      assert.equal(policy.plan(node)?.image.arch, expected, `${text}: the image built for it`);
      if (discover) answerFor(policy, discover);
      assert.equal(archOf(text), expected, `${text}: a later DHCP request agrees (no flapping)`);
    }
    assert.deepEqual(
      // A 64-bit build needs a 64-bit machine; no build runs on another family.
      [machineArch('i386', 'x86_64'), machineArch('arm64', 'arm32'), machineArch('x86_64', 'arm64'), machineArch(null, undefined), machineArch('unknown', 'riscv64'), machineArch('i386', undefined)],
      ['x86_64', 'arm64', 'arm64', undefined, 'riscv64', 'i386'],
    );
  });

  function answerFor(policy: BootPolicy, packet: Parameters<typeof wire>[0]) {
    const decoded = decode(wire(packet));
    assert.ok(decoded.ok);
    return policy.dhcpAnswer(classify(decoded.packet));
  }

  it('IA32, ARM32 and RISC-V ROMs never get the x64 binary: no answer without their own build', () => {
    const { policy } = setup();
    for (const type of [0x06, 0x0a, 0x19, 0x1b, 0x02]) {
      assert.equal(answerFor(policy, pxeDiscover('52:54:00:0e:00:01', type)), null, `option 93 = ${type}`);
    }
    for (const type of [0x0f, 0x12, 0x1a, 0x1c]) {
      assert.equal(answerFor(policy, httpClientDiscover('52:54:00:0e:00:02', type)), null, `HTTP option 93 = ${type}`);
    }
    assert.deepEqual(answerFor(policy, pxeDiscover('52:54:00:0e:00:03', 7)), { kind: 'pxe', nextServer: '10.0.0.1', bootFile: 'ipxe.efi' });
  });

  it('each arch gets the build configured for it, RISC-V types as the IANA registry has them', () => {
    const ipxe = { uefiIa32: 'ia32.efi', uefiArm32: 'arm32.efi', uefiRiscv32: 'riscv32.efi', uefiRiscv64: 'riscv64.efi' };
    const { policy } = setup(null, ipxe);
    const file = (type: number) => {
      const answer = answerFor(policy, pxeDiscover('52:54:00:0e:00:04', type));
      return answer?.kind === 'pxe' ? answer.bootFile : answer;
    };
    assert.deepEqual([0x06, 0x0a, 0x19, 0x1b].map(file), ['ia32.efi', 'arm32.efi', 'riscv32.efi', 'riscv64.efi']);
    assert.deepEqual(answerFor(policy, httpClientDiscover('52:54:00:0e:00:05', 0x1c)), { kind: 'http', bootFile: 'http://10.0.0.1:8080/ipxe/riscv64.efi' });
  });
});

describe('templates', () => {
  it('fills variables, keeps conditional lines only when set, and names unknown variables', () => {
    assert.equal(renderTemplate('a={{x}}\n?y b={{y}}\n?z c\n', { x: 1, y: 'two', z: '' }, 't'), 'a=1\nb=two\n');
    assert.throws(() => renderTemplate('{{nope}}', { x: 1 }, 'image foo cmdline'), /image foo cmdline: unknown template variable \{\{nope\}\}; known: x/);
  });
});

describe('MAC parsing', () => {
  it('accepts colons, dashes, bare hex and percent-encoding; rejects the rest', () => {
    for (const text of ['52:54:00:ab:cd:01', '52:54:00:AB:cd:01', ' 52:54:00:ab:cd:01 ', '52-54-00-ab-cd-01', '525400abcd01', '52%3A54%3A00%3Aab%3Acd%3A01']) {
      assert.equal(parseMac(text), '52:54:00:ab:cd:01', text);
    }
    for (const text of ['52:54:00:ab:cd', '52:54-00:ab:cd:01', 'zz:54:00:ab:cd:01', '%E0%A4%A', '']) assert.equal(parseMac(text), null, text);
  });
});
