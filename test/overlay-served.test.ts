// The per-node overlay as the daemon serves it: a node with a hostname and an SSH key gets its
// image's initramfs followed by a generated cpio.gz, over HTTP and over TFTP, the same bytes both
// ways and exactly as long as advertised up front (Content-Length, tsize).
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runCli, startDaemon, type RunningDaemon } from './helpers/daemon.js';
import { api, getBytes } from './helpers/fixtures.js';
import { run } from './helpers/images-fixtures.js';
import { TftpPeer, fetchFile } from './helpers/tftp-peer.js';
import { HTTP_INITRD_FILE, PI_INITRAMFS_FILE } from '../server/boot/vars.js';

const SERIAL = '0b0b0b01';
const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPu8Zp7xq5Yt5Lr0F8oQpP8oGZq3xk6yXr3rYw1v2M3e admin@rack';
const BASE_ENTRIES = ['bin', 'bin/app', 'etc', 'etc/motd', 'init'];

const cpioNames = async (archive: Buffer) => (await run('cpio', ['-it', '--quiet'], { input: archive })).toString().trim().split('\n');
const cpioFile = async (archive: Buffer, name: string) => (await run('cpio', ['-i', '--to-stdout', '--quiet', name], { input: archive })).toString();

describe('overlay initramfs served by the daemon', { timeout: 60_000 }, () => {
  let daemon: RunningDaemon;
  const dir = mkdtempSync(path.join(tmpdir(), 'rbt-overlay-served-'));
  const baseFile = path.join(dir, 'base.cpio.gz');
  let base: Buffer;

  before(async () => {
    const root = path.join(dir, 'rootfs');
    mkdirSync(path.join(root, 'bin'), { recursive: true });
    mkdirSync(path.join(root, 'etc'));
    writeFileSync(path.join(root, 'init'), '#!/bin/sh\nexec /bin/app\n', { mode: 0o755 });
    writeFileSync(path.join(root, 'bin', 'app'), Buffer.alloc(300_000, 7), { mode: 0o755 });
    writeFileSync(path.join(root, 'etc', 'motd'), 'built elsewhere\n');
    writeFileSync(path.join(dir, 'Image'), Buffer.alloc(50_000, 1));
    daemon = await startDaemon();
    const packed = await runCli(['image', 'pack', root, '-o', baseFile], daemon.configFile);
    assert.equal(packed.code, 0, packed.stderr);
    base = readFileSync(baseFile);
    const image = { name: 'rack', arch: 'arm64', kernel: path.join(dir, 'Image'), initrd: baseFile };
    assert.equal((await api(daemon, 'POST', '/images', image)).status, 201);
    assert.equal((await api(daemon, 'PUT', `/nodes/${SERIAL}`, { hostname: 'rack1-n07', sshKeys: [KEY] })).status, 200);
    assert.equal((await api(daemon, 'PUT', `/nodes/${SERIAL}/assignment`, { image: 'rack' })).status, 200);
  });
  after(async () => {
    await daemon.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  /**
   * The node's initramfs fetched over HTTP and over TFTP: checks each against the size its protocol
   * announced before the first byte, and that both carry the same bytes.
   */
  const fetchBoth = async (): Promise<Buffer> => {
    const http = await getBytes(`${daemon.httpUrl}/boot/${SERIAL}/${HTTP_INITRD_FILE}`);
    assert.equal(http.status, 200);
    assert.equal(Number(http.headers['content-length']), http.data.length, 'HTTP Content-Length is the length received');
    const peer = await TftpPeer.open();
    try {
      const tftp = await fetchFile(peer, daemon.tftpPort, `${SERIAL}/${PI_INITRAMFS_FILE}`, { options: [['tsize', '0'], ['blksize', '1468']] });
      assert.equal(Number(tftp.oack?.get('tsize')), tftp.data.length, 'TFTP tsize is the length received');
      assert.ok(tftp.data.equals(http.data), 'TFTP and HTTP serve the same bytes');
    } finally {
      peer.close();
    }
    return http.data;
  };

  /** The served file is the unchanged base gzip member followed by the overlay's: both unpacked. */
  const members = async (served: Buffer) => {
    assert.ok(served.subarray(0, base.length).equals(base), 'the base initramfs comes first, byte for byte');
    const [whole, baseCpio, overlayCpio] = await Promise.all(
      [served, base, served.subarray(base.length)].map((member) => run('zcat', [], { input: member })),
    );
    // One gunzip of the whole file gives both archives back to back, as the kernel reads them.
    assert.ok(whole!.equals(Buffer.concat([baseCpio!, overlayCpio!])));
    return { baseCpio: baseCpio!, overlayCpio: overlayCpio! };
  };

  it('HTTP and TFTP serve base + overlay: cpio lists the base entries and etc/hostname, authorized_keys', async () => {
    const served = await fetchBoth();
    assert.ok(served.length > base.length, 'an overlay follows the base');
    const { baseCpio, overlayCpio } = await members(served);
    assert.deepEqual(await cpioNames(baseCpio), BASE_ENTRIES);
    assert.deepEqual(await cpioNames(overlayCpio), ['etc', 'etc/hostname', 'root', 'root/.ssh', 'root/.ssh/authorized_keys']);
    assert.equal(await cpioFile(overlayCpio, 'etc/hostname'), 'rack1-n07\n');
    assert.equal(await cpioFile(overlayCpio, 'root/.ssh/authorized_keys'), `${KEY}\n`);
  });

  it('a hostname changed with node set is served on the next fetch, with its new length announced', async () => {
    const set = await runCli(['node', 'set', SERIAL, '--hostname', 'rack1-n1234'], daemon.configFile);
    assert.equal(set.code, 0, set.stderr);
    const { baseCpio, overlayCpio } = await members(await fetchBoth());
    assert.deepEqual(await cpioNames(baseCpio), BASE_ENTRIES);
    assert.equal(await cpioFile(overlayCpio, 'etc/hostname'), 'rack1-n1234\n');
    assert.equal(await cpioFile(overlayCpio, 'root/.ssh/authorized_keys'), `${KEY}\n`, 'the keys stay');
  });
});
