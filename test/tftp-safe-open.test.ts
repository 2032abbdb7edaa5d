import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { openHandleUnderRoot, openUnderRoot } from '../server/files/safe-open.js';

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
    await openUnderRoot(root, relative);
  } catch (error) {
    return (error as { code: string }).code;
  }
  return 'served';
}

test('files and symlinks inside the root are opened, with real path and size', async () => {
  assert.deepEqual(await openUnderRoot(root, 'sub/a.txt'), { path: path.join(root, 'sub', 'a.txt'), size: 5 });
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
  assert.equal(await openUnderRoot(path.join(dir, 'missing-root'), 'a').catch((e: { code: string }) => e.code), 'RB_NOT_FOUND');
});
