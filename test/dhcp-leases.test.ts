/**
 * Lease integrity against a hostile LAN: what a forged RELEASE or DECLINE, a reserved client
 * asking for another address, or a stream of random MACs can do to the lease table. Real
 * packets through the engine, on a settable clock.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DECLINE_LIMIT, DECLINE_WINDOW_MS, OFFER_HOLD_MS } from '../server/dhcp/engine.js';
import { MessageType, Opt } from '../server/dhcp/options.js';
import type { DhcpPacket } from '../server/dhcp/codec.js';
import { engineRig, SERVER } from './helpers/dhcp-engine.js';
import { requestPacket } from './helpers/dhcp-packets.js';
import { seededRandom } from './helpers/random.js';

const MAC = '52:54:00:aa:00:01';
type Rig = ReturnType<typeof engineRig>;

function octets(ip: string): number[] {
  return ip.split('.').map(Number);
}

function type(packet: DhcpPacket): number {
  return packet.options.get(Opt.messageType)![0]!;
}

function macOf(i: number): string {
  return `52:54:00:cc:${((i >> 8) & 255).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`;
}

function request(mac: string, ip: string): DhcpPacket {
  return requestPacket({ mac, type: MessageType.request, options: [[Opt.requestedIp, octets(ip)], [Opt.serverId, octets(SERVER)]] });
}

/** DISCOVER, REQUEST, ACK, persisted; returns the address bound. */
function bind(rig: Rig, mac: string): string {
  const offer = rig.send(requestPacket({ mac, type: MessageType.discover }));
  assert.ok(offer, `no OFFER for ${mac}`);
  const ack = rig.send(request(mac, offer.reply.yiaddr));
  assert.ok(ack && type(ack.reply) === MessageType.ack, `no ACK for ${mac}`);
  rig.engine.persist();
  return ack.reply.yiaddr;
}

function release(mac: string, ip: string): DhcpPacket {
  return requestPacket({ mac, type: MessageType.release, ciaddr: ip, options: [[Opt.serverId, octets(SERVER)]] });
}

function decline(mac: string, ip: string, ciaddr?: string): DhcpPacket {
  return requestPacket({
    mac,
    type: MessageType.decline,
    ...(ciaddr && { ciaddr }),
    options: [[Opt.requestedIp, octets(ip)], [Opt.serverId, octets(SERVER)]],
  });
}

test('50,000 random MACs through a 100-address pool leave at most 100 MACs remembered', () => {
  const rig = engineRig();
  const random = seededRandom(0x13);
  const hex = () => Math.floor(random() * 256).toString(16).padStart(2, '0');
  let offered = 0;
  for (let i = 0; i < 50_000; i++) {
    if (rig.send(requestPacket({ mac: `02:${hex()}:${hex()}:${hex()}:${hex()}:${hex()}`, type: MessageType.discover }))) offered++;
    // Every held offer lapses, so each address goes round to MAC after MAC.
    rig.clock.now += OFFER_HOLD_MS + 1;
  }
  assert.equal(offered, 50_000);
  assert.ok(rig.engine.leaseCount <= 100, `leases ${rig.engine.leaseCount}`);
  assert.ok(rig.engine.macCount <= rig.engine.leaseCount, `MACs remembered: ${rig.engine.macCount}`);
});

test('a RELEASE from another source than the released address is ignored', () => {
  const rig = engineRig();
  const ip = bind(rig, MAC);
  for (const forger of ['10.50.0.66', '0.0.0.0', '10.60.0.1']) {
    assert.equal(rig.send(release(MAC, ip), 'dhcp', { address: forger, port: 68 }), null);
  }
  rig.engine.persist();
  assert.equal(rig.store.rows.get(ip)!.state, 'bound', 'the forged RELEASEs freed nothing');
  assert.equal(rig.engine.counters['dropped-release-foreign-source'], 3);
  assert.equal(rig.send(requestPacket({ mac: '52:54:00:aa:00:02', type: MessageType.discover }))!.reply.yiaddr !== ip, true);

  rig.send(release(MAC, ip), 'dhcp', { address: ip, port: 68 });
  assert.equal(rig.engine.pendingWrites, 1);
  rig.engine.persist();
  assert.equal(rig.store.rows.get(ip)!.state, 'released', 'the client itself may release');
});

