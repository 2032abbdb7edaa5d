/**
 * Thin node:dgram adapter over the engine.
 *
 * Limits of node:dgram and what this does about them:
 * - No SO_BINDTODEVICE and no IP_PKTINFO: the socket binds 0.0.0.0:<dhcp.port> (a socket bound
 *   to an interface address never sees broadcasts) and cannot tell which interface a broadcast
 *   came in on. Relayed requests are matched by giaddr and unicast requests by their source and
 *   ciaddr against the configured subnets; a broadcast from 0.0.0.0 cannot be placed, so on a
 *   multi-homed host it is answered whatever interface it arrived on. Start-up warns when the
 *   host has IPv4 interfaces outside the configured subnets. Run rackboot in a network
 *   namespace (or on a host) that only has the boot network, or firewall UDP 67 on the others.
 * - No raw sockets: a reply to a client without an address cannot be unicast to yiaddr (no ARP
 *   entry), so it is broadcast to 255.255.255.255:<dhcp.clientPort>; that needs a route
 *   (ENETUNREACH in a namespace without a default route). Relayed replies go by unicast to
 *   giaddr at the server port, renewals to ciaddr.
 *
 * Lease writes are group-committed: every lease change of the current event-loop turn (ACKs,
 * RELEASEs, DECLINEs) is written in one transaction at its end, and replies that acknowledge a
 * lease are sent only once it committed. An acknowledged lease is therefore always in the store.
 */
import type dgram from 'node:dgram';
import { networkInterfaces } from 'node:os';
import type { Logger } from 'pino';
import type { DhcpConfig } from '../config/types.js';
import { cidrContains, parseCidr } from '../net/ipv4.js';
import { udp4Socket } from '../net/udp.js';
import { DiscoverAdmission } from './admission.js';
import { DelayedReplies } from './delayed-replies.js';
import { DhcpEngine, type EngineHooks, type Outbound, type Sender, type Via } from './engine.js';

export type { DhcpBootAnswer } from './answer.js';
export type { LeaseRecord, LeaseState, LeaseStore } from './lease-store.js';

export type DhcpHooks = EngineHooks;

export interface DhcpServer {
  readonly ports: { dhcp: number; proxy?: number };
  readonly counters: Record<string, number>;
  close(): Promise<void>;
}

/**
 * Room for an avalanche of a few thousand requests, yet small enough that a full queue drains
 * in a fraction of a second while DISCOVERs are shed (bench/dhcp: 4 MiB did worse under a
 * flood, every reply leaving after the client had given up; the 208 KiB default dropped part
 * of a 1,000-client avalanche).
 */
const SOCKET_BUFFER_BYTES = 512 * 1024;

function bind(socket: dgram.Socket, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    socket.once('error', reject);
    socket.bind({ port, address: '0.0.0.0', exclusive: true }, () => {
      socket.off('error', reject);
      socket.setBroadcast(true);
      try {
        socket.setRecvBufferSize(SOCKET_BUFFER_BYTES);
        socket.setSendBufferSize(SOCKET_BUFFER_BYTES);
      } catch {
        // The kernel caps these at net.core.*mem_max; the defaults still work.
      }
      resolve(socket.address().port);
    });
  });
}

function warnAboutOtherInterfaces(config: DhcpConfig, log: Logger): void {
  const subnets = [config.subnet, ...config.relaySubnets.map((relay) => relay.subnet)]
    .filter((subnet): subnet is string => Boolean(subnet))
    .map(parseCidr);
  const foreign: string[] = [];
  for (const [name, addresses] of Object.entries(networkInterfaces())) {
    for (const address of addresses ?? []) {
      if (address.family !== 'IPv4' || address.internal) continue;
      if (!subnets.some((subnet) => cidrContains(subnet, address.address))) foreign.push(`${name} ${address.address}`);
    }
  }
  if (foreign.length) {
    log.warn(
      { code: 'RB_DHCP_MULTIHOMED', interfaces: foreign },
      'dhcp listens on 0.0.0.0 (node cannot bind to one interface): broadcasts arriving on these interfaces outside the configured subnets would be answered too; firewall UDP 67 there',
    );
  }
}

/**
 * Why `dhcp.interface` does not fit `serverAddress` on this host, or undefined when it does. The
 * socket cannot bind to the interface (see above), so this is what keeps a typo or a renamed NIC
 * from serving the wrong network silently.
 */
