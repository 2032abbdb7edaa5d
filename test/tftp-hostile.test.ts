/**
 * Hostile and broken peers against the running daemon, driven by a hand-made UDP client on
 * 127.0.0.x: garbage, forged packets from strangers, duplicated ACKs, drops, writes, traversal,
 * out-of-range options and a flood of requests nobody acknowledges.
 */
import { randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import { symlinkSync, rmSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeAck, encodeError, encodeRequest } from '../server/tftp/codec.js';
import { startDaemon, type RunningDaemon } from './helpers/daemon.js';
import { makeFixtures, openFds, type Fixtures } from './helpers/tftp-fixtures.js';
import { fetchFile, TftpPeer, type Received } from './helpers/tftp-peer.js';
import { sha256 } from './helpers/fixtures.js';

let daemon: RunningDaemon;
let fixtures: Fixtures;
const peers: TftpPeer[] = [];

async function peer(address = '127.0.0.1'): Promise<TftpPeer> {
  const p = await TftpPeer.open(address);
  peers.push(p);
  return p;
}

before(async () => {
  fixtures = makeFixtures(['m70.bin']);
  symlinkSync('/etc', path.join(fixtures.root, 'etc-link'));
  symlinkSync('m1.bin', path.join(fixtures.root, 'inside-link.bin'));
  daemon = await startDaemon({
    config: {
      assetsDir: fixtures.assetsDir,
      log: { level: 'info' },
      tftp: { retransmitMs: 50, retries: 2, maxTransfers: 64, maxTransfersPerClient: 8 },
    },
  });
});

after(async () => {
  for (const p of peers) p.close();
  await daemon?.stop();
  rmSync(fixtures.assetsDir, { recursive: true, force: true });
});

function alive(): void {
  assert.equal(daemon.child.exitCode, null, `daemon died:\n${daemon.output().slice(-2000)}`);
}

async function fetchOk(name: 'm1.bin' | 'b801.bin' | 'b511.bin', client?: TftpPeer): Promise<void> {
  const result = await fetchFile(client ?? (await peer()), daemon.tftpPort, name);
  assert.equal(sha256(result.data), fixtures.sha256[name]);
}

async function firstReply(p: TftpPeer): Promise<Received> {
  const got = await p.next(3000);
  assert.ok(got, 'no reply');
  return got;
}

test('0-byte, 1-byte and random datagrams to the listening port change nothing', async () => {
  const p = await peer();
  p.send(Buffer.alloc(0), daemon.tftpPort);
  p.send(Buffer.from([1]), daemon.tftpPort);
  for (let i = 0; i < 1000; i++) p.send(randomBytes(1 + (i % 600)), daemon.tftpPort);
  await p.drain(300);
  alive();
  await fetchOk('m1.bin');
});

test('0-byte, 1-byte and random datagrams into a running transfer are ignored', async () => {
  const p = await peer();
  const stranger = await peer();
  const result = await fetchFile(p, daemon.tftpPort, 'b801.bin', {
    onData: (block, port) => {
      if (block !== 3) return;
      for (const from of [p, stranger]) {
        from.send(Buffer.alloc(0), port);
        from.send(Buffer.from([4]), port);
        for (let i = 0; i < 50; i++) from.send(Buffer.concat([Buffer.from([0, 9]), randomBytes(i)]), port);
      }
    },
  });
  assert.equal(sha256(result.data), fixtures.sha256['b801.bin']);
  alive();
});

test('a forged ERROR and forged ACKs from a foreign port neither end nor advance the transfer', async () => {
  const p = await peer();
  const stranger = await peer();
  const result = await fetchFile(p, daemon.tftpPort, 'b801.bin', {
    onData: (block, port) => {
      if (block !== 3) return;
      stranger.send(encodeError(0, 'forged'), port);
      for (let b = 3; b < 40; b++) stranger.send(encodeAck(b), port);
    },
  });
  assert.equal(sha256(result.data), fixtures.sha256['b801.bin']);
  const replies = await stranger.drain(300);
  assert.ok(replies.length > 0, 'the stranger is told');
  for (const r of replies) assert.deepEqual([r.packet.kind, r.packet.kind === 'error' && r.packet.code], ['error', 5]);
});

test('duplicated ACKs in lock-step cause no extra DATA (no sorcerer\'s apprentice)', async () => {
  const result = await fetchFile(await peer(), daemon.tftpPort, 'b801.bin', { duplicateAcks: true, lingerMs: 500 });
  assert.equal(sha256(result.data), fixtures.sha256['b801.bin']);
  assert.equal(result.dataPackets, 801);
});

test('a block dropped in a window of 16 is resent by rewinding, at a bounded cost', async () => {
  const result = await fetchFile(await peer(), daemon.tftpPort, 'm1.bin', {
    options: [['blksize', '512'], ['windowsize', '16']],
    dropOnce: new Set([100, 517, 2049]),
    lingerMs: 500,
  });
  assert.equal(result.oack?.get('windowsize'), '16');
  assert.equal(sha256(result.data), fixtures.sha256['m1.bin']);
  // 2049 blocks; each loss costs at most one window of resends.
  assert.ok(result.dataPackets <= 2049 + 3 * 16, `${result.dataPackets} DATA packets`);
});

test('WRQ is refused with ERROR 2', async () => {
  const p = await peer();
  p.send(encodeRequest(true, 'upload.bin', 'octet'), daemon.tftpPort);
  const { packet } = await firstReply(p);
  assert.equal(packet.kind, 'error');
  assert.equal(packet.kind === 'error' && packet.code, 2);
});

test('traversal is refused with ERROR 2 (or 1 where the policy maps it inside the root), never served', async () => {
  // The daemon's policy strips a leading slash (tftp-hpa and some ROMs send one), so "/etc/passwd"
  // means firmware/etc/passwd: not found.
  const cases: Array<[string, number[]]> = [
    ['../firmware/m1.bin', [2]],
    ['/etc/passwd', [1, 2]],
    ['sub/../../etc/passwd', [2]],
    ['..\\etc\\passwd', [2]],
    ['etc-link/passwd', [2]],
    ['missing.bin', [1]],
  ];
  for (const [name, codes] of cases) {
    const p = await peer();
    p.send(encodeRequest(false, name, 'octet'), daemon.tftpPort);
    const { packet } = await firstReply(p);
    assert.equal(packet.kind, 'error', name);
    assert.ok(packet.kind === 'error' && codes.includes(packet.code), `${name}: ERROR ${packet.kind === 'error' && packet.code}`);
  }
  const inside = await fetchFile(await peer(), daemon.tftpPort, 'inside-link.bin');
  assert.equal(sha256(inside.data), fixtures.sha256['m1.bin'], 'a symlink inside the root is served');
});

test('blksize 0 and 7 are ignored (512 is used), 70000 is clamped to the maximum', async () => {
  for (const asked of ['0', '7']) {
    const result = await fetchFile(await peer(), daemon.tftpPort, 'b801.bin', { options: [['blksize', asked], ['tsize', '0']] });
    assert.equal(result.oack?.get('blksize'), undefined, `blksize ${asked} not acknowledged`);
    assert.equal(result.oack?.get('tsize'), String(800 * 512 + 100));
    assert.equal(sha256(result.data), fixtures.sha256['b801.bin']);
  }
  const big = await fetchFile(await peer(), daemon.tftpPort, 'm1.bin', { options: [['BlkSize', '70000']] });
  assert.equal(big.oack?.get('blksize'), '1468');
  assert.equal(sha256(big.data), fixtures.sha256['m1.bin']);
});

test('netascii is served as octet; other modes are refused with ERROR 4', async () => {
  const p = await peer();
  p.send(encodeRequest(false, 'b511.bin', 'NetASCII'), daemon.tftpPort);
  const { packet, port } = await firstReply(p);
  assert.equal(packet.kind, 'data');
  assert.equal(packet.kind === 'data' && sha256(packet.payload), fixtures.sha256['b511.bin']);
  p.send(encodeAck(1), port);
  const q = await peer();
  q.send(encodeRequest(false, 'b511.bin', 'mail'), daemon.tftpPort);
  const refused = (await firstReply(q)).packet;
  assert.deepEqual([refused.kind, refused.kind === 'error' && refused.code], ['error', 4]);
});

test('10,000 RRQs never acknowledged: the daemon survives, others complete, descriptors are released', async () => {
  await fetchOk('b511.bin'); // warm up before counting descriptors
  await new Promise((resolve) => setTimeout(resolve, 300));
  const baseline = openFds(daemon.pid);
  const flooders: dgram.Socket[] = [];
  for (let i = 0; i < 100; i++) {
    const socket = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(0, `127.0.0.${2 + (i % 4)}`, resolve));
    socket.on('message', () => {}); // read and dropped: this client never ACKs
    flooders.push(socket);
  }
  const request = encodeRequest(false, 'm1.bin', 'octet', [['blksize', '1468']]);
  const flood = (async () => {
    for (let round = 0; round < 100; round++) {
      for (const socket of flooders) socket.send(request, daemon.tftpPort, '127.0.0.1');
      await new Promise((resolve) => setTimeout(resolve, 15));
    }
  })();
  try {
    // Meanwhile a well-behaved client on another address gets its files.
    for (let i = 0; i < 3; i++) await fetchOk('m1.bin');
    await flood;
    alive();
    await fetchOk('b801.bin');
  } finally {
    for (const socket of flooders) socket.close();
  }
  let fds = openFds(daemon.pid);
  for (let waited = 0; fds > baseline && waited < 10_000; waited += 200) {
    await new Promise((resolve) => setTimeout(resolve, 200));
    fds = openFds(daemon.pid);
  }
  assert.ok(fds <= baseline, `${fds} descriptors open, ${baseline} before the flood`);
  alive();
});
