/**
 * `rackboot image gc` runs in its own process, beside a daemon that is still serving a blob of an
 * image that was just deleted (curl reading the initramfs over HTTP, held stopped mid-transfer).
 * All blob mtimes are backdated, so only the daemon's in-use mark can keep that blob.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { existsSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { runCli, startDaemon } from './helpers/daemon.js';
import { api, fakeImageFiles, sha256 } from './helpers/fixtures.js';
import { within } from './helpers/wait.js';

const MAC = '52-54-00-0c-00-01';
/** Sets every file under `dir` to an hour ago. */
function backdate(dir: string): void {
  const old = new Date(Date.now() - 3_600_000);
  for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (entry.isFile()) utimesSync(path.join(entry.parentPath, entry.name), old, old);
  }
}

test('image gc keeps the blob a deleted image is still serving and removes the unreferenced old ones', { timeout: 120_000 }, async (t) => {
  const daemon = await startDaemon();
  const doomed = fakeImageFiles(4000, 24 * 1024 * 1024); // larger than loopback socket buffers: the read really is in progress
  const keeper = fakeImageFiles(3000, 10);
  const blobs = path.join(daemon.dataDir, 'blobs');
  const blobPath = (digest: string) => path.join(blobs, 'sha256', digest.slice(0, 2), digest);
  const gc = async () => {
    const result = await runCli(['image', 'gc', '--json'], daemon.configFile);
    assert.equal(result.code, 0, result.stderr);
    return (JSON.parse(result.stdout) as { removed: { digest: string }[] }).removed.map((blob) => blob.digest).sort();
  };

  const loose = path.join(doomed.dir, 'loose');
  const looseData = randomBytes(1000);
  writeFileSync(loose, looseData);
  assert.equal((await runCli(['image', 'import', loose], daemon.configFile)).code, 0);
  assert.equal((await api(daemon, 'POST', '/images', { name: 'doomed', kernel: doomed.kernel, initrd: doomed.initrd })).status, 201);
  assert.equal((await api(daemon, 'POST', '/images', { name: 'keeper', kernel: keeper.kernel })).status, 201);
  assert.equal((await api(daemon, 'PUT', `/nodes/${MAC}/assignment`, { image: 'doomed' })).status, 200);

  const curl = spawn('curl', ['-sS', '--fail', '--max-time', '90', '-o', '-', `${daemon.httpUrl}/boot/${MAC}/initrd.img`], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const chunks: Buffer[] = [];
  const closed = once(curl, 'close');
  const firstBytes = new Promise<void>((resolve, reject) => {
    curl.stdout.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      resolve();
    });
    closed.then(([code]) => reject(new Error(`curl exited ${code} before any byte arrived`)), reject);
  });
  t.after(async () => {
    curl.kill('SIGKILL'); // also ends a stopped curl, so the daemon's SIGTERM does not wait for it
    await daemon.stop();
    rmSync(doomed.dir, { recursive: true, force: true });
    rmSync(keeper.dir, { recursive: true, force: true });
  });
  await within(firstBytes, 10_000, 'curl first bytes');
  curl.kill('SIGSTOP');

  // The node moves on, the image goes; its kernel and the loose import are now garbage.
  assert.equal((await api(daemon, 'PUT', `/nodes/${MAC}/assignment`, { image: 'keeper' })).status, 200);
  assert.equal((await api(daemon, 'DELETE', '/images/doomed')).status, 200);
  backdate(path.join(blobs, 'sha256'));

  const initrd = sha256(doomed.initrdData);
  assert.deepEqual(await gc(), [sha256(doomed.kernelData), sha256(looseData)].sort());
  assert.equal(curl.exitCode, null, 'the transfer was still in progress during gc');
  assert.ok(existsSync(blobPath(initrd)), 'the blob being served survived gc');
  assert.ok(existsSync(blobPath(sha256(keeper.kernelData))), 'a referenced blob survived gc');

  curl.kill('SIGCONT');
  const [code] = await within(closed, 90_000, 'curl to finish');
  assert.equal(code, 0);
  assert.equal(sha256(Buffer.concat(chunks)), initrd, 'the transfer completed intact');

  // The protection is a window, not a leak: once the mark is older than it, the blob goes too.
  backdate(path.join(blobs, 'in-use'));
  assert.deepEqual(await gc(), [initrd]);
  assert.deepEqual(readdirSync(path.join(blobs, 'in-use')), [], 'the mark went with its blob');
});
