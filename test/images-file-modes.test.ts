/**
 * What rackboot writes under dataDir (inventory, image store) is the daemon's alone, even when
 * the process runs with a umask of 000.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { mainJs, testConfig } from './helpers/daemon.js';
import { fakeImageFiles } from './helpers/fixtures.js';

/** Runs the CLI with umask 000 (the shell sets it, then becomes node). */
function runWithOpenUmask(args: string[]): Promise<{ code: number | null; stderr: string }> {
  const child = spawn('sh', ['-c', 'umask 000 && exec "$0" "$@"', process.execPath, mainJs, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve) => child.once('close', (code) => resolve({ code, stderr })));
}

const modeOf = (target: string) => statSync(target).mode & 0o777;

describe('file modes under dataDir', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'rackboot-modes-'));
  const files = fakeImageFiles(1000, 2000);
  after(() => {
    rmSync(dir, { recursive: true, force: true });
    rmSync(files.dir, { recursive: true, force: true });
  });

  it('with umask 000, the data dir is 0700 and the database and blobs 0600', async () => {
    const config = testConfig(dir);
    const configFile = path.join(dir, 'config.json');
    writeFileSync(configFile, JSON.stringify(config));
    const result = await runWithOpenUmask(['--config', configFile, 'image', 'add', '--name', 'modes', '--kernel', files.kernel, '--initrd', files.initrd]);
    assert.equal(result.code, 0, result.stderr);

    const dataDir = config['dataDir'] as string;
    assert.equal(modeOf(dataDir).toString(8), '700');
    const databaseFiles = readdirSync(dataDir).filter((name) => name.startsWith('rackboot.sqlite'));
    assert.ok(databaseFiles.includes('rackboot.sqlite'));
    for (const name of databaseFiles) assert.equal(modeOf(path.join(dataDir, name)).toString(8), '600', name);

    const blobs = path.join(dataDir, 'blobs');
    let blobCount = 0;
    for (const entry of readdirSync(blobs, { recursive: true, withFileTypes: true })) {
      const full = path.join(entry.parentPath, entry.name);
      if (entry.isDirectory()) assert.equal(modeOf(full).toString(8), '700', full);
      else {
        assert.equal(modeOf(full).toString(8), '600', full);
        blobCount += 1;
      }
    }
    assert.equal(blobCount, 2);
  });
});
