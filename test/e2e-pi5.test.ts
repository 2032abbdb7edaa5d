/**
 * The Raspberry Pi 5 path end to end without a Pi: the scripted bootloader (helpers/pi-client.ts,
 * board pi5) does DHCP with an "RPi5" option 97 and the Pi 5 TFTP sequence (no start*.elf; config.txt,
 * the BCM2712 device tree, overlay_map.dtb and the D0 overlay, cmdline.txt, the kernel config.txt
 * names, the initramfs) against the daemon, and the node's timeline must call the boot a success,
 * or, without overlays/bcm2712d0.dtbo, a failure that names it.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { repoRoot, startDaemon, type RunningDaemon } from './helpers/daemon.js';
import { nsApi, nsGet } from './helpers/e2e-api.js';
import { fakeImageFiles, sha256 } from './helpers/fixtures.js';
import { createLab, type Lab } from './helpers/netns.js';
import { runPiClient } from './helpers/pi-replay.js';
import { parseBootp, piOption97, type Transcript } from './helpers/pi-client.js';
import { stitchBoots } from '../server/timeline/stitch.js';
import type { Boot, TimelineEvent } from '../server/timeline/types.js';

const SERVER = '10.79.0.1';
const MAC = '2c:cf:67:05:00:01';
/** The low 32 bits of the board's 64-bit serial: the TFTP prefix. */
const SERIAL = 0x5e7a11ce;
const PREFIX = '5e7a11ce';
/** Pi 5 8 GB: board type 0x17 in bits 4-11. */
const REVISION = 0xd04170;
const EXPECTED_MISSES = ['pieeprom.sig', 'armstub8-2712.bin', 'bootsig.bin'];
const D0_OVERLAY = 'overlays/bcm2712d0.dtbo';

/** A temp assetsDir with the Pi 5 firmware files (random bytes), the D0 overlay left out on request. */
function assetsDir(withD0Overlay: boolean): { dir: string; firmware: Map<string, Buffer> } {
  const dir = mkdtempSync(path.join(tmpdir(), 'rbt-e2e-pi5-assets-'));
  cpSync(path.join(repoRoot, 'boot-assets/templates'), path.join(dir, 'templates'), { recursive: true });
  mkdirSync(path.join(dir, 'firmware', 'overlays'), { recursive: true });
  mkdirSync(path.join(dir, 'ipxe'));
  const firmware = new Map<string, Buffer>();
  for (const file of ['bcm2712-rpi-5-b.dtb', 'overlays/overlay_map.dtb', ...(withD0Overlay ? [D0_OVERLAY] : [])]) {
    const data = randomBytes(3_000 + firmware.size * 1_111);
    writeFileSync(path.join(dir, 'firmware', file), data);
    firmware.set(file, data);
  }
  return { dir, firmware };
}

async function timeline(lab: Lab, daemon: RunningDaemon): Promise<Boot[]> {
  return JSON.parse((await nsGet(lab.server, `${daemon.httpUrl}/timeline/${PREFIX}`)).toString('utf8')) as Boot[];
}

