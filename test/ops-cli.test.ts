import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import dgram from 'node:dgram';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { mainJs, repoRoot, runCli, startDaemon, testConfig, type RunningDaemon } from './helpers/daemon.js';
import { api, fakeImageFiles, getText } from './helpers/fixtures.js';
import { openInventory } from '../server/inventory/index.js';
import { parseMac } from '../server/net/mac.js';
import type { DoctorReport } from '../server/cli/doctor.js';

const run = promisify(execFile);
const PI_MAC = parseMac('dc:a6:32:00:00:07')!;
const PI_SERIAL = '0a0b0c07';

/** Runs `rackboot events --follow` until it has printed `count` events; resolves once it is listening. */
function follow(daemon: RunningDaemon, args: string[]) {
  const child = spawn(process.execPath, [mainJs, '--config', daemon.configFile, 'events', '--follow', '--url', daemon.httpUrl, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  const listening = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`events --follow did not start:\n${stderr}`)), 10_000);
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      if (stderr.includes('following boot events')) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  return { listening, done: exited.then((code) => ({ code, stdout, stderr })), kill: () => child.kill() };
}

describe('CLI: events --follow, node show with the last boot, event retention', () => {
  let daemon: RunningDaemon;
  const image = fakeImageFiles(10_000, 20_000);
  const dir = mkdtempSync(path.join(tmpdir(), 'rbt-ops-cli-'));

  before(async () => {
    // An event older than the retention, written before the daemon starts: pruned at start-up.
    const config = testConfig(dir, {});
    const inventory = openInventory(config['dataDir'] as string);
    const node = inventory.nodes.observe({ mac: PI_MAC, serial: PI_SERIAL, model: 'pi4', arch: 'arm64' });
    inventory.events.insert({ nodeId: node.id, at: Date.now() - 3 * 86_400_000, source: 'dhcp', kind: 'discover', detail: { old: true } });
    inventory.close();
    daemon = await startDaemon({ dir, config: { events: { retentionDays: 2 } } });
    assert.equal((await api(daemon, 'POST', '/images', { name: 'rack', arch: 'arm64', kernel: image.kernel, initrd: image.initrd })).status, 201);
    assert.equal((await api(daemon, 'PUT', `/nodes/${PI_SERIAL}/assignment`, { image: 'rack' })).status, 200);
  });
  after(async () => {
    await daemon.stop();
    rmSync(dir, { recursive: true, force: true });
    rmSync(image.dir, { recursive: true, force: true });
  });

  it('events older than events.retentionDays are pruned', async () => {
    const events = (await api(daemon, 'GET', `/nodes/${PI_SERIAL}/events`)).json as unknown as { detail: Record<string, unknown> }[];
    assert.ok(!events.some((event) => event.detail['old']), JSON.stringify(events));
    assert.match(daemon.output(), /pruned old boot events/);
  });

  it('events --follow --json prints each live event of the node as one JSON line (NDJSON)', async () => {
    const watcher = follow(daemon, [PI_SERIAL, '--json', '--count', '3']);
    await watcher.listening;
    await getText(`${daemon.httpUrl}/chain?mac=52:54:00:00:00:99`); // another node: filtered out
    await run('curl', ['-sS', '--max-time', '10', '-o', '/dev/null', `tftp://127.0.0.1:${daemon.tftpPort}/${PI_SERIAL}/config.txt`]);
    await getText(`${daemon.httpUrl}/boot/${PI_SERIAL}/initrd.img`);
    await getText(`${daemon.httpUrl}/booted?serial=${PI_SERIAL}`);
    const { code, stdout } = await watcher.done;
    assert.equal(code, 0);
    const lines = stdout.trim().split('\n').map((line) => JSON.parse(line) as { source: string; kind: string; nodeId: number; at: number; detail: Record<string, unknown> });
    assert.deepEqual(lines.map((event) => `${event.source}/${event.kind}`), ['tftp/tftp-complete', 'http/file', 'node/booted']);
    assert.deepEqual(Object.keys(lines[0]!).sort(), ['at', 'detail', 'kind', 'nodeId', 'source']);
    assert.equal(lines[0]!.detail['file'], `${PI_SERIAL}/config.txt`);
  });

  it('events --follow for people prints one line per event; a daemon that is not there is a clear error', async () => {
    const watcher = follow(daemon, ['--count', '1']);
    await watcher.listening;
    await getText(`${daemon.httpUrl}/chain?mac=52:54:00:00:00:98`);
    const { code, stdout } = await watcher.done;
    assert.equal(code, 0);
    assert.match(stdout, /^\d{4}-\d\d-\d\dT[\d:]+Z\s+52:54:00:00:00:98\s+http\s+chain-wait/);

    const down = await runCli(['events', '--follow', '--url', 'http://127.0.0.1:9'], daemon.configFile);
    assert.equal(down.code, 1);
    assert.match(down.stderr, /cannot reach the daemon at http:\/\/127\.0\.0\.1:9.*\[RB_DAEMON_UNREACHABLE\]/);
    const ephemeral = await runCli(['events', '--follow'], daemon.configFile);
    assert.match(ephemeral.stderr, /pass the daemon URL with --url/);
  });

  it('doctor sees the running daemon and leaves its ports alone', async () => {
    const result = await runCli(['doctor', '--json', '--url', daemon.httpUrl], daemon.configFile);
    const report = JSON.parse(result.stdout) as DoctorReport;
    assert.deepEqual(report.daemon, { url: daemon.httpUrl, running: true });
    for (const id of ['port.http', 'port.tftp']) {
      const check = report.checks.find((entry) => entry.id === id)!;
      assert.equal(check.status, 'ok');
      assert.match(check.message, /in use by the running rackboot daemon/);
    }
  });

  it('node show has the last boot timeline, as text and as JSON', async () => {
    const text = await runCli(['node', 'show', PI_SERIAL], daemon.configFile);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /last boot:\s*\n\s+booted\s+started \S+\s+took [\d.]+ s\s+\d+ B over TFTP\s+image rack/);
    assert.match(text.stdout, /\+0\.00 s\s+tftp\s+[\d.]+ s\s+ok\s+tftp-complete\s+\d+ B\s+files: 0a0b0c07\/config\.txt/);
    assert.match(text.stdout, /http\s+[\d.]+ s\s+ok\s+file\s+files: initrd\.img/);
    const json = await runCli(['node', 'show', PI_SERIAL, '--json'], daemon.configFile);
    const shown = JSON.parse(json.stdout) as { lastBoot: { outcome: string; stages: { name: string }[]; failure: unknown; image: string } };
    assert.equal(shown.lastBoot.outcome, 'booted');
    assert.equal(shown.lastBoot.failure, null);
    assert.equal(shown.lastBoot.image, 'rack');
    assert.deepEqual(shown.lastBoot.stages.map((stage) => stage.name), ['tftp', 'http', 'booted']);
  });
});

