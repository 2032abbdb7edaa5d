import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { openInventory } from '../server/inventory/index.js';
import { parseMac } from '../server/net/mac.js';
import { newestBoot, nodeBoots } from '../server/timeline/node-boots.js';
import { latestBoot, stitchBoots } from '../server/timeline/stitch.js';
import { BootTracker } from '../server/timeline/tracker.js';
import type { Boot, TimelineEvent } from '../server/timeline/types.js';

const T0 = Date.UTC(2026, 0, 1);
const MAC = '2c:cf:67:00:00:01';

function at(seconds: number, source: string, kind: string, detail: Record<string, unknown> = {}): TimelineEvent {
  return { at: T0 + seconds * 1000, source, kind, detail: { mac: MAC, ...detail } };
}

const tftp = (seconds: number, outcome: string, file: string, extra: Record<string, unknown> = {}) =>
  at(seconds, 'tftp', `tftp-${outcome}`, { file, outcome, bytes: 0, durationMs: 5, ...extra });

/** A Pi 4 boot as the bootloader does it: probes, transfers, kernel, then the init's callback. */
function pi4Boot(start: number): TimelineEvent[] {
  return [
    at(start, 'dhcp', 'discover', { firmware: 'pi-eeprom' }),
    at(start + 0.01, 'dhcp', 'offer', { firmware: 'pi-eeprom' }),
    at(start + 0.2, 'dhcp', 'request', { firmware: 'pi-eeprom' }),
    at(start + 0.21, 'dhcp', 'ack', { firmware: 'pi-eeprom' }),
    tftp(start + 0.5, 'probe', '1a2b3c4d/start4.elf'),
    tftp(start + 0.6, 'refused', '1a2b3c4d/pieeprom.sig', { errorCode: 1 }),
    tftp(start + 0.7, 'complete', '1a2b3c4d/config.txt', { bytes: 200 }),
    tftp(start + 1.5, 'complete', '1a2b3c4d/start4.elf', { bytes: 2_200_000 }),
    tftp(start + 4, 'complete', '1a2b3c4d/kernel8.img', { bytes: 8_000_000 }),
    tftp(start + 9, 'complete', '1a2b3c4d/initramfs', { bytes: 20_000_000 }),
    at(start + 40, 'node', 'booted'),
  ];
}

const stitch = (events: TimelineEvent[], nowSeconds = 10_000) => stitchBoots(events, { now: T0 + nowSeconds * 1000 });