for (const variant of ['complete', 'without the D0 overlay'] as const) {
  const withD0Overlay = variant === 'complete';
  describe(`Pi 5 bootloader replay, firmware ${variant}`, { timeout: 180_000 }, () => {
    const image = fakeImageFiles(150_000, 400_000);
    const assets = assetsDir(withD0Overlay);
    let lab: Lab;
    let daemon: RunningDaemon;
    let transcript: Transcript;

    before(async () => {
      lab = createLab({ prefix: 'rbt-e2e-', tag: `pi5-${withD0Overlay ? 'ok' : 'd0'}`, serverCidr: `${SERVER}/24`, clientMac: MAC, broadcastRoutes: true });
      daemon = await startDaemon({
        netns: lab.server,
        config: {
          serverAddress: SERVER,
          assetsDir: assets.dir,
          http: { address: '0.0.0.0', port: 8080 },
          tftp: { address: '0.0.0.0', port: 69 },
          dhcp: { enabled: true, mode: 'server', interface: lab.serverDev, subnet: '10.79.0.0/24', pool: { start: '10.79.0.100', end: '10.79.0.150' } },
        },
      });
      const api = (method: string, url: string, body?: unknown) => nsApi(lab.server, daemon, method, url, body);
      assert.equal((await api('POST', '/images', { name: 'pi5-image', arch: 'arm64', kernel: image.kernel, initrd: image.initrd })).status, 201);
      assert.equal((await api('PUT', `/nodes/${PREFIX}/assignment`, { image: 'pi5-image' })).status, 200);
      transcript = await runPiClient(lab, { board: 'pi5', mac: MAC, serial: SERIAL, revision: REVISION, mode: 'server', dev: lab.clientDev, tftpPort: 69 });
    });
    after(async () => {
      await daemon?.stop();
      lab?.cleanup();
      rmSync(image.dir, { recursive: true, force: true });
      rmSync(assets.dir, { recursive: true, force: true });
    });

    it('the OFFER echoes the "RPi5" option 97 and the node is recorded as a Pi 5', async () => {
      const offer = parseBootp(Buffer.from(transcript.offer, 'hex'))!;
      assert.deepEqual(offer.options.get(97), piOption97(MAC, REVISION, SERIAL, 'RPi5'));
      assert.equal(offer.options.get(66)?.toString('latin1'), SERVER);
      const node = (await nsApi(lab.server, daemon, 'GET', `/nodes/${PREFIX}`)).json as { model?: string; mac?: string };
      assert.equal(node.model, 'pi5');
      assert.equal(node.mac, MAC, 'the serial was confirmed by the prefix the Pi asked from its leased address');
    });

    it('TFTP: config.txt probe, the device tree and overlays from the firmware, the kernel config.txt names, the initramfs', () => {
      assert.deepEqual(transcript.probe.oack['blksize'], '1024');
      const byName = new Map(transcript.files.map((file) => [file.file.slice(PREFIX.length + 1), file]));
      for (const [file, data] of assets.firmware) assert.equal(byName.get(file)?.sha256, sha256(data), file);
      assert.match(byName.get('config.txt')!.text!, /^kernel=Image$/m);
      assert.equal(byName.get('Image')!.sha256, sha256(image.kernelData));
      assert.equal(byName.get('rootfs.cpio.gz')!.sha256, sha256(image.initrdData));
      assert.deepEqual(transcript.misses, withD0Overlay ? EXPECTED_MISSES : [EXPECTED_MISSES[0], D0_OVERLAY, ...EXPECTED_MISSES.slice(1)]);
    });

    if (withD0Overlay) {
      it('the timeline: no failure while it runs, served once quiet, booted after the callback', async () => {
        const [boot] = await timeline(lab, daemon);
        assert.equal(boot!.failure, null, JSON.stringify(boot!.failure));
        assert.equal(boot!.outcome, 'in-progress');
        assert.deepEqual(boot!.stages.map((stage) => stage.name), ['dhcp', 'tftp']);
        // The same events, seen after the quiet gap without a callback: files went out and nothing failed.
        const events = (await nsApi(lab.server, daemon, 'GET', `/nodes/${PREFIX}/events`)).json as unknown as TimelineEvent[];
        const quiet = stitchBoots(events, { now: Math.max(...events.map((event) => event.at)) + 200_000 });
        assert.equal(quiet.at(-1)!.outcome, 'served');
        assert.equal(quiet.at(-1)!.failure, null);
        await nsGet(lab.client, `${daemon.httpUrl}/booted?serial=${PREFIX}`);
        const booted = (await timeline(lab, daemon)).at(-1)!;
        assert.equal(booted.outcome, 'booted');
        assert.deepEqual(booted.stages.map((stage) => stage.name), ['dhcp', 'tftp', 'booted']);
      });
    } else {
      it('the timeline reports the missing D0 overlay as the failure, at once', async () => {
        const boot = (await timeline(lab, daemon)).at(-1)!;
        assert.equal(boot.outcome, 'failed');
        assert.equal(boot.failure?.code, 'RB_BOOT_PI_REQUIRED_MISSING');
        assert.match(boot.failure!.message, /pi5 asked for overlays\/bcm2712d0\.dtbo .*SError/);
        assert.match(boot.failure!.whatToDo, /firmware/);
      });
    }
  });
}
