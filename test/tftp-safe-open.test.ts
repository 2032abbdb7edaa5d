import { mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import Fastify from 'fastify';
import { BootFiles } from '../server/boot/files.js';
import type { Config } from '../server/config/types.js';
import { openHandleUnderRoot } from '../server/files/safe-open.js';
import { sendServedFile } from '../server/http/send-file.js';
import { openFds } from './helpers/tftp-fixtures.js';

const dir = mkdtempSync(path.join(tmpdir(), 'rbt-tftp-safe-'));
const root = path.join(dir, 'root');
mkdirSync(path.join(root, 'sub'), { recursive: true });
writeFileSync(path.join(root, 'sub', 'a.txt'), 'hello');
writeFileSync(path.join(dir, 'secret'), 'outside');
symlinkSync('../secret', path.join(root, 'escape'));
symlinkSync('sub/a.txt', path.join(root, 'inside'));
symlinkSync(dir, path.join(root, 'updir'));
after(() => rmSync(dir, { recursive: true, force: true }));

async function refusal(relative: string): Promise<string> {
  try {
    await (await openHandleUnderRoot(root, relative)).handle.close();
  } catch (error) {
    return (error as { code: string }).code;
  }
  return 'served';
}

test('files and symlinks inside the root are opened, with real path and size', async () => {
  const file = await openHandleUnderRoot(root, 'sub/a.txt');
  await file.handle.close();
  assert.deepEqual([file.path, file.size], [path.join(root, 'sub', 'a.txt'), 5]);
  const opened = await openHandleUnderRoot(root, 'inside');
  assert.equal((await opened.handle.readFile()).toString(), 'hello');
  await opened.handle.close();
});

test('.., absolute paths, backslashes, NUL bytes and symlinks out of the root are RB_PATH_TRAVERSAL', async () => {
  for (const bad of ['../secret', 'sub/../../secret', '/etc/passwd', 'sub\\a.txt', 'sub/a.txt\0', 'escape', 'updir/secret', '']) {
    assert.equal(await refusal(bad), 'RB_PATH_TRAVERSAL', JSON.stringify(bad));
  }
});

test('missing files, directories and a missing root are RB_NOT_FOUND', async () => {
  assert.equal(await refusal('nope'), 'RB_NOT_FOUND');
  assert.equal(await refusal('sub'), 'RB_NOT_FOUND');
  assert.equal(await refusal('sub/a.txt/x'), 'RB_NOT_FOUND');
  assert.equal(await openHandleUnderRoot(path.join(dir, 'missing-root'), 'a').catch((e: { code: string }) => e.code), 'RB_NOT_FOUND');
});

test('a shared asset is served through the descriptor it was checked with: a symlink swapped in afterwards is not followed', async () => {
  const assetsDir = path.join(dir, 'assets');
  mkdirSync(path.join(assetsDir, 'firmware'), { recursive: true });
  const asset = path.join(assetsDir, 'firmware', 'start4.elf');
  writeFileSync(asset, 'firmware');
  // shared() reads only the assets directory from its dependencies.
  const files = new BootFiles({ assetsDir } as Config, undefined as never, undefined as never, undefined as never, undefined as never);
  const served = await files.shared('start4.elf', ['firmware']);
  // As long as the asset, so a by-path reopen would serve it whole.
  writeFileSync(path.join(dir, 'private'), 'PRIVATE!');
  symlinkSync(path.join(dir, 'private'), `${asset}.swap`);
  renameSync(`${asset}.swap`, asset);
  const app = Fastify();
  app.get('/f', (request, reply) => sendServedFile(request, reply, served, 'application/octet-stream'));
  try {
    const response = await app.inject({ url: '/f' });
    assert.equal(response.body, 'firmware');
  } finally {
    await app.close();
  }
});

test("an open asset's descriptor is closed however the response ends: 200, 206, 416, HEAD, empty file", async () => {
  const firmware = path.join(dir, 'fds', 'firmware');
  mkdirSync(firmware, { recursive: true });
  writeFileSync(path.join(firmware, 'a.bin'), 'abcdefgh');
  writeFileSync(path.join(firmware, 'empty.bin'), '');
  const files = new BootFiles({ assetsDir: path.dirname(firmware) } as Config, undefined as never, undefined as never, undefined as never, undefined as never);
  const app = Fastify();
  app.get<{ Querystring: { name: string } }>('/f', async (request, reply) =>
    sendServedFile(request, reply, await files.shared(request.query.name, ['firmware']), 'application/octet-stream'),
  );
  const baseline = openFds(process.pid);
  try {
    const answers = [
      await app.inject({ url: '/f?name=a.bin' }),
      await app.inject({ url: '/f?name=a.bin', headers: { range: 'bytes=2-4' } }),
      await app.inject({ url: '/f?name=a.bin', headers: { range: 'bytes=50-60' } }),
      await app.inject({ method: 'HEAD', url: '/f?name=a.bin' }),
      await app.inject({ url: '/f?name=empty.bin' }),
    ];
    assert.deepEqual(answers.map((r) => [r.statusCode, r.body]), [[200, 'abcdefgh'], [206, 'cde'], [416, ''], [200, ''], [200, '']]);
    await new Promise((resolve) => setTimeout(resolve, 100)); // closes complete on the next turns
    assert.equal(openFds(process.pid), baseline);
  } finally {
    await app.close();
  }
});

test('refusals never name the served directory: their messages reach TFTP and HTTP clients', async () => {
  for (const [where, relative] of [[root, 'nope'], [root, 'escape'], [root, '../secret'], [path.join(dir, 'missing-root'), 'a']] as const) {
    const message = await openHandleUnderRoot(where, relative).then(
      () => assert.fail(`${relative} opened`),
      (error: Error) => error.message,
    );
    assert.ok(!message.includes(dir), `${relative}: ${message}`);
  }
});
