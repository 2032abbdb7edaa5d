/**
 * The daemon going away under load. SIGTERM during a 20-client TFTP storm: it exits 0 at once,
 * and every client either has its whole file or was told by a TFTP ERROR (no client hangs).
 * SIGTERM with hostile HTTP clients (a body trickled after its 401, trickled headers, a download
 * read slowly): the drain cuts them after http.shutdownGraceMs, and every event is stored.
 * kill -9 during a boot (chain script, kernel over HTTP, Pi files over TFTP): after a restart on
 * the same data the node boots on its retry, and the database is intact.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { request } from 'undici';
import { startDaemon, type RunningDaemon } from './helpers/daemon.js';
import { api, fakeImageFiles, getBytes, getText, sha256 } from './helpers/fixtures.js';
import { runStorm, stormAssets, type StormFile, type StormResult } from './helpers/lossy-storm.js';
import { parsePrometheus, sampleValue } from './helpers/prometheus.js';
import { rawConnect, trickle, type RawConnection } from './helpers/raw-http.js';
import { until, within } from './helpers/wait.js';

const run = promisify(execFile);
const MiB = 1024 * 1024;
const CLIENTS = 20;
const EXIT_LIMIT_MS = 10_000;

/**
 * The client heard an ERROR from the server: tftp-hpa prints its text (then exits 0), atftp says
 * "error received from server" (its output can end before the text under load), curl only exits
 * 71, its code for a TFTP ERROR 0 from the server.
 */
function toldToStop(result: StormResult): boolean {
  if (result.tool === 'curl') return result.code === 71;
  if (result.tool === 'atftp') return /error received from server/.test(result.output);
  return /server shutting down/.test(result.output);
}

async function inFlight(daemon: RunningDaemon): Promise<number> {
  const text = await (await request(`${daemon.httpUrl}/metrics`)).body.text();
  return sampleValue(parsePrometheus(text), 'rackboot_tftp_transfers_in_flight');
}

describe('SIGTERM during a TFTP storm', { timeout: 180_000 }, () => {
  let daemon: RunningDaemon;
  let assets: { dir: string; files: StormFile[] };

  before(async () => {
    assets = stormAssets(Array(4).fill(32 * MiB));
    daemon = await startDaemon({ config: { assetsDir: assets.dir, tftp: { maxTransfersPerClient: 32 } } });
  });
  after(async () => {
    await daemon?.stop('SIGKILL');
    if (assets) rmSync(assets.dir, { recursive: true, force: true });
  });

  it('exits 0 promptly and ends every transfer with a whole file or a TFTP error', async (t) => {
    let exitCode: Promise<number | null> | undefined;
    const storm = runStorm({
      host: '127.0.0.1',
      port: daemon.tftpPort,
      files: assets.files,
      clients: CLIENTS,
      timeoutMs: 30_000,
      onStarted: () => {
        exitCode = (async () => {
          // Signal once every transfer runs, so the signal lands mid-storm (bounded wait); an RRQ
          // that came after the listener closed would get no TFTP answer at all.
          for (let poll = 0; poll < 400 && (await inFlight(daemon)) < CLIENTS; poll++) await new Promise((resolve) => setTimeout(resolve, 25));
          return within(daemon.stop('SIGTERM'), EXIT_LIMIT_MS, 'exit after SIGTERM');
        })();
      },
    });
    const results = await storm;
    assert.equal(await exitCode, 0, `daemon output:\n${daemon.output().slice(-3000)}`);
    const whole = results.filter((r) => r.sha256 === r.file.sha256);
    const told = results.filter((r) => r.sha256 !== r.file.sha256 && toldToStop(r));
    t.diagnostic(`${whole.length} clients got their whole file, ${told.length} got the server's "shutting down" ERROR`);
    for (const r of results) {
      assert.ok(!r.timedOut, `client ${r.client} (${r.tool}) hung: ${r.output}`);
      if (r.sha256 !== r.file.sha256) assert.ok(toldToStop(r), `client ${r.client} (${r.tool}) has a partial file without the server's ERROR: exit ${r.code}, ${r.output}`);
    }
    assert.ok(told.length > 0, 'no transfer was in flight at SIGTERM: the test proved nothing');
  });
});

