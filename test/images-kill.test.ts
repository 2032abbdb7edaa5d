import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { BlobStore } from '../server/images/blob-store.js';
import { slowServer, storeFiles, tempDir } from './helpers/images-fixtures.js';

const child = path.join(path.dirname(fileURLToPath(import.meta.url)), 'helpers', 'images-import-child.js');
const TOTAL = 256 * 1024 * 1024;

/** Serves a 256 MiB body at 64 KiB per 5 ms: slow enough that the import is always mid-stream. */
for (const killAfter of [64 * 1024, 1024 * 1024]) {
  test(`kill -9 after ${killAfter} bytes of an import leaves no blob; init removes the temp file; verify is clean`, async (t) => {
    const url = await slowServer(t, TOTAL);
    const root = await tempDir(t, 'kill');
    const importer = spawn(process.execPath, [child, root, url], { stdio: ['ignore', 'pipe', 'inherit'] });
    t.after(() => {
      importer.kill('SIGKILL');
    });
    const deadline = setTimeout(() => importer.kill('SIGKILL'), 20_000);
    let received = 0;
    for await (const line of createInterface({ input: importer.stdout })) {
      received = Number(line.split(' ')[1]);
      if (received >= killAfter) break;
    }
    clearTimeout(deadline);
    assert.ok(received >= killAfter, 'the child reported progress before being killed');

    const partial = await storeFiles(root);
    assert.equal(partial.length, 1, `one temp file mid-import, found ${partial.join(', ')}`);
    assert.match(partial[0]!, /^tmp\//);
    importer.kill('SIGKILL');
    const [, signal] = await once(importer, 'exit');
    assert.equal(signal, 'SIGKILL');

    const store = new BlobStore(root);
    await store.init();
    assert.deepEqual(await storeFiles(root), [], 'no partial blob and no temp leftover after restart');
    assert.deepEqual(await store.verify(), { checked: 0, bytes: 0, corrupt: [], missing: [], strays: [] });
  });
}