describe('boot timeline: stitching events into boots', () => {
  it('a Pi 4 boot becomes one booted boot with dhcp, tftp and booted stages', () => {
    const [boot, ...rest] = stitch(pi4Boot(0));
    assert.equal(rest.length, 0);
    assert.equal(boot!.outcome, 'booted');
    assert.equal(boot!.failure, null);
    assert.deepEqual(boot!.stages.map((stage) => stage.name), ['dhcp', 'tftp', 'booted']);
    assert.equal(boot!.durationMs, 40_000);
    const transfer = boot!.stages[1]!;
    assert.equal(transfer.bytes, 30_200_200);
    assert.equal(transfer.durationMs, 8_500);
    assert.deepEqual(transfer.kinds, { 'tftp-probe': 1, 'tftp-refused': 1, 'tftp-complete': 4 });
    assert.equal(boot!.bytes, 30_200_200);
  });

  it('unsorted input (newest first, as the store returns it) gives the same boot', () => {
    const events = pi4Boot(0).map((event, id) => ({ ...event, id }));
    assert.deepEqual(stitch([...events].reverse()), stitch(events));
  });

  it('two boots separated by a booted callback, and a quiet gap, are separate boots', () => {
    const boots = stitch([...pi4Boot(0), ...pi4Boot(300), ...pi4Boot(301.5 + 200)]);
    assert.equal(boots.length, 3);
    assert.ok(boots.every((boot) => boot.outcome === 'booted'));
  });

  it("iPXE's own DISCOVER after loading over TFTP stays in the boot; a ROM's DISCOVER after files starts a new one", () => {
    const events = [
      at(0, 'dhcp', 'discover', { firmware: 'uefi-pxe' }),
      at(0.1, 'dhcp', 'offer', { firmware: 'uefi-pxe' }),
      tftp(0.5, 'complete', 'ipxe.efi', { bytes: 1_000_000 }),
      at(2, 'dhcp', 'discover', { firmware: 'ipxe' }),
      at(2.1, 'dhcp', 'offer', { firmware: 'ipxe' }),
      at(2.5, 'http', 'chain', { image: 'debian' }),
      at(2.7, 'http', 'file', { file: 'vmlinuz', image: 'debian' }),
      at(3, 'http', 'file', { file: 'initrd.img', image: 'debian' }),
      at(20, 'node', 'booted'),
      at(30, 'dhcp', 'discover', { firmware: 'uefi-pxe' }),
    ];
    const [first, second] = stitch(events);
    assert.deepEqual(first!.stages.map((stage) => stage.name), ['dhcp', 'tftp', 'dhcp', 'http', 'booted']);
    assert.equal(first!.image, 'debian');
    assert.deepEqual(first!.stages[3]!.files, ['vmlinuz', 'initrd.img']);
    assert.equal(second!.events, 1);
  });

  it('a boot with recent events is in progress; once quiet without a callback it is served', () => {
    const events = pi4Boot(0).slice(0, -1);
    assert.equal(stitch(events, 20)[0]!.outcome, 'in-progress');
    assert.equal(stitch(events, 1000)[0]!.outcome, 'served');
  });

  it('latestBoot picks the newest and is null without events', () => {
    assert.equal(latestBoot([], { now: T0 }), null);
    assert.equal(latestBoot([...pi4Boot(0), ...pi4Boot(500)], { now: T0 + 600_000 })!.startedAt, T0 + 500_000);
  });

  it("a Pi's TFTP-only boot names the image its files came from; a start file after the last file begins the next boot", () => {
    const served = (image: string, reason: string, assignment: number) => ({ image, version: 1, reason, assignment });
    const boot = (start: number, image: string, reason: string, assignment: number) => [
      tftp(start, 'probe', '1a2b3c4d/start4.elf', served(image, reason, assignment)),
      tftp(start + 0.5, 'complete', '1a2b3c4d/config.txt', served(image, reason, assignment)),
      tftp(start + 2, 'complete', '1a2b3c4d/Image', served(image, reason, assignment)),
      tftp(start + 5, 'complete', '1a2b3c4d/rootfs.cpio.gz', { ...served(image, reason, assignment), last: true }),
    ];
    // No DHCP of ours (a static Pi), 10 s apart, and a late initramfs retry that stays in the first boot.
    const late = tftp(8, 'complete', '1a2b3c4d/rootfs.cpio.gz', { ...served('rescue', 'once', 7), last: true });
    const boots = stitch([...boot(0, 'rescue', 'once', 7), late, ...boot(18, 'stable', 'assigned', 3)]);
    assert.deepEqual(
      boots.map((one) => [one.image, one.version, one.reason, one.assignment, one.events]),
      [
        ['rescue', 1, 'once', 7, 5],
        ['stable', 1, 'assigned', 3, 4],
      ],
    );
    const unmarked = stitch([...boot(0, 'a', 'assigned', 1), ...boot(18, 'a', 'assigned', 1)].map((event) => ({ ...event, detail: { ...event.detail, last: undefined } })));
    assert.equal(unmarked.length, 1, 'a start file before the last file is the same boot (the Pi asks config.txt twice)');
  });

  it('assignment events from the API are not part of a boot', () => {
    const boots = stitch([at(0, 'api', 'assigned', { image: 'x' }), ...pi4Boot(1)]);
    assert.equal(boots.length, 1);
    assert.equal(boots[0]!.stages[0]!.name, 'dhcp');
  });
});

