// Raspberry Pi HTTP boot (bootloader mode 7): boot.img and boot.sig fetched over real HTTP from a
// running daemon, opened with mtools, checked file by file and against openssl.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { Agent, request } from 'undici';
import { buildFatImage, FatError } from '../server/images/fat.js';
import { repoRoot, runCli, startDaemon, type RunningDaemon } from './helpers/daemon.js';
import { api, fakeImageFiles, getBytes, getText, sha256 } from './helpers/fixtures.js';
import { run, tempDir } from './helpers/images-fixtures.js';

const MAC = 'dc:a6:32:01:36:c2';
const DASHED = MAC.replace(/:/g, '-');
const NODE_IP = '127.0.0.2';
const MiB = 2 ** 20;

interface Setup {
  daemon: RunningDaemon;
  dir: string;
  firmware: Record<string, Buffer>;
  publicKey: string;
  kernel: Buffer;
}

/** A daemon with a firmware directory, a signing key, an HTTP-boot image and a node assigned to it. */
async function setUp(t: { after(fn: () => Promise<void>): void }): Promise<Setup> {
  const dir = await tempDir(t, 'httpboot');
  const assets = path.join(dir, 'assets');
  cpSync(path.join(repoRoot, 'boot-assets/templates'), path.join(assets, 'templates'), { recursive: true });
  const firmware: Record<string, Buffer> = {
    'start4.elf': Buffer.from('start4 firmware'.repeat(1000)),
    'fixup4.dat': Buffer.from('fixup4'),
    'bcm2711-rpi-4-b.dtb': Buffer.from('dtb for pi 4'),
    'bcm2712-rpi-5-b.dtb': Buffer.from('dtb for pi 5'),
    'overlays/README': Buffer.from('overlays readme'),
    'overlays/disable-bt-with-a-long-name.dtbo': Buffer.from('overlay'),
  };
  // Files a Pi 4/5 ramdisk does not need: left out.
  const ignored = { 'bootcode.bin': Buffer.from('pi 3 only'), 'kernel8.img': Buffer.from('someone else kernel') };
  for (const [name, data] of Object.entries({ ...firmware, ...ignored })) {
    mkdirSync(path.dirname(path.join(assets, 'firmware', name)), { recursive: true });
    writeFileSync(path.join(assets, 'firmware', name), data);
  }
  const key = path.join(dir, 'boot-key.pem');
  execFileSync('openssl', ['genrsa', '-out', key, '2048'], { stdio: 'ignore' });
  const publicKey = path.join(dir, 'boot-key.pub.pem');
  execFileSync('openssl', ['rsa', '-in', key, '-pubout', '-out', publicKey], { stdio: 'ignore' });
  const daemon = await startDaemon({
    config: {
      assetsDir: assets,
      httpBoot: { signingKey: key },
      // A subnet, so a node can hold a reservation on loopback: the HTTP boot client is found by its address.
      dhcp: { enabled: false, subnet: '127.0.0.0/8' },
    },
  });
  t.after(async () => {
    await daemon.stop();
  });
  const files = fakeImageFiles(300_000, 2 * MiB);
  const added = await api(daemon, 'POST', '/images', { name: 'pi-big', kernel: files.kernel, initrd: files.initrd, httpBoot: true });
  assert.equal(added.status, 201, JSON.stringify(added.json));
  assert.equal((added.json as unknown as { image: { httpBoot: boolean } }).image.httpBoot, true);
  const saved = await api(daemon, 'PUT', `/nodes/${MAC}`, { hostname: 'rack1-pi7', sshKeys: ['ssh-ed25519 AAAA test'], reservedIp: NODE_IP });
  assert.equal(saved.status, 200, JSON.stringify(saved.json));
  assert.equal((await api(daemon, 'PUT', `/nodes/${MAC}/assignment`, { image: 'pi-big' })).status, 200);
  return { daemon, dir, firmware, publicKey, kernel: files.kernelData };
}

test('an HTTP boot uses up a --once assignment with no DHCP of ours: the next boot.sig gets the standing assignment', async (t) => {
  const { daemon } = await setUp(t);
  const fromNode = new Agent({ localAddress: NODE_IP });
  t.after(() => fromNode.close());
  const fetch = async (file: string) => {
    const answer = await request(`${daemon.httpUrl}/rackboot/${file}`, { dispatcher: fromNode });
    return { status: answer.statusCode, text: Buffer.from(await answer.body.arrayBuffer()).toString('latin1') };
  };
  assert.equal((await api(daemon, 'PUT', `/nodes/${MAC}/assignment`, { image: null })).status, 200);
  assert.equal((await api(daemon, 'PUT', `/nodes/${MAC}/assignment`, { image: 'pi-big', once: true })).status, 200);
  assert.equal((await fetch('boot.sig')).status, 200);
  assert.equal((await fetch('boot.img')).status, 200);
  const next = await fetch('boot.sig');
  assert.equal(next.status, 404, 'the one-shot was used up by the boot that fetched boot.img');
  assert.match(next.text, /unassigned/);
});

