/**
 * The Raspberry Pi 4 path end to end without a Pi: a scripted bootloader (helpers/pi-client.ts)
 * in its own namespace does DHCP (server and proxy mode) and the TFTP sequence against the daemon,
 * and every answer is checked byte for byte, down to the node's own files.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { repoRoot, runCli, startDaemon, type RunningDaemon } from './helpers/daemon.js';
import { nsApi, nsGet } from './helpers/e2e-api.js';
import { fakeImageFiles, sha256 } from './helpers/fixtures.js';
import { PI4_OPTION_43_HEX } from './helpers/dhcp-packets.js';
import { createLab, type Lab } from './helpers/netns.js';
import { runPiClient } from './helpers/pi-replay.js';
import { parseBootp, PI4_FILES, piOption97, type Transcript } from './helpers/pi-client.js';
import { until } from './helpers/wait.js';
import type { Boot } from '../server/timeline/types.js';

const SERVER = '10.78.0.1';
const MAC = 'dc:a6:32:01:36:c2';
const SERIAL = 0x1a2b3c4d;
const PREFIX = '1a2b3c4d';
const REVISION = 0xa03111;

/** A temp assetsDir: the shipped templates, a fake start4.elf in firmware/, an empty ipxe/. */
function assetsDir(): { dir: string; start4: Buffer } {
  const dir = mkdtempSync(path.join(tmpdir(), 'rbt-e2e-assets-'));
  cpSync(path.join(repoRoot, 'boot-assets/templates'), path.join(dir, 'templates'), { recursive: true });
  mkdirSync(path.join(dir, 'firmware'));
  mkdirSync(path.join(dir, 'ipxe'));
  // Not a multiple of 1024, so the last DATA block is short.
  const start4 = randomBytes(2_301_107);
  writeFileSync(path.join(dir, 'firmware', 'start4.elf'), start4);
  return { dir, start4 };
}

