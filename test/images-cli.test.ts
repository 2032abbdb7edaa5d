import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { test } from 'node:test';
import { mainJs, runCli, testConfig } from './helpers/daemon.js';
import { fakeImageFiles, sha256 } from './helpers/fixtures.js';
import { slowServer, storeFiles, tempDir } from './helpers/images-fixtures.js';

async function setup(t: Parameters<typeof tempDir>[0]) {
  const dir = await tempDir(t, 'cli');
  const configFile = path.join(dir, 'config.json');
  await writeFile(configFile, JSON.stringify(testConfig(dir)));
  const cli = async (...args: string[]) => {
    const result = await runCli(args, configFile);
    return { ...result, ok: result.code === 0 };
  };
  return { dir, configFile, cli, blobs: path.join(dir, 'data', 'blobs') };
}

test('image import stores a file, a directory and a URL with progress; refuses a wrong --sha256', async (t) => {
  const { dir, cli } = await setup(t);
  const body = Buffer.alloc(3 * 1024 * 1024, 9);
  const server = createServer((_req, res) => {
    res.setHeader('content-length', body.length);
    res.end(body);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(async () => {
    server.close();
  });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/initrd.img`;

  const fromUrl = await cli('image', 'import', url, '--sha256', sha256(body));
  assert.ok(fromUrl.ok, fromUrl.stderr);
  assert.equal(fromUrl.stdout, `sha256:${sha256(body)}  ${String(body.length).padStart(11)}  ${url}\n`);
  assert.match(fromUrl.stderr, /downloaded 3\.0 \/ 3\.0 MiB \(100%\)/);

  await mkdir(path.join(dir, 'fw', 'overlays'), { recursive: true });
  await writeFile(path.join(dir, 'fw', 'start4.elf'), 'elf');
  await writeFile(path.join(dir, 'fw', 'overlays', 'x.dtbo'), 'dtbo');
  const fromDir = await cli('image', 'import', path.join(dir, 'fw'), '--json');
  assert.ok(fromDir.ok, fromDir.stderr);
  assert.deepEqual(JSON.parse(fromDir.stdout).files, {
    'overlays/x.dtbo': { digest: sha256('dtbo'), size: 4 },
    'start4.elf': { digest: sha256('elf'), size: 3 },
  });

  const wrong = await cli('image', 'import', path.join(dir, 'fw', 'start4.elf'), '--sha256', sha256('other'));
  assert.equal(wrong.code, 1);
  assert.match(wrong.stderr, /sha256 mismatch.*nothing stored \[RB_BLOB_DIGEST_MISMATCH\]/);
});

test('image verify reports clean, then a corrupt blob with exit code 1; image gc removes unreferenced blobs', async (t) => {
  const { dir, cli, blobs } = await setup(t);
  const image = fakeImageFiles(2000, 3000);
  assert.ok((await cli('image', 'add', '--name', 'alpha', '--kernel', image.kernel, '--initrd', image.initrd)).ok);
  await writeFile(path.join(dir, 'loose'), 'not referenced by any image');
  assert.ok((await cli('image', 'import', path.join(dir, 'loose'))).ok);

  const clean = await cli('image', 'verify');
  assert.ok(clean.ok, clean.stdout + clean.stderr);
  assert.match(clean.stdout, /3 blobs, \d+ bytes checked: clean/);

  const kernelDigest = sha256(await readFile(image.kernel));
  const kernelBlob = path.join(blobs, 'sha256', kernelDigest.slice(0, 2), kernelDigest);
  await writeFile(kernelBlob, 'flipped bits');
  const corrupt = await cli('image', 'verify', '--json');
  assert.equal(corrupt.code, 1);
  const report = JSON.parse(corrupt.stdout);
  assert.equal(report.clean, false);
  assert.deepEqual(report.corrupt.map((blob: { digest: string }) => blob.digest), [kernelDigest]);

  // The loose blob is young: kept unless --min-age 0.
  assert.match((await cli('image', 'gc', '--dry-run')).stdout, /would free 0 bytes in 0 blobs; kept 3/);
  const gc = await cli('image', 'gc', '--min-age', '0');
  assert.ok(gc.ok, gc.stderr);
  assert.match(gc.stdout, new RegExp(`removed  sha256:${sha256('not referenced by any image')}  27\\nfreed 27 bytes in 1 blobs; kept 2`));
  assert.equal((await storeFiles(blobs)).length, 2);
});

test('image pack writes the same bytes twice, from a directory or a list, without a config', async (t) => {
  const dir = await tempDir(t, 'cli-pack');
  await mkdir(path.join(dir, 'root', 'etc'), { recursive: true });
  await writeFile(path.join(dir, 'root', 'etc', 'motd'), 'hi\n');
  await writeFile(path.join(dir, 'list'), 'dir /etc 755 0 0\nfile /etc/motd root/etc/motd 644 0 0\n');
  const outputs: Buffer[] = [];
  for (const input of ['root', 'root', 'list']) {
    const out = path.join(dir, `out-${outputs.length}.cpio.gz`);
    const result = await runCli(['image', 'pack', path.join(dir, input), '-o', out]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^wrote .*: 2 entries, \d+ bytes, sha256:[0-9a-f]{64}\n$/);
    outputs.push(await readFile(out));
  }
  assert.ok(outputs[0]!.equals(outputs[1]!));
  assert.ok(outputs[0]!.equals(outputs[2]!), 'the list describes the same tree, so the same bytes');
});

test('kill -9 of `rackboot image import` mid-download: the next command finds no partial blob and verify is clean', async (t) => {
  const { configFile, cli, blobs } = await setup(t);
  const url = await slowServer(t, 64 * 1024 * 1024);
  const importer = spawn(process.execPath, [mainJs, '--config', configFile, 'image', 'import', url], { stdio: ['ignore', 'ignore', 'pipe'] });
  t.after(() => {
    importer.kill('SIGKILL');
  });
  const deadline = setTimeout(() => importer.kill('SIGKILL'), 20_000);
  for await (const line of createInterface({ input: importer.stderr })) if (/downloaded [1-9]/.test(line)) break;
  clearTimeout(deadline);
  assert.equal((await storeFiles(blobs)).filter((file) => file.startsWith('tmp/')).length, 1, 'killed mid-download');
  importer.kill('SIGKILL');
  await once(importer, 'exit');

  const verify = await cli('image', 'verify');
  assert.ok(verify.ok, verify.stdout + verify.stderr);
  assert.match(verify.stdout, /0 blobs, 0 bytes checked: clean/);
  assert.deepEqual(await storeFiles(blobs), [], 'opening the store removed the temp file; no blob appeared');
});
