/**
 * Real TFTP clients (curl, atftp, tftp-hpa) against the running daemon, which serves
 * `<assetsDir>/firmware/` without a node prefix. Content is compared by sha256.
 */
import { execFile } from 'node:child_process';
import { readFileSync, rmSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { promisify } from 'node:util';
import { startDaemon, type RunningDaemon } from './helpers/daemon.js';
import { FIXTURE_SIZES, makeFixtures, MiB, type FixtureName, type Fixtures } from './helpers/tftp-fixtures.js';
import { sha256 } from './helpers/fixtures.js';

const run = promisify(execFile);

let daemon: RunningDaemon;
let fixtures: Fixtures;
let outDir: string;

before(async () => {
  fixtures = makeFixtures();
  outDir = mkdtempSync(path.join(tmpdir(), 'rbt-tftp-out-'));
  daemon = await startDaemon({ config: { assetsDir: fixtures.assetsDir, log: { level: 'info' } } });
});

after(async () => {
  await daemon?.stop();
  rmSync(fixtures.assetsDir, { recursive: true, force: true });
  rmSync(outDir, { recursive: true, force: true });
});

async function fetched(name: FixtureName, client: string, args: (out: string) => string[]): Promise<void> {
  const out = path.join(outDir, `${name}.${client}.${Math.random().toString(36).slice(2)}`);
  // 70 MiB lock-step at 512-byte blocks is 143,360 round trips: minutes on a loaded 2-core box.
  await run(client, args(out), { timeout: FIXTURE_SIZES[name] > 10 * MiB ? 300_000 : 60_000 });
  assert.equal(sha256(readFileSync(out)), fixtures.sha256[name], `${client} ${args(out).join(' ')}`);
  rmSync(out);
}

// curl 7.88 refuses an OACK carrying "tsize 0" (lib/tftp.c: "invalid tsize value in OACK"): zero.bin
// with options passes only because the server leaves tsize out for an empty file. m70.bin at
// blksize 512 needs 143,360 blocks, so the 16-bit block number rolls over twice.
describe('curl tftp://', () => {
  const url = (name: string) => `tftp://127.0.0.1:${daemon.tftpPort}/${name}`;
  for (const name of ['zero.bin', 'b511.bin', 'b512.bin', 'm1.bin', 'm70.bin'] as const) {
    test(`${name} with default options (blksize 512)`, () => fetched(name, 'curl', (out) => ['-sS', '-o', out, url(name)]));
    test(`${name} with --tftp-blksize 1468`, () => fetched(name, 'curl', (out) => ['-sS', '--tftp-blksize', '1468', '-o', out, url(name)]));
    test(`${name} with --tftp-no-options`, () => fetched(name, 'curl', (out) => ['-sS', '--tftp-no-options', '-o', out, url(name)]));
  }
});

describe('atftp with blksize 1468 and windowsize 16', () => {
  for (const name of ['zero.bin', 'b511.bin', 'b512.bin', 'm1.bin', 'm70.bin'] as const) {
    test(name, () =>
      fetched(name, 'atftp', (out) => ['--option', 'blksize 1468', '--option', 'windowsize 16', '-g', '-r', name, '-l', out, '127.0.0.1', String(daemon.tftpPort)]),
    );
  }
});

describe('tftp-hpa (lock-step, blksize 512: m70.bin rolls the block number over)', () => {
  for (const name of ['zero.bin', 'b511.bin', 'b512.bin', 'm1.bin', 'm70.bin'] as const) {
    test(name, () => fetched(name, 'tftp', (out) => ['127.0.0.1', String(daemon.tftpPort), '-m', 'binary', '-c', 'get', name, out]));
  }
});
