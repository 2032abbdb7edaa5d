/**
 * The engine in this process (no daemon) where a test needs its transfer reports, its limits
 * or its shutdown: the Raspberry Pi probe, refusals, retransmission give-up, close(), and a file
 * replaced while it is being served.
 */
import { renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { encodeAck, encodeError, encodeRequest } from '../server/tftp/codec.js';
import { directoryResolver } from '../server/tftp/directory-resolver.js';
import { startTftpServer, type TftpServer, type TftpServerOptions, type TransferReport } from '../server/tftp/server.js';
import { makeFixtures, openFds, type Fixtures } from './helpers/tftp-fixtures.js';
import { fetchFile, TftpPeer } from './helpers/tftp-peer.js';
import { sha256 } from './helpers/fixtures.js';

let fixtures: Fixtures;
const peers: TftpPeer[] = [];

before(() => {
  fixtures = makeFixtures(['m70.bin']);
});
after(() => {
  for (const p of peers) p.close();
  rmSync(fixtures.assetsDir, { recursive: true, force: true });
});

async function serve(overrides: Partial<TftpServerOptions> = {}): Promise<{ server: TftpServer; reports: TransferReport[] }> {
  const reports: TransferReport[] = [];
  const server = await startTftpServer({
    address: '127.0.0.1',
    port: 0,
    maxBlksize: 1468,
    maxWindowsize: 64,
    maxTransfers: 100,
    maxTransfersPerClient: 8,
    retransmitMs: 50,
    retries: 2,
    resolve: directoryResolver(fixtures.root),
    onTransfer: (report) => reports.push(report),
    log: pino({ level: 'silent' }),
    ...overrides,
  });
  return { server, reports };
}

async function peer(address = '127.0.0.1'): Promise<TftpPeer> {
  const p = await TftpPeer.open(address);
  peers.push(p);
  return p;
}

const until = async (what: () => boolean, ms = 3000) => {
  for (const end = Date.now() + ms; !what() && Date.now() < end; ) await new Promise((r) => setTimeout(r, 10));
};

test('a Pi-style probe (OACK, then ERROR "Early terminate") is reported as a probe, then the repeat is served', async () => {
  const { server, reports } = await serve();
  const p = await peer();
  p.send(encodeRequest(false, 'm1.bin', 'octet', [['tsize', '0'], ['blksize', '1024']]), server.port);
  const oack = await p.next();
  assert.equal(oack?.packet.kind, 'oack');
  assert.deepEqual(oack?.packet.kind === 'oack' && [...oack.packet.options], [['tsize', String(1024 * 1024)], ['blksize', '1024']]);
  p.send(encodeError(8, 'Early terminate'), oack!.port);
  const result = await fetchFile(p, server.port, 'm1.bin', { options: [['tsize', '0'], ['blksize', '1024']] });
  assert.equal(sha256(result.data), fixtures.sha256['m1.bin']);
  await until(() => reports.length >= 2);
  assert.deepEqual(reports.map((r) => [r.outcome, r.path, r.blksize, r.bytes]), [['probe', 'm1.bin', 1024, 0], ['complete', 'm1.bin', 1024, 1024 * 1024]]);
  assert.equal(server.counters.errors, 0);
  await server.close();
});

test('an empty file: a tsize-only RRQ is answered with an empty DATA 1, and an OACK never carries "tsize 0"', async () => {
  const { server, reports } = await serve();
  const p = await peer();
  const tsizeOnly = await fetchFile(p, server.port, 'zero.bin', { options: [['tsize', '0']] });
  assert.deepEqual([tsizeOnly.oack, tsizeOnly.dataPackets, tsizeOnly.data.length], [undefined, 1, 0], 'nothing left to acknowledge: DATA first');
  const withBlksize = await fetchFile(p, server.port, 'zero.bin', { options: [['tsize', '0'], ['blksize', '1024']] });
  assert.deepEqual(withBlksize.oack && [...withBlksize.oack], [['blksize', '1024']]);
  assert.equal(withBlksize.data.length, 0);
  await until(() => reports.length >= 2);
  assert.deepEqual(reports.map((r) => [r.outcome, r.bytes]), [['complete', 0], ['complete', 0]]);
  await server.close();
});

test('limits answer with an ERROR, never silence: per client, then in total', async () => {
  const { server, reports } = await serve({ maxTransfers: 2, maxTransfersPerClient: 1 });
  const first = await peer('127.0.0.1');
  first.send(encodeRequest(false, 'm1.bin', 'octet'), server.port);
  assert.equal((await first.next())?.packet.kind, 'data');
  const sameHost = await peer('127.0.0.1');
  sameHost.send(encodeRequest(false, 'm1.bin', 'octet'), server.port);
  const perClient = (await sameHost.next())?.packet;
  assert.match(perClient?.kind === 'error' ? perClient.message : '', /too many transfers from 127\.0\.0\.1/);
  const second = await peer('127.0.0.2');
  second.send(encodeRequest(false, 'm1.bin', 'octet'), server.port);
  assert.equal((await second.next())?.packet.kind, 'data');
  const third = await peer('127.0.0.3');
  third.send(encodeRequest(false, 'm1.bin', 'octet'), server.port);
  const busy = (await third.next())?.packet;
  assert.match(busy?.kind === 'error' ? busy.message : '', /server busy/);
  assert.equal(reports.filter((r) => r.outcome === 'refused').length, 2);
  await server.close();
});

test('a silent client gets a bounded number of retransmissions, then an ERROR and a failed report', async () => {
  const { server, reports } = await serve();
  const p = await peer();
  p.send(encodeRequest(false, 'b801.bin', 'octet'), server.port);
  const got = await p.drain(1000);
  assert.deepEqual(got.map((g) => g.packet.kind), ['data', 'data', 'data', 'error']);
  await until(() => reports.length >= 1);
  assert.equal(reports[0]?.outcome, 'failed');
  assert.equal(reports[0]?.retransmits, 2);
  assert.equal(server.counters.retransmits, 2);
  await server.close();
});

test('close() ends transfers in flight with an ERROR and releases every descriptor', async () => {
  const baseline = openFds(process.pid);
  const { server } = await serve({ retransmitMs: 5000 });
  const clients = await Promise.all([peer(), peer(), peer()]);
  for (const c of clients) c.send(encodeRequest(false, 'm1.bin', 'octet', [['blksize', '1468']]), server.port);
  for (const c of clients) {
    const oack = await c.next();
    c.send(encodeAck(0), oack!.port);
    assert.equal((await c.next())?.packet.kind, 'data');
  }
  assert.equal(server.counters.inFlight, 3);
  await server.close();
  for (const c of clients) {
    const last = (await c.drain(200)).at(-1)?.packet;
    assert.match(last?.kind === 'error' ? last.message : '', /shutting down/);
  }
  assert.equal(server.counters.inFlight, 0);
  assert.equal(openFds(process.pid), baseline + clients.length); // only the test's own peer sockets remain
});

test('a file replaced by rename mid-transfer is served as it was when the transfer started', async () => {
  const { server } = await serve();
  const target = path.join(fixtures.root, 'swap.bin');
  writeFileSync(target, Buffer.alloc(600_000, 1));
  const result = await fetchFile(await peer(), server.port, 'swap.bin', {
    onData: (block) => {
      if (block !== 5) return;
      writeFileSync(`${target}.new`, Buffer.alloc(300_000, 2));
      renameSync(`${target}.new`, target);
    },
  });
  assert.ok(result.data.equals(Buffer.alloc(600_000, 1)));
  await server.close();
});
