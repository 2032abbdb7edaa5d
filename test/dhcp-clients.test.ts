/**
 * The DHCP server in the daemon, against real clients in network namespaces this test creates:
 * dhclient and busybox udhcpc, plus raw Pi / iPXE / PXE / relay packets sent from the client side.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { MessageType, Opt, optionIp } from '../server/dhcp/options.js';
import { runCli, startDaemon, type RunningDaemon } from './helpers/daemon.js';
import { probe, runDhclient, runUdhcpc, workDir } from './helpers/dhcp-clients.js';
import { httpClientDiscover, ipxeDiscover, PI3_ROM_OPTION_43_HEX, PI4_OPTION_43_HEX, pi3RomDiscover, pi4Discover, pxeDiscover, requestPacket, wire } from './helpers/dhcp-packets.js';
import { createLab, type Lab } from './helpers/netns.js';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { openDatabase } from '../server/inventory/db.js';
import { sqliteLeaseStore } from '../server/inventory/leases.js';
import { dhcpDaemonConfig } from './helpers/dhcp-daemon.js';

function typeOf(packet: { options: Map<number, Buffer> }): number | undefined {
  return packet.options.get(Opt.messageType)?.[0];
}

describe('DHCP server mode with dhclient and udhcpc', () => {
  const net = '10.199.71';
  let lab: Lab;
  let daemon: RunningDaemon;
  const dir = workDir();
  const work = workDir();

  before(async () => {
    lab = createLab({ prefix: 'rbt-dhcp-', tag: 'srv', serverCidr: `${net}.1/24`, clientMac: '52:54:00:71:00:01', broadcastRoutes: true });
    daemon = await startDaemon({ netns: lab.server, dir, config: dhcpDaemonConfig(net) });
  });
  after(async () => {
    await daemon?.stop();
    lab?.cleanup();
    rmSync(dir, { recursive: true, force: true });
    rmSync(work, { recursive: true, force: true });
  });

  it('dhclient gets a lease with option 224 = the chain URL and the configured router, DNS and lease time', async () => {
    const lease = await runDhclient(lab, work);
    assert.equal(lease['new_ip_address'], `${net}.100`);
    assert.equal(lease['new_routers'], `${net}.1`);
    assert.equal(lease['new_domain_name_servers'], `${net}.53`);
    assert.equal(lease['new_dhcp_lease_time'], '900');
    assert.equal(lease['new_subnet_mask'], '255.255.255.0');
    assert.ok(lease['new_rb_chain']?.startsWith(`${daemon.httpUrl}/chain?mac=`), `option 224: ${lease['new_rb_chain']}`);
  });

  it('busybox udhcpc gets a lease with option 224', () => {
    lab.run(lab.client, 'ip', ['link', 'set', lab.clientDev, 'address', '52:54:00:71:00:02']);
    const lease = runUdhcpc(lab, work);
    assert.equal(lease['ip'], `${net}.101`);
    assert.equal(lease['router'], `${net}.1`);
    assert.equal(lease['dns'], `${net}.53`);
    assert.equal(lease['lease'], '900');
    assert.ok(Buffer.from(lease['opt224'] ?? '', 'hex').toString().startsWith(`${daemon.httpUrl}/chain?mac=`));
  });

  it('a reservation wins over the pool', async () => {
    const reserved = `${net}.20`;
    const cli = await runCli(['node', 'set', '52:54:00:71:00:03', '--reserve', reserved], daemon.configFile);
    assert.equal(cli.code, 0, cli.stderr);
    lab.run(lab.client, 'ip', ['link', 'set', lab.clientDev, 'address', '52:54:00:71:00:03']);
    assert.equal(runUdhcpc(lab, work)['ip'], reserved);
  });

  it("a client gets its own address back after a daemon restart, not the pool's first", async () => {
    // udhcpc's 52:54:00:71:00:02 holds .101 while dhclient's :01 holds .100, the pool's first
    // address. It alone asks again after the restart: a daemon that lost its leases offers .100.
    assert.equal(await daemon.stop(), 0);
    const db = openDatabase(path.join(dir, 'data'));
    const stored = new Map<string, unknown>(sqliteLeaseStore(db).loadAll().map((lease) => [lease.mac, [lease.ip, lease.state]]));
    db.close();
    assert.deepEqual(stored.get('52:54:00:71:00:01'), [`${net}.100`, 'bound'], 'acknowledged leases are in the store after a clean stop');
    assert.deepEqual(stored.get('52:54:00:71:00:02'), [`${net}.101`, 'bound']);
    daemon = await startDaemon({ netns: lab.server, dir, config: dhcpDaemonConfig(net) });
    lab.run(lab.client, 'ip', ['link', 'set', lab.clientDev, 'address', '52:54:00:71:00:02']);
    assert.equal(runUdhcpc(lab, work)['ip'], `${net}.101`, 'DISCOVER after restart');
    // dhclient's lease file still holds .100: INIT-REBOOT asks for it, and a NAK would end in BOUND.
    lab.run(lab.client, 'ip', ['link', 'set', lab.clientDev, 'address', '52:54:00:71:00:01']);
    const reboot = await runDhclient(lab, work);
    assert.deepEqual([reboot['reason'], reboot['new_ip_address']], ['REBOOT', `${net}.100`], 'INIT-REBOOT after restart');
  });

  it('a Pi 4 DISCOVER gets option 43 byte-exact, 60, 97 echoed, 66 and siaddr, and the Pi is recorded', async () => {
    const discover = pi4Discover('dc:a6:32:71:00:04');
    const replies = probe(lab, [{ to: '255.255.255.255', port: 67, packet: wire(discover) }], { bindPort: 68 });
    assert.equal(replies.length, 1);
    const offer = replies[0]!.packet;
    assert.equal(typeOf(offer), MessageType.offer);
    assert.equal(offer.options.get(Opt.vendorSpecific)!.toString('hex'), PI4_OPTION_43_HEX);
    assert.equal(offer.options.get(Opt.vendorClass)!.toString(), 'PXEClient');
    assert.deepEqual(offer.options.get(Opt.clientUuid), discover.options.get(Opt.clientUuid));
    assert.equal(offer.options.get(Opt.tftpServer)!.toString(), `${net}.1`);
    assert.equal(offer.siaddr, `${net}.1`);
    assert.equal(offer.xid, discover.xid);
    // Auto-discovery: the unknown Pi is now a node with the model option 97 told; its serial is a
    // claim until the Pi asks TFTP under it (test/serial-hijack.test.ts).
    const shown = await runCli(['node', 'show', 'dc:a6:32:71:00:04', '--json'], daemon.configFile);
    assert.equal(shown.code, 0, shown.stderr);
    const node = JSON.parse(shown.stdout) as { mac: string; serial: string | null; model: string; events: { kind: string }[] };
    assert.deepEqual([node.mac, node.serial, node.model], ['dc:a6:32:71:00:04', null, 'pi4']);
    // The DISCOVER that made the node is in its timeline, oldest first in time.
    assert.deepEqual(node.events.map((event) => event.kind).reverse(), ['serial-claimed', 'discover', 'offer']);
  });

  it('a Pi 3B ROM DISCOVER (fixed xid, no REQUEST) gets the three-space option 43, after dhcp.piRomReplyDelayMs', () => {
    // Held for the default 1 s (the ROM loops on DHCP and TFTP answers within 2 s): listen longer.
    const replies = probe(lab, [{ to: '255.255.255.255', port: 67, packet: wire(pi3RomDiscover('b8:27:eb:71:00:05')) }], { bindPort: 68, waitMs: 3_000 });
    assert.equal(replies.length, 1);
    assert.equal(replies[0]!.packet.options.get(Opt.vendorSpecific)!.toString('hex'), PI3_ROM_OPTION_43_HEX);
  });

  // bootcode.bin asks for neither option 1 nor 3 and needs both (raspberrypi/firmware #1001); a
  // Pi by vendor class and OUI alone (88:a2:9e: Pi 5, Pi 4 rev 1.5; no option 97) is a Pi.
  it('a Pi-looking udhcpc that requests no options (-o) still gets subnet mask and router, and is recorded as a Pi', async () => {
    const mac = '88:a2:9e:71:00:09';
    lab.run(lab.client, 'ip', ['link', 'set', lab.clientDev, 'address', mac]);
    const lease = runUdhcpc(lab, work, ['-o', '-V', 'PXEClient:Arch:00000:UNDI:002001', '-x', '0x5d:0000']);
    assert.ok(lease['ip']?.startsWith(`${net}.`), JSON.stringify(lease));
    assert.equal(lease['subnet'], '255.255.255.0');
    assert.equal(lease['router'], `${net}.1`);
    const shown = await runCli(['node', 'show', mac, '--json'], daemon.configFile);
    assert.equal(shown.code, 0, shown.stderr);
    assert.equal((JSON.parse(shown.stdout) as { firmware: string }).firmware, 'pi-eeprom');
  });

  it('an iPXE DISCOVER gets option 224 and 175 no-pxedhcp', () => {
    const replies = probe(lab, [{ to: '255.255.255.255', port: 67, packet: wire(ipxeDiscover('52:54:00:71:00:06')) }], { bindPort: 68 });
    assert.equal(replies.length, 1);
    const offer = replies[0]!.packet;
    assert.ok(offer.options.get(Opt.ipxeChain)!.toString().startsWith(`${daemon.httpUrl}/chain?`));
    assert.deepEqual([...offer.options.get(Opt.ipxeEncap)!], [176, 1, 1]);
    assert.ok(offer.file.startsWith(daemon.httpUrl));
  });

  // UEFI HTTP boot (option 93 0x10 x86-64, 0x13 arm64) takes only an offer that echoes option 60
  // "HTTPClient" and names a URI as the boot file; it binds the address with the ACK.
  for (const [archType, binary, mac] of [[0x10, 'ipxe.efi', '52:54:00:71:00:07'], [0x13, 'snp.efi', '52:54:00:71:00:08']] as const) {
    it(`a UEFI HTTPClient DISCOVER (arch 0x${archType.toString(16)}) gets HTTPClient echoed and ${binary} as an http URL, and the ACK too`, () => {
      const discover = httpClientDiscover(mac, archType);
      const offers = probe(lab, [{ to: '255.255.255.255', port: 67, packet: wire(discover) }], { bindPort: 68 });
      assert.equal(offers.length, 1);
      const offer = offers[0]!.packet;
      assert.equal(typeOf(offer), MessageType.offer);
      assert.ok(offer.yiaddr.startsWith(`${net}.`), `an address from the pool: ${offer.yiaddr}`);
      const request = httpClientDiscover(mac, archType);
      request.options.set(Opt.messageType, Buffer.from([MessageType.request]));
      request.options.set(Opt.requestedIp, Buffer.from(offer.yiaddr.split('.').map(Number)));
      request.options.set(Opt.serverId, offer.options.get(Opt.serverId)!);
      const acks = probe(lab, [{ to: '255.255.255.255', port: 67, packet: wire(request) }], { bindPort: 68 });
      assert.equal(acks.length, 1);
      const ack = acks[0]!.packet;
      assert.deepEqual([typeOf(ack), ack.yiaddr], [MessageType.ack, offer.yiaddr]);
      for (const [name, reply] of [['OFFER', offer], ['ACK', ack]] as const) {
        assert.equal(reply.options.get(Opt.vendorClass)?.toString('latin1'), 'HTTPClient', `${name} option 60`);
        assert.equal(reply.file, `${daemon.httpUrl}/ipxe/${binary}`, `${name} boot file`);
        assert.match(reply.file, /^http:\/\//);
        assert.equal(reply.options.has(Opt.ipxeChain), false, `${name}: 224 is for iPXE, not the firmware`);
      }
    });
  }
});

describe('DHCP proxy mode', () => {
  const net = '10.199.72';
  let lab: Lab;
  let daemon: RunningDaemon;

  before(async () => {
    lab = createLab({ prefix: 'rbt-dhcp-', tag: 'proxy', serverCidr: `${net}.1/24`, clientCidr: `${net}.2/24`, broadcastRoutes: true });
    daemon = await startDaemon({ netns: lab.server, config: dhcpDaemonConfig(net, { mode: 'proxy', pool: undefined }) });
  });
  after(async () => {
    await daemon?.stop();
    lab?.cleanup();
  });

  it('answers a booting DISCOVER without an address and a plain one not at all', () => {
    const replies = probe(
      lab,
      [
        { to: '255.255.255.255', port: 67, packet: wire(pi4Discover('dc:a6:32:72:00:01')) },
        { to: '255.255.255.255', port: 67, packet: wire(requestPacket({ mac: '52:54:00:72:00:02', type: MessageType.discover })) },
      ],
      { bindPort: 68 },
    );
    assert.equal(replies.length, 1);
    const offer = replies[0]!.packet;
    assert.equal(offer.yiaddr, '0.0.0.0');
    assert.equal(offer.options.has(Opt.leaseTime), false);
    assert.equal(offer.options.get(Opt.vendorSpecific)!.toString('hex'), PI4_OPTION_43_HEX);
  });

  it('answers a REQUEST on 4011 without an address, by unicast to the client', () => {
    assert.equal(daemon.proxyPort, 4011);
    const request = pxeDiscover('52:54:00:72:00:03', 7);
    request.options.set(Opt.messageType, Buffer.from([MessageType.request]));
    request.ciaddr = `${net}.2`;
    const replies = probe(lab, [{ to: `${net}.1`, port: 4011, packet: wire(request) }], { bindPort: 4011 });
    assert.equal(replies.length, 1);
    const ack = replies[0]!.packet;
    assert.equal(replies[0]!.from, `${net}.1`);
    assert.equal(typeOf(ack), MessageType.ack);
    assert.equal(ack.yiaddr, '0.0.0.0');
    assert.equal(ack.options.get(Opt.vendorClass)!.toString(), 'PXEClient');
    assert.ok(ack.file.length > 0, 'the iPXE binary');
  });
});

describe('DHCP through a relay', () => {
  const net = '10.199.73';
  const remote = '10.198.73';
  let lab: Lab;
  let daemon: RunningDaemon;

  before(async () => {
    lab = createLab({ prefix: 'rbt-dhcp-', tag: 'relay', serverCidr: `${net}.1/24`, clientCidr: `${net}.2/24` });
    // The client namespace plays the relay agent: it owns giaddr on the remote subnet.
    lab.run(lab.client, 'ip', ['addr', 'add', `${remote}.1/24`, 'dev', 'lo']);
    lab.run(lab.server, 'ip', ['route', 'add', `${remote}.0/24`, 'via', `${net}.2`]);
    daemon = await startDaemon({
      netns: lab.server,
      config: dhcpDaemonConfig(net, { relaySubnets: [{ subnet: `${remote}.0/24`, pool: { start: `${remote}.50`, end: `${remote}.60` }, router: `${remote}.1` }] }),
    });
  });
  after(async () => {
    await daemon?.stop();
    lab?.cleanup();
  });

  it('a relayed DISCOVER (giaddr, hops 1, option 82) is answered by unicast to giaddr:67 with option 82', () => {
    const agent = [1, 6, ...Buffer.from('port-7')];
    const discover = requestPacket({ mac: '52:54:00:73:00:01', type: MessageType.discover, giaddr: `${remote}.1`, hops: 1, options: [[Opt.relayAgent, agent]] });
    const replies = probe(lab, [{ to: `${net}.1`, port: 67, packet: wire(discover) }], { bindPort: 67 });
    assert.equal(replies.length, 1);
    const offer = replies[0]!.packet;
    assert.equal(replies[0]!.port, 67);
    assert.equal(offer.yiaddr, `${remote}.50`);
    assert.equal(offer.giaddr, `${remote}.1`);
    assert.equal(optionIp(offer.options, Opt.router), `${remote}.1`);
    assert.deepEqual([...offer.options.get(Opt.relayAgent)!], agent);
  });
});
