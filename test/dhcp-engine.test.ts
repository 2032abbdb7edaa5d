import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decode } from '../server/dhcp/codec.js';
import { MessageType, Opt, optionIp } from '../server/dhcp/options.js';
import { dhcpConfig, engineRig, MemoryLeaseStore, SERVER } from './helpers/dhcp-engine.js';
import { concatBytesDuring } from './helpers/concat-count.js';
import {
  ipxeDiscover,
  PI3_ROM_OPTION_43_HEX,
  PI4_OPTION_43_HEX,
  pi3RomDiscover,
  pi4Discover,
  pi4Request,
  pxeDiscover,
  repeatedOptionPacket,
  requestPacket,
} from './helpers/dhcp-packets.js';
import { fuzzPacket } from './helpers/dhcp-fuzz.js';
import { seededRandom } from './helpers/random.js';
import type { DhcpPacket } from '../server/dhcp/codec.js';

const MAC = '52:54:00:aa:00:01';

function discover(mac = MAC): DhcpPacket {
  return requestPacket({ mac, type: MessageType.discover });
}

function request(mac: string, ip: string, serverId: string | null = SERVER): DhcpPacket {
  const options: Array<[number, string | number[]]> = [[Opt.requestedIp, ip.split('.').map(Number)]];
  if (serverId) options.push([Opt.serverId, serverId.split('.').map(Number)]);
  return requestPacket({ mac, type: MessageType.request, options });
}

function type(packet: DhcpPacket): number {
  return packet.options.get(Opt.messageType)![0]!;
}

/** DISCOVER, REQUEST, ACK; returns the address bound. */
function dora(rig: ReturnType<typeof engineRig>, mac = MAC): string {
  const offer = rig.send(discover(mac));
  assert.ok(offer, 'no OFFER');
  const ack = rig.send(request(mac, offer.reply.yiaddr));
  assert.ok(ack && type(ack.reply) === MessageType.ack, 'no ACK');
  rig.engine.persist();
  return ack.reply.yiaddr;
}

test('DISCOVER gets an OFFER from the pool with the network options, broadcast to port 68', () => {
  const rig = engineRig();
  const result = rig.send(discover());
  assert.ok(result);
  const { out, reply } = result;
  assert.equal(type(reply), MessageType.offer);
  assert.equal(reply.yiaddr, '10.50.0.100');
  assert.equal(out.address, '255.255.255.255');
  assert.equal(out.port, 68);
  assert.equal(out.durable, false);
  assert.equal(optionIp(reply.options, Opt.serverId), SERVER);
  assert.equal(optionIp(reply.options, Opt.subnetMask), '255.255.255.0');
  assert.equal(optionIp(reply.options, Opt.router), '10.50.0.1');
  assert.deepEqual([...reply.options.get(Opt.dns)!], [10, 50, 0, 53, 10, 50, 0, 54]);
  assert.equal(reply.options.get(Opt.leaseTime)!.readUInt32BE(0), 3600);
  assert.equal(reply.options.get(Opt.domain)!.toString(), 'rack.test');
  assert.equal(reply.options.has(Opt.ipxeChain), false, 'a plain client gets no boot options');
});

test('the OFFER holds its address from other clients; the REQUEST binds it and is persisted', () => {
  const rig = engineRig();
  const first = rig.send(discover('52:54:00:aa:00:01'))!.reply.yiaddr;
  const second = rig.send(discover('52:54:00:aa:00:02'))!.reply.yiaddr;
  assert.notEqual(first, second);
  const ack = rig.send(request('52:54:00:aa:00:01', first))!;
  assert.equal(type(ack.reply), MessageType.ack);
  assert.equal(ack.out.durable, true, 'an ACK waits for the lease write');
  assert.equal(rig.store.rows.size, 0);
  assert.equal(rig.engine.persist(), 1);
  assert.deepEqual(rig.store.rows.get(first), { ip: first, mac: '52:54:00:aa:00:01', state: 'bound', expiresAt: rig.clock.now + 3_600_000 });
});

