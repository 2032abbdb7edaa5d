import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { runCli, startDaemon, type RunningDaemon } from './helpers/daemon.js';
import { api, fakeImageFiles, getText } from './helpers/fixtures.js';

const run = promisify(execFile);
const MAC = '52:54:00:ab:cd:01';
const SERIAL = '1a2b3c4d';
// The `--json` shapes the README documents: fields may be added, never renamed or removed.
const NODE_LS_KEYS = ['mac', 'serial', 'model', 'arch', 'firmware', 'hostname', 'image', 'version', 'once', 'lastSeen'];
const NODE_RECORD_KEYS = ['id', 'mac', 'serial', 'model', 'arch', 'firmware', 'hostname', 'labels', 'sshKeys', 'reservedIp', 'firstSeen', 'lastSeen'];
const IMAGE_KEYS = ['id', 'name', 'version', 'arch', 'kernel', 'initrd', 'dtbs', 'firmware', 'cmdline', 'configTxt', 'notes', 'httpBoot', 'createdAt', 'warnings'];

async function tftpGet(daemon: RunningDaemon, path: string): Promise<string> {
  const { stdout } = await run('curl', ['-sS', '--max-time', '10', `tftp://127.0.0.1:${daemon.tftpPort}/${path}`]);
  return stdout;
}

async function cli(daemon: RunningDaemon, ...args: string[]) {
  const result = await runCli(args, daemon.configFile);
  assert.equal(result.code, 0, `rackboot ${args.join(' ')} failed:\n${result.stderr}`);
  return result.stdout;
}

