/** One subnet rackboot hands addresses out of, with the options its clients get. */
import type { DhcpConfig, PoolConfig } from '../config/types.js';
import { cidrBroadcast, cidrContains, intToIp, ipToInt, parseCidr, type Cidr } from '../net/ipv4.js';
import type { Mac } from '../net/mac.js';
import type { LeaseTable } from './lease-table.js';

/** Rebuilding the list of reusable addresses scans every lease: at most this often. */
const REUSE_SCAN_INTERVAL_MS = 1000;

export interface PoolSettings {
  subnet: string;
  pool?: PoolConfig;
  router?: string;
  dns: readonly string[];
  domain?: string;
  /** This server's own address: never a client's. */
  serverAddress?: string;
}

export class Pool {
  readonly cidr: Cidr;
  readonly subnet: string;
  readonly mask: string;
  readonly broadcast: string;
  readonly first: number;
  readonly last: number;
  private cursor: number;
  /** Addresses of the subnet no client may hold, with what each one is. */
  private readonly special = new Map<number, string>();
  /** Lease rows are never deleted, so once a full pass finds no never-leased address none appears again. */
  private neverLeasedLeft = true;
  private reuseQueue: number[] = [];
  private reuseNext = 0;
  private reuseScannedAt = -Infinity;

  constructor(readonly settings: PoolSettings) {
    this.subnet = settings.subnet;
    this.cidr = parseCidr(settings.subnet);
    this.mask = intToIp(this.cidr.mask);
    this.broadcast = cidrBroadcast(this.cidr);
    // Proxy mode has a subnet but no pool: an empty range.
    this.first = settings.pool ? ipToInt(settings.pool.start) : 1;
    this.last = settings.pool ? ipToInt(settings.pool.end) : 0;
    this.cursor = this.first;
    // RFC 3021: a /31 or /32 has no network or broadcast address.
    if (this.cidr.prefix <= 30) {
      this.special.set(this.cidr.network, 'the network address');
      this.special.set(ipToInt(this.broadcast), 'the broadcast address');
    }
    if (settings.router) this.special.set(ipToInt(settings.router), 'the router');
    if (settings.serverAddress) this.special.set(ipToInt(settings.serverAddress), "this server's address (serverAddress)");
  }

  /** Why no client may hold `ip` (the network or broadcast address, the router, this server), or undefined. */
  unassignable(ip: number): string | undefined {
    return this.special.get(ip);
  }

  /** What the pool range holds that no client may hold, e.g. "serverAddress 10.0.0.1". */
  rangeConflicts(): string[] {
    return [...this.special].filter(([ip]) => this.inRange(ip)).map(([ip, what]) => `${what} ${intToIp(ip)}`);
  }

  contains(ip: string): boolean {
    return cidrContains(this.cidr, ip);
  }

  inRange(ip: number): boolean {
    return ip >= this.first && ip <= this.last;
  }

  /**
   * A free address for `mac`: first one never leased (a rotating cursor, so returning clients
   * keep finding their old address free), then the longest-expired one. Bounded: at most one
   * pass over the range per call and one lease scan per second; null when exhausted.
   */
  allocate(mac: Mac, table: LeaseTable, now: number, reservedForOther: (ip: number) => boolean): number | null {
    if (this.neverLeasedLeft) {
      let sawUnleased = false;
      for (let step = this.last - this.first; step >= 0; step--) {
        const ip = this.cursor;
        this.cursor = ip >= this.last ? this.first : ip + 1;
        if (table.atIp(ip)) continue;
        if (!reservedForOther(ip)) return ip;
        sawUnleased = true;
      }
      this.neverLeasedLeft = sawUnleased;
    }
    for (let attempt = 0; attempt < 2; attempt++) {
      while (this.reuseNext < this.reuseQueue.length) {
        const ip = this.reuseQueue[this.reuseNext++]!;
        if (table.availableFor(ip, mac, now) && !reservedForOther(ip)) return ip;
      }
      if (now - this.reuseScannedAt < REUSE_SCAN_INTERVAL_MS) break;
      this.reuseScannedAt = now;
      this.reuseQueue = table.reusable(this.first, this.last, now);
      this.reuseNext = 0;
    }
    return null;
  }
}

/** What is wrong with reserving `ip` for a client under these pools, or undefined if nothing is. */
export function reservationProblem(pools: readonly Pool[], ip: string): string | undefined {
  let value: number;
  try {
    value = ipToInt(ip);
  } catch {
    return `"${ip}" is not an IPv4 address`;
  }
  const pool = pools.find((candidate) => candidate.contains(ip));
  if (!pool) {
    const subnets = pools.map((candidate) => candidate.subnet).join(', ') || 'none configured';
    return `${ip} is outside every DHCP subnet (dhcp.subnet, dhcp.relaySubnets: ${subnets})`;
  }
  const what = pool.unassignable(value);
  return what ? `${ip} is ${what} in ${pool.subnet}` : undefined;
}

/** The local subnet first, then the relay subnets, as config names them. */
export function poolsFromConfig(config: DhcpConfig, serverAddress?: string): Pool[] {
  const pools: Pool[] = [];
  if (config.subnet) {
    const local: PoolSettings = { subnet: config.subnet, dns: config.dns };
    if (config.pool) local.pool = config.pool;
    if (config.router) local.router = config.router;
    if (config.domain) local.domain = config.domain;
    if (serverAddress) local.serverAddress = serverAddress;
    pools.push(new Pool(local));
  }
  for (const relay of config.relaySubnets) {
    const settings: PoolSettings = { subnet: relay.subnet, pool: relay.pool, dns: relay.dns ?? config.dns };
    if (relay.router) settings.router = relay.router;
    if (config.domain) settings.domain = config.domain;
    if (serverAddress) settings.serverAddress = serverAddress;
    pools.push(new Pool(settings));
  }
  return pools;
}