test('leases are honoured after a restart: the returning client gets its address back', () => {
  const store = new MemoryLeaseStore();
  const before = engineRig({ store });
  dora(before, '52:54:00:aa:00:07');
  const bound = dora(before, MAC);
  const after = engineRig({ store });
  assert.equal(after.send(discover(MAC))!.reply.yiaddr, bound);
  assert.equal(type(after.send(request(MAC, bound, null))!.reply), MessageType.ack, 'INIT-REBOOT REQUEST is ACKed');
});

test('a REQUEST naming another server is ignored and our offer let go', () => {
  const rig = engineRig();
  const offered = rig.send(discover())!.reply.yiaddr;
  assert.equal(rig.send(request(MAC, offered, '10.50.0.2')), null);
  assert.equal(rig.engine.counters['dropped-other-server'], 1);
  assert.equal(rig.send(discover('52:54:00:aa:00:02'))!.reply.yiaddr, '10.50.0.101', 'cursor moves on');
});

test('a REQUEST for a taken, wrong-subnet or out-of-pool address gets a NAK', () => {
  const rig = engineRig();
  const taken = dora(rig, '52:54:00:aa:00:09');
  for (const ip of [taken, '192.168.1.5', '10.50.0.20']) {
    const nak = rig.send(request(MAC, ip, null));
    assert.ok(nak, ip);
    assert.equal(type(nak.reply), MessageType.nak, ip);
    assert.equal(nak.reply.yiaddr, '0.0.0.0');
    assert.equal(nak.out.address, '255.255.255.255');
  }
});

test('DECLINE takes the address out of the pool; RELEASE frees it for the same client', () => {
  const rig = engineRig();
  const ip = dora(rig);
  assert.equal(rig.send(requestPacket({ mac: MAC, type: MessageType.decline, options: [[Opt.requestedIp, ip.split('.').map(Number)]] })), null);
  rig.engine.persist();
  assert.equal(rig.store.rows.get(ip)!.state, 'declined');
  assert.notEqual(rig.send(discover(MAC))!.reply.yiaddr, ip);
  const other = dora(rig, '52:54:00:aa:00:03');
  rig.send(requestPacket({ mac: '52:54:00:aa:00:03', type: MessageType.release, ciaddr: other }), 'dhcp', { address: other, port: 68 });
  rig.engine.persist();
  assert.equal(rig.store.rows.get(other)!.state, 'released');
  assert.equal(rig.send(discover('52:54:00:aa:00:03'))!.reply.yiaddr, other, 'a released address still comes back to its client');
});

test('INFORM is answered by unicast to ciaddr without lease time or address', () => {
  const rig = engineRig();
  const result = rig.send(requestPacket({ mac: MAC, type: MessageType.inform, ciaddr: '10.50.0.9' }), 'dhcp', { address: '10.50.0.9', port: 68 })!;
  assert.equal(type(result.reply), MessageType.ack);
  assert.equal(result.reply.yiaddr, '0.0.0.0');
  assert.equal(result.reply.ciaddr, '10.50.0.9');
  assert.equal(result.reply.options.has(Opt.leaseTime), false);
  assert.deepEqual([result.out.address, result.out.port], ['10.50.0.9', 68]);
});

test('pool exhaustion: no answer, counted, and no endless scan', () => {
  const rig = engineRig({ config: dhcpConfig({ pool: { start: '10.50.0.100', end: '10.50.0.101' } }) });
  dora(rig, '52:54:00:aa:00:01');
  dora(rig, '52:54:00:aa:00:02');
  for (let i = 0; i < 1000; i++) assert.equal(rig.send(discover(`52:54:00:bb:${(i >> 8).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`)), null);
  assert.equal(rig.engine.counters['pool-exhausted'], 1000);
  rig.clock.now += 3_600_001;
  assert.ok(rig.send(discover('52:54:00:cc:00:01')), 'expired leases are reused');
});

