// Pi TFTP limit warnings when an image is assigned: a Pi (by serial, or a MAC DHCP saw as a Pi)
// and a node not seen yet are warned in the API answer, on the CLI's stderr and in the event; a
// node known to boot through other firmware (an arm64 server running iPXE) is not.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runCli, startDaemon, type RunningDaemon } from './helpers/daemon.js';
import { api, getText } from './helpers/fixtures.js';
import { eventsWhen } from './helpers/wait.js';
import { openInventory } from '../server/inventory/index.js';
import { parseMac } from '../server/net/mac.js';

// One byte more than 65535 TFTP blocks of 1024: older Pi 4 bootloaders truncate it.
const FAT_INITRD = 65535 * 1024 + 1;
// What is wrong and how to fix it, apart.
const MESSAGE = /^the initramfs is 67107841 bytes \(64\.0 MiB\), more than 65535 TFTP blocks of 1024 bytes: .*the boot fails late$/;
const FIX = /^on a Pi 4 an EEPROM update does not help .*on a Pi 5 update the bootloader EEPROM to 2025-09-23 or later \(rpi-eeprom-update -a\)/;
interface Warning {
  code: string;
  file: string;
  message: string;
  fix: string;
}
const assertWarning = (warning: Warning | undefined) => {
  assert.deepEqual([warning?.code, warning?.file], ['RB_PI_TFTP_BLOCK_ROLLOVER', 'initramfs']);
  assert.match(warning!.message, MESSAGE);
  assert.match(warning!.fix, FIX);
};
const PI_SERIAL = '0e0e0e01';
const PI_MAC = parseMac('dc:a6:32:0e:0e:02')!;
const NEW_MAC = '52:54:00:0e:0e:03';
const ARM_SERVER = '52:54:00:0e:0e:04';

describe('Pi TFTP limit warnings at assignment', { timeout: 60_000 }, () => {
  let daemon: RunningDaemon;
  const dir = mkdtempSync(path.join(tmpdir(), 'rbt-assign-limits-'));

  before(async () => {
    const kernel = path.join(dir, 'Image');
    const fat = path.join(dir, 'fat.cpio.gz');
    writeFileSync(kernel, Buffer.alloc(10_000, 1));
    writeFileSync(fat, '');
    truncateSync(fat, FAT_INITRD); // sparse: the size is what matters
    writeFileSync(path.join(dir, 'slim.cpio.gz'), Buffer.alloc(10_000, 2));
    daemon = await startDaemon();
    for (const name of ['fat', 'slim']) {
      const created = await api(daemon, 'POST', '/images', { name, arch: 'arm64', kernel, initrd: path.join(dir, `${name}.cpio.gz`) });
      assert.equal(created.status, 201, JSON.stringify(created.json));
    }
    // What DHCP records for a Pi 4 EEPROM bootloader (DHCP is off in tests).
    const inventory = openInventory(daemon.dataDir);
    inventory.nodes.observe({ mac: PI_MAC, model: 'pi4', firmware: 'pi-eeprom', arch: 'arm64' });
    inventory.close();
    // An arm64 UEFI machine's iPXE asking for its script: it fetches over HTTP, never from a Pi bootloader.
    await getText(`${daemon.httpUrl}/chain?mac=${ARM_SERVER}&arch=arm64&uefi=true`);
  });
  after(async () => {
    await daemon.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  /** The warnings of the node's newest `assigned` event (stored a moment after the request). */
  const eventWarnings = async (node: string, image: string) => {
    const assigned = (events: { kind: string; detail: Record<string, unknown> }[]) =>
      events.find((event) => event.kind === 'assigned' && event.detail['image'] === image);
    return assigned(await eventsWhen(daemon, node, (events) => Boolean(assigned(events))))!.detail['warnings'] as Warning[];
  };

  it('PUT /nodes/<node>/assignment answers with the warning for a Pi and for a node not seen yet; the event has it', async () => {
    for (const node of [PI_SERIAL, NEW_MAC]) {
      const fat = await api(daemon, 'PUT', `/nodes/${node}/assignment`, { image: 'fat' });
      assert.equal(fat.status, 200);
      const warnings = fat.json!['warnings'] as Warning[];
      assert.equal(warnings.length, 1, JSON.stringify(warnings));
      assertWarning(warnings[0]);
      assert.deepEqual(await eventWarnings(node, 'fat'), warnings);
      assert.deepEqual((await api(daemon, 'PUT', `/nodes/${node}/assignment`, { image: 'slim' })).json!['warnings'], [], 'within the limits');
    }
  });

  it('rackboot node assign prints the warning on stderr for a Pi known by MAC, and --json carries it', async () => {
    const text = await runCli(['node', 'assign', PI_MAC, 'fat'], daemon.configFile);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, new RegExp(`^${PI_MAC} -> fat$`, 'm'));
    const [problem, fix, ...rest] = text.stderr.trimEnd().split('\n');
    assert.match(problem!.replace(/^warning: /, ''), MESSAGE);
    assert.match(fix!.replace(/^ {2}fix: /, ''), FIX);
    assert.deepEqual(rest, []);
    const json = await runCli(['node', 'assign', PI_MAC, 'fat', '--json'], daemon.configFile);
    const warnings = (JSON.parse(json.stdout) as { warnings: Warning[] }).warnings;
    assert.equal(warnings.length, 1);
    assertWarning(warnings[0]);
    assert.deepEqual(await eventWarnings(PI_MAC, 'fat'), warnings);
  });

  it('a node known not to boot from a Pi bootloader gets no warning, in the API, the CLI or the event', async () => {
    const answer = await api(daemon, 'PUT', `/nodes/${ARM_SERVER}/assignment`, { image: 'fat' });
    assert.equal(answer.status, 200);
    assert.deepEqual(answer.json!['warnings'], []);
    assert.deepEqual(await eventWarnings(ARM_SERVER, 'fat'), []);
    const cli = await runCli(['node', 'assign', ARM_SERVER, 'fat'], daemon.configFile);
    assert.equal(cli.code, 0, cli.stderr);
    assert.equal(cli.stderr, '');
  });
});
