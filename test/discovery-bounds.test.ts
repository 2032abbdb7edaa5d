/**
 * Auto-discovery is bounded: a flood of made-up MACs over DHCP, /chain?mac= and TFTP `<serial>/`
 * records at most the discovery budget's nodes, operator registrations still pass, and the
 * refusals are stored as one event with a count. Counted in rows, not timed.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Mac } from '../server/net/mac.js';
import { encodeRequest } from '../server/tftp/codec.js';
import { startDaemon, type RunningDaemon } from './helpers/daemon.js';
import { ipxeDiscover } from './helpers/dhcp-packets.js';
import { api, getText } from './helpers/fixtures.js';
import { policyEngineLab } from './helpers/policy-engine.js';
import { seededRandom } from './helpers/random.js';
import { TftpPeer } from './helpers/tftp-peer.js';

const random = seededRandom(13);
const hex = (bytes: number) => Array.from({ length: bytes }, () => Math.floor(random() * 256).toString(16).padStart(2, '0'));
const randomMac = () => ['02', ...hex(5)].join(':') as Mac;

describe('auto-discovery budget through the DHCP engine', () => {
  const lab = policyEngineLab({ discovery: { burst: 100, perMinute: 60, maxUnconfirmed: 150 } });
  after(() => lab.cleanup());
  const nodeRows = () => lab.inventory.nodes.list().length;

  it('2000 DISCOVERs from random MACs record the burst; a minute later the refill, up to the unconfirmed cap', () => {
    for (let i = 0; i < 2_000; i++) lab.rig.send(ipxeDiscover(randomMac()));
    assert.equal(nodeRows(), 100, 'the burst');
    lab.rig.clock.now += 60_000;
    for (let i = 0; i < 200; i++) lab.rig.send(ipxeDiscover(randomMac()));
    assert.equal(nodeRows(), 150, 'refilled by 60, stopped by maxUnconfirmed at 150');
    assert.equal(lab.policy.discovery.refused.rate, 1_900);
    assert.equal(lab.policy.discovery.refused.unconfirmed, 150);
  });

  it('operator registrations are never refused, and a node the operator vouches for frees a place', () => {
    for (let i = 0; i < 10; i++) lab.inventory.nodes.upsert({ mac: randomMac() }, { hostname: `op-${i}` });
    assert.equal(nodeRows(), 160);
    const unconfirmed = lab.inventory.nodes.list().find((node) => node.hostname === null)!;
    lab.inventory.assignments.assign(unconfirmed.id, { imageName: 'rack' }, 'test');
    lab.rig.send(ipxeDiscover(randomMac()));
    assert.equal(nodeRows(), 161);
  });

  it('the refusals are one stored event with their count; unknown clients\' DHCP events are aggregated the same way', () => {
    lab.recorder.flushAll();
    const refused = lab.inventory.events.recent(10_000).filter((event) => event.kind === 'discovery-refused');
    assert.equal(refused.length, 1);
    assert.equal(refused[0]!.detail['count'], 2_050);
    const unattached = lab.inventory.events.recent(100_000).filter((event) => event.nodeId === null);
    assert.ok(unattached.length <= 10, `${unattached.length} rows for events of unknown clients`);
  });
});

describe('auto-discovery budget through /chain?mac= and TFTP <serial>/ on a daemon', { timeout: 60_000 }, () => {
  let daemon: RunningDaemon;
  let peer: TftpPeer;
  before(async () => {
    daemon = await startDaemon({ config: { discovery: { burst: 20, perMinute: 0 } } });
    peer = await TftpPeer.open();
  });
  after(async () => {
    peer?.socket.close();
    await daemon?.stop();
  });

  it('300 made-up clients record 20 nodes; the rest wait or get the shared files, counted in /metrics', async () => {
    for (let i = 0; i < 200; i++) await getText(`${daemon.httpUrl}/chain?mac=${randomMac()}`);
    for (let i = 0; i < 100; i++) {
      peer.send(encodeRequest(false, `${hex(4).join('')}/config.txt`, 'octet', []), daemon.tftpPort);
      assert.ok(await peer.next(), 'every request is answered');
    }
    const nodes = (await api(daemon, 'GET', '/nodes')).json as unknown as unknown[];
    assert.equal(nodes.length, 20);
    const metrics = (await getText(`${daemon.httpUrl}/metrics`)).text;
    assert.match(metrics, /rackboot_discovery_refused_total\{reason="rate"\} 280/);
  });
});
