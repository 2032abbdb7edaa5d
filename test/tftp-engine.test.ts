/**
 * The engine in this process (no daemon) where a test needs its transfer reports, its limits
 * or its shutdown: the Raspberry Pi probe, refusals, retransmission give-up, close(), a file
 * replaced while it is being served, and the memory and time a hostile client can hold.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { encodeAck, encodeError, encodeRequest } from '../server/tftp/codec.js';
import { directoryResolver } from '../server/tftp/directory-resolver.js';
import { startTftpServer, type TftpResolver, type TftpServer, type TftpServerOptions, type TransferReport } from '../server/tftp/server.js';
import { makeFixtures, MiB, openFds, type Fixtures } from './helpers/tftp-fixtures.js';
import { fetchFile, TftpPeer } from './helpers/tftp-peer.js';
import { sha256 } from './helpers/fixtures.js';

let fixtures: Fixtures;
const peers: TftpPeer[] = [];
// Closed after the file too: a test that fails before its own close() would otherwise keep the process alive.
const servers: TftpServer[] = [];

before(() => {
  fixtures = makeFixtures(['m70.bin']);
});
after(async () => {
  for (const p of peers) p.close();
  await Promise.all(servers.map((server) => server.close()));
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
    firstAckRetries: 2,
    transferDeadlineMs: 60_000,
    maxBufferBytes: 64 * 1024 * 1024,
    maxBufferBytesPerClient: 16 * 1024 * 1024,
    resolve: directoryResolver(fixtures.root),
    onTransfer: (report) => reports.push(report),
    log: pino({ level: 'silent' }),
    ...overrides,
  });
  servers.push(server);
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

/** The fixtures' resolver, counting the bytes transfers read from their files. */
function countingResolver(): { resolve: TftpResolver; read: { bytes: number } } {
  const inner = directoryResolver(fixtures.root);
  const read = { bytes: 0 };
  const resolve: TftpResolver = async (requestPath, remote) => {
    const source = await inner(requestPath, remote);
    return {
      size: source.size,
      read: async (buffer, offset, length, position) => {
        const n = await source.read(buffer, offset, length, position);
        read.bytes += n;
        return n;
      },
      close: () => source.close(),
    };
  };
  return { resolve, read };
}

/** Sends an RRQ (by default blksize 1468, windowsize 64), takes the OACK and DATA 1, then stays silent. Returns the transfer's port. */
async function holdTransfer(p: TftpPeer, port: number, options: Array<[string, string]> = [['blksize', '1468'], ['windowsize', '64']]): Promise<number> {
  p.send(encodeRequest(false, 'm1.bin', 'octet', options), port);
  const oack = await p.next();
  assert.equal(oack?.packet.kind, 'oack');
  p.send(encodeAck(0), oack!.port);
  const data = await p.next();
  assert.equal(data?.packet.kind, 'data', JSON.stringify(data?.packet));
  return oack!.port;
}

test('200 RRQs nobody acknowledges read at most DATA 1 each and buffer nothing ahead; curl is served meanwhile', async () => {
  const { resolve, read } = countingResolver();
  const logLines: string[] = [];
  const log = pino({ level: 'warn' }, { write: (line: string) => logLines.push(line) });
  const { server } = await serve({ resolve, maxTransfers: 300, maxTransfersPerClient: 64, log });
  const flooders = await Promise.all(Array.from({ length: 200 }, (_, i) => peer(`127.0.0.${2 + (i % 4)}`)));
  // Half as the Pi asks (options, so an OACK comes first), half without options (DATA 1 at once).
  flooders.forEach((f, i) => f.send(encodeRequest(false, 'm1.bin', 'octet', i % 2 ? [['tsize', '0'], ['blksize', '1468']] : []), server.port));
  for (const f of flooders) assert.ok(await f.next(), 'every request is answered');
  const floodRead = read.bytes;
  const floodPeak = server.counters.bufferedPeakBytes;
  const outDir = mkdtempSync(path.join(tmpdir(), 'rbt-tftp-flood-'));
  try {
    const out = path.join(outDir, 'm1.bin');
    await promisify(execFile)('curl', ['-sS', '-o', out, `tftp://127.0.0.1:${server.port}/m1.bin`], { timeout: 60_000 });
    assert.equal(sha256(readFileSync(out)), fixtures.sha256['m1.bin']);
  } finally {
    rmSync(outDir, { recursive: true, force: true });
  }
  // The old engine read (and held) 256 KiB ahead for each request: 50 MiB here.
  assert.ok(floodRead <= 100 * 512, `${floodRead} bytes read for 200 unacknowledged requests`);
  assert.ok(floodPeak <= 100 * (512 + 4), `${floodPeak} bytes of read buffers held for them`);
  await until(() => server.counters.inFlight === 0, 5000);
  assert.equal(server.counters.inFlight, 0, 'the first-ACK retry limit frees their slots');
  assert.equal(server.counters.bufferedBytes, 0);
  // Logged: the first unanswered request, not one line each (a flood would fill journald's disk).
  assert.equal(logLines.length, 1, logLines.join(''));
  assert.match(logLines[0]!, /never acknowledged \(1 such requests so far\)/);
  await server.close();
});

