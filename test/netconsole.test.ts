// NETCONSOLE capture: bootloader log lines sent with socat (UDP, from a second loopback address
// reserved for a node) land on that node's boot timeline; its bootloader build is recorded and
// compared in the drift report; floods are bounded per node, in line length, and from unknown sources.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fakeEepromImage } from './helpers/eeprom-image.js';
import { startDaemon, type RunningDaemon } from './helpers/daemon.js';
import { api, getText } from './helpers/fixtures.js';
import { run } from './helpers/images-fixtures.js';
import { logRecords, until } from './helpers/wait.js';

const MAC = 'dc:a6:32:00:00:21';
const NODE_IP = '127.0.0.21';
const STRANGER_IP = '127.0.0.22';
const BURST = 40;
const MAX_LINE = 120;

interface BootJson {
  console: { at: number; line: string }[];
  stages: { name: string }[];
}

describe('NETCONSOLE capture', { timeout: 60_000 }, () => {
  let daemon: RunningDaemon;
  let port: number;
  const dir = mkdtempSync(path.join(tmpdir(), 'rackboot-netconsole-'));

  before(async () => {
    daemon = await startDaemon({
      config: {
        // A subnet is needed for the reservation that ties the sender's address to the node.
        dhcp: { enabled: false, mode: 'server', subnet: '127.0.0.0/24', pool: { start: '127.0.0.100', end: '127.0.0.200' } },
        netconsole: { enabled: true, address: '127.0.0.1', port: 0, burst: BURST, linesPerSecond: 1, maxLineBytes: MAX_LINE },
      },
    });
    port = (logRecords(daemon, /^ready$/)[0]!['ports'] as { netconsole: number }).netconsole;
    assert.equal((await api(daemon, 'PUT', `/nodes/${MAC}`, { reservedIp: NODE_IP })).status, 200);
  });
  after(async () => {
    assert.equal(await daemon.stop(), 0);
    rmSync(dir, { recursive: true, force: true });
  });

  /** One datagram per call, from `from`:6665 as the bootloader sends. */
  const send = (from: string, text: string) =>
    run('socat', ['-u', '-b', '65000', 'STDIN', `UDP4-SENDTO:127.0.0.1:${port},bind=${from}:6665`], { input: Buffer.from(text) });
  const consoleOf = async () => {
    const boots = (await getText(`${daemon.httpUrl}/timeline/${MAC}`)).text;
    return (JSON.parse(boots) as BootJson[]).flatMap((boot) => boot.console.map((entry) => entry.line));
  };

  it('puts a known node’s lines on its timeline and records the bootloader build it names', async () => {
    const image = path.join(dir, 'pieeprom-2025-01-01.bin');
    writeFileSync(image, fakeEepromImage());
    assert.equal((await api(daemon, 'POST', '/eeprom/images', { path: image })).status, 201);
    assert.equal((await api(daemon, 'PUT', `/eeprom/nodes/${MAC}`, { image: 'pieeprom-2025-01-01', settings: { NETCONSOLE: `6665@${NODE_IP}/,6666@127.0.0.1/` } })).status, 200);

    await send(NODE_IP, '  1.09 RPi: BOOTLOADER release VERSION:0123abcd DATE: 2023/01/11 TIME: 15:05:30\n  1.13 BOOTMODE: 0x06 partition 0 build-ts BUILD_TIMESTAMP=1673449530 serial 1a2b3c4d\n');
    await send(NODE_IP, 'boot: mode NETWORK 2 order f21\n');
    const lines = await until('console lines on the timeline', async () => {
      const got = await consoleOf();
      return got.length === 3 ? got : undefined;
    });
    assert.deepEqual(lines, [
      '  1.09 RPi: BOOTLOADER release VERSION:0123abcd DATE: 2023/01/11 TIME: 15:05:30',
      '  1.13 BOOTMODE: 0x06 partition 0 build-ts BUILD_TIMESTAMP=1673449530 serial 1a2b3c4d',
      'boot: mode NETWORK 2 order f21',
    ]);
    const state = (await api(daemon, 'GET', `/eeprom/nodes/${MAC}`)).json!['state'] as { reportedBuildTs: number; reportedVersion: string };
    assert.equal(state.reportedBuildTs, 1673449530);
    assert.equal(state.reportedVersion, '0123abcd');
    const drift = (await api(daemon, 'GET', '/eeprom/drift')).json as unknown as { node: string; reasons: string[] }[];
    assert.deepEqual(drift.map((entry) => entry.reasons), [['has not fetched an update yet', 'reports bootloader build 1673449530, the assigned image is 1731428000']]);
    // The page shows them with the boot.
    const page = (await getText(`${daemon.httpUrl}/?node=${MAC}`)).text;
    assert.match(page, /Bootloader console \(3 lines\)/);
    assert.match(page, /boot: mode NETWORK 2 order f21/);
  });

  it('bounds a flood: line length, lines per node, and nothing from unknown sources', async () => {
    const nodesBefore = ((await api(daemon, 'GET', '/nodes')).json as unknown[]).length;
    const flood = Array.from({ length: 2000 }, (_, i) => `flood ${i} ${'x'.repeat(i === 0 ? 5000 : 10)}`).join('\n');
    for (let i = 0; i < 5; i++) await send(NODE_IP, flood);
    for (let i = 0; i < 20; i++) await send(STRANGER_IP, 'RPi: BOOTLOADER release VERSION:deadbeef\nnot a node of ours\n');
    const lines = await until('the flood on the timeline', async () => {
      const got = await consoleOf();
      return got.some((line) => line.startsWith('flood')) ? got : undefined;
    });
    // Give the batch a moment to be written in full, then count: the bucket held BURST lines
    // (the 3 before had used a few) plus one per second since.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const flooded = (await consoleOf()).filter((line) => line.startsWith('flood'));
    assert.ok(flooded.length <= BURST + 10, `${flooded.length} flood lines kept`);
    assert.ok(flooded.length >= 10, `${flooded.length} flood lines kept`);
    assert.ok(lines.every((line) => line.length <= MAX_LINE));
    assert.equal(flooded[0], `flood 0 ${'x'.repeat(MAX_LINE - 8)}`);
    assert.ok(!(await consoleOf()).some((line) => line.includes('not a node of ours')));
    assert.equal(((await api(daemon, 'GET', '/nodes')).json as unknown[]).length, nodesBefore);
    const events = (await api(daemon, 'GET', `/nodes/${MAC}/events?limit=1000`)).json as unknown as { source: string; detail: { dropped?: number } }[];
    const dropped = events.filter((event) => event.source === 'netconsole').reduce((sum, event) => sum + (event.detail.dropped ?? 0), 0);
    // Each datagram is read up to BURST lines (the rest is not even decoded); of those, what the bucket refused is counted.
    assert.equal(dropped, 5 * BURST - flooded.length);
    const state = (await api(daemon, 'GET', `/eeprom/nodes/${MAC}`)).json!['state'] as { reportedVersion: string };
    assert.equal(state.reportedVersion, '0123abcd');
  });
});