test('a reservation wins over the pool, and the pool never hands a reserved address to another', () => {
  const rig = engineRig({ reservations: { [MAC]: '10.50.0.100' } });
  assert.equal(rig.send(discover('52:54:00:aa:00:05'))!.reply.yiaddr, '10.50.0.101');
  assert.equal(rig.send(discover(MAC))!.reply.yiaddr, '10.50.0.100');
  assert.equal(type(rig.send(request(MAC, '10.50.0.150', null))!.reply), MessageType.nak, 'asking for another address');
});

test('a Pi 4 DISCOVER gets option 43 byte-exact, 60 PXEClient, 97 echoed, 66 and siaddr', () => {
  const rig = engineRig();
  const packet = pi4Discover('dc:a6:32:01:36:c2');
  const { reply } = rig.send(packet)!;
  assert.equal(reply.options.get(Opt.vendorSpecific)!.toString('hex'), PI4_OPTION_43_HEX);
  assert.equal(reply.options.get(Opt.vendorSpecific)!.length, 32);
  assert.equal(reply.options.get(Opt.vendorClass)!.toString(), 'PXEClient');
  assert.deepEqual(reply.options.get(Opt.clientUuid), packet.options.get(Opt.clientUuid));
  assert.equal(reply.options.get(Opt.tftpServer)!.toString(), SERVER);
  assert.equal(reply.siaddr, SERVER);
  assert.equal(rig.events[0]!.serial, '1a2b3c4d');
  assert.deepEqual(rig.events.map((e) => e.kind), ['discover', 'offer']);
});

test('a Pi 4 REQUEST (no option 60) gets 43, 66 and 97 in its ACK like its OFFER', () => {
  const rig = engineRig();
  const mac = 'dc:a6:32:01:36:c3';
  const offer = rig.send(pi4Discover(mac))!.reply;
  const packet = pi4Request(mac, offer.yiaddr, SERVER);
  const ack = rig.send(packet)!.reply;
  assert.equal(type(ack), MessageType.ack);
  assert.equal(ack.options.get(Opt.vendorSpecific)!.toString('hex'), PI4_OPTION_43_HEX);
  assert.equal(ack.options.get(Opt.tftpServer)!.toString(), SERVER);
  assert.deepEqual(ack.options.get(Opt.clientUuid), packet.options.get(Opt.clientUuid));
  assert.equal(rig.events.find((e) => e.kind === 'request')!.serial, '1a2b3c4d');
});

test('the Pi 3B ROM gets the three-space option 43 and its OFFER address is held for a lease time', () => {
  const rig = engineRig();
  const { reply } = rig.send(pi3RomDiscover('b8:27:eb:11:22:33'))!;
  assert.equal(reply.options.get(Opt.vendorSpecific)!.toString('hex'), PI3_ROM_OPTION_43_HEX);
  assert.equal(reply.options.get(Opt.vendorSpecific)!.length, 35);
  rig.clock.now += 600_000;
  assert.notEqual(rig.send(discover('52:54:00:aa:00:06'))!.reply.yiaddr, reply.yiaddr);
});

test('iPXE gets option 224 unasked, the script URL as file, and 175 no-pxedhcp in server mode', () => {
  const rig = engineRig();
  const { reply } = rig.send(ipxeDiscover('52:54:00:12:34:56'))!;
  assert.equal(reply.options.get(Opt.ipxeChain)!.toString(), `http://${SERVER}:8080/chain?mac=52:54:00:12:34:56`);
  assert.equal(reply.file, `http://${SERVER}:8080/boot.ipxe`);
  assert.deepEqual([...reply.options.get(Opt.ipxeEncap)!], [176, 1, 1]);
});

test('a UEFI PXE ROM gets the iPXE binary over TFTP', () => {
  const { reply } = engineRig().send(pxeDiscover('52:54:00:12:34:57', 7))!;
  assert.equal(reply.file, 'ipxe.efi');
  assert.equal(reply.siaddr, SERVER);
});