export function interfaceProblem(config: DhcpConfig, serverAddress: string, interfaces = networkInterfaces()): string | undefined {
  const name = config.interface;
  if (!name) return 'required when dhcp.enabled is true';
  const addresses = interfaces[name];
  if (!addresses) return `${name} is not an interface of this host (it has ${Object.keys(interfaces).join(', ') || 'none'})`;
  if (addresses.some((address) => address.family === 'IPv4' && address.address === serverAddress)) return undefined;
  const own = addresses.filter((address) => address.family === 'IPv4').map((address) => address.address);
  return `serverAddress ${serverAddress} is not on ${name} (its IPv4 addresses: ${own.join(', ') || 'none'}); fix dhcp.interface or serverAddress`;
}

export async function startDhcpServer(options: {
  config: DhcpConfig;
  serverAddress: string;
  hooks: DhcpHooks;
  log: Logger;
}): Promise<DhcpServer> {
  const { config, log } = options;
  const engine = new DhcpEngine(options);
  warnAboutOtherInterfaces(config, log);

  const sockets: dgram.Socket[] = [];
  const waiting: Outbound[] = [];
  let commitScheduled = false;

  const delayed = new DelayedReplies();
  const transmit = (socket: dgram.Socket, out: Outbound) => {
    socket.send(out.buffer, out.port, out.address, (error) => {
      if (!error) return;
      engine.count('send-errors');
      log.debug({ err: error, to: `${out.address}:${out.port}` }, 'dhcp reply not sent');
    });
  };
  const send = (socket: dgram.Socket, out: Outbound) => {
    if (!out.delayMs) return transmit(socket, out);
    if (delayed.hold(out.mac, out.delayMs, () => transmit(socket, out))) engine.count('replies-delayed');
    else engine.count('dropped-delay-full');
  };

  const commit = (socket: dgram.Socket) => {
    commitScheduled = false;
    const batch = waiting.splice(0);
    try {
      engine.persist();
    } catch (error) {
      engine.count('persist-errors');
      engine.count('acks-withheld', batch.length);
      log.error({ err: error, code: 'RB_DHCP_LEASE_WRITE' }, 'could not persist dhcp leases: ACKs withheld, clients will retry');
      return;
    }
    for (const out of batch) send(socket, out);
  };

  const listen = (socket: dgram.Socket, via: Via, admission?: DiscoverAdmission) => {
    socket.on('message', (message: Buffer, remote: dgram.RemoteInfo) => {
      if (admission?.takeProbe(message, remote)) return;
      let out: Outbound | null;
      const from: Sender = { address: remote.address, port: remote.port };
      try {
        out = engine.handle(message, from, via);
      } catch (error) {
        // A bug, not hostile input (the codec does not throw): keep serving, but say so loudly.
        engine.count('engine-errors');
        log.error({ err: error, from: `${remote.address}:${remote.port}` }, 'dhcp engine failed on a packet');
        return;
      }
      if (out?.durable) waiting.push(out);
      else if (out) send(socket, out);
      // Lease changes without a reply to wait for (RELEASE, DECLINE) are committed this turn too:
      // left queued, a kill before the next ACK would lose them.
      if (engine.pendingWrites > 0 && !commitScheduled) {
        commitScheduled = true;
        setImmediate(commit, socket);
      }
    });
    socket.on('error', (error) => log.error({ err: error }, 'dhcp socket error'));
  };

  const main = udp4Socket();
  sockets.push(main);
  const dhcpPort = await bind(main, config.port);
  engine.relayPort = dhcpPort;
  const admission = new DiscoverAdmission(dhcpPort);
  engine.admitDiscover = () => admission.admit();
  listen(main, 'dhcp', admission);
  const ports: { dhcp: number; proxy?: number } = { dhcp: dhcpPort };
  if (config.mode === 'proxy') {
    const proxySocket = udp4Socket();
    sockets.push(proxySocket);
    try {
      ports.proxy = await bind(proxySocket, config.proxyPort);
    } catch (error) {
      admission.close();
      main.close();
      throw error;
    }
    listen(proxySocket, 'proxy');
  }
  log.info({ mode: config.mode, ports, leases: engine.leaseCount }, 'dhcp listening');

  return {
    ports,
    counters: engine.counters,
    async close() {
      // Leases of the current turn are written (and their ACKs sent) before the sockets go.
      commit(main);
      delayed.close();
      admission.close();
      await Promise.all(sockets.map((socket) => new Promise<void>((resolve) => socket.close(() => resolve()))));
    },
  };
}