describe('rackboot doctor', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'rbt-ops-doctor-'));
  const assets = path.join(dir, 'assets');
  const configFile = path.join(dir, 'config.json');
  const kernel = path.join(dir, 'Image');
  const initrd = path.join(dir, 'initramfs.cpio.gz');
  const busy = dgram.createSocket('udp4');
  let busyPort = 0;

  before(async () => {
    mkdirSync(path.join(assets, 'firmware'), { recursive: true });
    for (const file of ['start4.elf', 'bcm2711-rpi-4-b.dtb']) writeFileSync(path.join(assets, 'firmware', file), 'firmware');
    writeFileSync(kernel, Buffer.alloc(100_000, 1));
    // One byte over 65535 blocks of 1024: older Pi bootloaders truncate it.
    writeFileSync(initrd, Buffer.alloc(65535 * 1024, 2));
    await new Promise<void>((resolve) => busy.bind(0, '127.0.0.1', resolve));
    busyPort = busy.address().port;
    writeFileSync(configFile, JSON.stringify(testConfig(dir, { assetsDir: assets, tftp: { port: busyPort } }), null, 2));
    const inventory = openInventory(path.join(dir, 'data'));
    inventory.nodes.observe({ mac: PI_MAC, serial: PI_SERIAL, model: 'pi4', arch: 'arm64' });
    inventory.close();
    const added = await runCli(['image', 'add', '--name', 'fat', '--arch', 'arm64', '--kernel', kernel, '--initrd', initrd], configFile);
    assert.equal(added.code, 0, added.stderr);
  });
  after(() => {
    busy.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('reports the missing firmware file, the oversized initramfs and a port in use, each with a fix; exits 1', async () => {
    const result = await runCli(['doctor'], configFile);
    assert.equal(result.code, 1, result.stdout + result.stderr);
    const out = result.stdout;
    assert.match(out, /FAIL\s+firmware\.pi4\s+pi4: fixup4\.dat missing for 1 of 1 node\(s\)/);
    assert.match(out, new RegExp(`fix: copy fixup4\\.dat from the boot/ folder of the Raspberry Pi firmware repository .* into ${assets}/firmware/`));
    assert.match(out, /FAIL\s+image\.fat\.v1\s+fat v1: \[RB_PI_TFTP_BLOCK_ROLLOVER\] the initramfs is 67107840 bytes/);
    assert.match(out, /fix: on a Pi 4 an EEPROM update does not help .*; or shrink the initramfs below 67107840 bytes/);
    assert.match(out, new RegExp(`FAIL\\s+port\\.tftp\\s+TFTP UDP 127\\.0\\.0\\.1:${busyPort}: in use by another program`));
    assert.match(out, /ok\s+clock/);
    assert.match(out, /-\s+port\.http\s+HTTP: port 0/);
    // The test config's serverAddress is 127.0.0.1: fine for a test, and no node could reach it.
    assert.match(out, /FAIL\s+serverAddress\s+serverAddress 127\.0\.0\.1 is a loopback\/unspecified address/);
    assert.match(out, /4 failed, 0 warning\(s\)/);
  });

  it('--json is the documented stable shape', async () => {
    const result = await runCli(['doctor', '--json'], configFile);
    assert.equal(result.code, 1);
    const report = JSON.parse(result.stdout) as DoctorReport;
    assert.deepEqual(Object.keys(report), ['ok', 'config', 'daemon', 'checks']);
    assert.equal(report.ok, false);
    assert.deepEqual(report.daemon, { url: null, running: false });
    assert.deepEqual(
      report.checks.map((check) => `${check.id}:${check.status}`),
      [
        'config:ok',
        'clock:ok',
        'serverAddress:fail',
        'adminToken:ok',
        'port.http:skip',
        'port.tftp:fail',
        'firmware.pi4:fail',
        'firmware.refused:ok',
        'image.fat.v1:fail',
        'http-boot:skip',
        'dhcp:ok',
      ],
    );
    for (const check of report.checks) {
      assert.ok(Object.keys(check).every((key) => ['id', 'status', 'message', 'fix'].includes(key)));
      if (check.status === 'fail') assert.ok(check.fix, `${check.id} has a fix`);
    }
  });

  it('an invalid config is one failed check naming the field', async () => {
    const bad = path.join(dir, 'bad.json');
    writeFileSync(bad, JSON.stringify({ serverAddress: '127.0.0.1', dataDir: 'x', http: { prot: 80 } }));
    const result = await runCli(['doctor', '--json'], bad);
    assert.equal(result.code, 1);
    const report = JSON.parse(result.stdout) as DoctorReport;
    assert.equal(report.checks[0]!.id, 'config');
    assert.match(report.checks[0]!.message, /http\.prot: unknown field/);
  });
});

describe('systemd unit', () => {
  it('systemd-analyze verify accepts it; it binds low ports by capability, not as root', async () => {
    const unit = path.join(repoRoot, 'boot-assets/systemd/rackboot.service');
    const text = readFileSync(unit, 'utf8');
    assert.match(text, /^User=rackboot$/m);
    assert.match(text, /^AmbientCapabilities=CAP_NET_BIND_SERVICE$/m);
    assert.match(text, /^StateDirectory=rackboot$/m);
    const { stderr } = await run('systemd-analyze', ['verify', unit]);
    assert.doesNotMatch(stderr, /rackboot\.service:\d+:/, stderr);
  });
});
