/** Hostile DHCP and TFTP datagrams for the soak: what an attacker on the boot LAN can send. */
import { ipBytes, MessageType, Opt } from '../../server/dhcp/options.js';
import { encodeRequest } from '../../server/tftp/codec.js';
import { ipxeDiscover, requestPacket, wire } from './dhcp-packets.js';

/** Fixed header (236) + magic cookie (4) + option 53 (3): where the bomb's repeats begin. */
const BOMB_AT = 243;
/** ~21,000 repeats of option 12 fill a ~63 KB datagram, the reproduction. */
export const BOMB_REPEATS = 21_000;

/** A locally administered unicast MAC, so no parser can refuse it as multicast. */
export function randomMac(random: () => number): string {
  const bytes = Array.from({ length: 6 }, () => Math.floor(random() * 256));
  bytes[0] = (bytes[0]! & 0xfc) | 0x02;
  return bytes.map((b) => b.toString(16).padStart(2, '0')).join(':');
}

export function randomHex8(random: () => number): string {
  return Math.floor(random() * 0x1_0000_0000).toString(16).padStart(8, '0');
}

/** A DISCOVER whose option 12 comes in BOMB_REPEATS one-byte pieces (RFC 3396 concatenation). */
export function optionBombDiscover(mac: string, xid: number): Buffer {
  const head = wire(requestPacket({ mac, type: MessageType.discover, xid }));
  if (head[BOMB_AT] !== 255) throw new Error(`option bomb: expected the end option at byte ${BOMB_AT}`);
  const repeats = Buffer.alloc(BOMB_REPEATS * 3);
  for (let at = 0; at < repeats.length; at += 3) repeats.set([Opt.hostname, 1, 0x61], at);
  return Buffer.concat([head.subarray(0, BOMB_AT), repeats, Buffer.from([255])]);
}

/** An iPXE DISCOVER from a MAC nobody has seen: each one is a candidate node row. */
export function randomDiscover(random: () => number): Buffer {
  const packet = ipxeDiscover(randomMac(random));
  packet.xid = Math.floor(random() * 0x1_0000_0000);
  return wire(packet);
}

/** RELEASE (ciaddr) or DECLINE (option 50) of the victim's lease, sent by someone else. */
export function forgedLeaseEnd(kind: 'release' | 'decline', victimMac: string, victimIp: string, server: string, xid: number): Buffer {
  const serverId: [number, Buffer] = [Opt.serverId, ipBytes(server)];
  return wire(
    kind === 'release'
      ? requestPacket({ mac: victimMac, type: MessageType.release, xid, ciaddr: victimIp, options: [serverId] })
      : requestPacket({ mac: victimMac, type: MessageType.decline, xid, options: [serverId, [Opt.requestedIp, ipBytes(victimIp)]] }),
  );
}

/** An octet RRQ; `hostileTimeout` asks for the largest retransmit timeout RFC 2349 allows. */
export function rrq(name: string, hostileTimeout = false): Buffer {
  return encodeRequest(false, name, 'octet', hostileTimeout ? [['timeout', '255'], ['tsize', '0']] : []);
}
