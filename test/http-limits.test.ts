/**
 * HTTP transport limits against hostile clients: a body trickled after its 401 is cut off by
 * http.requestTimeoutMs, connections beyond http.maxConnections are closed on accept, /live
 * streams beyond http.maxLiveStreams get a 503, and a download reader that stalls is closed after
 * http.idleTimeoutMs. Counts and "closed by the server" are asserted, never latencies.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startDaemon, type RunningDaemon } from './helpers/daemon.js';
import { api, fakeImageFiles, getText } from './helpers/fixtures.js';
import { rawConnect, trickle, type RawConnection } from './helpers/raw-http.js';
import { until, within } from './helpers/wait.js';

const MAX_CONNECTIONS = 8;
const MAX_STREAMS = 2;
const IDLE_MS = 1000;
const MAC = '52:54:00:1d:1e:01';

const request = (path: string, headers: string[] = []) =>
  [`GET ${path} HTTP/1.1`, 'host: rackboot', ...headers, '', ''].join('\r\n');

describe('HTTP limits', { timeout: 120_000 }, () => {
  let daemon: RunningDaemon;
  const open: RawConnection[] = [];
  const connectRaw = async () => {
    const connection = await rawConnect(daemon.httpUrl);
    open.push(connection);
    return connection;
  };

  const image = fakeImageFiles(32 * 1024 * 1024, 1024);

  before(async () => {
    daemon = await startDaemon({
      config: {
        http: { requestTimeoutMs: 500, idleTimeoutMs: IDLE_MS, maxConnections: MAX_CONNECTIONS, maxLiveStreams: MAX_STREAMS },
        // The slow kernel source of the idle-timeout case is on this host.
        images: { allowUrlNetworks: ['127.0.0.1/32'] },
      },
    });
  });
  after(async () => {
    for (const connection of open) connection.close();
    assert.equal(await daemon.stop(), 0);
    rmSync(image.dir, { recursive: true, force: true });
  });

  it('a body trickled after the 401 is cut off by the server (requestTimeoutMs)', async () => {
    const connection = await connectRaw();
    connection.socket.write(
      ['POST /api/v1/images HTTP/1.1', 'host: rackboot', 'content-type: application/json', 'content-length: 100000', 'authorization: Bearer wrong-token-0000000000', '', '{'].join('\r\n'),
    );
    await until('the 401', () => (/^HTTP\/1\.1 401/.test(connection.received()) ? true : undefined));
    // 400 bytes at 50 ms apart: far past the 500 ms request timeout, and each byte resets the idle timer.
    const sent = await trickle(connection, 'x', 50, 400);
    assert.deepEqual(await within(connection.closed, 5000, 'close'), { byServer: true });
    assert.ok(sent < 400, `the server read all ${sent} trickled bytes without cutting the connection`);
  });

  it('headers trickled forever are cut off too', async () => {
    const connection = await connectRaw();
    connection.socket.write('GET /healthz HTTP/1.1\r\nhost: rackboot\r\nx-slow: ');
    const sent = await trickle(connection, 'y', 50, 400);
    assert.deepEqual(await within(connection.closed, 5000, 'close'), { byServer: true });
    assert.ok(sent < 400, `the server read all ${sent} trickled header bytes`);
  });

  it('a client that stops reading a download is closed once silent (idleTimeoutMs)', async () => {
    assert.equal((await api(daemon, 'POST', '/images', { name: 'big', arch: 'x86_64', kernel: image.kernel, initrd: image.initrd })).status, 201);
    assert.equal((await api(daemon, 'PUT', `/nodes/${MAC}/assignment`, { image: 'big' })).status, 200);
    const chain = await getText(`${daemon.httpUrl}/chain?mac=${encodeURIComponent(MAC)}&arch=x86_64&uefi=true`);
    const kernelPath = new URL(/^kernel (\S+)/m.exec(chain.text)![1]!).pathname;
    const connection = await rawConnect(daemon.httpUrl, { paused: true });
    open.push(connection);
    connection.socket.write(request(kernelPath));
    // Nothing is read for three idle timeouts: the buffers fill and the server can write nothing
    // more. A closed socket shows only once read, so read then: what was buffered, then the end.
    await new Promise((resolve) => setTimeout(resolve, 3 * IDLE_MS));
    let bytes = 0;
    connection.socket.on('data', (chunk: Buffer) => (bytes += chunk.length));
    assert.deepEqual(await within(connection.closed, 20_000, 'close of a stalled download'), { byServer: true });
    assert.ok(bytes < image.kernelData.length, `the stalled reader got all ${bytes} bytes: the server waited for it`);
  });

  it('a request the server takes long to answer is not cut by the idle timeout', async () => {
    // The image's kernel comes from a URL that answers after three idle timeouts: meanwhile the
    // admin's connection is silent both ways, and it is the server's doing.
    const slow = createServer((_, res) => void setTimeout(() => res.end(image.kernelData.subarray(0, 4096)), 3 * IDLE_MS));
    await new Promise<void>((resolve) => slow.listen(0, '127.0.0.1', resolve));
    try {
      const kernel = `http://127.0.0.1:${(slow.address() as AddressInfo).port}/vmlinuz`;
      const added = await api(daemon, 'POST', '/images', { name: 'slow', arch: 'x86_64', kernel });
      assert.equal(added.status, 201, JSON.stringify(added.json));
    } finally {
      slow.closeAllConnections();
      await new Promise((resolve) => slow.close(resolve));
    }
  });

  it(`/live takes ${MAX_STREAMS} streams; one more gets 503 until one closes`, async () => {
    const streams = [];
    for (let i = 0; i < MAX_STREAMS; i++) {
      const stream = await connectRaw();
      stream.socket.write(request('/live'));
      await until('stream open', () => (/rackboot live events/.test(stream.received()) ? true : undefined));
      streams.push(stream);
    }
    const refused = await connectRaw();
    refused.socket.write(request('/live'));
    await until('the 503', () => (/\r\n\r\n.*RB_LIVE_FULL/s.test(refused.received()) ? true : undefined));
    assert.match(refused.received(), /^HTTP\/1\.1 503/);
    assert.match(refused.received(), /http\.maxLiveStreams/);
    refused.close();

    streams[0]!.close();
    const again = await until('a stream after one closed', async () => {
      const stream = await connectRaw();
      stream.socket.write(request('/live'));
      await until('an answer', () => (/\r\n\r\n/.test(stream.received()) ? true : undefined));
      if (/^HTTP\/1\.1 200/.test(stream.received())) return stream;
      stream.close();
      return undefined;
    });
    again.close();
    streams[1]!.close();
  });

  it(`accepts ${MAX_CONNECTIONS} connections and closes the ones beyond on accept`, async () => {
    // Earlier tests' connections must be gone for the count to be exact.
    for (const connection of open.splice(0)) connection.close();
    await new Promise((resolve) => setTimeout(resolve, 200));
    const held: RawConnection[] = [];
    for (let i = 0; i < MAX_CONNECTIONS; i++) {
      const connection = await connectRaw();
      connection.socket.write(request('/healthz'));
      await until('a kept-alive answer', () => (/"status":"ok"/.test(connection.received()) ? true : undefined));
      held.push(connection);
    }
    let refused = 0;
    for (let i = 0; i < 4; i++) {
      const connection = await connectRaw();
      connection.socket.write(request('/healthz'));
      const end = await within(connection.closed, 5000, 'close of a connection over the cap');
      if (end.byServer && connection.received() === '') refused++;
    }
    assert.equal(refused, 4, 'connections over http.maxConnections must be closed unanswered');
    assert.ok(held.every((connection) => !connection.isClosed()), 'the accepted connections stay open');

    held[0]!.close();
    const next = await until('a connection once one closed', async () => {
      const connection = await connectRaw();
      connection.socket.write(request('/healthz'));
      await Promise.race([connection.closed, until('an answer', () => (connection.received() ? true : undefined)).catch(() => undefined)]);
      if (/"status":"ok"/.test(connection.received())) return connection;
      connection.close();
      return undefined;
    });
    assert.ok(next);
    assert.match(daemon.output(), /http\.maxConnections/);
  });
});
