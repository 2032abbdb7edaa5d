/** 100,000 seeded hostile packets into the running daemon's DHCP server, then a real client. */
import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { startDaemon, type RunningDaemon } from './helpers/daemon.js';
import { runDhclient, workDir } from './helpers/dhcp-clients.js';
import { createLab, type Lab } from './helpers/netns.js';

const sender = fileURLToPath(new URL('./helpers/dhcp-fuzz-send.js', import.meta.url));
const SEED = 0x5eed;
const COUNT = 100_000;
/** Far above the daemon's working set (~100 MB), far below what a leak of 100,000 packets would reach. */
const RSS_LIMIT_MB = 400;

function rssMb(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('VmRSS:'))!;
  return Number(line.split(/\s+/)[1]) / 1024;
}

describe('DHCP fuzz through the running daemon', () => {
  let lab: Lab;
  let daemon: RunningDaemon;
  const work = workDir();

  before(async () => {
    lab = createLab({ prefix: 'rbt-dhcp-', tag: 'fuzz', serverCidr: '10.200.0.1/16', clientCidr: '10.200.0.2/16', clientMac: '52:54:00:f0:00:01', broadcastRoutes: true });
    daemon = await startDaemon({
      netns: lab.server,
      config: {
        serverAddress: '10.200.0.1',
        log: { level: 'info' },
        http: { address: '0.0.0.0' },
        tftp: { address: '0.0.0.0' },
        dhcp: {
          enabled: true,
          mode: 'server',
          interface: 'rbs0',
          subnet: '10.200.0.0/16',
          // Large: mutated MACs take offers, and the real client must still find an address.
          pool: { start: '10.200.1.0', end: '10.200.250.255' },
          router: '10.200.0.1',
          leaseSeconds: 900,
        },
      },
    });
  });
  after(async () => {
    await daemon?.stop();
    lab?.cleanup();
    rmSync(work, { recursive: true, force: true });
  });

  it(`survives ${COUNT} seeded mutated and random packets with bounded memory, then serves dhclient`, async () => {
    const out = lab.run(lab.client, process.execPath, [sender, JSON.stringify({ to: '10.200.0.1', port: 67, count: COUNT, seed: SEED })], 120_000);
    assert.deepEqual(JSON.parse(out), { sent: COUNT });
    assert.equal(daemon.child.exitCode, null, `daemon died (seed ${SEED}):\n${daemon.output().slice(-2000)}`);
    const rss = rssMb(daemon.pid);
    assert.ok(rss < RSS_LIMIT_MB, `daemon RSS ${rss.toFixed(0)} MB after the fuzz`);
    const lease = await runDhclient(lab, work);
    assert.match(lease['new_ip_address'] ?? '', /^10\.200\./, 'a real client is still served');
  });
});
