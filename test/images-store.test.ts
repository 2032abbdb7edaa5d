import assert from 'node:assert/strict';
import { mkdir, symlink, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import { BlobError, BlobStore } from '../server/images/blob-store.js';
import { openConcat } from '../server/images/concat.js';
import { IN_USE_GRACE_MS } from '../server/images/in-use.js';
import { storeFiles, tempDir } from './helpers/images-fixtures.js';
import { sha256 } from './helpers/fixtures.js';

async function openStore(t: Parameters<typeof tempDir>[0]): Promise<BlobStore> {
  const store = new BlobStore(await tempDir(t, 'store'));
  await store.init();
  return store;
}

test('putStream stores content under its sha256 and re-putting is idempotent', async (t) => {
  const store = await openStore(t);
  const first = await store.putStream(Readable.from([Buffer.from('hello '), Buffer.from('world')]));
  assert.deepEqual(first, { digest: sha256('hello world'), size: 11 });
  assert.deepEqual(await store.putStream(Readable.from([Buffer.from('hello world')])), first);
  assert.equal(await store.has(first.digest), true);
  assert.deepEqual(await storeFiles(store.root), [`sha256/${first.digest.slice(0, 2)}/${first.digest}`]);
});

test('putStream refuses a wrong digest, an oversized stream and an abort, leaving nothing behind', async (t) => {
  const store = await openStore(t);
  await assert.rejects(store.putStream(Readable.from([Buffer.from('abc')]), { expectedSha256: sha256('abd') }), {
    code: 'RB_BLOB_DIGEST_MISMATCH',
  });
  await assert.rejects(store.putStream(Readable.from([Buffer.alloc(600), Buffer.alloc(600)]), { maxBytes: 1000 }), {
    code: 'RB_BLOB_TOO_LARGE',
  });
  const endless = new Readable({ read() { this.push(Buffer.alloc(65536)); } });
  await assert.rejects(store.putStream(endless, { signal: AbortSignal.timeout(100) }), { name: 'AbortError' });
  assert.deepEqual(await storeFiles(store.root), []);
  // Exactly at the limit and with the right digest in upper case is fine.
  const ref = await store.putStream(Readable.from([Buffer.alloc(1000)]), { maxBytes: 1000, expectedSha256: sha256(Buffer.alloc(1000)).toUpperCase() });
  assert.equal(ref.size, 1000);
});

test('init removes temp leftovers of dead processes, keeps those of live ones and all blobs', async (t) => {
  const store = await openStore(t);
  const ref = await store.putStream(Readable.from([Buffer.from('kept')]));
  const live = `${process.pid}-in-flight-import`;
  await writeFile(path.join(store.tmpDir, live), 'downloading');
  await writeFile(path.join(store.tmpDir, '2147483646-killed-import'), 'partial');
  await writeFile(path.join(store.tmpDir, 'unknown'), 'partial');
  await new BlobStore(store.root).init();
  assert.deepEqual(await storeFiles(store.root), [`sha256/${ref.digest.slice(0, 2)}/${ref.digest}`, `tmp/${live}`]);
});

test('putDirectory stores a firmware set by relative path, following symlinks inside it', async (t) => {
  const store = await openStore(t);
  const dir = await tempDir(t, 'fw');
  await mkdir(path.join(dir, 'overlays'));
  await writeFile(path.join(dir, 'start4.elf'), 'elf');
  await writeFile(path.join(dir, 'overlays', 'disable-bt.dtbo'), 'dtbo');
  await symlink('start4.elf', path.join(dir, 'start.elf'));
  const refs = await store.putDirectory(dir);
  assert.deepEqual(Object.keys(refs), ['overlays/disable-bt.dtbo', 'start.elf', 'start4.elf']);
  assert.deepEqual(refs['start.elf'], { digest: sha256('elf'), size: 3 });
  assert.deepEqual(refs['overlays/disable-bt.dtbo'], { digest: sha256('dtbo'), size: 4 });
});

test('putDirectory refuses a symlink leaving the directory before storing anything', async (t) => {
  const store = await openStore(t);
  const outside = await tempDir(t, 'outside');
  const dir = await tempDir(t, 'fw');
  await writeFile(path.join(outside, 'secret'), 'secret');
  await writeFile(path.join(dir, 'a.bin'), 'a');
  await symlink(path.join(outside, 'secret'), path.join(dir, 'b.bin'));
  await assert.rejects(store.putDirectory(dir), (error: unknown) => {
    assert.ok(error instanceof BlobError);
    assert.equal(error.code, 'RB_BLOB_SOURCE');
    assert.match(error.message, /b\.bin is a symlink leading outside/);
    return true;
  });
  await symlink('..', path.join(dir, 'up'));
  await assert.rejects(store.putDirectory(dir), { code: 'RB_BLOB_SOURCE' });
  assert.deepEqual(await storeFiles(store.root), []);
});

test('verify rehashes every blob and reports corrupt, missing and stray files', async (t) => {
  const store = await openStore(t);
  const good = await store.putStream(Readable.from([Buffer.from('good')]));
  const bad = await store.putStream(Readable.from([Buffer.from('soon corrupt')]));
  assert.deepEqual(await store.verify([good.digest, bad.digest]), { checked: 2, bytes: 16, corrupt: [], missing: [], strays: [] });

  await writeFile(store.pathOf(bad.digest), 'bit rot happened');
  await writeFile(path.join(store.root, 'sha256', good.digest.slice(0, 2), 'not-a-blob'), 'x');
  const absent = sha256('never stored');
  const report = await store.verify([good.digest, bad.digest, absent]);
  assert.equal(report.checked, 2);
  assert.deepEqual(report.corrupt, [{ digest: bad.digest, actualSha256: sha256('bit rot happened'), size: 16 }]);
  assert.deepEqual(report.missing, [absent]);
  assert.deepEqual(report.strays, [`sha256/${good.digest.slice(0, 2)}/not-a-blob`]);
});

test('gc removes only old blobs that are neither referenced nor in use', async (t) => {
  const store = await openStore(t);
  const [referenced, inUse, garbage, fresh] = await Promise.all(
    ['referenced', 'in use', 'garbage', 'fresh import'].map((text) => store.putStream(Readable.from([Buffer.from(text)]))),
  );
  const old = new Date(Date.now() - 3_600_000);
  for (const ref of [referenced!, inUse!, garbage!]) await utimes(store.pathOf(ref.digest), old, old);
  const inUsePart = store.servedPart(inUse!);
  await (await openConcat([inUsePart])).close(); // served, as the daemon serves it: marked in use

  const dry = await store.gc(new Set([referenced!.digest]), { dryRun: true });
  assert.deepEqual(dry.removed, [garbage]);
  assert.equal(await store.has(garbage!.digest), true);

  const report = await store.gc(new Set([referenced!.digest]));
  assert.deepEqual(report, { removed: [garbage], freedBytes: garbage!.size, kept: 3, keptBytes: referenced!.size + inUse!.size + fresh!.size });
  assert.equal(await store.has(garbage!.digest), false);
  assert.equal(await store.has(fresh!.digest), true, 'a blob younger than minAgeMs may belong to an import in progress');

  await utimes(inUsePart.inUseMark!, old, old); // its mark past the grace window: no longer in use
  await store.gc(new Set(), { minAgeMs: 0 });
  assert.deepEqual(await store.usage(), { blobs: 0, bytes: 0 });
});

test('gc keeps a blob marked as being served, even with minAgeMs 0, until the mark is older than the grace window', async (t) => {
  const store = await openStore(t);
  const served = await store.putStream(Readable.from([Buffer.from('being served')]));
  const part = store.servedPart(served);
  // Opening marks it, as the daemon's TFTP engine does; the mark outlives the transfer by the grace window.
  await (await openConcat([part])).close();
  assert.deepEqual((await store.gc(new Set(), { minAgeMs: 0 })).removed, []);

  const expired = new Date(Date.now() - IN_USE_GRACE_MS - 60_000);
  await utimes(part.inUseMark!, expired, expired);
  assert.deepEqual((await store.gc(new Set(), { minAgeMs: 0 })).removed, [served]);
  assert.deepEqual(await storeFiles(store.root), [], 'the mark went with its blob');
});