/** Every file path in a FAT image (recursive bare listing), sorted. */
async function fatFiles(image: string): Promise<string[]> {
  const listing = (await run('mdir', ['-i', image, '-/', '-b', '::/'])).toString();
  return listing
    .split('\n')
    .map((line) => line.trim().replace(/^::\//, ''))
    .filter((line) => line && !line.endsWith('/') && !line.endsWith('/.') && !line.endsWith('/..'))
    .sort();
}

test('boot.img holds the firmware, the node config, the kernel and the overlaid initramfs; boot.sig is signed', async (t) => {
  const { daemon, dir, firmware, publicKey, kernel } = await setUp(t);
  const base = `${daemon.httpUrl}/rackboot/${DASHED}`;
  const sig = await getText(`${base}/boot.sig`);
  assert.equal(sig.status, 200, sig.text);
  const img = await getBytes(`${base}/boot.img`);
  assert.equal(img.status, 200, img.data.toString());
  assert.equal(img.headers['content-length'], String(img.data.length));
  assert.ok(img.data.length <= 128 * MiB);

  // boot.sig: sha256 hex line, ts line, rsa2048 line, in that order (rpi-eeprom-digest's format).
  const lines = sig.text.split('\n');
  assert.equal(lines.length, 4, sig.text);
  assert.equal(lines[0], sha256(img.data));
  assert.match(lines[1]!, /^ts: \d{10}$/);
  assert.match(lines[2]!, /^rsa2048: [0-9a-f]{512}$/);
  assert.equal(lines[3], '');
  const imgFile = path.join(dir, 'boot.img');
  writeFileSync(imgFile, img.data);
  const sigBin = path.join(dir, 'boot.sig.bin');
  writeFileSync(sigBin, Buffer.from(lines[2]!.slice('rsa2048: '.length), 'hex'));
  const verified = await run('openssl', ['dgst', '-sha256', '-verify', publicKey, '-signature', sigBin, imgFile]);
  assert.match(verified.toString(), /Verified OK/);

  // Every file, byte for byte, against what it was made from.
  const http = async (file: string) => (await getBytes(`${daemon.httpUrl}/boot/${DASHED}/${file}`)).data;
  const expected: Record<string, Buffer> = {
    ...firmware,
    'config.txt': await http('config.txt'),
    'cmdline.txt': await http('cmdline.txt'),
    Image: kernel,
    'rootfs.cpio.gz': await http('rootfs.cpio.gz'),
  };
  assert.match(expected['cmdline.txt']!.toString(), /rackboot\.node=rack1-pi7/);
  assert.deepEqual(await fatFiles(imgFile), Object.keys(expected).sort());
  for (const [name, data] of Object.entries(expected)) {
    const extracted = await run('mcopy', ['-n', '-i', imgFile, `::/${name}`, '-']);
    assert.equal(sha256(extracted), sha256(data), name);
  }
  // The overlay (hostname, SSH key) is in the initramfs inside the ramdisk.
  assert.ok(expected['rootfs.cpio.gz']!.length > 2 * MiB);

  // Built again from nothing: the same bytes, and the same boot.sig.
  rmSync(path.join(daemon.dataDir, 'cache', 'ramdisks'), { recursive: true, force: true });
  const again = await getBytes(`${base}/boot.img`);
  assert.equal(again.status, 200);
  assert.ok(again.data.equals(img.data), 'boot.img differs between two builds of the same content');
  assert.equal((await getText(`${base}/boot.sig`)).text.split('\n')[0], lines[0]);

  // A node found by its address (here its reservation) gets the same ramdisk under the shared path.
  const fromNode = new Agent({ localAddress: NODE_IP });
  t.after(() => fromNode.close());
  const byAddress = await request(`${daemon.httpUrl}/rackboot/boot.img`, { dispatcher: fromNode });
  assert.equal(byAddress.statusCode, 200);
  assert.ok(Buffer.from(await byAddress.body.arrayBuffer()).equals(img.data));
  const stranger = await getText(`${daemon.httpUrl}/rackboot/boot.img`);
  assert.equal(stranger.status, 404);
  assert.match(stranger.text, /no node is known at 127\.0\.0\.1.*HTTP_PATH=rackboot\/<MAC with dashes>/);
});

test('no HTTP boot answer is ever a redirect', async (t) => {
  const { daemon } = await setUp(t);
  const paths = [
    '/rackboot',
    '/rackboot/',
    `/rackboot/${DASHED}`,
    `/rackboot/${DASHED}/`,
    `/rackboot/${DASHED}/boot.img/`,
    `/rackboot//${DASHED}/boot.img`,
    `/rackboot/${DASHED}//boot.img`,
    `/rackboot/${DASHED}/boot.img?x=1`,
    `/rackboot/${MAC}/boot.sig`,
    '/rackboot/not-a-node/boot.img',
    `/rackboot/${DASHED}/start4.elf`,
    '/RACKBOOT/boot.img',
    '/net_install/boot.img',
    '/rackboot/a/b/boot.img',
  ];
  for (const url of paths) {
    for (const method of ['GET', 'HEAD'] as const) {
      const response = await request(`${daemon.httpUrl}${url}`, { method });
      await response.body.dump();
      assert.ok(response.statusCode < 300 || response.statusCode >= 400, `${method} ${url} answered ${response.statusCode}`);
      assert.equal(response.headers['location'], undefined, `${method} ${url}`);
    }
  }
});

test('a ramdisk over 128 MiB is refused with the reason, when the image is added and when firmware grows past it', async (t) => {
  const { daemon, dir } = await setUp(t);
  const huge = path.join(dir, 'huge.cpio.gz');
  writeFileSync(huge, '');
  truncateSync(huge, 129 * MiB); // sparse: no disk use
  const refused = await api(daemon, 'POST', '/images', { name: 'too-big', kernel: huge, httpBoot: true });
  assert.equal(refused.status, 400);
  assert.equal(refused.json!['error'], 'RB_RAMDISK_TOO_BIG');
  assert.match(String(refused.json!['message']), /^httpBoot: image too-big: boot\.img would be \d+ bytes .*128 MiB\) ramdisk limit; largest files: Image 129\.0 MiB/);

  // Fits when added; the shared firmware then grows and the node's boot.img would not.
  const edge = path.join(dir, 'edge.cpio.gz');
  writeFileSync(edge, '');
  truncateSync(edge, 120 * MiB);
  assert.equal((await api(daemon, 'POST', '/images', { name: 'pi-big', kernel: edge, httpBoot: true })).status, 201);
  const extra = path.join(dir, 'assets', 'firmware', 'overlays', 'huge.dtbo');
  writeFileSync(extra, '');
  truncateSync(extra, 10 * MiB);
  const served = await getText(`${daemon.httpUrl}/rackboot/${DASHED}/boot.img`);
  assert.equal(served.status, 500);
  assert.match(served.text, /RB_RAMDISK_TOO_BIG.*over the Raspberry Pi bootloader's 134217728-byte \(128 MiB\) ramdisk limit/);
});

test('an image not marked for HTTP boot is not served as a ramdisk, with the fix in the answer', async (t) => {
  const { daemon } = await setUp(t);
  const files = fakeImageFiles();
  assert.equal((await api(daemon, 'POST', '/images', { name: 'tftp-only', kernel: files.kernel })).status, 201);
  assert.equal((await api(daemon, 'PUT', `/nodes/${MAC}/assignment`, { image: 'tftp-only' })).status, 200);
  const answer = await getText(`${daemon.httpUrl}/rackboot/${DASHED}/boot.img`);
  assert.equal(answer.status, 404);
  assert.match(answer.text, /image tftp-only v1 is not built for HTTP boot: add it again with `rackboot image add \.\.\. --http-boot`/);
});

test('a missing mkfs.fat names the Debian package to install', async (t) => {
  const dir = await tempDir(t, 'fat-missing');
  const saved = process.env['PATH'];
  process.env['PATH'] = path.join(dir, 'empty');
  try {
    await assert.rejects(buildFatImage([], path.join(dir, 'x.img'), { epoch: 0 }), (error: unknown) => {
      assert.ok(error instanceof FatError);
      assert.equal(error.code, 'RB_FAT_TOOL_MISSING');
      assert.match(error.message, /mkfs\.fat is not installed: .*apt install dosfstools/);
      return true;
    });
  } finally {
    process.env['PATH'] = saved;
  }
});

test('doctor explains the EEPROM settings, the signing key to embed, and checks the tools and the ramdisk size', async (t) => {
  const { daemon } = await setUp(t);
  const result = await runCli(['doctor', '--json', '--url', daemon.httpUrl], daemon.configFile);
  const report = JSON.parse(result.stdout) as { checks: { id: string; status: string; message: string; fix?: string }[] };
  const check = (id: string) => report.checks.find((entry) => entry.id === id);
  const port = new URL(daemon.httpUrl).port;
  assert.equal(check('http-boot.tools')?.status, 'ok');
  assert.equal(check('http-boot.eeprom')?.status, 'ok');
  assert.match(check('http-boot.eeprom')!.message, new RegExp(`HTTP_HOST=127\\.0\\.0\\.1 HTTP_PORT=${port} HTTP_PATH=rackboot .*BOOT_ORDER holding 7`));
  assert.match(check('http-boot.eeprom')!.message, /HTTP_PATH=rackboot\/<MAC with dashes>/);
  assert.equal(check('http-boot.signing')?.status, 'ok');
  assert.match(check('http-boot.signing')!.message, /signed with .*boot-key\.pem \(rsa2048\).*public key in its EEPROM: .*rpi-eeprom-config .* -p pub\.pem/);
  assert.equal(check('http-boot.image.pi-big.v1')?.status, 'ok');
  assert.match(check('http-boot.image.pi-big.v1')!.message, /within the 128 MiB ramdisk limit/);
});
