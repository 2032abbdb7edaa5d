import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdir, readFile, readdir, rm, utimes, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { buffer } from 'node:stream/consumers';
import { pipeline } from 'node:stream/promises';
import { test } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { BlobStore, type BlobRef } from '../server/images/blob-store.js';
import { createConcatReadStream, openConcat, type ConcatFile, type ConcatPart } from '../server/images/concat.js';
import { OverlayCache, type OverlayData } from '../server/images/overlay.js';
import { run, tempDir } from './helpers/images-fixtures.js';

const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPu8Zp7xq5Yt5Lr0F8oQpP8oGZq3xk6yXr3rYw1v2M3e admin@rack';
const OVERLAY: OverlayData = {
  hostname: 'node-07',
  sshAuthorizedKeys: [KEY, 'ssh-rsa AAAAB3NzaC1yc2E second@rack'],
  files: [{ path: '/etc/rackboot/node.json', content: '{"rack":3}\n', mode: 0o640 }],
};

/** A base initramfs made by the system tools (find | cpio -o -H newc | gzip), not by our writer. */
async function systemBase(t: Parameters<typeof tempDir>[0], store: BlobStore, compress: boolean): Promise<BlobRef> {
  const work = await tempDir(t, 'base');
  const root = path.join(work, 'root');
  await mkdir(path.join(root, 'etc'), { recursive: true });
  await mkdir(path.join(root, 'bin'));
  await writeFile(path.join(root, 'etc', 'hostname'), 'base-image\n');
  await writeFile(path.join(root, 'etc', 'motd'), 'built elsewhere\n');
  await writeFile(path.join(root, 'bin', 'busybox'), randomBytes(200_000));
  await writeFile(path.join(root, 'init'), '#!/bin/sh\n');
  const names = (await run('find', ['.', '-mindepth', '1'], { cwd: root })).toString().split('\n').filter(Boolean).sort().join('\n');
  let archive = await run('cpio', ['-o', '-H', 'newc', '--quiet'], { cwd: root, input: Buffer.from(`${names}\n`) });
  // GNU cpio pads to 512 bytes; the odd tail makes the alignment question real.
  archive = compress ? await run('gzip', ['-9n'], { input: archive }) : Buffer.concat([archive, Buffer.alloc(2)]);
  const file = path.join(work, 'base.cpio');
  await writeFile(file, archive);
  return store.putFile(file);
}

async function setup(t: Parameters<typeof tempDir>[0], compress = true) {
  const dir = await tempDir(t, 'overlay');
  const store = new BlobStore(path.join(dir, 'store'));
  await store.init();
  const cache = new OverlayCache(store, path.join(dir, 'overlays'));
  return { dir, store, cache, base: await systemBase(t, store, compress) };
}

