import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { rmSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { startDaemon, type RunningDaemon } from './helpers/daemon.js';
import { runUdhcpc, workDir } from './helpers/dhcp-clients.js';
import { api, fakeImageFiles, getText } from './helpers/fixtures.js';
import { createLab, type Lab } from './helpers/netns.js';
import { parsePrometheus, sampleValue } from './helpers/prometheus.js';
import { dhcpDaemonConfig } from './helpers/dhcp-daemon.js';

const run = promisify(execFile);
const SERIAL = '5e7a1001';

async function scrape(url: string) {
  const response = await getText(`${url}/metrics`);
  assert.equal(response.status, 200);
  assert.match(String(response.headers['content-type']), /^text\/plain; version=0\.0\.4/);
  return parsePrometheus(response.text);
}

describe('/metrics: Prometheus text that an independent parser reads, counters that move', () => {
  let daemon: RunningDaemon;
  const image = fakeImageFiles(50_000, 120_000);

  before(async () => {
    daemon = await startDaemon({ config: { defaultImage: 'rack' } });
    const added = await api(daemon, 'POST', '/images', { name: 'rack', arch: 'arm64', kernel: image.kernel, initrd: image.initrd });
    assert.equal(added.status, 201);
  });
  after(async () => {
    await daemon.stop();
    rmSync(image.dir, { recursive: true, force: true });
  });

  it('a TFTP transfer moves the TFTP counters, HTTP requests are counted by route, inventory is counted', async () => {
    const before = await scrape(daemon.httpUrl);
    assert.equal(sampleValue(before, 'rackboot_tftp_transfers_total', { outcome: 'complete' }), 0);
    assert.equal(sampleValue(before, 'rackboot_images'), 1);

    const { stdout } = await run('curl', ['-sS', '--max-time', '10', `tftp://127.0.0.1:${daemon.tftpPort}/${SERIAL}/config.txt`]);
    assert.ok(stdout.length > 0, 'config.txt came over TFTP');
    await run('curl', ['-sS', '--max-time', '10', `tftp://127.0.0.1:${daemon.tftpPort}/${SERIAL}/no-such-file.bin`]).catch(() => undefined);
    await getText(`${daemon.httpUrl}/boot/${SERIAL}/cmdline.txt`);
    await getText(`${daemon.httpUrl}/booted?serial=${SERIAL}`);

    const after = await scrape(daemon.httpUrl);
    assert.equal(sampleValue(after, 'rackboot_tftp_transfers_total', { outcome: 'complete' }), 1);
    assert.equal(sampleValue(after, 'rackboot_tftp_transfers_total', { outcome: 'refused' }), 1);
    assert.equal(sampleValue(after, 'rackboot_tftp_bytes_total'), stdout.length);
    assert.equal(sampleValue(after, 'rackboot_tftp_errors_total'), 1);
    assert.equal(sampleValue(after, 'rackboot_tftp_transfers_in_flight'), 0);
    assert.equal(sampleValue(after, 'rackboot_tftp_buffered_bytes'), 0, 'the finished transfer gave its read buffer back');
    assert.ok(sampleValue(after, 'rackboot_tftp_buffered_peak_bytes') > 0, 'the transfer held a read buffer while it ran');
    assert.equal(sampleValue(after, 'rackboot_http_requests_total', { route: '/boot/:node/:file', status: '200' }), 1);
    assert.equal(sampleValue(after, 'rackboot_http_requests_total', { route: '/metrics' }), 1, 'the first scrape');
    assert.equal(sampleValue(after, 'rackboot_nodes', { assigned: 'no' }), 1, 'the Pi was discovered; it boots the default');
    assert.equal(sampleValue(after, 'rackboot_boots_total', { outcome: 'booted' }), 1, 'the booted callback ends the boot');
    assert.equal(sampleValue(after, 'rackboot_boot_duration_seconds_count', { outcome: 'booted' }), 1);
    assert.ok(sampleValue(after, 'rackboot_process_resident_memory_bytes') > 0, 'process metrics are there');
  });
});

describe('/metrics: DHCP counters move after a real DHCP exchange (udhcpc in a namespace)', () => {
  const net = '10.199.81';
  let lab: Lab;
  let daemon: RunningDaemon;
  const work = workDir();

  before(async () => {
    lab = createLab({ prefix: 'rbt-ops-', tag: 'm', serverCidr: `${net}.1/24`, clientMac: '52:54:00:81:00:01', broadcastRoutes: true });
    daemon = await startDaemon({
      netns: lab.server,
      config: dhcpDaemonConfig(net, { interface: lab.serverDev }),
    });
  });
  after(async () => {
    await daemon?.stop();
    lab?.cleanup();
    rmSync(work, { recursive: true, force: true });
  });

  const scrapeInside = () => parsePrometheus(lab.run(lab.server, 'curl', ['-sS', '--max-time', '10', `${daemon.httpUrl}/metrics`]));

  it('DISCOVER/OFFER/REQUEST/ACK are counted by type', () => {
    const before = scrapeInside();
    assert.equal(sampleValue(before, 'rackboot_dhcp_packets_received_total'), 0);
    assert.equal(runUdhcpc(lab, work)['ip'], `${net}.100`);
    const after = scrapeInside();
    assert.ok(sampleValue(after, 'rackboot_dhcp_packets_received_total', { type: 'discover' }) >= 1);
    assert.ok(sampleValue(after, 'rackboot_dhcp_packets_received_total', { type: 'request' }) >= 1);
    assert.ok(sampleValue(after, 'rackboot_dhcp_packets_sent_total', { type: 'offer' }) >= 1);
    assert.equal(sampleValue(after, 'rackboot_dhcp_packets_sent_total', { type: 'ack' }), 1);
  });
});