test('relayed: pool from the relay subnet, unicast to giaddr at the server port, option 82 echoed last', () => {
  const rig = engineRig();
  const agent = [1, 4, 0x65, 0x74, 0x68, 0x31];
  const packet = requestPacket({ mac: MAC, type: MessageType.discover, giaddr: '10.60.0.1', hops: 1, options: [[Opt.relayAgent, agent]] });
  const { out, reply } = rig.send(packet, 'dhcp', { address: '10.60.0.1', port: 67 })!;
  assert.equal(reply.yiaddr, '10.60.0.10');
  assert.equal(reply.giaddr, '10.60.0.1');
  assert.deepEqual([out.address, out.port], ['10.60.0.1', 67]);
  assert.deepEqual([...reply.options.get(Opt.relayAgent)!], agent);
  assert.equal([...reply.options.keys()].at(-1), Opt.relayAgent);
  assert.equal(optionIp(reply.options, Opt.router), '10.60.0.1');
  const foreign = requestPacket({ mac: MAC, type: MessageType.discover, giaddr: '10.70.0.1' });
  assert.equal(rig.send(foreign, 'dhcp', { address: '10.70.0.1', port: 67 }), null, 'a relay outside configured subnets');
});

test('option 82 is echoed in every reply, also with giaddr 0 (RFC 3046)', () => {
  const rig = engineRig();
  const agent = [1, 4, 0x65, 0x74, 0x68, 0x32];
  const offer = rig.send(requestPacket({ mac: MAC, type: MessageType.discover, options: [[Opt.relayAgent, agent]] }))!;
  assert.equal(offer.reply.giaddr, '0.0.0.0');
  assert.deepEqual([...offer.reply.options.get(Opt.relayAgent)!], agent);
  const nak = rig.send(requestPacket({ mac: MAC, type: MessageType.request, options: [[Opt.requestedIp, [192, 168, 1, 5]], [Opt.relayAgent, agent]] }))!;
  assert.equal(type(nak.reply), MessageType.nak);
  assert.deepEqual([...nak.reply.options.get(Opt.relayAgent)!], agent);
});

test('a reply fits 548 bytes unless option 57 allows more', () => {
  const domain = `${'d'.repeat(50)}.${'e'.repeat(50)}.rack.test`;
  const dns = Array.from({ length: 40 }, (_, i) => `10.50.0.${60 + i}`);
  const rig = engineRig({ config: dhcpConfig({ domain, dns }) });
  const small = rig.send(discover('52:54:00:aa:00:11'))!;
  assert.equal(small.out.buffer.length, 548);
  assert.equal(small.reply.options.get(Opt.domain)!.toString(), domain, 'overloaded, nothing dropped');
  assert.equal(small.reply.options.get(Opt.dns)!.length, 160);
  const big = rig.send(requestPacket({ mac: '52:54:00:aa:00:12', type: MessageType.discover, options: [[Opt.maxMessageSize, [0x05, 0xdc]]] }))!;
  assert.ok(big.out.buffer.length > 548 && big.out.buffer.length <= 1472, `${big.out.buffer.length} bytes`);
  assert.equal(big.reply.options.get(Opt.domain)!.toString(), domain);
});

test('requests from outside the configured subnets are not answered', () => {
  const rig = engineRig();
  assert.equal(rig.send(discover(), 'dhcp', { address: '192.168.9.9', port: 68 }), null);
  assert.equal(rig.engine.counters['dropped-foreign-subnet'], 1);
});

