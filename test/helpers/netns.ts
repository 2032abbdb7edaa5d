/**
 * A two-namespace lab for protocol tests: `<prefix><pid>-s` (server side) and `<prefix><pid>-c`
 * (client side) joined by a veth pair. Traffic stays inside namespaces the test created; both are
 * removed by cleanup(), which also runs if the process exits without calling it.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';

export interface LabOptions {
  /** Namespace prefix of the calling test, e.g. 'rbt-dhcp-'. */
  prefix: string;
  /** Tells parallel labs of one process apart. */
  tag?: string;
  /** Server side address with prefix, e.g. '10.199.3.1/24'. */
  serverCidr: string;
  /** Client side address with prefix; leave out for DHCP clients that configure themselves. */
  clientCidr?: string;
  clientMac?: string;
  /** Routes 255.255.255.255 out of the veth on both sides, so broadcasts need no default route. */
  broadcastRoutes?: boolean;
}

export interface Lab {
  server: string;
  client: string;
  /** Device names inside their namespaces. */
  serverDev: string;
  clientDev: string;
  /** Runs a command in a namespace and returns stdout; throws with stderr on failure. */
  run(ns: string, command: string, args: string[], timeoutMs?: number): string;
  /** Starts a long-running command in a namespace. */
  spawn(ns: string, command: string, args: string[]): ChildProcess;
  cleanup(): void;
}

function ip(args: string[]): void {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'], timeout: 10_000 });
}

export function createLab(options: LabOptions): Lab {
  const base = `${options.prefix}${process.pid}${options.tag ? `-${options.tag}` : ''}`;
  const server = `${base}-s`;
  const client = `${base}-c`;
  const serverDev = 'rbs0';
  const clientDev = 'rbc0';
  let cleaned = false;
  const cleanup = () => {
    if (cleaned) return;
    cleaned = true;
    process.off('exit', cleanup);
    for (const ns of [server, client]) {
      try {
        ip(['netns', 'del', ns]);
      } catch {
        // Already gone.
      }
    }
  };
  process.on('exit', cleanup);
  try {
    ip(['netns', 'add', server]);
    ip(['netns', 'add', client]);
    ip(['-n', server, 'link', 'add', serverDev, 'type', 'veth', 'peer', 'name', clientDev, 'netns', client]);
    if (options.clientMac) ip(['-n', client, 'link', 'set', clientDev, 'address', options.clientMac]);
    ip(['-n', server, 'addr', 'add', options.serverCidr, 'dev', serverDev]);
    if (options.clientCidr) ip(['-n', client, 'addr', 'add', options.clientCidr, 'dev', clientDev]);
    for (const [ns, dev] of [
      [server, serverDev],
      [client, clientDev],
    ] as const) {
      ip(['-n', ns, 'link', 'set', 'lo', 'up']);
      ip(['-n', ns, 'link', 'set', dev, 'up']);
      if (options.broadcastRoutes) ip(['-n', ns, 'route', 'add', '255.255.255.255/32', 'dev', dev]);
    }
  } catch (error) {
    cleanup();
    throw error;
  }
  return {
    server,
    client,
    serverDev,
    clientDev,
    run(ns, command, args, timeoutMs = 30_000) {
      return execFileSync('ip', ['netns', 'exec', ns, command, ...args], {
        encoding: 'utf8',
        timeout: timeoutMs,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
    },
    spawn(ns, command, args) {
      return spawn('ip', ['netns', 'exec', ns, command, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    },
    cleanup,
  };
}
