import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { buffer } from 'node:stream/consumers';
import { test } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { S_IFREG, gzipNewc } from '../server/images/cpio.js';
import { packStream, packToFile } from '../server/images/pack.js';
import { run, tempDir } from './helpers/images-fixtures.js';

process.env.TZ = 'UTC'; // cpio -tv prints dates in local time

/** `cpio -itvn` lines as [mode string, uid, gid, size or "maj, min", name (-> target)]. */
async function cpioList(archive: Buffer): Promise<string[][]> {
  const listing = await run('cpio', ['-itvn', '--quiet'], { input: gunzipSync(archive) });
  return listing
    .toString()
    .trim()
    .split('\n')
    .map((line) => {
      const match = /^(\S+)\s+\d+\s+(\d+)\s+(\d+)\s+(\d+,\s+\d+|\d+) Jan  1  1970 (.*)$/.exec(line);
      assert.ok(match, `unexpected cpio -tv line: ${line}`);
      return [match[1]!, match[2]!, match[3]!, match[4]!.replace(/\s+/g, ' '), match[5]!];
    });
}

test('a directory packs to identical bytes twice, lists correctly with cpio -itv and extracts intact', async (t) => {
  const work = await tempDir(t, 'pack');
  const root = path.join(work, 'root');
  const big = randomBytes(3 * 1024 * 1024 + 3); // streamed, and not a multiple of 4
  await mkdir(path.join(root, 'bin'), { recursive: true });
  await mkdir(path.join(root, 'etc', 'ssh'), { recursive: true });
  await writeFile(path.join(root, 'init'), '#!/bin/sh\nexec /bin/app\n', { mode: 0o755 });
  await chmod(path.join(root, 'init'), 0o755);
  await writeFile(path.join(root, 'bin', 'app'), big);
  await chmod(path.join(root, 'bin', 'app'), 0o750);
  await writeFile(path.join(root, 'etc', 'ssh', 'key'), 'k');
  await chmod(path.join(root, 'etc', 'ssh', 'key'), 0o600);
  await writeFile(path.join(root, 'etc', 'empty'), '');
  await chmod(path.join(root, 'etc', 'empty'), 0o644);
  await symlink('/bin/app', path.join(root, 'bin', 'sh'));
  await run('mkfifo', ['-m', '0640', path.join(root, 'fifo')]);
  for (const dir of ['bin', 'etc', 'etc/ssh']) await chmod(path.join(root, dir), 0o755);

  const first = await packToFile(root, path.join(work, 'a.cpio.gz'));
  const second = await packToFile(root, path.join(work, 'b.cpio.gz'));
  const [a, b] = await Promise.all([readFile(path.join(work, 'a.cpio.gz')), readFile(path.join(work, 'b.cpio.gz'))]);
  assert.ok(a.equals(b), 'byte-identical across runs');
  assert.deepEqual(first, second);
  assert.deepEqual(first, { size: a.length, sha256: first.sha256, entries: 9 });
  assert.ok((await buffer(await packStream(root))).equals(a), 'packStream gives the same bytes');
  assert.equal(a.readUInt32LE(4), 0, 'gzip header mtime is zero');

  assert.deepEqual(await cpioList(a), [
    ['drwxr-xr-x', '0', '0', '0', 'bin'],
    ['-rwxr-x---', '0', '0', String(big.length), 'bin/app'],
    ['lrwxrwxrwx', '0', '0', '8', 'bin/sh -> /bin/app'],
    ['drwxr-xr-x', '0', '0', '0', 'etc'],
    ['-rw-r--r--', '0', '0', '0', 'etc/empty'],
    ['drwxr-xr-x', '0', '0', '0', 'etc/ssh'],
    ['-rw-------', '0', '0', '1', 'etc/ssh/key'],
    ['prw-r-----', '0', '0', '0', 'fifo'],
    ['-rwxr-xr-x', '0', '0', '24', 'init'],
  ]);

  const out = path.join(work, 'out');
  await mkdir(out);
  await run('cpio', ['-idm', '--quiet', '--no-absolute-filenames'], { input: gunzipSync(a), cwd: out });
  assert.ok((await readFile(path.join(out, 'bin', 'app'))).equals(big));
  assert.equal(await readFile(path.join(out, 'init'), 'utf8'), '#!/bin/sh\nexec /bin/app\n');
});