describe('boot timeline: classified failures', () => {
  const failure = (events: TimelineEvent[], nowSeconds?: number) => stitch(events, nowSeconds)[0]!.failure?.code ?? null;

  it('a transfer aborted near 30 s is the Pi per-file timeout, even while the boot goes on', () => {
    const events = [
      ...pi4Boot(0).slice(0, 8),
      tftp(36, 'aborted', '1a2b3c4d/initramfs', { bytes: 31_000_000, size: 90_000_000, durationMs: 30_050 }),
    ];
    const boot = stitch(events, 40)[0]!;
    assert.equal(boot.outcome, 'failed');
    assert.equal(boot.failure!.code, 'RB_BOOT_PI_FILE_TIMEOUT');
    assert.match(boot.failure!.message, /initramfs.*30\.1 s.*31000000 of 90000000 bytes/);
    assert.equal(boot.stages[1]!.outcome, 'failed');
  });

  it('an abort after 5 s is not the timeout; a failed transfer never retried is a transfer failure', () => {
    const events = [...pi4Boot(0).slice(0, 6), tftp(5, 'failed', '1a2b3c4d/start4.elf', { durationMs: 5000, error: 'no ACK after 6 retransmits' })];
    assert.equal(failure(events), 'RB_BOOT_TRANSFER_FAILED');
  });

  it('repeated probes and refusals with no transfer are missing files', () => {
    const events = [
      ...pi4Boot(0).slice(0, 4),
      tftp(1, 'refused', '1a2b3c4d/start4.elf', { errorCode: 1 }),
      tftp(3, 'refused', '1a2b3c4d/start4.elf', { errorCode: 1 }),
      tftp(5, 'refused', '1a2b3c4d/start4.elf', { errorCode: 1 }),
    ];
    assert.equal(failure(events, 10), null, 'not judged while the node still tries');
    const boot = stitch(events)[0]!;
    assert.equal(boot.failure!.code, 'RB_BOOT_MISSING_FILES');
    assert.match(boot.failure!.message, /start4\.elf/);
    assert.match(boot.failure!.whatToDo, /firmware/);
  });

  it('expected misses (pieeprom.sig, overlay_map.dtb) alone are no failure', () => {
    const events = [
      ...pi4Boot(0).slice(0, 10),
      tftp(10, 'refused', '1a2b3c4d/overlay_map.dtb', { errorCode: 1 }),
      tftp(10.5, 'refused', '1a2b3c4d/overlay_map.dtb', { errorCode: 1 }),
    ];
    assert.equal(stitch(events)[0]!.outcome, 'served');
  });

  it("the board's device tree refused while others transferred is a required file missing", () => {
    const events = [
      ...pi4Boot(0).slice(0, 8),
      tftp(2, 'refused', '1a2b3c4d/bcm2711-rpi-4-b.dtb', { errorCode: 1 }),
      tftp(2.5, 'refused', '1a2b3c4d/bcm2711-rpi-4-b.dtb', { errorCode: 1 }),
    ];
    const boot = stitch(events)[0]!;
    assert.equal(boot.failure!.code, 'RB_BOOT_PI_REQUIRED_MISSING');
    assert.match(boot.failure!.message, /bcm2711-rpi-4-b\.dtb/);
    assert.doesNotMatch(boot.failure!.message, /pieeprom/);
  });

  it('DHCP offers with no follow-up point at option 43 or the network', () => {
    const events = [
      at(0, 'dhcp', 'discover', { firmware: 'pi-rom' }),
      at(0.01, 'dhcp', 'offer', { firmware: 'pi-rom' }),
      at(2, 'dhcp', 'discover', { firmware: 'pi-rom' }),
      at(2.01, 'dhcp', 'offer', { firmware: 'pi-rom' }),
    ];
    const boot = stitch(events)[0]!;
    assert.equal(boot.failure!.code, 'RB_BOOT_NO_FOLLOW_UP');
    assert.match(boot.failure!.whatToDo, /option 43/);
    assert.equal(failure(events.filter((event) => event.kind === 'discover')), 'RB_BOOT_NO_OFFER');
    assert.equal(failure([at(0, 'dhcp', 'discover'), at(0, 'dhcp', 'exhausted')]), 'RB_BOOT_POOL_EXHAUSTED');
  });

  it('chain-wait means no image: the boot waits, with the assign command as the fix', () => {
    const events = [at(0, 'http', 'chain-wait'), at(30, 'http', 'chain-wait')];
    const boot = stitch(events, 31)[0]!;
    assert.equal(boot.outcome, 'waiting');
    assert.equal(boot.failure!.code, 'RB_BOOT_NO_IMAGE');
    assert.match(boot.failure!.whatToDo, new RegExp(`rackboot node assign ${MAC} IMAGE`));
    assert.equal(boot.stages[0]!.outcome, 'waiting');
    const assigned = stitch([...events, at(35, 'http', 'chain', { image: 'x' }), at(36, 'http', 'file', { file: 'vmlinuz' })], 37)[0]!;
    assert.equal(assigned.outcome, 'in-progress');
  });

  it('a Pi refused its config.txt for want of an image fails at once, naming the assign command; a later served config.txt clears it', () => {
    const noImage = { errorCode: 1, reason: 'RB_NO_IMAGE' };
    const events = [tftp(0, 'refused', '1a2b3c4d/config.txt', noImage), tftp(0.5, 'complete', '1a2b3c4d/start4.elf', { bytes: 2_200_000 })];
    const boot = stitch([...events, tftp(1, 'refused', '1a2b3c4d/config.txt', noImage)], 2)[0]!;
    assert.equal(boot.outcome, 'failed');
    assert.equal(boot.failure!.code, 'RB_BOOT_PI_NO_IMAGE');
    assert.match(boot.failure!.whatToDo, new RegExp(`rackboot node assign ${MAC} IMAGE`));
    assert.equal(boot.stages[0]!.outcome, 'failed');
    const assigned = stitch([...events, tftp(5, 'complete', '1a2b3c4d/config.txt', { bytes: 200 })], 6)[0]!;
    assert.equal(assigned.failure, null);
    assert.equal(assigned.outcome, 'in-progress');
  });

  it('a booted callback clears any failure pattern', () => {
    const events = [...pi4Boot(0).slice(0, 4), tftp(1, 'aborted', 'x', { durationMs: 30_000 }), ...pi4Boot(40).slice(4)];
    const boot = stitch(events)[0]!;
    assert.equal(boot.outcome, 'booted');
    assert.equal(boot.failure, null);
  });
});

