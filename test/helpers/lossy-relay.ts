/**
 * A seeded UDP relay on 127.0.0.1 that drops, duplicates, delays and reorders packets between TFTP
 * clients and a server, both ways (this machine has no `tc netem`). Each client gets its own
 * upstream socket, so the server sees one peer per client; the upstream follows the server's
 * transfer port (TID) once the server answers from it, and answers a second TID with ERROR 5 as a
 * real client would. Clients only ever see the relay's one port. Every held packet is bounded in
 * time and number, and close() releases all of them.
 */
import dgram from 'node:dgram';
import { seededRandom } from './random.js';

export interface RelayImpairments {
  /** Chances per 1000 packets, each direction on its own. */
  dropPermille?: number;
  duplicatePermille?: number;
  /** Held back until the next packet the same way has passed (or holdMs is up). */
  reorderPermille?: number;
  delayPermille?: number;
  /** Upper bound of a random delay, and of a reorder hold. */
  maxDelayMs?: number;
}

export interface RelayCounters {
  toServer: number;
  toClient: number;
  dropped: number;
  duplicated: number;
  reordered: number;
  delayed: number;
  /** Packets from a server port other than the transfer's, answered with ERROR 5. */
  strayTid: number;
}

export interface LossyRelay {
  port: number;
  readonly counters: RelayCounters;
  /** Changes the impairments from now on (e.g. none while setting up). */
  set(impairments: RelayImpairments): void;
  close(): Promise<void>;
}


const MAX_HELD_PACKETS = 10_000;
const UNKNOWN_TID = Buffer.from([0, 5, 0, 5, ...Buffer.from('unknown transfer ID'), 0]);

type Send = (packet: Buffer) => void;

interface Direction {
  /** The packet held back for reordering, with its release timer. */
  held?: { packet: Buffer; send: Send; timer: NodeJS.Timeout };
}

interface Session {
  upstream: dgram.Socket;
  serverPort?: number;
  toServer: Direction;
  toClient: Direction;
}

function bound(socket: dgram.Socket): Promise<void> {
  return new Promise((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(0, '127.0.0.1', () => {
      socket.off('error', reject);
      resolve();
    });
  });
}

export async function startLossyRelay(options: { serverPort: number; seed: number } & RelayImpairments): Promise<LossyRelay> {
  const random = seededRandom(options.seed);
  let impairments: Required<RelayImpairments> = { dropPermille: 0, duplicatePermille: 0, reorderPermille: 0, delayPermille: 0, maxDelayMs: 20 };
  const set = (next: RelayImpairments) => (impairments = { ...impairments, ...next });
  set(options);
  const counters: RelayCounters = { toServer: 0, toClient: 0, dropped: 0, duplicated: 0, reordered: 0, delayed: 0, strayTid: 0 };
  const timers = new Set<NodeJS.Timeout>();
  const sessions = new Map<string, Session>();
  const listener = dgram.createSocket('udp4');
  let closed = false;

  const chance = (permille: number) => permille > 0 && random() * 1000 < permille;
  const later = (ms: number, run: () => void) => {
    if (timers.size >= MAX_HELD_PACKETS) return false;
    const timer = setTimeout(() => {
      timers.delete(timer);
      if (!closed) run();
    }, ms);
    timers.add(timer);
    return timer;
  };
  const releaseHeld = (direction: Direction) => {
    const held = direction.held;
    if (!held) return;
    direction.held = undefined;
    clearTimeout(held.timer);
    timers.delete(held.timer);
    held.send(held.packet);
  };

  /** Applies the impairments to one packet going one way. */
  const pass = (direction: Direction, packet: Buffer, send: Send) => {
    if (chance(impairments.dropPermille)) {
      counters.dropped++;
      return;
    }
    const copies = chance(impairments.duplicatePermille) ? 2 : 1;
    if (copies === 2) counters.duplicated++;
    for (let copy = 0; copy < copies; copy++) {
      if (chance(impairments.delayPermille)) {
        if (later(1 + Math.floor(random() * impairments.maxDelayMs), () => send(packet))) counters.delayed++;
      } else if (!direction.held && chance(impairments.reorderPermille)) {
        const timer = later(impairments.maxDelayMs, () => releaseHeld(direction));
        if (timer) {
          direction.held = { packet, send, timer };
          counters.reordered++;
        }
      } else {
        send(packet);
        releaseHeld(direction); // the held packet now arrives after this one
      }
    }
  };

  const sessionFor = (address: string, port: number): Session => {
    const key = `${address}:${port}`;
    const existing = sessions.get(key);
    if (existing) return existing;
    const upstream = dgram.createSocket('udp4');
    const session: Session = { upstream, toServer: {}, toClient: {} };
    sessions.set(key, session);
    // Sends made while the bind is under way are queued by node:dgram.
    upstream.bind(0, '127.0.0.1');
    upstream.on('message', (packet, from) => {
      session.serverPort ??= from.port === options.serverPort ? undefined : from.port;
      if (from.port !== session.serverPort && from.port !== options.serverPort) {
        counters.strayTid++;
        upstream.send(UNKNOWN_TID, from.port, from.address);
        return;
      }
      pass(session.toClient, packet, (out) => {
        counters.toClient++;
        if (!closed) listener.send(out, port, address);
      });
    });
    return session;
  };

  listener.on('message', (packet, from) => {
    const session = sessionFor(from.address, from.port);
    pass(session.toServer, packet, (out) => {
      counters.toServer++;
      if (!closed) session.upstream.send(out, session.serverPort ?? options.serverPort, '127.0.0.1');
    });
  });
  await bound(listener);

  return {
    port: listener.address().port,
    counters,
    set,
    async close() {
      closed = true;
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      const sockets = [listener, ...[...sessions.values()].map((session) => session.upstream)];
      sessions.clear();
      await Promise.all(sockets.map((socket) => new Promise<void>((resolve) => socket.close(() => resolve()))));
    },
  };
}