describe('CLI against a running daemon; rollback and once-only assignments', () => {
  let daemon: RunningDaemon;
  const first = fakeImageFiles(2000, 3000);
  const second = fakeImageFiles(2100, 3100);

  before(async () => {
    daemon = await startDaemon();
  });
  after(async () => {
    await daemon.stop();
  });

  it('image add and image ls work while the daemon runs', async () => {
    assert.match(await cli(daemon, 'image', 'add', '--name', 'alpha', '--kernel', first.kernel, '--initrd', first.initrd), /added alpha version 1/);
    assert.match(await cli(daemon, 'image', 'add', '--name', 'beta', '--kernel', second.kernel, '--initrd', second.initrd), /added beta version 1/);
    const listed = JSON.parse(await cli(daemon, 'image', 'ls', '--json')) as { name: string; kernel: object; initrd: object }[];
    assert.deepEqual(listed.map((image) => image.name), ['alpha', 'beta']);
    for (const image of listed) {
      assert.deepEqual(Object.keys(image), IMAGE_KEYS);
      assert.deepEqual([Object.keys(image.kernel), Object.keys(image.initrd)], [['digest', 'size'], ['digest', 'size']]);
    }
    assert.deepEqual(listed, (await api(daemon, 'GET', '/images')).json, 'image ls --json is GET /api/v1/images');
    const shown = JSON.parse(await cli(daemon, 'image', 'show', 'alpha', '--json')) as unknown;
    assert.deepEqual(shown, [listed[0]], 'image show --json: the versions of one image, as image ls has them');
    assert.match(await cli(daemon, 'image', 'ls'), /^NAME\s+VERSION\s+ARCH/);
    assert.match(await cli(daemon, 'image', 'show', 'alpha'), /^alpha v1 \(arm64\)[^]*kernel  [0-9a-f]{64}  2000 B/);
    assert.match((await runCli(['image', 'show', 'nope'], daemon.configFile)).stderr, /no image nope.*\[RB_IMAGE_NOT_FOUND\]/);
  });

  it('node assign by MAC changes what /chain answers; node ls and events show it', async () => {
    await cli(daemon, 'node', 'assign', MAC, 'alpha');
    assert.match((await getText(`${daemon.httpUrl}/chain?mac=${MAC}&uefi=`)).text, /rackboot: alpha v1/);
    const nodes = JSON.parse(await cli(daemon, 'node', 'ls', '--json')) as { mac: string; image: string }[];
    assert.deepEqual(nodes.map((node) => [node.mac, node.image]), [[MAC, 'alpha']]);
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.match(await cli(daemon, 'events', MAC), /http\s+chain/);
  });

  it('node set stores hostname, labels and SSH keys; node show --json and node ls --json have the documented shape', async () => {
    const keys = ['ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPu8Zp7xq5Yt5Lr0F8oQpP8 admin@rack', 'ssh-rsa AAAAB3NzaC1yc2E second@rack'];
    const saved = await cli(daemon, 'node', 'set', MAC, '--hostname', 'rack1-n07', '--labels', 'rack=1', 'row=a', '--ssh-key', ...keys);
    assert.match(saved, new RegExp(`^saved node ${MAC}$`, 'm'));
    const shown = JSON.parse(await cli(daemon, 'node', 'show', MAC, '--json')) as Record<string, unknown>;
    assert.deepEqual(Object.keys(shown), [...NODE_RECORD_KEYS, 'lastBoot', 'assignments', 'events']);
    assert.equal(shown['hostname'], 'rack1-n07');
    assert.deepEqual(shown['labels'], { rack: '1', row: 'a' });
    assert.deepEqual(shown['sshKeys'], keys);
    assert.equal(typeof shown['lastSeen'], 'number', 'node show has ms since the epoch');

    const listed = JSON.parse(await cli(daemon, 'node', 'ls', '--json')) as Record<string, unknown>[];
    for (const row of listed) assert.deepEqual(Object.keys(row), NODE_LS_KEYS);
    const row = listed.find((entry) => entry['mac'] === MAC)!;
    assert.deepEqual(
      { hostname: row['hostname'], image: row['image'], version: row['version'], once: row['once'], serial: row['serial'] },
      { hostname: 'rack1-n07', image: 'alpha', version: null, once: false, serial: null },
    );
    assert.match(String(row['lastSeen']), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/, 'node ls has ISO 8601');

    // Refused settings change nothing.
    const badLabel = await runCli(['node', 'set', MAC, '--labels', 'rack'], daemon.configFile);
    assert.equal(badLabel.code, 1);
    assert.match(badLabel.stderr, /--labels: "rack" is not key=value/);
    const badHostname = await runCli(['node', 'set', MAC, '--hostname', 'no_underscores'], daemon.configFile);
    assert.equal(badHostname.code, 1);
    assert.match(badHostname.stderr, /hostname: "no_underscores" is not a valid DNS name/);
    const unchanged = JSON.parse(await cli(daemon, 'node', 'show', MAC, '--json')) as Record<string, unknown>;
    assert.deepEqual([unchanged['hostname'], unchanged['labels']], ['rack1-n07', { rack: '1', row: 'a' }]);
  });

  it('rollback steps back through the history (alpha, beta, none: beta, then alpha, then a clear refusal) and says what it restores', async () => {
    await cli(daemon, 'node', 'assign', MAC, 'beta');
    await cli(daemon, 'node', 'assign', MAC, 'none');
    const toBeta = await cli(daemon, 'node', 'rollback', MAC);
    assert.match(toBeta, new RegExp(`^${MAC} -> beta\nrestored: beta \\(assigned \\d{4}-\\d\\d-\\d\\dT[\\d:]+Z by cli:\\S+\\)$`, 'm'));
    assert.match((await getText(`${daemon.httpUrl}/chain?mac=${MAC}&uefi=`)).text, /rackboot: beta v1/);
    const toAlpha = await api(daemon, 'POST', `/nodes/${MAC}/rollback`);
    assert.equal(toAlpha.status, 200);
    const restored = toAlpha.json!['restored'] as { imageName: string; createdBy: string; createdAt: number };
    assert.deepEqual([restored.imageName, restored.createdBy.startsWith('cli:'), typeof restored.createdAt], ['alpha', true, 'number']);
    assert.deepEqual(toAlpha.json!['boots'], { image: 'alpha', version: 1, reason: 'assigned' });
    assert.match((await getText(`${daemon.httpUrl}/chain?mac=${MAC}&uefi=`)).text, /rackboot: alpha v1/, 'a second rollback steps further back');
    const end = await runCli(['node', 'rollback', MAC], daemon.configFile);
    assert.equal(end.code, 1);
    assert.match(end.stderr, /at the start of its history, nothing else was assigned before alpha \(assigned .* by cli:.*\).*\[RB_NO_PREVIOUS\]/);
    assert.equal((await api(daemon, 'POST', `/nodes/${MAC}/rollback`)).status, 409);
    assert.match((await getText(`${daemon.httpUrl}/chain?mac=${MAC}&uefi=`)).text, /rackboot: alpha v1/, 'a refused rollback changes nothing');
  });

  it("a Pi's TFTP config.txt follows assignment, once-only and rollback", async () => {
    await cli(daemon, 'node', 'assign', SERIAL, 'alpha');
    const config = await tftpGet(daemon, `${SERIAL}/config.txt`);
    assert.match(config, /image alpha v1/);
    assert.match(config, /^kernel=Image$/m);
    assert.match(config, /^initramfs rootfs.cpio.gz followkernel$/m);
    assert.match(await tftpGet(daemon, `${SERIAL}/cmdline.txt`), /root=\/dev\/ram0 rootwait/);

    await cli(daemon, 'node', 'assign', SERIAL, 'beta', '--once');
    assert.match(await tftpGet(daemon, `${SERIAL}/config.txt`), /image beta v1/);
    const node = (await api(daemon, 'GET', `/nodes/${SERIAL}`)).json as Record<string, unknown>;
    assert.deepEqual(node['boots'], { image: 'beta', version: 1, reason: 'once' });

    await cli(daemon, 'node', 'assign', SERIAL, 'beta');
    assert.match(await cli(daemon, 'node', 'rollback', SERIAL), /-> alpha/);
    assert.match(await tftpGet(daemon, `${SERIAL}/config.txt`), /image alpha v1/);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const kinds = ((await api(daemon, 'GET', `/nodes/${SERIAL}/events`)).json as unknown as { kind: string }[]).map((e) => e.kind);
    for (const kind of ['assigned', 'assigned-once', 'rolled-back', 'tftp-complete']) assert.ok(kinds.includes(kind), `${kind} in ${kinds}`);
  });

  it('the served Pi files are the image blobs', async () => {
    const { stdout } = await run('curl', ['-sS', '--max-time', '10', '-o', '-', `tftp://127.0.0.1:${daemon.tftpPort}/${SERIAL}/Image`], {
      encoding: 'buffer',
    });
    assert.ok(Buffer.from(stdout).equals(first.kernelData));
  });

  it('operator mistakes exit non-zero with the reason', async () => {
    const unknown = await runCli(['node', 'assign', MAC, 'nonexistent'], daemon.configFile);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /no image named nonexistent.*\[RB_IMAGE_NOT_FOUND\]/);
    const badMac = await runCli(['node', 'assign', 'zz:zz', 'alpha'], daemon.configFile);
    assert.match(badMac.stderr, /neither a MAC address/);
    const missingFile = await runCli(['image', 'add', '--name', 'x', '--kernel', '/nonexistent'], daemon.configFile);
    assert.match(missingFile.stderr, /kernel: \/nonexistent does not exist/);
  });
});
