import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { startDaemon, type RunningDaemon } from './helpers/daemon.js';
import { api, fakeImageFiles } from './helpers/fixtures.js';

describe('API: images from URLs, node settings the overlay must carry', () => {
  let daemon: RunningDaemon;
  let server: Server;
  let base: string;
  const files = fakeImageFiles(5000, 7000);
  const sha = (data: Buffer) => createHash('sha256').update(data).digest('hex');

  before(async () => {
    // The source is this test's server on loopback, which URL imports refuse unless allowed.
    daemon = await startDaemon({ config: { images: { allowUrlNetworks: ['127.0.0.1/32'] } } });
    server = createServer((request, response) => {
      response.end(request.url === '/vmlinuz' ? files.kernelData : files.initrdData);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    server.close();
    await daemon.stop();
  });

  it('registers an image from http URLs with verified digests', async () => {
    const created = await api(daemon, 'POST', '/images', {
      name: 'net',
      kernel: `${base}/vmlinuz`,
      kernelSha256: sha(files.kernelData),
      initrd: `${base}/initrd.img`,
    });
    assert.equal(created.status, 201, JSON.stringify(created.json));
    const image = (created.json as unknown as { image: { kernel: { digest: string }; initrd: { size: number } } }).image;
    assert.equal(image.kernel.digest, sha(files.kernelData));
    assert.equal(image.initrd.size, files.initrdData.length);
  });

  it('a wrong digest is refused with the field named and nothing recorded', async () => {
    const refused = await api(daemon, 'POST', '/images', { name: 'bad', kernel: `${base}/vmlinuz`, kernelSha256: '0'.repeat(64) });
    assert.equal(refused.status, 400);
    assert.match(String(refused.json?.['message']), /^kernel: sha256 mismatch/);
    assert.equal((await api(daemon, 'GET', '/images/bad')).status, 404);
  });

  it('a hostname the overlay cannot carry is refused at once', async () => {
    const refused = await api(daemon, 'PUT', '/nodes/52:54:00:00:00:42', { hostname: 'bad_name' });
    assert.equal(refused.status, 400);
    const keys = await api(daemon, 'PUT', '/nodes/52:54:00:00:00:42', { sshKeys: ['ssh-ed25519 AAAA\nsecond line'] });
    assert.equal(keys.status, 400);
    assert.match(String(keys.json?.['message']), /one non-empty line/);
    assert.deepEqual((await api(daemon, 'GET', '/nodes')).json, []);
  });
});
