import type { Db } from './db.js';
import type { ExternalCommits } from './external-commits.js';
import type { Mac } from '../net/mac.js';

/** The columns per-packet paths look nodes up by. */
export interface NodeKeys {
  id: number;
  mac: string | null;
  serial: string | null;
  reservedIp: string | null;
}

/**
 * The nodes table's keys in memory: a DHCP exchange asks for node ids and reservations several
 * times per packet, and at thousands of packets a second those SQLite reads were a large share
 * of the daemon's time. This connection's writes are applied as they happen (put, drop); after
 * another process's commits the index is read anew.
 */
export class NodeKeyIndex {
  private readonly byId = new Map<number, NodeKeys>();
  private readonly idByMac = new Map<string, number>();
  private readonly idBySerial = new Map<string, number>();
  private readonly macByReservedIp = new Map<string, Mac>();
  private readonly allStmt;
  private dataVersion = -1;

  constructor(
    db: Db,
    private readonly commits: ExternalCommits,
  ) {
    this.allStmt = db.prepare<[], NodeKeys>('SELECT id, mac, serial, reserved_ip AS reservedIp FROM nodes');
  }

  idOfMac(mac: string): number | undefined {
    return this.fresh().idByMac.get(mac);
  }

  idOfSerial(serial: string): number | undefined {
    return this.fresh().idBySerial.get(serial);
  }

  reservedIpOf(mac: string): string | undefined {
    const id = this.fresh().idByMac.get(mac);
    return (id !== undefined && this.byId.get(id)?.reservedIp) || undefined;
  }

  reservedFor(ip: string): Mac | undefined {
    return this.fresh().macByReservedIp.get(ip);
  }

  /** After this connection wrote the node's row. */
  put(keys: NodeKeys): void {
    this.drop(keys.id);
    const entry = { id: keys.id, mac: keys.mac, serial: keys.serial, reservedIp: keys.reservedIp };
    this.byId.set(entry.id, entry);
    if (entry.mac) this.idByMac.set(entry.mac, entry.id);
    if (entry.serial) this.idBySerial.set(entry.serial, entry.id);
    if (entry.mac && entry.reservedIp) this.macByReservedIp.set(entry.reservedIp, entry.mac as Mac);
  }

  /** After this connection deleted the node's row. */
  drop(id: number): void {
    const old = this.byId.get(id);
    if (!old) return;
    this.byId.delete(id);
    if (old.mac && this.idByMac.get(old.mac) === id) this.idByMac.delete(old.mac);
    if (old.serial && this.idBySerial.get(old.serial) === id) this.idBySerial.delete(old.serial);
    if (old.reservedIp && this.macByReservedIp.get(old.reservedIp) === old.mac) this.macByReservedIp.delete(old.reservedIp);
  }

  /** Read the table anew at the next lookup. */
  invalidate(): void {
    this.dataVersion = -1;
  }

  private fresh(): this {
    const version = this.commits.current();
    if (version === this.dataVersion) return this;
    this.dataVersion = version;
    this.byId.clear();
    this.idByMac.clear();
    this.idBySerial.clear();
    this.macByReservedIp.clear();
    for (const keys of this.allStmt.all()) this.put(keys);
    return this;
  }
}
