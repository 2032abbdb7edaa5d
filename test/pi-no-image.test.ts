// A Pi with no image asking for its config.txt over TFTP (real clients: tftp-hpa prints the
// server's ERROR text, curl fetches): it is told the node has no image and how to assign one, the
// refusal is stored with reason RB_NO_IMAGE, and its boot is a failure (RB_BOOT_PI_NO_IMAGE),
// not "served, 0 B". Once assigned, config.txt is served and the boot fails no more.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { startDaemon, type RunningDaemon } from './helpers/daemon.js';
import { api, fakeImageFiles, getText } from './helpers/fixtures.js';
import { eventsWhen, until } from './helpers/wait.js';
import type { Boot } from '../server/timeline/types.js';

const run = promisify(execFile);
const SERIAL = '0d0c0b0a';
const NO_IMAGE = new RegExp(`config\\.txt: node ${SERIAL} has no image assigned .*rackboot node assign ${SERIAL} IMAGE`);

describe('a Pi with no image asks for config.txt', { timeout: 60_000 }, () => {
  let daemon: RunningDaemon;
  const dir = mkdtempSync(path.join(tmpdir(), 'rbt-pi-no-image-'));
  const image = fakeImageFiles();

  before(async () => {
    daemon = await startDaemon();
  });
  after(async () => {
    await daemon.stop();
    rmSync(dir, { recursive: true, force: true });
    rmSync(image.dir, { recursive: true, force: true });
  });

  const lastBoot = async () => (JSON.parse((await getText(`${daemon.httpUrl}/timeline/${SERIAL}`)).text) as Boot[]).at(-1);

  it('the TFTP error says the node has no image and how to assign one; the event and the timeline say so with a code', async () => {
    // tftp-hpa prints the ERROR packet's text and exits 0 all the same.
    const hpa = await run('tftp', ['127.0.0.1', String(daemon.tftpPort), '-m', 'binary', '-c', 'get', `${SERIAL}/config.txt`, path.join(dir, 'hpa')]);
    assert.match(hpa.stdout + hpa.stderr, /Error code 1: /);
    assert.match(hpa.stdout + hpa.stderr, NO_IMAGE);
    await assert.rejects(run('curl', ['-sS', '-o', path.join(dir, 'curl'), `tftp://127.0.0.1:${daemon.tftpPort}/${SERIAL}/config.txt`]), /exit code 68|TFTP|Command failed/);

    const events = await eventsWhen(daemon, SERIAL, (list) => list.filter((event) => event.kind === 'tftp-refused').length >= 2);
    const refused = events.find((event) => event.kind === 'tftp-refused')!;
    assert.equal(refused.detail['reason'], 'RB_NO_IMAGE');
    assert.equal(refused.detail['errorCode'], 1);
    assert.match(String(refused.detail['error']), NO_IMAGE);

    const boot = (await lastBoot())!;
    assert.equal(boot.outcome, 'failed', JSON.stringify(boot));
    assert.equal(boot.failure?.code, 'RB_BOOT_PI_NO_IMAGE');
    assert.match(boot.failure!.message, /config\.txt .*no image assigned/);
    assert.match(boot.failure!.whatToDo, new RegExp(`rackboot node assign ${SERIAL} IMAGE`));
    assert.equal(boot.stages.find((stage) => stage.name === 'tftp')?.outcome, 'failed');
  });

  it('once an image is assigned, config.txt is served and the boot is no longer a failure', async () => {
    assert.equal((await api(daemon, 'POST', '/images', { name: 'pi', arch: 'arm64', kernel: image.kernel, initrd: image.initrd })).status, 201);
    assert.equal((await api(daemon, 'PUT', `/nodes/${SERIAL}/assignment`, { image: 'pi' })).status, 200);
    const out = path.join(dir, 'config.txt');
    await run('curl', ['-sS', '-o', out, `tftp://127.0.0.1:${daemon.tftpPort}/${SERIAL}/config.txt`]);
    assert.ok(readFileSync(out).length > 0);
    await eventsWhen(daemon, SERIAL, (list) => list.some((event) => event.kind === 'tftp-complete'));
    const boot = await until('the boot without failure', async () => {
      const last = await lastBoot();
      return last && last.failure === null ? last : undefined;
    });
    assert.notEqual(boot.outcome, 'failed');
  });

  it('a file of the shared firmware still comes from there, and a missing one is not blamed on the image', async () => {
    assert.equal((await api(daemon, 'PUT', `/nodes/${SERIAL}/assignment`, { image: null })).status, 200);
    const hpa = await run('tftp', ['127.0.0.1', String(daemon.tftpPort), '-m', 'binary', '-c', 'get', `${SERIAL}/start4.elf`, path.join(dir, 'fw')]);
    assert.match(hpa.stdout + hpa.stderr, /start4\.elf is not in assetsDir\/firmware/);
  });
});
