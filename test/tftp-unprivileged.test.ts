/**
 * The daemon as an unprivileged user (root reads every file), with serverAddress 127.0.0.2 and
 * no tftp.address: a file it may not read is an access violation over TFTP and HTTP alike, and a
 * transfer answers from the address its request was sent to.
 */
import { chmodSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'undici';
import { encodeRequest } from '../server/tftp/codec.js';
import { startDaemon, type RunningDaemon } from './helpers/daemon.js';
import { makeFixtures, type Fixtures } from './helpers/tftp-fixtures.js';
import { fetchFile, TftpPeer } from './helpers/tftp-peer.js';
import { sha256 } from './helpers/fixtures.js';

const NOBODY = 65534;
const SERVER = '127.0.0.2';

let daemon: RunningDaemon;
let fixtures: Fixtures;
const peers: TftpPeer[] = [];

before(async () => {
  fixtures = makeFixtures(['m70.bin', 'm1.bin']);
  chmodSync(fixtures.assetsDir, 0o755);
  writeFileSync(path.join(fixtures.root, 'private.bin'), 'root only');
  chmodSync(path.join(fixtures.root, 'private.bin'), 0o600);
  mkdirSync(path.join(fixtures.assetsDir, 'ipxe'));
  writeFileSync(path.join(fixtures.assetsDir, 'ipxe', 'private.efi'), 'root only');
  chmodSync(path.join(fixtures.assetsDir, 'ipxe', 'private.efi'), 0o600);
  daemon = await startDaemon({ uid: NOBODY, config: { serverAddress: SERVER, assetsDir: fixtures.assetsDir, tftp: { address: undefined } } });
});

after(async () => {
  for (const p of peers) p.close();
  await daemon?.stop();
  rmSync(fixtures.assetsDir, { recursive: true, force: true });
});

async function peer(): Promise<TftpPeer> {
  const p = await TftpPeer.open();
  peers.push(p);
  return p;
}

test('a firmware file the daemon may not read is refused with TFTP ERROR 2 (access violation)', async () => {
  const p = await peer();
  p.send(encodeRequest(false, 'private.bin', 'octet'), daemon.tftpPort, SERVER);
  const got = await p.next(3000);
  assert.equal(got?.packet.kind, 'error');
  assert.equal(got?.packet.kind === 'error' && got.packet.code, 2, JSON.stringify(got?.packet));
});

test('the same over HTTP is 403 RB_ACCESS_DENIED, not an internal error', async () => {
  const response = await request(`${daemon.httpUrl.replace(SERVER, '127.0.0.1')}/ipxe/private.efi`);
  assert.equal(response.statusCode, 403);
  assert.equal(((await response.body.json()) as { error: string }).error, 'RB_ACCESS_DENIED');
});

test('by default TFTP listens on serverAddress and every packet of a transfer comes from it', async () => {
  const p = await peer();
  const sources = new Set<string>();
  p.socket.on('message', (_, rinfo) => sources.add(rinfo.address));
  const result = await fetchFile(p, daemon.tftpPort, 'b801.bin', { options: [['blksize', '1468']], host: SERVER });
  assert.equal(sha256(result.data), fixtures.sha256['b801.bin']);
  assert.deepEqual([...sources], [SERVER]);
});