test('a DECLINE from an address holder, with ciaddr set or through an unknown relay is ignored', () => {
  const rig = engineRig();
  const ip = bind(rig, MAC);
  rig.send(decline(MAC, ip), 'dhcp', { address: '10.50.0.66', port: 68 });
  rig.send(decline(MAC, ip, '10.50.0.66'), 'dhcp', { address: '0.0.0.0', port: 68 });
  rig.send(decline(MAC, ip), 'dhcp', { address: '10.60.0.1', port: 67 });
  const unknownRelay = decline(MAC, ip);
  unknownRelay.giaddr = '10.70.0.1';
  rig.send(unknownRelay, 'dhcp', { address: '10.70.0.1', port: 67 });
  assert.equal(rig.engine.pendingWrites, 0, 'the forged DECLINEs changed nothing');
  assert.equal(rig.engine.counters['dropped-decline-foreign-source'], 3);
  // A relay outside every configured subnet is turned away on the header, before the DECLINE is read.
  assert.equal(rig.engine.counters['dropped-foreign-subnet'], 1);
  rig.send(decline(MAC, ip), 'dhcp', { address: '0.0.0.0', port: 68 });
  rig.engine.persist();
  assert.equal(rig.store.rows.get(ip)!.state, 'declined', 'the client itself may decline');
});

test(`DECLINEs are honoured at most ${DECLINE_LIMIT} per window`, () => {
  const rig = engineRig();
  const bound = Array.from({ length: 3 * DECLINE_LIMIT }, (_, i) => [macOf(i), bind(rig, macOf(i))] as const);
  for (const [mac, ip] of bound.slice(0, 2 * DECLINE_LIMIT)) rig.send(decline(mac, ip));
  rig.engine.persist();
  const declined = () => [...rig.store.rows.values()].filter((row) => row.state === 'declined').length;
  assert.equal(declined(), DECLINE_LIMIT);
  assert.equal(rig.engine.counters['declined'], DECLINE_LIMIT);
  assert.equal(rig.engine.counters['dropped-decline-rate'], DECLINE_LIMIT);

  rig.clock.now += DECLINE_WINDOW_MS;
  for (const [mac, ip] of bound.slice(2 * DECLINE_LIMIT)) rig.send(decline(mac, ip));
  rig.engine.persist();
  assert.equal(declined(), 2 * DECLINE_LIMIT, 'a new window honours declines again');
});

test('a client with a reservation outside every subnet gets no address outside the pool', () => {
  const rig = engineRig({ reservations: { [MAC]: '192.168.7.7' } });
  for (const ip of [SERVER, '10.50.0.255', '10.50.0.0', '10.50.0.20']) {
    const answer = rig.send(request(MAC, ip));
    assert.ok(answer, ip);
    assert.equal(type(answer.reply), MessageType.nak, ip);
  }
  assert.equal(rig.engine.counters['nak-address outside the pool'], 4);
  assert.equal(rig.engine.pendingWrites, 0);
});

test('a reservation on the broadcast, network, router or server address is never handed out', () => {
  for (const reserved of ['10.50.0.255', '10.50.0.0', '10.50.0.1', '10.60.0.1']) {
    const rig = engineRig({ reservations: { [MAC]: reserved } });
    const offer = rig.send(requestPacket({ mac: MAC, type: MessageType.discover }))!;
    assert.equal(offer.reply.yiaddr, '10.50.0.100', `${reserved}: served from the pool instead`);
    assert.equal(type(rig.send(request(MAC, reserved))!.reply), MessageType.nak, reserved);
  }
});

test('a client with a valid reservation asking for another address is NAKed', () => {
  const rig = engineRig({ reservations: { [MAC]: '10.50.0.30' } });
  assert.equal(rig.send(requestPacket({ mac: MAC, type: MessageType.discover }))!.reply.yiaddr, '10.50.0.30');
  for (const ip of ['10.50.0.120', SERVER, '10.50.0.255']) {
    assert.equal(type(rig.send(request(MAC, ip))!.reply), MessageType.nak, ip);
  }
  assert.equal(type(rig.send(request(MAC, '10.50.0.30'))!.reply), MessageType.ack);
});