for (const mode of ['server', 'proxy'] as const) {
  describe(`Pi 4 bootloader replay, DHCP ${mode} mode`, { timeout: 180_000 }, () => {
    const image = fakeImageFiles(150_000, 400_000);
    const rescue = fakeImageFiles(160_000, 410_000);
    const assets = assetsDir();
    const siteLease = { address: '10.78.0.50', serverId: '10.78.0.254' };
    let lab: Lab;
    let daemon: RunningDaemon;
    let transcript: Transcript;
    const replay = () =>
      runPiClient(lab, {
        mac: MAC,
        serial: SERIAL,
        revision: REVISION,
        mode,
        dev: lab.clientDev,
        tftpPort: 69,
        ...(mode === 'proxy' && { siteLease }),
      });

    before(async () => {
      lab = createLab({
        prefix: 'rbt-e2e-',
        tag: `pi-${mode}`,
        serverCidr: `${SERVER}/24`,
        ...(mode === 'proxy' && { clientCidr: `${siteLease.address}/24` }),
        clientMac: MAC,
        broadcastRoutes: true,
      });
      daemon = await startDaemon({
        netns: lab.server,
        config: {
          serverAddress: SERVER,
          assetsDir: assets.dir,
          http: { address: '0.0.0.0', port: 8080 },
          tftp: { address: '0.0.0.0', port: 69 },
          dhcp: { enabled: true, mode, interface: lab.serverDev, subnet: '10.78.0.0/24', pool: { start: '10.78.0.100', end: '10.78.0.150' } },
        },
      });
      const api = (method: string, url: string, body?: unknown) => nsApi(lab.server, daemon, method, url, body);
      assert.equal((await api('POST', '/images', { name: 'pi-image', arch: 'arm64', kernel: image.kernel, initrd: image.initrd })).status, 201);
      assert.equal((await api('PUT', `/nodes/${PREFIX}/assignment`, { image: 'pi-image' })).status, 200);
      transcript = await replay();
    });
    after(async () => {
      await daemon?.stop();
      lab?.cleanup();
      for (const files of [image, rescue]) rmSync(files.dir, { recursive: true, force: true });
      rmSync(assets.dir, { recursive: true, force: true });
    });

    it('the OFFER carries option 43, 60, 97, 66 and siaddr exactly as a Pi needs them', () => {
      const offer = parseBootp(Buffer.from(transcript.offer, 'hex'));
      assert.ok(offer, 'the OFFER does not parse');
      assert.equal(offer.op, 2);
      assert.equal(offer.flags, 0, 'the Pi asked without the broadcast flag');
      assert.equal(offer.options.get(53)?.toString('hex'), '02');
      assert.equal(offer.chaddr.toString('hex'), MAC.replace(/:/g, ''));
      assert.equal(offer.options.get(43)?.toString('hex'), PI4_OPTION_43_HEX);
      assert.equal(offer.options.get(60)?.toString('latin1'), 'PXEClient');
      assert.deepEqual(offer.options.get(97), piOption97(MAC, REVISION, SERIAL));
      assert.equal(offer.options.get(66)?.toString('latin1'), SERVER);
      assert.equal(offer.siaddr, SERVER);
      assert.equal(offer.options.get(54)?.toString('hex'), Buffer.from(SERVER.split('.').map(Number)).toString('hex'));
      if (mode === 'server') {
        assert.match(offer.yiaddr, /^10\.78\.0\.(1[0-4]\d|150)$/);
        assert.equal(offer.options.get(1)?.toString('hex'), 'ffffff00');
      } else {
        assert.equal(offer.yiaddr, '0.0.0.0', 'a proxy never hands out an address');
      }
    });

    it(mode === 'server' ? 'the REQUEST (no option 60) is ACKed with the offered address' : 'a REQUEST to the site DHCP server gets no answer from the proxy', () => {
      const offer = parseBootp(Buffer.from(transcript.offer, 'hex'))!;
      if (mode === 'proxy') return assert.deepEqual(transcript.afterRequest, []);
      assert.equal(transcript.afterRequest.length, 1);
      const ack = parseBootp(Buffer.from(transcript.afterRequest[0]!, 'hex'))!;
      assert.equal(ack.options.get(53)?.toString('hex'), '05');
      assert.equal(ack.yiaddr, offer.yiaddr);
      assert.deepEqual(ack.options.get(54), offer.options.get(54));
      assert.equal(ack.siaddr, SERVER);
    });

    it('TFTP: the start4.elf probe gets an OACK with tsize and blksize 1024, then the shared firmware', () => {
      assert.equal(transcript.tftpServer, SERVER);
      assert.deepEqual(transcript.probe.oack, { tsize: String(assets.start4.length), blksize: '1024' });
      const start4 = transcript.files.find((file) => file.file.endsWith('start4.elf'))!;
      assert.equal(start4.size, assets.start4.length);
      assert.equal(start4.sha256, sha256(assets.start4));
      for (const file of transcript.files) {
        assert.equal(file.oack['blksize'], '1024', file.file);
        assert.equal(file.oack['tsize'], String(file.size), `${file.file}: tsize matches what was sent`);
        assert.equal(file.retransmits, 0, `${file.file}: a clean link needs no retransmits`);
      }
    });

    it("TFTP: config.txt, cmdline.txt, Image and rootfs.cpio.gz are the node's", () => {
      const byName = new Map(transcript.files.map((file) => [file.file.slice(PREFIX.length + 1), file]));
      assert.deepEqual([...byName.keys()], PI4_FILES);
      const config = byName.get('config.txt')!.text!;
      assert.match(config, /^kernel=Image$/m);
      assert.match(config, /^initramfs rootfs\.cpio\.gz followkernel$/m);
      assert.match(byName.get('cmdline.txt')!.text!, /rackboot\.image=pi-image/);
      assert.equal(byName.get('Image')!.sha256, sha256(image.kernelData));
      assert.equal(byName.get('rootfs.cpio.gz')!.sha256, sha256(image.initrdData));
    });

    it('the node timeline has the probe and each completed transfer', async () => {
      type Event = { kind: string; detail?: { file?: string } };
      // Events are written in batches (100 ms): poll briefly for the last transfer's.
      let events: Event[] = [];
      for (let attempt = 0; attempt < 20; attempt++) {
        events = (await nsApi(lab.server, daemon, 'GET', `/nodes/${PREFIX}/events`)).json as unknown as Event[];
        if (events.filter((event) => event.kind === 'tftp-complete').length >= PI4_FILES.length) break;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      const probes = events.filter((event) => event.kind === 'tftp-probe');
      assert.equal(probes.length, 1, JSON.stringify(events.map((event) => event.kind)));
      const complete = events.filter((event) => event.kind === 'tftp-complete').map((event) => event.detail?.file);
      for (const file of PI4_FILES) {
        assert.ok(complete.includes(`${PREFIX}/${file}`), `no tftp-complete for ${file}: ${JSON.stringify(complete)}`);
      }
    });

    // A Pi with TFTP_PREFIX=2 asks under its MAC in lower case with dashes instead of its serial.
    it("TFTP under the dashed-MAC prefix serves the same node's config.txt to curl; an unknown MAC gets none", async () => {
      const bySerial = transcript.files.find((file) => file.file === `${PREFIX}/config.txt`)!.text!;
      const byMac = await nsGet(lab.client, `tftp://${SERVER}/${MAC.replace(/:/g, '-')}/config.txt`);
      assert.equal(byMac.toString('utf8'), bySerial);
      assert.match(bySerial, /image pi-image/, 'the generated file, not a shared one');
      // No shared config.txt and no defaultImage: only a node with an image has one.
      await assert.rejects(nsGet(lab.client, `tftp://${SERVER}/dc-a6-32-ff-ff-01/config.txt`), /curl .* failed/);
    });

    it('the timeline names the image each TFTP boot was served; --once serves exactly the next boot, its late files too', async () => {
      const api = (method: string, url: string, body?: unknown) => nsApi(lab.server, daemon, method, url, body);
      assert.equal((await api('POST', '/images', { name: 'rescue', arch: 'arm64', kernel: rescue.kernel, initrd: rescue.initrd })).status, 201);
      assert.equal((await api('PUT', `/nodes/${PREFIX}/assignment`, { image: 'rescue', once: true })).status, 200);
      const rootfs = (boot: Transcript) => boot.files.find((file) => file.file === `${PREFIX}/rootfs.cpio.gz`)!.sha256;

      assert.equal(rootfs(await replay()), sha256(rescue.initrdData), 'the next boot gets the one-shot image');
      const late = await nsGet(lab.client, `tftp://${SERVER}/${PREFIX}/rootfs.cpio.gz`);
      assert.equal(sha256(late), sha256(rescue.initrdData), 'a late file of that boot still comes from it');
      assert.equal(rootfs(await replay()), sha256(image.initrdData), 'the boot after (a new DISCOVER, seconds later) gets the standing image');

      // Events are written in batches: wait for the last boot's initramfs.
      const boots = await until('the last boot on the timeline', async () => {
        const stored = JSON.parse((await nsGet(lab.server, `${daemon.httpUrl}/timeline/${PREFIX}`)).toString()) as Boot[];
        const files = stored.at(-1)?.stages.flatMap((stage) => stage.files) ?? [];
        return stored.length >= 3 && files.includes(`${PREFIX}/rootfs.cpio.gz`) ? stored : undefined;
      });
      const served = (boot: Boot) => [boot.image, boot.version, boot.reason];
      assert.deepEqual(served(boots[0]!), ['pi-image', 1, 'assigned'], 'the first replay, TFTP only after DHCP');
      assert.deepEqual(boots.slice(-2).map(served), [
        ['rescue', 1, 'once'],
        ['pi-image', 1, 'assigned'],
      ]);
      const oneShot = boots.at(-2)!.stages.find((stage) => stage.name === 'tftp')!;
      assert.equal(oneShot.kinds['tftp-complete'], PI4_FILES.length + 1, 'the late initramfs is part of the one-shot boot');
      const shown = await runCli(['node', 'show', PREFIX], daemon.configFile);
      assert.equal(shown.code, 0, shown.stderr);
      assert.match(shown.stdout, /image pi-image v1 \(assigned\)/);
    });
  });
}