test('a gen_init_cpio list packs reproducibly with its modes, owners, devices and links', async (t) => {
  const work = await tempDir(t, 'list');
  await mkdir(path.join(work, 'build'));
  await writeFile(path.join(work, 'build', 'app'), 'binary!');
  const list = path.join(work, 'initramfs.list');
  await writeFile(
    list,
    [
      '# a single-application initramfs',
      'dir /dev 755 0 0',
      'nod /dev/console 600 0 5 c 5 1',
      'nod /dev/sda 660 0 6 b 8 0',
      'dir /bin 0755 0 0',
      'file /bin/app build/app 4750 1000 100',
      'slink /init /bin/app 777 0 0',
      '',
      'pipe /run.fifo 644 0 0',
      'sock /run.sock 600 33 33',
    ].join('\n'),
  );
  const first = await packToFile(list, path.join(work, 'a.cpio.gz'), { mtime: 0 });
  await packToFile(list, path.join(work, 'b.cpio.gz'));
  const a = await readFile(path.join(work, 'a.cpio.gz'));
  assert.ok(a.equals(await readFile(path.join(work, 'b.cpio.gz'))));
  assert.equal(first.entries, 8);
  assert.deepEqual(await cpioList(a), [
    ['drwxr-xr-x', '0', '0', '0', 'bin'],
    ['-rwsr-x---', '1000', '100', '7', 'bin/app'],
    ['drwxr-xr-x', '0', '0', '0', 'dev'],
    ['crw-------', '0', '5', '5, 1', 'dev/console'],
    ['brw-rw----', '0', '6', '8, 0', 'dev/sda'],
    ['lrwxrwxrwx', '0', '0', '8', 'init -> /bin/app'],
    ['prw-r--r--', '0', '0', '0', 'run.fifo'],
    ['srw-------', '33', '33', '0', 'run.sock'],
  ]);
});

test('mtime is configurable (SOURCE_DATE_EPOCH) and changes the bytes', async (t) => {
  const work = await tempDir(t, 'mtime');
  await mkdir(path.join(work, 'root'));
  await writeFile(path.join(work, 'root', 'f'), 'f');
  const zero = await packToFile(path.join(work, 'root'), path.join(work, 'a'));
  const later = await packToFile(path.join(work, 'root'), path.join(work, 'b'), { mtime: 1_700_000_000 });
  assert.notEqual(zero.sha256, later.sha256);
  const listing = await run('cpio', ['-itv', '--quiet'], { input: gunzipSync(await readFile(path.join(work, 'b'))) });
  assert.match(listing.toString(), /Nov 14  2023 f/);
});

test('list mistakes are refused with the line number and what to fix', async (t) => {
  const work = await tempDir(t, 'bad');
  await writeFile(path.join(work, 'f'), 'x');
  const cases: [string, RegExp][] = [
    ['dir /bin 755 0 0\nlink /bin/x /f 755 0 0', /line 2: unknown entry type "link"/],
    ['dir /bin 798 0 0', /line 1: mode "798" is not octal/],
    ['dir /bin 755 0', /line 1: "dir" takes 4 fields/],
    ['file /app f 755 0 0 /app2', /line 1: hard link names .* not supported/],
    ['file /bin/app f 755 0 0', /line 1: parent directory "bin" of "bin\/app" is not listed \(add "dir bin 755 0 0"\)/],
    ['dir /bin 755 0 0\ndir /bin/ 755 0 0', /line 2: "bin" is listed twice/],
    ['file /app missing 755 0 0', /line 1: .*missing is not a readable regular file/],
    ['nod /console 600 0 0 x 5 1', /line 1: device type must be b or c/],
    ['dir ../etc 755 0 0', /line 1: invalid name/],
    ['slink /x y 777 0 abc', /line 1: gid "abc" is not a number/],
  ];
  for (const [text, message] of cases) {
    await writeFile(path.join(work, 'list'), text);
    await assert.rejects(packToFile(path.join(work, 'list'), path.join(work, 'out')), { code: 'RB_CPIO_INVALID', message }, text);
  }
});

test('a file that shrank after its header was written fails the archive instead of corrupting it', async (t) => {
  const work = await tempDir(t, 'shrunk');
  await writeFile(path.join(work, 'f'), 'ten bytes!');
  const entry = { name: 'f', mode: S_IFREG | 0o644, uid: 0, gid: 0, mtime: 0, data: { path: path.join(work, 'f'), size: 100 } };
  await assert.rejects(buffer(gzipNewc([entry])), { code: 'RB_CPIO_SOURCE_CHANGED', message: /changed size while packing \(100 -> 10 bytes\)/ });
  await assert.rejects(packToFile(path.join(work, 'missing'), path.join(work, 'out')), { code: 'RB_CPIO_INVALID', message: /cannot read/ });
});
