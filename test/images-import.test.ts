import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdir, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { test } from 'node:test';
import { BlobStore } from '../server/images/blob-store.js';
import { importSource } from '../server/images/import.js';
import { storeFiles, tempDir } from './helpers/images-fixtures.js';
import { sha256 } from './helpers/fixtures.js';

async function setup(t: Parameters<typeof tempDir>[0]) {
  const dir = await tempDir(t, 'import');
  const store = new BlobStore(path.join(dir, 'store'));
  await store.init();
  return { dir, store };
}

test('a local file, a directory and a URL are each imported', async (t) => {
  const { dir, store } = await setup(t);
  await writeFile(path.join(dir, 'Image'), 'kernel');
  await mkdir(path.join(dir, 'firmware'));
  await writeFile(path.join(dir, 'firmware', 'start4.elf'), 'elf');
  const server = createServer((_req, res) => res.end('initramfs'));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(async () => {
    server.close();
  });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/initrd.img`;

  assert.deepEqual(await importSource(store, path.join(dir, 'Image'), { expectedSha256: sha256('kernel') }), {
    kind: 'file',
    source: path.join(dir, 'Image'),
    blob: { digest: sha256('kernel'), size: 6 },
  });
  assert.deepEqual(await importSource(store, path.join(dir, 'firmware')), {
    kind: 'directory',
    source: path.join(dir, 'firmware'),
    files: { 'start4.elf': { digest: sha256('elf'), size: 3 } },
  });
  const progress: number[] = [];
  const fetched = await importSource(store, url, { expectedSha256: sha256('initramfs'), onProgress: (received) => progress.push(received) });
  assert.deepEqual(fetched, { kind: 'file', source: url, blob: { digest: sha256('initramfs'), size: 9 } });
  assert.deepEqual(progress, [9]);
  assert.equal((await store.usage()).blobs, 3);
});

test('sources that cannot be imported are refused with what to give instead', async (t) => {
  const { dir, store } = await setup(t);
  await writeFile(path.join(dir, 'big'), Buffer.alloc(2000));
  await assert.rejects(importSource(store, path.join(dir, 'nope')), { code: 'RB_BLOB_SOURCE', message: /does not exist \(give a file, a directory or an http\(s\) URL\)/ });
  await assert.rejects(importSource(store, dir, { expectedSha256: sha256('x') }), { code: 'RB_BLOB_SOURCE', message: /not to the directory/ });
  await assert.rejects(importSource(store, 'ftp://127.0.0.1/Image'), { code: 'RB_FETCH_URL' });
  await assert.rejects(importSource(store, path.join(dir, 'big'), { maxBytes: 1000 }), { code: 'RB_BLOB_TOO_LARGE' });
  await assert.rejects(importSource(store, path.join(dir, 'big'), { expectedSha256: sha256('x') }), { code: 'RB_BLOB_DIGEST_MISMATCH' });
  assert.deepEqual(await storeFiles(store.root), []);
});