const MAC = '52:54:00:4b:11:09';
const SERIAL = '4b1109aa';

describe('kill -9 during a boot, then restart', { timeout: 180_000 }, () => {
  let dir: string;
  let image: ReturnType<typeof fakeImageFiles>;
  let assets: { dir: string; files: StormFile[] };
  let firmware: StormFile;
  let daemon: RunningDaemon | undefined;
  const start = () => startDaemon({ dir, config: { assetsDir: assets.dir } });

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'rbt-hostile-restart-'));
    image = fakeImageFiles(24 * MiB, 8 * MiB);
    assets = stormAssets([]);
    const firmwareData = randomBytes(2 * MiB);
    writeFileSync(path.join(assets.dir, 'firmware', 'start4.elf'), firmwareData);
    firmware = { name: 'start4.elf', sha256: sha256(firmwareData), size: firmwareData.length };
    daemon = await start();
    assert.equal((await api(daemon, 'POST', '/images', { name: 'hostile', arch: 'any', kernel: image.kernel, initrd: image.initrd })).status, 201);
    for (const node of [MAC, SERIAL]) assert.equal((await api(daemon, 'PUT', `/nodes/${node}/assignment`, { image: 'hostile' })).status, 200);
  });
  after(async () => {
    await daemon?.stop('SIGKILL');
    for (const each of [dir, image?.dir, assets?.dir]) if (each) rmSync(each, { recursive: true, force: true });
  });

  const tftp = (d: RunningDaemon, file: string, maxSeconds = 30) =>
    run('curl', ['-sS', '--max-time', String(maxSeconds), '--tftp-blksize', '1468', `tftp://127.0.0.1:${d.tftpPort}/${file}`], { encoding: 'buffer', maxBuffer: 64 * MiB }).then(
      ({ stdout }) => stdout,
    );

  /** One whole boot: the iPXE chain and its kernel + initrd over HTTP, and a Pi's files over TFTP. */
  async function boot(d: RunningDaemon) {
    const chain = await getText(`${d.httpUrl}/chain?mac=${encodeURIComponent(MAC)}&arch=x86_64&uefi=true`);
    assert.equal(chain.status, 200);
    const kernelUrl = /^kernel (\S+)/m.exec(chain.text)?.[1];
    const initrdUrl = /^initrd (\S+)/m.exec(chain.text)?.[1];
    assert.ok(kernelUrl && initrdUrl, `not a boot script:\n${chain.text}`);
    const [kernel, initrd, config, piKernel, piFirmware] = await Promise.all([
      getBytes(kernelUrl),
      getBytes(initrdUrl),
      tftp(d, `${SERIAL}/config.txt`),
      tftp(d, `${SERIAL}/kernel8.img`),
      tftp(d, `${SERIAL}/start4.elf`),
    ]);
    assert.equal(sha256(kernel.data), sha256(image.kernelData), 'kernel over HTTP');
    assert.ok(initrd.data.length >= image.initrdData.length, 'initrd over HTTP');
    assert.ok(config.length > 0, 'config.txt over TFTP');
    assert.equal(sha256(piKernel), sha256(image.kernelData), 'kernel8.img over TFTP');
    assert.equal(sha256(piFirmware), firmware.sha256, 'start4.elf over TFTP');
    return sha256(initrd.data);
  }

  it('boots on the retry after a restart, with the database intact', async (t) => {
    const initrdSha = await boot(daemon!);
    await new Promise((resolve) => setTimeout(resolve, 500)); // let the event batch reach SQLite
    const eventsBefore = (await api(daemon!, 'GET', `/nodes/${MAC}/events?limit=10000`)).json as unknown[];
    const assignmentsBefore = (await api(daemon!, 'GET', `/nodes/${MAC}/assignments`)).json as unknown[];
    assert.ok(eventsBefore.length > 0 && assignmentsBefore.length > 0);

    // Second boot, cut off: the kernel download has started (HTTP and TFTP) when the process dies.
    const chain = await getText(`${daemon!.httpUrl}/chain?mac=${encodeURIComponent(MAC)}&arch=x86_64&uefi=true`);
    const kernelUrl = /^kernel (\S+)/m.exec(chain.text)![1]!;
    const slow = await request(kernelUrl);
    const reader = slow.body[Symbol.asyncIterator]();
    await reader.next(); // headers and a first chunk are in: the transfer is under way
    const piKernel = tftp(daemon!, `${SERIAL}/kernel8.img`, 5).then(
      () => 'whole',
      (error: Error) => error.message,
    );
    await new Promise((resolve) => setTimeout(resolve, 50));
    const killed = daemon!;
    daemon = undefined;
    killed.kill();
    assert.equal(await within(killed.stop(), EXIT_LIMIT_MS, 'exit after SIGKILL'), null);
    const httpCut = await (async () => {
      for (let chunk = 0; chunk < 10_000; chunk++) if ((await reader.next()).done) return 'ended';
      return 'too long';
    })().catch((error: Error) => error.message);
    t.diagnostic(`cut off: HTTP kernel ${httpCut}; TFTP kernel8.img ${await within(piKernel, 15_000, 'curl after kill')}`);

    daemon = await start();
    assert.equal(await boot(daemon), initrdSha, 'the retry gets the same initrd');
    const assignmentsAfter = (await api(daemon, 'GET', `/nodes/${MAC}/assignments`)).json as unknown[];
    const eventsAfter = (await api(daemon, 'GET', `/nodes/${MAC}/events?limit=10000`)).json as unknown[];
    assert.deepEqual(assignmentsAfter, assignmentsBefore);
    assert.ok(eventsAfter.length > eventsBefore.length, `events before ${eventsBefore.length}, after ${eventsAfter.length}`);
    assert.equal(await daemon.stop(), 0);
    daemon = undefined;

    const db = new Database(path.join(dir, 'data', 'rackboot.sqlite'), { readonly: true });
    try {
      assert.deepEqual(db.pragma('integrity_check'), [{ integrity_check: 'ok' }]);
      assert.deepEqual(db.pragma('foreign_key_check'), []);
    } finally {
      db.close();
    }
  });
});

