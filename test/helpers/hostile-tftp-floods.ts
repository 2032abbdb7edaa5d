/** TFTP floods of the soak, run in a child inside the client namespace. */
import dgram from 'node:dgram';
import { encodeError } from '../../server/tftp/codec.js';
import { randomHex8, rrq } from './hostile-packets.js';
import { paced, sleep } from './hostile-pace.js';
import type { FloodCounters, FloodTarget } from './hostile-flood-spec.js';
import { seededRandom } from './random.js';

/** Unacknowledged sockets stay open this long after the last RRQ, so the server's retransmits find a live port. */
const UNACKED_LINGER_MS = 5_000;

function bound(address: string): Promise<dgram.Socket> {
  return new Promise((resolve, reject) => {
    const socket = dgram.createSocket('udp4');
    socket.once('error', reject);
    socket.bind(0, address, () => resolve(socket));
  });
}

/**
 * RRQs for `<random serial>/<file>`: each names a node nobody registered. The first packet of
 * every transfer is answered with an ERROR, as a client that changed its mind would, so this
 * flood tests inventory growth, not slot exhaustion.
 */
export async function randomTftpFlood(target: FloodTarget, count: number, perSecond: number, file: string): Promise<FloodCounters> {
  const random = seededRandom(target.seed);
  const sockets = await Promise.all(target.sources.map(bound));
  let answered = 0;
  for (const socket of sockets) {
    socket.on('message', (_, from) => {
      answered++;
      socket.send(encodeError(0, 'flood: not wanted'), from.port, from.address);
    });
  }
  await paced(count, perSecond, (index) => sockets[index % sockets.length]!.send(rrq(`${randomHex8(random)}/${file}`), target.tftpPort, target.server));
  await sleep(1_000);
  for (const socket of sockets) socket.close();
  return { sent: count, answered };
}

/**
 * RRQs that are never acknowledged, each from its own source port (so no per-port duplicate
 * check merges them), every `hostileTimeoutEvery`-th asking for timeout 255. The sockets stay
 * open and silent: the server's retransmits reach a port that neither answers nor refuses.
 */
export async function unackedTftpFlood(target: FloodTarget, count: number, perSecond: number, file: string, hostileTimeoutEvery: number): Promise<FloodCounters> {
  const sockets: dgram.Socket[] = [];
  let received = 0;
  let socketErrors = 0;
  await paced(count, perSecond, (index) => {
    const socket = dgram.createSocket('udp4');
    socket.on('message', () => received++);
    socket.once('error', () => socketErrors++);
    socket.bind(0, target.sources[index % target.sources.length], () =>
      socket.send(rrq(file, index % hostileTimeoutEvery === 0), target.tftpPort, target.server),
    );
    sockets.push(socket);
  });
  await sleep(UNACKED_LINGER_MS);
  for (const socket of sockets) socket.close();
  return { sent: count, serverPacketsIgnored: received, socketErrors };
}