describe('boot tracker: boots reported once they are over', () => {
  const live = (event: TimelineEvent, nodeId: number | null = 7) => ({ ...event, nodeId });

  it('reports at the booted callback', () => {
    const seen: Boot[] = [];
    const tracker = new BootTracker((boot) => seen.push(boot));
    const events = pi4Boot(0);
    for (const event of events) tracker.observe(live(event));
    assert.equal(seen.length, 1);
    assert.equal(seen[0]!.outcome, 'booted');
    assert.equal(seen[0]!.events, events.length);
  });

  it('holds a served boot for a late callback, reports failures once quiet', () => {
    const seen: Boot[] = [];
    const tracker = new BootTracker((boot) => seen.push(boot), { quietGapMs: 10_000, bootedWindowMs: 60_000 });
    for (const event of pi4Boot(0).slice(0, -1)) tracker.observe(live(event));
    tracker.observe(live(at(0, 'dhcp', 'discover', { mac: 'aa:bb:cc:dd:ee:ff' }), 8));
    tracker.sweep(T0 + 30_000);
    assert.deepEqual(seen.map((boot) => boot.failure?.code), ['RB_BOOT_NO_OFFER']);
    tracker.observe(live(at(45, 'node', 'booted')));
    assert.deepEqual(seen.map((boot) => boot.outcome), ['failed', 'booted']);
  });

  it("attributes TFTP files fetched without a node prefix (Pi 3 bootcode.bin) to the node DHCP gave that address; drops unknown addresses", () => {
    const seen: Boot[] = [];
    const tracker = new BootTracker((boot) => seen.push(boot));
    const rom = { firmware: 'pi-rom' };
    tracker.observe(live(at(0, 'dhcp', 'discover', rom)));
    tracker.observe(live(at(0.01, 'dhcp', 'offer', { ...rom, ip: '10.0.0.50' })));
    const anonymous = (seconds: number, address: string) => ({
      ...tftp(seconds, 'complete', 'bootcode.bin', { bytes: 52_000 }),
      detail: { file: 'bootcode.bin', outcome: 'complete', bytes: 52_000, durationMs: 50, address },
      nodeId: null,
    });
    tracker.observe(anonymous(0.5, '10.0.0.50'));
    tracker.observe(anonymous(0.6, '10.0.0.99'));
    tracker.observe(live(at(30, 'node', 'booted')));
    assert.equal(seen.length, 1);
    assert.deepEqual(seen[0]!.stages.map((stage) => stage.name), ['dhcp', 'tftp', 'booted']);
    assert.equal(seen[0]!.bytes, 52_000);
    tracker.sweep(T0 + 3_600_000);
    assert.equal(seen.length, 1, 'the unknown address made no boot of its own');
  });

  it('a DHCP client that never became a node (server mode hands addresses to laptops too) is no boot', () => {
    const seen: Boot[] = [];
    const tracker = new BootTracker((boot) => seen.push(boot), { quietGapMs: 10_000 });
    const laptop = { mac: '3c:22:fb:00:00:01' };
    for (const [seconds, kind] of [[0, 'discover'], [0.01, 'offer'], [0.02, 'request'], [0.03, 'ack']] as const) {
      tracker.observe(live(at(seconds, 'dhcp', kind, { ...laptop, ip: '10.0.0.60' }), null));
    }
    tracker.observe(live(at(1, 'tftp', 'tftp-complete', { file: 'x', address: '10.0.0.60' }), null));
    tracker.sweep(T0 + 3_600_000);
    assert.deepEqual(seen, []);
  });
});

