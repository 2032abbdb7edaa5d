/** DHCP floods of the soak, run in a child inside the client namespace. */
import dgram from 'node:dgram';
import { forgedLeaseEnd, optionBombDiscover, randomDiscover, randomMac } from './hostile-packets.js';
import { paced, sleep } from './hostile-pace.js';
import type { FloodCounters, FloodTarget } from './hostile-flood-spec.js';
import { seededRandom } from './random.js';

/** One UDP socket per source address, bound before anything is sent. */
async function socketsOn(sources: string[]): Promise<dgram.Socket[]> {
  return Promise.all(
    sources.map(
      (address) =>
        new Promise<dgram.Socket>((resolve, reject) => {
          const socket = dgram.createSocket('udp4');
          socket.once('error', reject);
          // Replies go to port 68 or are unicast to offered addresses; this socket only sends.
          socket.bind(0, address, () => resolve(socket));
        }),
    ),
  );
}

/** Sends `count` datagrams made by `make(i)` to the DHCP port, spread over the sources. */
async function sendDhcp(target: FloodTarget, count: number, perSecond: number, make: (index: number) => Buffer): Promise<FloodCounters> {
  const sockets = await socketsOn(target.sources);
  let bytes = 0;
  let failed = 0;
  await paced(count, perSecond, (index) => {
    const packet = make(index);
    bytes += packet.length;
    sockets[index % sockets.length]!.send(packet, target.dhcpPort, target.server, (error) => error && failed++);
  });
  await sleep(200);
  for (const socket of sockets) socket.close();
  return { sent: count, bytes, sendErrors: failed };
}

export function optionBombFlood(target: FloodTarget, count: number, perSecond: number): Promise<FloodCounters> {
  const random = seededRandom(target.seed);
  return sendDhcp(target, count, perSecond, (index) => optionBombDiscover(randomMac(random), index + 1));
}

export function randomDiscoverFlood(target: FloodTarget, count: number, perSecond: number): Promise<FloodCounters> {
  const random = seededRandom(target.seed);
  return sendDhcp(target, count, perSecond, () => randomDiscover(random));
}

export function forgedReleaseFlood(target: FloodTarget, count: number, perSecond: number, victimMac: string, victimIp: string): Promise<FloodCounters> {
  return sendDhcp(target, count, perSecond, (index) => forgedLeaseEnd(index % 2 === 0 ? 'release' : 'decline', victimMac, victimIp, target.server, 0x7e1e0000 + index));
}
