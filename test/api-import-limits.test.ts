/**
 * What POST /api/v1/images may read: server-side paths only under images.importRoots, URLs not to
 * loopback, link-local or the server's own addresses (each redirect hop checked) unless
 * images.allowUrlNetworks says so, and no download outlives its deadline or its API client.
 * Every source server here listens on loopback (127.0.0.1 / 127.0.0.2).
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { request } from 'undici';
import { startDaemon, type RunningDaemon } from './helpers/daemon.js';
import { api, fakeImageFiles } from './helpers/fixtures.js';

async function listen(address: string, handler: (request: IncomingMessage, response: ServerResponse) => void): Promise<{ server: Server; base: string }> {
  const server = createServer(handler);
  server.listen(0, address);
  await once(server, 'listening');
  return { server, base: `http://${address}:${(server.address() as AddressInfo).port}` };
}

const message = (result: { json?: Record<string, unknown> }) => String(result.json?.['message']);

describe('API image import limits', () => {
  const files = fakeImageFiles(3000, 10);
  // Under the temp dir like the fixtures, but not under this daemon's only import root.
  const outside = mkdtempSync(path.join(tmpdir(), 'rackboot-outside-'));
  const servers: Server[] = [];
  let guarded: RunningDaemon;
  let kernelUrl: string;
  let redirectUrl: string;
  let loopbackServed = 0;

  before(async () => {
    writeFileSync(path.join(outside, 'vmlinuz'), files.kernelData);
    const direct = await listen('127.0.0.1', (_request, response) => {
      loopbackServed += 1;
      response.end(files.kernelData);
    });
    kernelUrl = `${direct.base}/vmlinuz`;
    // An allowed server (127.0.0.2) that redirects to the refused one (127.0.0.1).
    const redirector = await listen('127.0.0.2', (_request, response) => {
      response.writeHead(302, { location: kernelUrl }).end();
    });
    servers.push(direct.server, redirector.server);
    guarded = await startDaemon({ config: { images: { importRoots: [files.dir], allowUrlNetworks: ['127.0.0.2/32'] } } });
    redirectUrl = `${redirector.base}/vmlinuz`;
  });
  after(async () => {
    for (const server of servers) {
      server.closeAllConnections();
      server.close();
    }
    await guarded.stop();
    rmSync(outside, { recursive: true, force: true });
    rmSync(files.dir, { recursive: true, force: true });
  });

  it('imports a file under an import root', async () => {
    const created = await api(guarded, 'POST', '/images', { name: 'inside', kernel: files.kernel });
    assert.equal(created.status, 201, JSON.stringify(created.json));
  });

  it('refuses paths outside the import roots with 403, without echoing them', async () => {
    for (const kernel of ['/etc/shadow', '/proc/self/environ', guarded.configFile, path.join(outside, 'vmlinuz'), `${files.dir}/../${path.basename(outside)}/vmlinuz`]) {
      const refused = await api(guarded, 'POST', '/images', { name: 'outside', kernel });
      assert.equal(refused.status, 403, `${kernel}: ${JSON.stringify(refused.json)}`);
      assert.equal(refused.json?.['error'], 'RB_IMAGE_SOURCE_FORBIDDEN');
      assert.match(message(refused), /^kernel: the path is outside images\.importRoots/);
      assert.doesNotMatch(message(refused), /\//, 'no path in the message');
    }
    const firmware = await api(guarded, 'POST', '/images', { name: 'outside', kernel: files.kernel, firmware: outside });
    assert.equal(firmware.status, 403);
    assert.match(message(firmware), /^firmware: the path is outside images\.importRoots/);
    assert.equal((await api(guarded, 'GET', '/images/outside')).status, 404);
  });

  it('without import roots the API takes no server-side path at all', async () => {
    const daemon = await startDaemon({ config: { images: { importRoots: [] } } });
    try {
      const refused = await api(daemon, 'POST', '/images', { name: 'none', kernel: files.kernel });
      assert.equal(refused.status, 403);
      assert.match(message(refused), /^kernel: server-side paths are not accepted \(images\.importRoots is empty\)/);
    } finally {
      await daemon.stop();
    }
  });

  it('refuses a URL to 127.0.0.1 unless allowed, and a redirect from an allowed server to it', async () => {
    const direct = await api(guarded, 'POST', '/images', { name: 'loop', kernel: kernelUrl });
    assert.equal(direct.status, 403, JSON.stringify(direct.json));
    assert.match(message(direct), /refused to connect to 127\.0\.0\.1: 127\.0\.0\.1 is a loopback/);
    const redirected = await api(guarded, 'POST', '/images', { name: 'loop', kernel: redirectUrl });
    assert.equal(redirected.status, 403, JSON.stringify(redirected.json));
    assert.match(message(redirected), /refused to connect to 127\.0\.0\.1/);
    const localhost = await api(guarded, 'POST', '/images', { name: 'loop', kernel: kernelUrl.replace('127.0.0.1', 'localhost') });
    assert.equal(localhost.status, 403, 'a name resolving to loopback is refused too');
    assert.equal(loopbackServed, 0, 'the refused server never saw a request');
    assert.equal((await api(guarded, 'GET', '/images/loop')).status, 404);
  });
});

describe('API URL imports stop at the deadline and when the client leaves', () => {
  const servers: Server[] = [];
  /** The source trickles a promised million bytes one at a time; `closed` settles as each response closes. */
  let trickle: string;
  const closed: Promise<void>[] = [];
  let requested: () => void = () => undefined;

  before(async () => {
    const source = await listen('127.0.0.1', (_request, response) => {
      response.writeHead(200, { 'content-length': '1000000' });
      // A byte well within the inactivity timeout each time: only a deadline or an abort ends it.
      const timer = setInterval(() => response.write('x'), 200);
      closed.push(once(response, 'close').then(() => clearInterval(timer)));
      requested();
    });
    servers.push(source.server);
    trickle = `${source.base}/slow`;
  });
  after(() => {
    for (const server of servers) {
      server.closeAllConnections();
      server.close();
    }
  });

  it('a download past images.importDeadlineSeconds fails and its connection is closed', { timeout: 30_000 }, async () => {
    const daemon = await startDaemon({ config: { images: { allowUrlNetworks: ['127.0.0.1/32'], importDeadlineSeconds: 1 } } });
    try {
      const result = await api(daemon, 'POST', '/images', { name: 'slow', kernel: trickle });
      assert.equal(result.status, 400, JSON.stringify(result.json));
      assert.match(message(result), /^kernel: .*download aborted \(images\.importDeadlineSeconds \(1 s\) passed\); nothing stored/);
      await closed.at(-1);
    } finally {
      await daemon.stop();
    }
  });

  it('a client that disconnects stops the download', { timeout: 30_000 }, async () => {
    const daemon = await startDaemon({ config: { images: { allowUrlNetworks: ['127.0.0.1/32'] } } });
    try {
      const reached = new Promise<void>((resolve) => (requested = resolve));
      const abort = new AbortController();
      const call = request(`${daemon.httpUrl}/api/v1/images`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${daemon.adminToken}` },
        body: JSON.stringify({ name: 'gone', kernel: trickle }),
        signal: abort.signal,
      }).catch(() => undefined);
      await reached;
      abort.abort();
      await call;
      // Only the daemon giving up closes the source's response: the default deadline is an hour.
      await closed.at(-1);
      assert.equal((await api(daemon, 'GET', '/images/gone')).status, 404);
    } finally {
      await daemon.stop();
    }
  });
});
