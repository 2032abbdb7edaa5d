import { randomInt } from 'node:crypto';
import dgram from 'node:dgram';
import { networkInterfaces } from 'node:os';
import type { DhcpConfig } from '../config/types.js';
import { BOOTREPLY, BOOTREQUEST, BROADCAST_FLAG, ZERO_IP, decode, encode } from '../dhcp/codec.js';
import { MessageType, Opt, optionIp } from '../dhcp/options.js';
import { cidrBroadcast, parseCidr } from '../net/ipv4.js';
import { macToBytes, parseMac } from '../net/mac.js';

const WAIT_MS = 3_000;

/**
 * Sends one plain DHCPDISCOVER (no PXE options, so it asks for an address only) to the boot
 * subnet's broadcast address, which routes out of dhcp.interface, and collects the server
 * identifiers of the OFFERs that come back within 3 s, other than `ownAddress`. Only run on the
 * operator's request (doctor --probe-dhcp): it is traffic on the segment.
 */
export async function probeDhcpServers(config: DhcpConfig, ownAddress: string): Promise<string[]> {
  if (!config.interface || !config.subnet) throw new Error('dhcp.interface and dhcp.subnet are needed to probe');
  const nic = networkInterfaces()[config.interface]?.find((address) => address.family === 'IPv4');
  if (!nic) throw new Error(`interface ${config.interface} has no IPv4 address on this host`);
  const mac = parseMac(nic.mac)!;
  const xid = randomInt(1, 2 ** 31);
  const chaddr = Buffer.alloc(16);
  macToBytes(mac).copy(chaddr);
  const { buffer } = encode({
    op: BOOTREQUEST,
    htype: 1,
    hlen: 6,
    hops: 0,
    xid,
    secs: 0,
    flags: BROADCAST_FLAG,
    ciaddr: ZERO_IP,
    yiaddr: ZERO_IP,
    siaddr: ZERO_IP,
    giaddr: ZERO_IP,
    chaddr,
    sname: '',
    file: '',
    options: new Map([
      [Opt.messageType, Buffer.from([MessageType.discover])],
      [Opt.paramRequest, Buffer.from([1, 3, 6, 54])],
    ]),
  });
  const socket = dgram.createSocket({ type: 'udp4', reuseAddr: true });
  const servers = new Set<string>();
  socket.on('message', (message) => {
    const decoded = decode(message);
    if (!decoded.ok || decoded.packet.op !== BOOTREPLY || decoded.packet.xid !== xid) return;
    const server = optionIp(decoded.packet.options, Opt.serverId);
    if (server && server !== ownAddress) servers.add(server);
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(config.clientPort, '0.0.0.0', () => resolve());
  });
  try {
    socket.setBroadcast(true);
    await new Promise<void>((resolve, reject) =>
      socket.send(buffer, config.port, cidrBroadcast(parseCidr(config.subnet!)), (error) => (error ? reject(error) : resolve())),
    );
    await new Promise((resolve) => setTimeout(resolve, WAIT_MS));
  } finally {
    socket.close();
  }
  return [...servers];
}
