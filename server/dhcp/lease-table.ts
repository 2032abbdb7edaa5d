/**
 * The engine's live view of every lease, by address and by MAC, plus the writes not yet
 * persisted. Offers are kept in memory only: they are held for seconds and a restarted server
 * simply offers again.
 */
import { intToIp, ipToInt } from '../net/ipv4.js';
import type { Mac } from '../net/mac.js';
import type { LeaseRecord, LeaseState, LeaseStore } from './lease-store.js';

export interface Lease {
  ip: number;
  mac: Mac;
  state: LeaseState;
  expiresAt: number;
  hostname?: string;
}

export class LeaseTable {
  private readonly byIp = new Map<number, Lease>();
  private readonly byMac = new Map<Mac, Lease>();
  private dirty = new Map<number, Lease>();

  constructor(records: readonly LeaseRecord[]) {
    for (const record of records) {
      const lease: Lease = { ip: ipToInt(record.ip), mac: record.mac, state: record.state, expiresAt: record.expiresAt };
      if (record.hostname) lease.hostname = record.hostname;
      this.remember(lease, true);
    }
  }

  get size(): number {
    return this.byIp.size;
  }

  /** MACs remembered: never more than the leases, however many MACs have come and gone. */
  get macCount(): number {
    return this.byMac.size;
  }

  atIp(ip: number): Lease | undefined {
    return this.byIp.get(ip);
  }

  /** The latest lease this MAC had, in any state. */
  ofMac(mac: Mac): Lease | undefined {
    return this.byMac.get(mac);
  }

  /** Whether `mac` may be given `ip` now: unused, its own, or expired/released. */
  availableFor(ip: number, mac: Mac, now: number): boolean {
    const lease = this.byIp.get(ip);
    if (!lease) return true;
    if (lease.mac === mac) return lease.state !== 'declined' || lease.expiresAt <= now;
    return lease.state === 'released' || lease.expiresAt <= now;
  }

  /** Records a lease state; everything but an offer is queued for the store. */
  put(ip: number, mac: Mac, state: LeaseState, expiresAt: number, hostname?: string): Lease {
    const lease: Lease = { ip, mac, state, expiresAt };
    if (hostname) lease.hostname = hostname;
    this.remember(lease, false);
    if (state !== 'offered') this.dirty.set(ip, lease);
    return lease;
  }

  /** Leases whose address could be handed to someone else now, oldest first. */
  reusable(first: number, last: number, now: number): number[] {
    const found: Lease[] = [];
    for (const lease of this.byIp.values()) {
      if (lease.ip >= first && lease.ip <= last && (lease.state === 'released' || lease.expiresAt <= now)) found.push(lease);
    }
    return found.sort((a, b) => a.expiresAt - b.expiresAt).map((lease) => lease.ip);
  }

  get pendingWrites(): number {
    return this.dirty.size;
  }

  /** Writes the queued changes; on failure they stay queued and the error propagates. */
  persist(store: LeaseStore): number {
    if (this.dirty.size === 0) return 0;
    const batch = this.dirty;
    const records: LeaseRecord[] = [];
    for (const lease of batch.values()) {
      const record: LeaseRecord = { ip: intToIp(lease.ip), mac: lease.mac, state: lease.state, expiresAt: lease.expiresAt };
      if (lease.hostname) record.hostname = lease.hostname;
      records.push(record);
    }
    store.saveBatch(records);
    this.dirty = new Map();
    return records.length;
  }

  private remember(lease: Lease, loading: boolean): void {
    const replaced = this.byIp.get(lease.ip);
    // A MAC whose address went to someone else is forgotten, so random MACs cannot grow the map.
    if (replaced && replaced.mac !== lease.mac && this.byMac.get(replaced.mac) === replaced) this.byMac.delete(replaced.mac);
    this.byIp.set(lease.ip, lease);
    const current = this.byMac.get(lease.mac);
    // Loading, a MAC keeps its longest-lived lease whatever order the rows come in.
    if (!loading || !current || current.expiresAt <= lease.expiresAt) this.byMac.set(lease.mac, lease);
  }
}
