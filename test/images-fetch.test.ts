import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import { createServer, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { BlobStore } from '../server/images/blob-store.js';
import { fetchToStore } from '../server/images/fetch.js';
import { run, storeFiles, tempDir } from './helpers/images-fixtures.js';

const body = randomBytes(1024 * 1024);
const digest = createHash('sha256').update(body).digest('hex');
const limits = { maxBytes: 4 * 1024 * 1024, timeoutMs: 5000 };

/** Writes `bytes` of `body` in 64 KiB chunks as the client drains them, then `finish(res)`; stops if the client hangs up. */
function sendPartly(res: ServerResponse, bytes: number, finish: (res: ServerResponse) => void): void {
  let sent = 0;
  const next = (): void => {
    if (res.destroyed) return;
    if (sent >= bytes) return finish(res);
    const chunk = body.subarray(sent % body.length, Math.min((sent % body.length) + 65536, body.length, (sent % body.length) + bytes - sent));
    sent += chunk.length;
    if (res.write(chunk)) setImmediate(next);
    else res.once('drain', next);
  };
  next();
}

async function startServer(t: { after(fn: () => Promise<void>): void }) {
  const clientsGoneEarly: string[] = [];
  const server = createServer((req, res) => {
    res.on('close', () => {
      if (!res.writableFinished) clientsGoneEarly.push(req.url ?? '');
    });
    switch (req.url) {
      case '/blob':
        res.setHeader('content-length', body.length);
        return res.end(body);
      case '/chunked':
        return sendPartly(res, body.length, (r) => r.end());
      case '/redirect':
        res.statusCode = 302;
        res.setHeader('location', '/blob');
        return res.end();
      case '/missing':
        res.statusCode = 404;
        return res.end('no such image');
      case '/drop':
        res.setHeader('content-length', body.length);
        return sendPartly(res, 300 * 1024, (r) => r.socket?.destroy());
      case '/drop-chunked':
        return sendPartly(res, 300 * 1024, (r) => r.socket?.destroy());
      // Much more than loopback socket buffers hold, so hanging up early is visible here.
      case '/big':
        res.setHeader('content-length', 64 * body.length);
        return sendPartly(res, 64 * body.length, (r) => r.end());
      case '/big-chunked':
        return sendPartly(res, 64 * body.length, (r) => r.end());
      case '/stall':
        res.setHeader('content-length', body.length);
        return sendPartly(res, 64 * 1024, () => undefined); // never finishes
      default:
        res.statusCode = 500;
        return res.end();
    }
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(async () => {
    server.closeAllConnections();
    server.close();
  });
  const { port } = server.address() as AddressInfo;
  return { url: (route: string) => `http://127.0.0.1:${port}${route}`, clientsGoneEarly };
}

async function setup(t: Parameters<typeof tempDir>[0]) {
  const store = new BlobStore(await tempDir(t, 'fetch'));
  await store.init();
  return { store, server: await startServer(t) };
}

async function assertNothingStored(store: BlobStore): Promise<void> {
  assert.deepEqual(await storeFiles(store.root), [], 'no blob and no temp file');
}

test('an import with the right digest is stored, with progress reported', async (t) => {
  const { store, server } = await setup(t);
  const progress: [number, number | undefined][] = [];
  const ref = await fetchToStore(store, server.url('/blob'), {
    ...limits,
    expectedSha256: digest,
    onProgress: (received, total) => progress.push([received, total]),
  });
  assert.deepEqual(ref, { digest, size: body.length });
  assert.deepEqual(progress.at(-1), [body.length, body.length]);
  assert.equal((await store.verify([digest])).corrupt.length, 0);
  assert.deepEqual(await storeFiles(store.root), [`sha256/${digest.slice(0, 2)}/${digest}`]);
});

test('chunked bodies and redirects are imported', async (t) => {
  const { store, server } = await setup(t);
  assert.deepEqual(await fetchToStore(store, server.url('/chunked'), limits), { digest, size: body.length });
  assert.deepEqual(await fetchToStore(store, server.url('/redirect'), { ...limits, expectedSha256: digest }), { digest, size: body.length });
});

test('a wrong digest is refused and nothing is stored', async (t) => {
  const { store, server } = await setup(t);
  await assert.rejects(fetchToStore(store, server.url('/blob'), { ...limits, expectedSha256: '0'.repeat(64) }), {
    code: 'RB_BLOB_DIGEST_MISMATCH',
    message: new RegExp(`expected 0{64}, got ${digest}`),
  });
  await assertNothingStored(store);
});

test('a connection dropped mid-body is a clear error and nothing is stored', async (t) => {
  const { store, server } = await setup(t);
  for (const route of ['/drop', '/drop-chunked']) {
    await assert.rejects(fetchToStore(store, server.url(route), limits), { code: 'RB_FETCH_DROPPED', message: /nothing stored/ }, route);
  }
  await assertNothingStored(store);
});

test('a too-large body is refused, from Content-Length or while streaming, and nothing is stored', async (t) => {
  const { store, server } = await setup(t);
  const maxBytes = 2 * body.length;
  await assert.rejects(fetchToStore(store, server.url('/big'), { ...limits, maxBytes }), {
    code: 'RB_BLOB_TOO_LARGE',
    message: new RegExp(`is ${64 * body.length} bytes, over the limit of ${maxBytes}`),
  });
  await assert.rejects(fetchToStore(store, server.url('/big-chunked'), { ...limits, maxBytes }), {
    code: 'RB_BLOB_TOO_LARGE',
    message: new RegExp(`exceeds the limit of ${maxBytes}`),
  });
  await assertNothingStored(store);
  // The download stopped at the limit instead of draining the rest.
  await new Promise((resolve) => setTimeout(resolve, 100));
  assert.deepEqual(server.clientsGoneEarly.sort(), ['/big', '/big-chunked']);
});

test('a stalled download times out and nothing is stored', async (t) => {
  const { store, server } = await setup(t);
  await assert.rejects(fetchToStore(store, server.url('/stall'), { ...limits, timeoutMs: 300 }), { code: 'RB_FETCH_TIMEOUT' });
  await assertNothingStored(store);
});

test('HTTP errors, refused connections and other schemes are clear errors', async (t) => {
  const { store, server } = await setup(t);
  await assert.rejects(fetchToStore(store, server.url('/missing'), limits), { code: 'RB_FETCH_HTTP', message: /HTTP 404/ });
  await assert.rejects(fetchToStore(store, 'ftp://127.0.0.1/image', limits), { code: 'RB_FETCH_URL' });
  await assert.rejects(fetchToStore(store, 'not a url', limits), { code: 'RB_FETCH_URL' });
  await assert.rejects(fetchToStore(store, 'http://127.0.0.1:1/image', limits), { code: 'RB_FETCH_CONNECT' });
  await assertNothingStored(store);
});

test('an aborted download stores nothing', async (t) => {
  const { store, server } = await setup(t);
  await assert.rejects(fetchToStore(store, server.url('/stall'), { ...limits, signal: AbortSignal.timeout(200) }), { code: 'RB_FETCH_ABORTED' });
  await assertNothingStored(store);
});

test('https: an untrusted certificate is a clear TLS error; trusted through NODE_EXTRA_CA_CERTS it imports', async (t) => {
  const dir = await tempDir(t, 'tls');
  const [key, cert] = [path.join(dir, 'key.pem'), path.join(dir, 'cert.pem')];
  await run('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1']);
  const server = createHttpsServer({ key: await readFile(key), cert: await readFile(cert) }, (_req, res) => res.end(body));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(async () => {
    server.closeAllConnections();
    server.close();
  });
  const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}/image`;

  const store = new BlobStore(path.join(dir, 'store'));
  await store.init();
  await assert.rejects(fetchToStore(store, url, limits), { code: 'RB_FETCH_TLS', message: /self-signed certificate.*NODE_EXTRA_CA_CERTS/ });
  await assertNothingStored(store);

  // The CA list is read at process start, so the trusted case runs in a child.
  const child = path.join(path.dirname(fileURLToPath(import.meta.url)), 'helpers', 'images-import-child.js');
  const { stdout } = await promisify(execFile)(process.execPath, [child, store.root, url], { env: { ...process.env, NODE_EXTRA_CA_CERTS: cert } });
  assert.match(stdout, new RegExp(`stored ${digest}\n$`));
  assert.equal(await store.has(digest), true);
});
