/**
 * Reservations and leases through the real daemon, on loopback only: the API and CLI refuse a
 * reservation the DHCP config cannot honour, start-up lists stored ones it cannot, start-up
 * refuses a dhcp.interface that does not carry serverAddress, and a RELEASE is on disk at once
 * (a kill -9 right after it keeps it).
 */
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { MessageType, Opt } from '../server/dhcp/options.js';
import { runCli, startDaemon, type RunningDaemon } from './helpers/daemon.js';
import { requestPacket, wire } from './helpers/dhcp-packets.js';
import { api } from './helpers/fixtures.js';
import { logRecords, until, within } from './helpers/wait.js';

const MAC = '52:54:00:5e:00:01';
const CLIENT_MAC = '52:54:00:5e:00:02';
const CLIENT_IP = '127.0.0.100';
const rackSubnet = { subnet: '10.0.0.0/24', pool: { start: '10.0.0.100', end: '10.0.0.150' }, router: '10.0.0.1' };

function octets(ip: string): number[] {
  return ip.split('.').map(Number);
}

describe('DHCP reservations and leases through the daemon', { timeout: 120_000 }, () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'rackboot-reservations-'));
  let daemon: RunningDaemon | undefined;

  before(async () => {
    // DHCP off: reservations are checked against the configured subnets all the same.
    daemon = await startDaemon({ dir, config: { dhcp: { enabled: false, mode: 'server', ...rackSubnet } } });
  });
  after(async () => {
    await daemon?.stop('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it('the API refuses a reservation outside every subnet or on a special address, naming the field', async () => {
    const cases: Array<[string, RegExp]> = [
      ['192.168.1.5', /^reservedIp: 192\.168\.1\.5 is outside every DHCP subnet \(dhcp\.subnet, dhcp\.relaySubnets: 10\.0\.0\.0\/24\)/],
      ['10.0.0.255', /^reservedIp: 10\.0\.0\.255 is the broadcast address in 10\.0\.0\.0\/24/],
      ['10.0.0.0', /^reservedIp: 10\.0\.0\.0 is the network address/],
      ['10.0.0.1', /^reservedIp: 10\.0\.0\.1 is the router/],
    ];
    for (const [ip, message] of cases) {
      const refused = await api(daemon!, 'PUT', `/nodes/${MAC}`, { reservedIp: ip });
      assert.equal(refused.status, 400, ip);
      assert.match(String(refused.json?.['message']), message);
    }
    assert.deepEqual((await api(daemon!, 'GET', '/nodes')).json, [], 'nothing stored');
  });

  it('the CLI refuses the same, and takes a valid reservation', async () => {
    const network = await runCli(['node', 'set', MAC, '--reserve', '10.0.0.0'], daemon!.configFile);
    assert.equal(network.code, 1);
    assert.match(network.stderr, /reservedIp: 10\.0\.0\.0 is the network address in 10\.0\.0\.0\/24 \[RB_BAD_RESERVATION\]/);
    const text = await runCli(['node', 'set', MAC, '--reserve', 'ten'], daemon!.configFile);
    assert.equal(text.code, 1);
    assert.match(text.stderr, /reservedIp: "ten" is not an IPv4 address/);
    const ok = await runCli(['node', 'set', MAC, '--reserve', '10.0.0.20', '--json'], daemon!.configFile);
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal((JSON.parse(ok.stdout) as { reservedIp: string }).reservedIp, '10.0.0.20');
  });

  it('start-up refuses a dhcp.interface that is missing or does not carry serverAddress', async () => {
    await daemon!.stop();
    const lo = { enabled: true, mode: 'server', subnet: '127.0.0.0/8', pool: { start: '127.0.0.100', end: '127.0.0.150' }, port: 0 };
    for (const [config, message] of [
      [{ dhcp: { ...lo, interface: 'rbnone0' } }, /dhcp\.interface: rbnone0 is not an interface of this host/],
      [{ serverAddress: '10.0.0.9', dhcp: { ...lo, subnet: '10.0.0.0/24', pool: { start: '10.0.0.100', end: '10.0.0.150' }, interface: 'lo' } }, /dhcp\.interface: serverAddress 10\.0\.0\.9 is not on lo/],
    ] as const) {
      const started = startDaemon({ dir, config });
      await assert.rejects(started, message);
      await started.then((wrong) => wrong.stop('SIGKILL')).catch(() => undefined);
    }
  });

  it('start-up lists stored reservations the config cannot honour; a RELEASE is on disk at once, kill -9 keeps it', async () => {
    const client = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => client.bind(0, CLIENT_IP, resolve));
    const replies: Buffer[] = [];
    client.on('message', (message) => replies.push(message));
    try {
      daemon = await startDaemon({
        dir,
        config: {
          dhcp: { enabled: true, mode: 'server', interface: 'lo', subnet: '127.0.0.0/8', pool: { start: '127.0.0.100', end: '127.0.0.150' }, port: 0, clientPort: client.address().port },
        },
      });
      const [report] = logRecords(daemon, /stored reservations the dhcp config cannot honour/);
      assert.deepEqual(report?.['reservations'], [`${MAC}: reservedIp: 10.0.0.20 is outside every DHCP subnet (dhcp.subnet, dhcp.relaySubnets: 127.0.0.0/8)`]);

      const send = (type: number, options: Array<[number, number[]]>) =>
        client.send(wire(requestPacket({ mac: CLIENT_MAC, type, ciaddr: CLIENT_IP, options })), daemon!.dhcpPort!, '127.0.0.1');
      send(MessageType.request, [[Opt.requestedIp, octets(CLIENT_IP)], [Opt.serverId, octets('127.0.0.1')]]);
      await until('the ACK', () => (replies.length ? true : undefined));

      const db = new Database(path.join(daemon.dataDir, 'rackboot.sqlite'), { readonly: true });
      const state = () => (db.prepare('SELECT state FROM leases WHERE ip = ?').get(CLIENT_IP) as { state: string } | undefined)?.state;
      try {
        assert.equal(state(), 'bound');
        send(MessageType.release, [[Opt.serverId, octets('127.0.0.1')]]);
        // Nothing else is sent: no later ACK and no clean stop may be what writes it.
        await until('the RELEASE in the lease table on disk', () => (state() === 'released' ? true : undefined));
      } finally {
        db.close();
      }
      assert.equal(await within(daemon.stop('SIGKILL'), 10_000, 'exit after SIGKILL'), null);
      daemon = undefined;
      const after = new Database(path.join(dir, 'data', 'rackboot.sqlite'), { readonly: true });
      try {
        assert.equal((after.prepare('SELECT state FROM leases WHERE ip = ?').get(CLIENT_IP) as { state: string }).state, 'released');
      } finally {
        after.close();
      }
    } finally {
      client.close();
    }
  });
});
