/**
 * A seeded UDP relay on 127.0.0.1 that drops, duplicates, delays and reorders packets between TFTP
 * clients and a server, both ways (this machine has no `tc netem`). Each client gets its own
 * upstream socket, so the server sees one peer per client; the upstream follows the server's
 * transfer port (TID) once the server answers from it, and answers a second TID with ERROR 5 as a
 * real client would. Clients only ever see the relay's one port. Every held packet is bounded in
 * time and number, and close() releases all of them.
 */
import dgram from 'node:dgram';
import { createImpairer, type ImpairCounters, type Impairments, type Lane } from './lossy-impair.js';

export interface RelayCounters extends ImpairCounters {
  toServer: number;
  toClient: number;
  /** Packets from a server port other than the transfer's, answered with ERROR 5. */
  strayTid: number;
}

export interface LossyRelay {
  port: number;
  readonly counters: RelayCounters;
  /** Changes the impairments from now on (e.g. none while setting up). */
  set(impairments: Impairments): void;
  close(): Promise<void>;
}

const UNKNOWN_TID = Buffer.from([0, 5, 0, 5, ...Buffer.from('unknown transfer ID'), 0]);

interface Session {
  upstream: dgram.Socket;
  serverPort?: number;
  toServer: Lane;
  toClient: Lane;
}

/** Binds `socket` to an ephemeral port on 127.0.0.1 (or `port` when given). */
export function bound(socket: dgram.Socket, port = 0): Promise<void> {
  return new Promise((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(port, '127.0.0.1', () => {
      socket.off('error', reject);
      resolve();
    });
  });
}

export async function startLossyRelay(options: { serverPort: number; seed: number } & Impairments): Promise<LossyRelay> {
  const impairer = createImpairer(options.seed, options);
  const traffic = { toServer: 0, toClient: 0, strayTid: 0 };
  const sessions = new Map<string, Session>();
  const listener = dgram.createSocket('udp4');
  let closed = false;

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
        traffic.strayTid++;
        upstream.send(UNKNOWN_TID, from.port, from.address);
        return;
      }
      impairer.pass(session.toClient, packet, (out) => {
        traffic.toClient++;
        if (!closed) listener.send(out, port, address);
      });
    });
    return session;
  };

  listener.on('message', (packet, from) => {
    const session = sessionFor(from.address, from.port);
    impairer.pass(session.toServer, packet, (out) => {
      traffic.toServer++;
      if (!closed) session.upstream.send(out, session.serverPort ?? options.serverPort, '127.0.0.1');
    });
  });
  await bound(listener);

  return {
    port: listener.address().port,
    get counters() {
      return { ...impairer.counters, ...traffic };
    },
    set: impairer.set,
    async close() {
      closed = true;
      impairer.close();
      const sockets = [listener, ...[...sessions.values()].map((session) => session.upstream)];
      sessions.clear();
      await Promise.all(sockets.map((socket) => new Promise<void>((resolve) => socket.close(() => resolve()))));
    },
  };
}