const HOSTILE_MAC = '52:54:00:4b:11:0a';

describe('SIGTERM with hostile HTTP connections open', { timeout: 120_000 }, () => {
  let dir: string;
  let image: ReturnType<typeof fakeImageFiles>;
  let daemon: RunningDaemon | undefined;
  const hostile: RawConnection[] = [];

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'rbt-hostile-http-'));
    image = fakeImageFiles(64 * MiB, 1024);
    // The request and idle timeouts stay at their 30 s defaults: only the drain can end these clients in time.
    daemon = await startDaemon({ dir, config: { http: { shutdownGraceMs: 1000 } } });
    assert.equal((await api(daemon, 'POST', '/images', { name: 'hostile', arch: 'x86_64', kernel: image.kernel, initrd: image.initrd })).status, 201);
    assert.equal((await api(daemon, 'PUT', `/nodes/${HOSTILE_MAC}/assignment`, { image: 'hostile' })).status, 200);
  });
  after(async () => {
    for (const connection of hostile) connection.close();
    await daemon?.stop('SIGKILL');
    for (const each of [dir, image?.dir]) if (each) rmSync(each, { recursive: true, force: true });
  });

  it('exits 0 within the bounded drain, cuts every hostile connection and stores every event', async (t) => {
    const d = daemon!;
    const connect = async () => {
      const connection = await rawConnect(d.httpUrl);
      hostile.push(connection);
      return connection;
    };
    // Every event as the daemon announced it, to compare with what it stored.
    const live = await connect();
    live.socket.write('GET /live HTTP/1.1\r\nhost: rackboot\r\n\r\n');
    await until('/live open', () => (/rackboot live events/.test(live.received()) ? true : undefined));

    const body = await connect();
    body.socket.write('POST /api/v1/images HTTP/1.1\r\nhost: rackboot\r\ncontent-type: application/json\r\ncontent-length: 100000\r\nauthorization: Bearer wrong-token-0000000000\r\n\r\n{');
    await until('the 401', () => (/^HTTP\/1\.1 401/.test(body.received()) ? true : undefined));
    const bodyTrickle = trickle(body, 'x', 100, 600);
    const headers = await connect();
    headers.socket.write('GET /healthz HTTP/1.1\r\nhost: rackboot\r\nx-slow: ');
    const headerTrickle = trickle(headers, 'y', 100, 600);

    const chain = await getText(`${d.httpUrl}/chain?mac=${encodeURIComponent(HOSTILE_MAC)}&arch=x86_64&uefi=true`);
    const kernelPath = new URL(/^kernel (\S+)/m.exec(chain.text)![1]!).pathname;
    const reader = await rawConnect(d.httpUrl, { paused: true });
    hostile.push(reader);
    reader.socket.write(`GET ${kernelPath} HTTP/1.1\r\nhost: rackboot\r\n\r\n`);
    // About 640 KiB/s: the 64 MiB kernel would take over a minute and a half, and the socket is never idle.
    let readBytes = 0;
    const slowRead = setInterval(() => {
      for (let chunk; (chunk = reader.socket.read(64 * 1024) as Buffer | null); ) readBytes += chunk.length;
    }, 100);
    let exit: number | null;
    try {
      await until('the download under way', () => (readBytes > 0 ? true : undefined));
      // The last event is recorded just before the signal: still in the recorder's batch when it lands.
      assert.equal((await getText(`${d.httpUrl}/chain?mac=${encodeURIComponent(HOSTILE_MAC)}&arch=x86_64&uefi=true`)).status, 200);
      exit = await within(d.stop('SIGTERM'), EXIT_LIMIT_MS, 'exit after SIGTERM with hostile HTTP clients');
      daemon = undefined;
    } finally {
      clearInterval(slowRead);
      reader.socket.resume();
    }
    assert.equal(exit, 0, d.output().slice(-3000));
    for (const [name, connection] of Object.entries({ live, body, headers, reader })) {
      assert.deepEqual(await within(connection.closed, 5000, `${name} closed`), { byServer: true }, name);
    }
    const trickled = [await bodyTrickle, await headerTrickle];
    assert.ok(readBytes < image.kernelData.length && trickled.every((sent) => sent < 600), 'a hostile client ran to its end: the test proved nothing');
    t.diagnostic(`at exit: ${readBytes} of ${image.kernelData.length} kernel bytes read, ${trickled.join(' and ')} bytes trickled`);

    const announced = [...live.received().matchAll(/^data: (.*)$/gm)].map((match) => JSON.parse(match[1]!) as { at: number; source: string; kind: string });
    const db = new Database(path.join(dir, 'data', 'rackboot.sqlite'), { readonly: true });
    try {
      const stored = db.prepare('SELECT at, source, kind FROM events').all() as { at: number; source: string; kind: string }[];
      const keys = new Set(stored.map((event) => `${event.at} ${event.source} ${event.kind}`));
      const lost = announced.filter((event) => !keys.has(`${event.at} ${event.source} ${event.kind}`));
      assert.deepEqual(lost, [], `announced on /live but not stored (${announced.length} announced, ${stored.length} stored)`);
      const chains = stored.filter((event) => event.kind === 'chain').length;
      assert.equal(chains, 2, 'both chain requests, the last one just before SIGTERM, are stored');
    } finally {
      db.close();
    }
  });
});