test('proxy mode: boot clients only, never an address, REQUEST on 4011 answered to the sender', () => {
  const rig = engineRig({ config: dhcpConfig({ mode: 'proxy', pool: undefined, relaySubnets: [] }) });
  assert.equal(rig.send(discover()), null, 'a plain client gets nothing from a proxy');
  const offer = rig.send(pi4Discover('dc:a6:32:01:36:c2'))!;
  assert.equal(offer.reply.yiaddr, '0.0.0.0');
  assert.equal(offer.reply.options.has(Opt.leaseTime), false);
  assert.equal(offer.reply.options.has(Opt.subnetMask), false);
  assert.equal(offer.reply.options.get(Opt.vendorClass)!.toString(), 'PXEClient');
  const pxe = pxeDiscover('52:54:00:12:34:58', 7);
  pxe.options.set(Opt.messageType, Buffer.from([MessageType.request]));
  pxe.ciaddr = '10.50.0.77';
  const ack = rig.send(pxe, 'proxy', { address: '10.50.0.77', port: 4011 })!;
  assert.equal(type(ack.reply), MessageType.ack);
  assert.equal(ack.reply.yiaddr, '0.0.0.0');
  assert.equal(ack.reply.file, 'ipxe.efi');
  assert.deepEqual([ack.out.address, ack.out.port], ['10.50.0.77', 4011]);
  assert.equal(rig.send(pxeDiscover('52:54:00:12:34:59', 7), 'proxy'), null, 'DISCOVER on 4011');
  const ipxe = rig.send(ipxeDiscover('52:54:00:12:34:5a'))!;
  assert.equal(ipxe.reply.options.has(Opt.ipxeEncap), false, 'no no-pxedhcp in proxy mode');
  assert.ok(ipxe.reply.options.has(Opt.ipxeChain));
});

test('fuzz: 100,000 seeded packets through the engine never throw and leave it serving', () => {
  const rig = engineRig();
  const random = seededRandom(0xfeed);
  for (let i = 0; i < 100_000; i++) {
    const buf = fuzzPacket(random);
    try {
      const out = rig.engine.handle(buf, { address: '0.0.0.0', port: 68 }, 'dhcp');
      if (out) assert.ok(decode(out.buffer).ok);
    } catch (error) {
      assert.fail(`packet ${i} (seed 0xfeed) threw: ${(error as Error).stack}\n${buf.toString('hex')}`);
    }
  }
  rig.engine.persist();
  assert.ok(rig.engine.counters['dropped-malformed']! > 1000);
  assert.ok(rig.send(discover('52:54:00:ff:ff:01')) || rig.engine.counters['pool-exhausted']);
});

test('a packet that is no request, or from a foreign relay, is dropped on its header before its options are read', () => {
  const rig = engineRig();
  const from = { address: '0.0.0.0', port: 68 };
  const reply = repeatedOptionPacket(12, 400, 100, 2);
  const { result, copied } = concatBytesDuring(() => rig.engine.handle(reply, from, 'dhcp'));
  assert.equal(result, null);
  assert.equal(rig.engine.counters['dropped-not-request'], 1);
  assert.equal(copied, 0, 'no option of a BOOTREPLY is joined');
  const foreignRelay = repeatedOptionPacket(12, 400, 100);
  foreignRelay.set([10, 70, 0, 1], 24); // giaddr of a relay outside every configured subnet
  const relayed = concatBytesDuring(() => rig.engine.handle(foreignRelay, { address: '10.70.0.1', port: 67 }, 'dhcp'));
  assert.equal(relayed.result, null);
  assert.equal(rig.engine.counters['dropped-foreign-subnet'], 1);
  assert.equal(relayed.copied, 0, 'no option of a foreign relay\'s packet is joined');
  const hostile = repeatedOptionPacket(12, 21_000, 1);
  assert.equal(rig.engine.handle(hostile, from, 'dhcp'), null);
  assert.equal(rig.engine.counters['dropped-malformed'], 1, 'over the option instance cap');
});

test('while the socket is backed up, DISCOVERs are shed and REQUESTs still complete', () => {
  const rig = engineRig();
  const offered = rig.send(discover())!.reply.yiaddr;
  rig.engine.admitDiscover = () => false;
  assert.equal(rig.send(discover('52:54:00:aa:00:02')), null);
  assert.equal(type(rig.send(request(MAC, offered))!.reply), MessageType.ack);
  assert.equal(rig.engine.counters['dropped-overload'], 1);
  assert.equal(rig.events.filter((e) => e.kind === 'discover').length, 1, 'a shed packet is no event');
});
