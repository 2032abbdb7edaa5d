/**
 * A Pi firmware set carried by an image: registered through the API and the CLI from a directory,
 * served over TFTP (curl) under the node's serial prefix in place of the shared
 * `<assetsDir>/firmware/` files, which nodes on images without one still get.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { repoRoot, runCli, startDaemon, type RunningDaemon } from './helpers/daemon.js';
import { api, fakeImageFiles, sha256 } from './helpers/fixtures.js';

const run = promisify(execFile);
/** Writes `files` (relative path -> content) under a new directory. */
function firmwareDir(root: string, name: string, files: Record<string, Buffer>): string {
  const dir = path.join(root, name);
  for (const [file, data] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
    writeFileSync(path.join(dir, file), data);
  }
  return dir;
}

describe('image firmware sets over TFTP', { timeout: 60_000 }, () => {
  const root = mkdtempSync(path.join(tmpdir(), 'rb-images-firmware-'));
  const image = fakeImageFiles(3000, 5000);
  const shared = randomBytes(70_001);
  const apiSet = { 'start4.elf': randomBytes(50_003), 'fixup4.dat': randomBytes(4_000), 'overlays/vc4-kms-v3d.dtbo': randomBytes(3_001) };
  const cliSet = { 'start4.elf': randomBytes(20_011) };
  let daemon: RunningDaemon;

  const tftpGet = async (file: string): Promise<Buffer> =>
    (await run('curl', ['-sS', '--max-time', '10', '-o', '-', `tftp://127.0.0.1:${daemon.tftpPort}/${file}`], { encoding: 'buffer', maxBuffer: 1 << 24 }))
      .stdout;
  const cli = async (...args: string[]) => {
    const result = await runCli(args, daemon.configFile);
    assert.equal(result.code, 0, `rackboot ${args.join(' ')} failed:\n${result.stderr}`);
    return result.stdout;
  };

  before(async () => {
    const assets = path.join(root, 'assets');
    cpSync(path.join(repoRoot, 'boot-assets/templates'), path.join(assets, 'templates'), { recursive: true });
    mkdirSync(path.join(assets, 'ipxe'));
    firmwareDir(assets, 'firmware', { 'start4.elf': shared });
    daemon = await startDaemon({ config: { assetsDir: assets } });
  });
  after(async () => {
    await daemon?.stop();
    rmSync(root, { recursive: true, force: true });
    rmSync(image.dir, { recursive: true, force: true });
  });

  it('POST /api/v1/images with firmware: the node gets the image start4.elf, fixup4.dat and overlays; others the shared one', async () => {
    const created = await api(daemon, 'POST', '/images', {
      name: 'pi-fw',
      kernel: image.kernel,
      initrd: image.initrd,
      firmware: firmwareDir(root, 'fw-api', apiSet),
    });
    assert.equal(created.status, 201, JSON.stringify(created.json));
    const firmware = (created.json as unknown as { image: { firmware: Record<string, string> } }).image.firmware;
    assert.deepEqual(firmware, Object.fromEntries(Object.entries(apiSet).map(([file, data]) => [file, sha256(data)])));
    assert.equal((await api(daemon, 'POST', '/images', { name: 'plain', kernel: image.kernel })).status, 201);
    assert.equal((await api(daemon, 'PUT', '/nodes/1a2b3c4d/assignment', { image: 'pi-fw' })).status, 200);
    assert.equal((await api(daemon, 'PUT', '/nodes/0badcafe/assignment', { image: 'plain' })).status, 200);

    for (const [file, data] of Object.entries(apiSet)) assert.equal(sha256(await tftpGet(`1a2b3c4d/${file}`)), sha256(data), file);
    assert.equal(sha256(await tftpGet('0badcafe/start4.elf')), sha256(shared), 'an image without firmware: the shared file');
  });

  it('the API refuses a firmware path that is not a directory, naming the field', async () => {
    const refused = await api(daemon, 'POST', '/images', { name: 'bad-fw', kernel: image.kernel, firmware: image.kernel });
    assert.equal(refused.status, 400);
    assert.match(String(refused.json?.['message']), /^firmware: .* is not a readable directory/);
    assert.equal((await api(daemon, 'GET', '/images/bad-fw')).status, 404, 'nothing recorded');
  });

  it('rackboot image add --firmware DIR: served over TFTP and listed by image show', async () => {
    const dir = firmwareDir(root, 'fw-cli', cliSet);
    assert.match(await cli('image', 'add', '--name', 'pi-fw-cli', '--kernel', image.kernel, '--firmware', dir), /added pi-fw-cli version 1/);
    await cli('node', 'assign', 'c0ffee00', 'pi-fw-cli');
    assert.equal(sha256(await tftpGet('c0ffee00/start4.elf')), sha256(cliSet['start4.elf']));

    assert.match(await cli('image', 'show', 'pi-fw-cli'), new RegExp(`\\n  firmware start4\\.elf  ${sha256(cliSet['start4.elf'])}\\n`));
    const [shown] = JSON.parse(await cli('image', 'show', 'pi-fw-cli', '--json')) as { firmware: Record<string, string> }[];
    assert.deepEqual(shown?.firmware, { 'start4.elf': sha256(cliSet['start4.elf']) });

    mkdirSync(path.join(root, 'empty'));
    const empty = await runCli(['image', 'add', '--name', 'pi-fw-empty', '--kernel', image.kernel, '--firmware', path.join(root, 'empty')], daemon.configFile);
    assert.equal(empty.code, 1);
    assert.match(empty.stderr, /firmware: .* holds no files; give the directory with start4\.elf/);
  });
});