describe('stored timelines', () => {
  it("a node's boots include files fetched without a prefix from the address DHCP gave it, during its boot only", () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'rbt-ops-timeline-'));
    const inventory = openInventory(dir);
    try {
      const node = inventory.nodes.observe({ mac: parseMac(MAC)!, model: 'pi3b' });
      const store = (event: TimelineEvent, nodeId: number | null) => inventory.events.insert({ ...event, nodeId });
      store(at(0, 'dhcp', 'discover', { firmware: 'pi-rom' }), node.id);
      store(at(0.01, 'dhcp', 'offer', { firmware: 'pi-rom', ip: '10.0.0.50' }), node.id);
      const bootcode = { file: 'bootcode.bin', outcome: 'complete', bytes: 52_000, durationMs: 40, address: '10.0.0.50' };
      inventory.events.insert({ nodeId: null, at: T0 + 500, source: 'tftp', kind: 'tftp-complete', detail: bootcode });
      inventory.events.insert({ nodeId: null, at: T0 + 600, source: 'tftp', kind: 'tftp-complete', detail: { ...bootcode, address: '10.0.0.51' } });
      inventory.events.insert({ nodeId: null, at: T0 + 86_400_000, source: 'tftp', kind: 'tftp-complete', detail: bootcode });
      store(at(1, 'tftp', 'tftp-complete', { file: '1a2b3c4d/start.elf', outcome: 'complete', bytes: 2_000_000 }), node.id);
      store(at(20, 'node', 'booted'), node.id);
      const [boot, ...rest] = nodeBoots(inventory, node.id, T0 + 100_000);
      assert.equal(rest.length, 0);
      assert.deepEqual(boot!.stages.map((stage) => [stage.name, stage.files]), [
        ['dhcp', []],
        ['tftp', ['bootcode.bin', '1a2b3c4d/start.elf']],
        ['booted', []],
      ]);
      assert.equal(boot!.bytes, 2_052_000);
      assert.equal(newestBoot(inventory, node.id, T0 + 100_000)!.outcome, 'booted');
    } finally {
      inventory.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
