import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { runCli, startDaemon, type RunningDaemon } from './helpers/daemon.js';
import { api, fakeImageFiles, getText } from './helpers/fixtures.js';

const run = promisify(execFile);
const MAC = '52:54:00:ab:cd:01';
const SERIAL = '1a2b3c4d';

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
    const listed = JSON.parse(await cli(daemon, 'image', 'ls', '--json')) as { name: string }[];
    assert.deepEqual(listed.map((image) => image.name), ['alpha', 'beta']);
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

  it('rollback restores the previous image for /chain', async () => {
    await cli(daemon, 'node', 'assign', MAC, 'beta');
    assert.match((await getText(`${daemon.httpUrl}/chain?mac=${MAC}&uefi=`)).text, /rackboot: beta v1/);
    assert.match(await cli(daemon, 'node', 'rollback', MAC), /-> alpha/);
    assert.match((await getText(`${daemon.httpUrl}/chain?mac=${MAC}&uefi=`)).text, /rackboot: alpha v1/);
    const rollback = await api(daemon, 'POST', `/nodes/${MAC}/rollback`);
    assert.equal(rollback.status, 200);
    assert.match((await getText(`${daemon.httpUrl}/chain?mac=${MAC}&uefi=`)).text, /rackboot: beta v1/, 'a rollback can be rolled back');
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
