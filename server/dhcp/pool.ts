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
}

export class Pool {
  readonly cidr: Cidr;
  readonly subnet: string;
  readonly mask: string;
  readonly broadcast: string;
  readonly first: number;
  readonly last: number;
  private cursor: number;
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

/** The local subnet first, then the relay subnets, as config names them. */
export function poolsFromConfig(config: DhcpConfig): Pool[] {
  const pools: Pool[] = [];
  if (config.subnet) {
    const local: PoolSettings = { subnet: config.subnet, dns: config.dns };
    if (config.pool) local.pool = config.pool;
    if (config.router) local.router = config.router;
    if (config.domain) local.domain = config.domain;
    pools.push(new Pool(local));
  }
  for (const relay of config.relaySubnets) {
    const settings: PoolSettings = { subnet: relay.subnet, pool: relay.pool, dns: relay.dns ?? config.dns };
    if (relay.router) settings.router = relay.router;
    if (config.domain) settings.domain = config.domain;
    pools.push(new Pool(settings));
  }
  return pools;
}
