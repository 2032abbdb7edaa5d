/** HTTP floods of the soak, run in a child inside the client namespace. */
import http from 'node:http';
import net from 'node:net';
import { randomMac } from './hostile-packets.js';
import { paced, sleep } from './hostile-pace.js';
import type { FloodCounters, FloodTarget } from './hostile-flood-spec.js';
import { seededRandom } from './random.js';

const REQUEST_TIMEOUT_MS = 10_000;
/** Slow connections send their next byte this often: slower than a client, faster than most idle timeouts. */
const TRICKLE_EVERY_MS = 2_000;
const SLOW_OPENS_PER_SECOND = 100;

/** `/chain?mac=<random>` from `concurrency` keep-alive workers, each on one source address. */
export async function randomChainFlood(target: FloodTarget, count: number, concurrency: number): Promise<FloodCounters> {
  const random = seededRandom(target.seed);
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const counters: FloodCounters = { sent: 0, ok: 0, otherStatus: 0, failed: 0 };
  const one = (localAddress: string) =>
    new Promise<void>((resolve) => {
      counters['sent']!++;
      const path = `/chain?mac=${encodeURIComponent(randomMac(random))}&arch=x86_64`;
      const request = http.get({ host: target.server, port: target.httpPort, path, agent, localAddress, timeout: REQUEST_TIMEOUT_MS }, (response) => {
        counters[response.statusCode === 200 ? 'ok' : 'otherStatus']!++;
        response.resume().once('end', resolve).once('error', resolve);
      });
      request.once('timeout', () => request.destroy(new Error('timeout')));
      request.once('error', () => {
        counters['failed']!++;
        resolve();
      });
    });
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async (_, worker) => {
      while (next < count) {
        next++;
        await one(target.sources[worker % target.sources.length]!);
      }
    }),
  );
  agent.destroy();
  return counters;
}

type SlowKind = 'idle' | 'trickleHeaders' | 'trickleBody' | 'live';

/** What each kind writes at first, and then every TRICKLE_EVERY_MS (nothing for idle and live). */
const SCRIPTS: Record<SlowKind, { start: string; trickle?: string }> = {
  idle: { start: '' },
  trickleHeaders: { start: 'GET /healthz HTTP/1.1\r\nHost: soak\r\n', trickle: 'X-Soak: 1\r\n' },
  // No token: the 401 may come at once, the body never ends.
  trickleBody: { start: 'POST /api/v1/images HTTP/1.1\r\nHost: soak\r\nContent-Type: application/json\r\nContent-Length: 1000000\r\n\r\n{', trickle: ' ' },
  live: { start: 'GET /live HTTP/1.1\r\nHost: soak\r\n\r\n' },
};

/**
 * Slow connections held open for `holdMs`, then dropped. Counts, per kind, how many the server
 * closed first (a defence at work) and how many got any response bytes. `/live` readers stop
 * reading after their first bytes, so the server's writes pile up in its own buffers.
 */
export async function slowHttpFlood(target: FloodTarget, counts: Record<SlowKind, number>, holdMs: number): Promise<FloodCounters> {
  const counters: FloodCounters = {};
  const bump = (key: string) => (counters[key] = (counters[key] ?? 0) + 1);
  const sockets: net.Socket[] = [];
  const timers: NodeJS.Timeout[] = [];
  let holding = true;
  const plan = (Object.keys(SCRIPTS) as SlowKind[]).flatMap((kind) => Array<SlowKind>(counts[kind]).fill(kind));
  const started = Date.now();
  await paced(plan.length, SLOW_OPENS_PER_SECOND, (index) => {
    const kind = plan[index]!;
    const script = SCRIPTS[kind];
    const socket = net.connect({ host: target.server, port: target.httpPort, localAddress: target.sources[index % target.sources.length] });
    sockets.push(socket);
    bump(`${kind}.opened`);
    socket.once('connect', () => {
      bump(`${kind}.connected`);
      if (script.start) socket.write(script.start);
      if (script.trickle) timers.push(setInterval(() => socket.writable && socket.write(script.trickle!), TRICKLE_EVERY_MS));
    });
    socket.once('data', () => {
      bump(`${kind}.responded`);
      if (kind === 'live') socket.pause();
    });
    socket.once('error', () => holding && bump(`${kind}.errors`));
    socket.once('close', () => holding && bump(`${kind}.closedByServer`));
  });
  await sleep(Math.max(0, holdMs - (Date.now() - started)));
  holding = false;
  for (const timer of timers) clearInterval(timer);
  for (const socket of sockets) socket.destroy();
  return counters;
}