/** A plain HTTP server over createConcatReadStream with single Range support, like the daemon's file route. */
async function serve(t: { after(fn: () => Promise<void>): void }, file: ConcatFile): Promise<string> {
  const server = createServer((req, res) => {
    const range = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
    const start = range ? Number(range[1]) : 0;
    const end = range?.[2] ? Math.min(Number(range[2]), file.size - 1) : file.size - 1;
    res.statusCode = range ? 206 : 200;
    res.setHeader('content-length', end - start + 1);
    res.setHeader('accept-ranges', 'bytes');
    if (range) res.setHeader('content-range', `bytes ${start}-${end}/${file.size}`);
    pipeline(createConcatReadStream(file.parts, { start, end }), res).catch(() => res.destroy());
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(async () => {
    server.closeAllConnections();
    server.close();
  });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/initrd`;
}

async function cpioNames(archive: Buffer): Promise<string[]> {
  return (await run('cpio', ['-it', '--quiet'], { input: archive })).toString().trim().split('\n');
}

test('the served base + overlay lists base and overlay entries, is as long as advertised, and layers like the kernel', async (t) => {
  const { dir, store, cache, base } = await setup(t);
  const file = await cache.initramfsFor(base, OVERLAY);
  assert.equal(file.parts.length, 2);
  assert.equal(file.size, file.parts[0]!.size + file.parts[1]!.size);
  assert.deepEqual(file.parts[0], { path: store.pathOf(base.digest), size: base.size, inUseMark: store.servedPart(base).inUseMark });

  const url = await serve(t, file);
  const served = await run('curl', ['-sS', '--fail', '-D', path.join(dir, 'headers'), url]);
  assert.equal(served.length, file.size, 'served length equals the advertised size');
  assert.match(await readFile(path.join(dir, 'headers'), 'utf8'), new RegExp(`content-length: ${file.size}\\r\\n`, 'i'));

  // gzip members concatenate: the whole file decompresses to both cpio streams back to back.
  const baseMember = served.subarray(0, base.size);
  const overlayMember = served.subarray(base.size);
  assert.deepEqual(gunzipSync(served), Buffer.concat([gunzipSync(baseMember), gunzipSync(overlayMember)]));
  assert.deepEqual(await cpioNames(gunzipSync(baseMember)), ['bin', 'bin/busybox', 'etc', 'etc/hostname', 'etc/motd', 'init']);
  const overlayListing = (await run('cpio', ['-itvn', '--quiet'], { input: gunzipSync(overlayMember) })).toString();
  const modes = overlayListing
    .trim()
    .split('\n')
    .map((line) => line.split(/\s+/))
    .map((fields) => `${fields[0]} ${fields[2]}:${fields[3]} ${fields.at(-1)}`);
  assert.deepEqual(modes, [
    'drwxr-xr-x 0:0 etc',
    '-rw-r--r-- 0:0 etc/hostname',
    'drwxr-xr-x 0:0 etc/rackboot',
    '-rw-r----- 0:0 etc/rackboot/node.json',
    'drwx------ 0:0 root',
    'drwx------ 0:0 root/.ssh',
    '-rw------- 0:0 root/.ssh/authorized_keys',
  ]);

  // Unpacked in order, as the kernel does, the overlay wins.
  const rootfs = path.join(dir, 'rootfs');
  await mkdir(rootfs);
  for (const member of [baseMember, overlayMember]) {
    await run('cpio', ['-idu', '--quiet', '--no-absolute-filenames'], { input: gunzipSync(member), cwd: rootfs });
  }
  assert.equal(await readFile(path.join(rootfs, 'etc', 'hostname'), 'utf8'), 'node-07\n');
  assert.equal(await readFile(path.join(rootfs, 'etc', 'motd'), 'utf8'), 'built elsewhere\n');
  assert.equal(await readFile(path.join(rootfs, 'root', '.ssh', 'authorized_keys'), 'utf8'), `${KEY}\nssh-rsa AAAAB3NzaC1yc2E second@rack\n`);
  assert.equal(await readFile(path.join(rootfs, 'etc', 'rackboot', 'node.json'), 'utf8'), '{"rack":3}\n');
});

test('ranges over HTTP (curl -r) and positioned reads return the right bytes across the part boundary', async (t) => {
  const { cache, base } = await setup(t);
  const file = await cache.initramfsFor(base, OVERLAY);
  const whole = Buffer.concat(await Promise.all(file.parts.map((part) => readFile(part.path))));
  const url = await serve(t, file);
  const boundary = base.size;
  const ranges: [number, number][] = [
    [0, 0],
    [100, 5000],
    [boundary - 10, boundary + 9],
    [boundary, file.size - 1],
    [file.size - 1, file.size - 1],
  ];
  for (const [start, end] of ranges) {
    const got = await run('curl', ['-sS', '--fail', '-r', `${start}-${end}`, url]);
    assert.ok(got.equals(whole.subarray(start, end + 1)), `curl -r ${start}-${end}`);
    assert.ok((await buffer(createConcatReadStream(file.parts, { start, end }))).equals(whole.subarray(start, end + 1)));
  }

  const source = await openConcat(file.parts);
  t.after(() => source.close());
  assert.equal(source.size, file.size);
  const block = Buffer.alloc(1468);
  for (const position of [0, boundary - 700, boundary - 1468, boundary, file.size - 1000]) {
    const read = await source.read(block, 0, block.length, position);
    const expected = whole.subarray(position, position + block.length);
    assert.equal(read, expected.length);
    assert.ok(block.subarray(0, read).equals(expected), `read at ${position}`);
  }
  assert.equal(await source.read(block, 0, block.length, file.size), 0, 'reading at the end gives 0 bytes');
  // Reading the whole file in TFTP-sized blocks gives exactly the served bytes.
  const blocks: Buffer[] = [];
  for (let position = 0; position < file.size; position += 1024) {
    const chunk = Buffer.alloc(1024);
    blocks.push(chunk.subarray(0, await source.read(chunk, 0, 1024, position)));
  }
  assert.ok(Buffer.concat(blocks).equals(whole));
  assert.throws(() => createConcatReadStream(file.parts, { start: 0, end: file.size }), { code: 'RB_CONCAT_RANGE' });
});

test('overlays are cached by content and regenerated when the node data change', async (t) => {
  const { store, cache, base } = await setup(t);
  const first = await cache.initramfsFor(base, OVERLAY);
  const [again, concurrent] = await Promise.all([cache.initramfsFor(base, OVERLAY), cache.initramfsFor(base, { ...OVERLAY })]);
  assert.deepEqual(again, first);
  assert.deepEqual(concurrent, first);
  const renamed = await cache.initramfsFor(base, { ...OVERLAY, hostname: 'node-08' });
  assert.notEqual(renamed.key, first.key);
  assert.notEqual(renamed.parts[1]!.path, first.parts[1]!.path);
  assert.deepEqual((await readdir(cache.cacheDir)).sort(), [`${first.key}.cpio.gz`, `${renamed.key}.cpio.gz`].sort());

  // A fresh cache object (a daemon restart) reuses the file.
  const restarted = await new OverlayCache(store, cache.cacheDir).initramfsFor(base, OVERLAY);
  assert.deepEqual(restarted, first);

  const deadTemp = path.join(cache.cacheDir, `.${first.key}.dead.tmp`);
  const liveTemp = path.join(cache.cacheDir, `.${first.key}.live.tmp`);
  await writeFile(deadTemp, '');
  await writeFile(liveTemp, '');
  const old = new Date(Date.now() - 3_600_000);
  await utimes(deadTemp, old, old);
  assert.equal(await cache.prune(new Set([renamed.key])), 2);
  assert.deepEqual((await readdir(cache.cacheDir)).sort(), [path.basename(liveTemp), `${renamed.key}.cpio.gz`]);

  const plain = await cache.initramfsFor(base, {});
  assert.deepEqual(plain, { key: base.digest, size: base.size, parts: [first.parts[0]] }, 'no overlay data: the base alone');
});

test('an uncompressed base with an unaligned end gets zero padding so the overlay starts 4-byte aligned', async (t) => {
  const { cache, base } = await setup(t, false);
  assert.equal(base.size % 4, 2);
  const file = await cache.initramfsFor(base, { hostname: 'node-01' });
  const overlay = await readFile(file.parts[1]!.path);
  assert.deepEqual([...overlay.subarray(0, 4)], [0, 0, 0x1f, 0x8b]);
  assert.deepEqual(await cpioNames(gunzipSync(overlay.subarray(2))), ['etc', 'etc/hostname']);

  // A gzip base needs none (zeros after a gzip member would stop zcat).
  const gz = await setup(t, true);
  const gzFile = await gz.cache.initramfsFor(gz.base, { hostname: 'node-01' });
  assert.deepEqual([...(await readFile(gzFile.parts[1]!.path)).subarray(0, 2)], [0x1f, 0x8b]);
});

test('invalid overlay data is refused with what is wrong', async (t) => {
  const { cache, base } = await setup(t);
  const cases: [OverlayData, RegExp][] = [
    [{ hostname: 'bad_host' }, /^hostname: "bad_host" is not a valid DNS name/],
    [{ hostname: '-x' }, /not a valid DNS name/],
    [{ sshAuthorizedKeys: ['ssh-ed25519 AAAA\nssh-rsa BBBB'] }, /^sshAuthorizedKeys: key 1 is not one non-empty line/],
    [{ files: [{ path: 'etc/x', content: '' }] }, /^files: path "etc\/x" must be absolute/],
    [{ files: [{ path: '/etc/../x', content: '' }] }, /normalized/],
    [{ files: [{ path: '/etc/x', content: '', mode: 0o10000 }] }, /permission bits/],
    [{ hostname: 'a', files: [{ path: '/etc/hostname', content: 'b' }] }, /\/etc\/hostname is given twice/],
    [{ files: [{ path: '/etc', content: '' }, { path: '/etc/x', content: '' }] }, /\/etc is both a file and a directory/],
  ];
  for (const [overlay, message] of cases) {
    await assert.rejects(cache.initramfsFor(base, overlay), { code: 'RB_OVERLAY_INVALID', message }, JSON.stringify(overlay));
  }
  await assert.rejects(cache.initramfsFor({ digest: base.digest, size: base.size + 1 }, OVERLAY), { code: 'RB_OVERLAY_INVALID', message: /run image verify/ });
});

test('a part that changed size since it was announced is refused instead of served corrupt', async (t) => {
  const dir = await tempDir(t, 'concat');
  const parts: ConcatPart[] = [
    { path: path.join(dir, 'a'), size: 10 },
    { path: path.join(dir, 'b'), size: 10 },
  ];
  await writeFile(parts[0]!.path, Buffer.alloc(10, 1));
  await writeFile(parts[1]!.path, Buffer.alloc(4, 2));
  await assert.rejects(openConcat(parts), { code: 'RB_CONCAT_CHANGED' });
  await assert.rejects(buffer(createConcatReadStream(parts)), { code: 'RB_CONCAT_CHANGED' });
  await rm(parts[1]!.path);
  await assert.rejects(openConcat(parts), { code: 'ENOENT' });
});
