// The daemon's signals as a service manager sends them: SIGHUP re-reads the config (defaultImage
// applies live, a broken file changes nothing and is logged), SIGTERM lets an in-flight boot file
// download finish before the process exits 0.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { rmSync, writeFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { Client } from 'undici';
import { startDaemon, testConfig, type RunningDaemon } from './helpers/daemon.js';
import { api, fakeImageFiles, getText, sha256 } from './helpers/fixtures.js';
import { MiB } from './helpers/tftp-fixtures.js';
import { logRecords, until, within } from './helpers/wait.js';

// Far more than the loopback socket buffers hold, so the daemon is still writing when SIGTERM lands.
const BIG_INITRD = 48 * MiB;
const PROMPT_EXIT_MS = 5000;

describe('lifecycle: SIGHUP reloads, SIGTERM finishes in-flight downloads', { timeout: 120_000 }, () => {
  let daemon: RunningDaemon;
  const small = fakeImageFiles(1000, 1000);
  const big = fakeImageFiles(1000, BIG_INITRD);
  let bigImageId = 0;
  // Each check asks for a MAC never seen before: "unknown nodes boot defaultImage".
  let unknownMacs = 0;
  const chainForUnknown = async () => {
    const mac = `52:54:00:0f:0f:${(++unknownMacs).toString(16).padStart(2, '0')}`;
    return (await getText(`${daemon.httpUrl}/chain?mac=${mac}&uefi=`)).text;
  };

  /** Rewrites the config file the daemon runs on, sends SIGHUP and waits for the log line `msg` it causes. */
  const reload = async (text: string, msg: RegExp) => {
    const seen = logRecords(daemon, msg).length;
    writeFileSync(daemon.configFile, text);
    process.kill(daemon.pid, 'SIGHUP');
    return until(`log ${msg}`, () => logRecords(daemon, msg)[seen]);
  };
  const configText = (overrides: Record<string, unknown>) => JSON.stringify(testConfig(daemon.dir, overrides), null, 2);

  before(async () => {
    daemon = await startDaemon({ config: { defaultImage: 'first' } });
    for (const [name, files] of [['first', small], ['second', big]] as const) {
      const created = await api(daemon, 'POST', '/images', { name, arch: 'x86_64', kernel: files.kernel, initrd: files.initrd });
      assert.equal(created.status, 201, JSON.stringify(created.json));
      if (name === 'second') bigImageId = (created.json!['image'] as { id: number }).id;
    }
  });
  after(async () => {
    await within(daemon.stop(), 30_000, 'daemon exit').finally(() => daemon.kill()); // kill: only if it hangs
    for (const files of [small, big]) rmSync(files.dir, { recursive: true, force: true });
  });

  it('SIGHUP applies a changed defaultImage: /chain for an unknown MAC gets the new default', async () => {
    assert.match(await chainForUnknown(), /rackboot: first v1/);
    const reloaded = await reload(configText({ defaultImage: 'second' }), /^config reloaded/);
    assert.equal(reloaded['defaultImage'], 'second');
    assert.match(await chainForUnknown(), /rackboot: second v1/);
  });

  it('a broken config on SIGHUP is logged as an error and the running config stays', async () => {
    const broken = [
      { text: '{ "serverAddress": "127.0.0.1", ', names: /is not valid JSON/ },
      { text: configText({ defaultImage: 'first', http: { port: 70_000 } }), names: /http\.port: must be <= 65535/ },
    ];
    for (const { text, names } of broken) {
      const logged = await reload(text, /kept the running config/);
      assert.equal(logged['level'], 50, 'logged at error level');
      assert.match(String(logged['msg']), names);
      assert.match(await chainForUnknown(), /rackboot: second v1/, 'defaultImage of the broken file not applied');
    }
    assert.match((await getText(`${daemon.httpUrl}/healthz`)).text, /ok/);
  });

  it('SIGTERM during a large boot file download: the whole body arrives, then the daemon exits 0 though the client keeps its connection', async () => {
    const exited = once(daemon.child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
    // Our own Client, so the test decides when the kept-alive connection goes away.
    const client = new Client(daemon.httpUrl);
    try {
      const response = await client.request({ method: 'GET', path: `/boot/52-54-00-0f-0f-ff/images/${bigImageId}/initrd.img` });
      assert.equal(response.statusCode, 200);
      assert.equal(Number(response.headers['content-length']), BIG_INITRD);
      const chunks: Buffer[] = [];
      const reader = response.body[Symbol.asyncIterator]();
      try {
        // Take one chunk, then stop reading: the daemon blocks on a full socket, mid-response.
        chunks.push((await reader.next()).value as Buffer);
        daemon.child.kill('SIGTERM');
        await until('shutdown logged', () => logRecords(daemon, /^shutting down/)[0]);
        await new Promise((resolve) => setTimeout(resolve, 300));
        assert.equal(daemon.child.exitCode, null, 'the daemon waits for the response it is sending');
        for (let next = await reader.next(); !next.done; next = await reader.next()) chunks.push(next.value as Buffer);
      } finally {
        await reader.return?.();
      }
      const body = Buffer.concat(chunks);
      assert.equal(body.length, BIG_INITRD);
      assert.equal(sha256(body), sha256(big.initrdData));
      // The client still holds its kept-alive connection (as iPXE does): that must not hold the exit.
      await within(exited, PROMPT_EXIT_MS, 'exit after the last response, the client still connected');
    } finally {
      await client.close(); // what the client does eventually; ends any wait for it
    }
    const [code, signal] = await within(exited, 10_000, 'daemon exit after SIGTERM');
    assert.deepEqual({ code, signal }, { code: 0, signal: null });
    // The child's pipes may deliver its last lines after 'exit'.
    await until('the shutdown completed', () => logRecords(daemon, /^stopped$/)[0]);
  });
});