test('the transfers of one address share maxBufferBytesPerClient: smaller rings, down to two windows, then "server busy"; other addresses are unaffected', async () => {
  const { resolve, read } = countingResolver();
  const perClient = 600 * 1024;
  // A long retransmit interval keeps the silent holders' buffers taken for the whole test.
  const { server } = await serve({ resolve, maxBufferBytesPerClient: perClient, retransmitMs: 5000 });
  // Two windows of 64 x 1472 bytes are 188,416 bytes: three fit in 600 KiB, a fourth does not.
  const holders = await Promise.all([peer(), peer(), peer()]);
  for (const h of holders) await holdTransfer(h, server.port);
  assert.ok(server.counters.bufferedBytes <= perClient, `${server.counters.bufferedBytes} bytes buffered for one address`);
  assert.ok(read.bytes <= perClient, `${read.bytes} bytes read ahead for one address`);
  const refused = await peer();
  refused.send(encodeRequest(false, 'm1.bin', 'octet', [['blksize', '1468'], ['windowsize', '64']]), server.port);
  const oack = await refused.next();
  refused.send(encodeAck(0), oack!.port);
  const busy = (await refused.next())?.packet;
  assert.match(busy?.kind === 'error' ? busy.message : '', /server busy: no read-buffer memory/);
  const other = await fetchFile(await peer('127.0.0.2'), server.port, 'm1.bin', { options: [['blksize', '1468']] });
  assert.equal(sha256(other.data), fixtures.sha256['m1.bin']);
  await server.close();
  assert.equal(server.counters.bufferedBytes, 0);
});

test('when buffers run short each transfer takes a share of what is left: 20 from one address all get one within 4 MiB', async () => {
  const { server } = await serve({ maxBufferBytesPerClient: 4 * MiB, maxTransfersPerClient: 32, retransmitMs: 5000 });
  // 20 full 256 KiB rings would need 5 MiB: taken greedily, the 17th transfer found nothing left.
  const holders = await Promise.all(Array.from({ length: 20 }, () => peer()));
  for (const h of holders) await holdTransfer(h, server.port, [['blksize', '1468'], ['windowsize', '16']]);
  assert.equal(server.counters.inFlight, 20);
  assert.ok(server.counters.bufferedBytes <= 4 * MiB, `${server.counters.bufferedBytes} bytes buffered`);
  await server.close();
});

test('a client that negotiates timeout 255 and goes silent is ended at transferDeadlineMs, not after 255 s x backoff', async () => {
  const { server, reports } = await serve({ transferDeadlineMs: 500 });
  const p = await peer();
  await holdTransfer(p, server.port, [['timeout', '255']]);
  const end = await p.next(5000);
  assert.ok(end, 'the server must give up long before its first 255 s retransmission');
  assert.match(end.packet.kind === 'error' ? end.packet.message : '', /transfer deadline of 500 ms/);
  await until(() => reports.length >= 1);
  assert.equal(reports[0]?.outcome, 'failed');
  assert.equal(server.counters.inFlight, 0);
  await server.close();
});

test('a request without options still gets DATA 1 at once, then a full read-ahead ring from its first ACK', async () => {
  const { resolve, read } = countingResolver();
  const { server } = await serve({ resolve });
  const result = await fetchFile(await peer(), server.port, 'm1.bin');
  assert.equal(result.oack, undefined);
  assert.equal(sha256(result.data), fixtures.sha256['m1.bin']);
  // Block 1 read alone, then the rest in 256 KiB rings: each byte read once, block 2 maybe twice.
  assert.ok(read.bytes <= MiB + 512, `${read.bytes} bytes read for a 1 MiB file`);
  await server.close();
});
