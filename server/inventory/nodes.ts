import type { Db } from './db.js';
import type { ExternalCommits } from './external-commits.js';
import { NodeKeyIndex } from './node-keys.js';
import type { ReadCache } from './read-cache.js';
import type { Arch, Firmware } from '../boot/client.js';
import type { Mac } from '../net/mac.js';

export interface NodeRecord {
  id: number;
  mac: Mac | null;
  serial: string | null;
  model: string | null;
  arch: Arch | null;
  firmware: Firmware | null;
  hostname: string | null;
  labels: Record<string, string>;
  sshKeys: string[];
  reservedIp: string | null;
  firstSeen: number;
  /** When the node last asked us anything (DHCP, TFTP, HTTP); null if it never has (registered by the operator). */
  lastSeen: number | null;
}

/** What a protocol learned; merged into the node without overwriting operator fields. */
export interface NodeFacts {
  mac?: Mac;
  serial?: string;
  model?: string;
  arch?: Arch;
  firmware?: Firmware;
}

export interface NodeSettings {
  hostname?: string | null;
  labels?: Record<string, string>;
  sshKeys?: string[];
  reservedIp?: string | null;
}

export interface NodeRow {
  id: number;
  mac: string | null;
  serial: string | null;
  model: string | null;
  arch: string | null;
  firmware: string | null;
  hostname: string | null;
  labels: string;
  ssh_keys: string;
  reserved_ip: string | null;
  first_seen: number;
  last_seen: number;
}

export function toRecord(row: NodeRow): NodeRecord {
  return {
    id: row.id,
    mac: row.mac as Mac | null,
    serial: row.serial,
    model: row.model,
    arch: row.arch as Arch | null,
    firmware: row.firmware as Firmware | null,
    hostname: row.hostname,
    labels: JSON.parse(row.labels) as Record<string, string>,
    sshKeys: JSON.parse(row.ssh_keys) as string[],
    reservedIp: row.reserved_ip,
    firstSeen: row.first_seen,
    lastSeen: row.last_seen === NEVER_SEEN ? null : row.last_seen,
  };
}

// last_seen of a node the operator registered and that never asked: the column predates the need
// for "never" and is NOT NULL; 0 (1970) is no time a node could have been seen at.
export const NEVER_SEEN = 0;

// A node seen again within this window is not rewritten: DHCP and TFTP report every packet.
const LAST_SEEN_RESOLUTION_MS = 5_000;

export class Nodes {
  private readonly byMacStmt;
  private readonly bySerialStmt;
  private readonly byIdStmt;
  private readonly byReservedIpStmt;
  private readonly touchStmt;
  private readonly unconfirmedStmt;
  private readonly keys: NodeKeyIndex;

  constructor(
    private readonly db: Db,
    commits: ExternalCommits,
    private readonly cache: ReadCache,
  ) {
    this.keys = new NodeKeyIndex(db, commits);
    this.byMacStmt = db.prepare<[string], NodeRow>('SELECT * FROM nodes WHERE mac = ?');
    this.bySerialStmt = db.prepare<[string], NodeRow>('SELECT * FROM nodes WHERE serial = ?');
    this.byIdStmt = db.prepare<[number], NodeRow>('SELECT * FROM nodes WHERE id = ?');
    this.byReservedIpStmt = db.prepare<[string], NodeRow>('SELECT * FROM nodes WHERE reserved_ip = ?');
    this.unconfirmedStmt = db.prepare(
      `SELECT count(*) AS n FROM nodes WHERE hostname IS NULL AND reserved_ip IS NULL AND labels = '{}' AND ssh_keys = '[]'
         AND NOT EXISTS (SELECT 1 FROM assignments WHERE assignments.node_id = nodes.id)
         AND NOT EXISTS (SELECT 1 FROM eeprom_node_settings WHERE eeprom_node_settings.node_id = nodes.id)`,
    );
    this.touchStmt = db.prepare(
      `UPDATE nodes SET last_seen = @now,
         model = coalesce(@model, model), arch = coalesce(@arch, arch), firmware = coalesce(@firmware, firmware)
       WHERE id = @id AND (last_seen < @now - ${LAST_SEEN_RESOLUTION_MS}
         OR coalesce(@model, model) IS NOT model OR coalesce(@arch, arch) IS NOT arch
         OR coalesce(@firmware, firmware) IS NOT firmware)`,
    );
  }

  byMac(mac: Mac): NodeRecord | undefined {
    return this.cache.read(`node:mac:${mac}`, () => {
      const row = this.byMacStmt.get(mac);
      return row && toRecord(row);
    });
  }

  bySerial(serial: string): NodeRecord | undefined {
    return this.cache.read(`node:serial:${serial}`, () => {
      const row = this.bySerialStmt.get(serial);
      return row && toRecord(row);
    });
  }

  byId(id: number): NodeRecord | undefined {
    return this.cache.read(`node:${id}`, () => {
      const row = this.byIdStmt.get(id);
      return row && toRecord(row);
    });
  }

  byReservedIp(ip: string): NodeRecord | undefined {
    const row = this.byReservedIpStmt.get(ip);
    return row && toRecord(row);
  }

  find(key: { mac?: Mac; serial?: string }): NodeRecord | undefined {
    return (key.mac && this.byMac(key.mac)) || (key.serial ? this.bySerial(key.serial) : undefined);
  }

  idOf(key: { mac?: Mac; serial?: string }): number | undefined {
    return (key.mac && this.keys.idOfMac(key.mac)) || (key.serial ? this.keys.idOfSerial(key.serial) : undefined);
  }

  reservedIpOf(mac: Mac): string | undefined {
    return this.keys.reservedIpOf(mac);
  }

  /** The MAC an address is reserved for, so the pool never hands it to another node. */
  reservedFor(ip: string): Mac | undefined {
    return this.keys.reservedFor(ip);
  }

  /** Nodes nobody vouched for: no assignment, reservation, hostname, labels or SSH keys. */
  countUnconfirmed(): number {
    return (this.unconfirmedStmt.get() as { n: number }).n;
  }

  list(): NodeRecord[] {
    return this.db.prepare<[], NodeRow>('SELECT * FROM nodes ORDER BY id').all().map(toRecord);
  }

  /** `limit` nodes from `offset` in the order of list(): the page shows thousands a page at a time. */
  listPage(offset: number, limit: number): NodeRecord[] {
    return this.db.prepare<[number, number], NodeRow>('SELECT * FROM nodes ORDER BY id LIMIT ? OFFSET ?').all(limit, offset).map(toRecord);
  }

  count(): number {
    return this.db.prepare<[], { count: number }>('SELECT count(*) AS count FROM nodes').get()!.count;
  }

  countSeenSince(at: number): number {
    return this.db.prepare<[number], { count: number }>('SELECT count(*) AS count FROM nodes WHERE last_seen >= ?').get(at)!.count;
  }

  /**
   * Auto-discovery: records a node the first time it is seen. A MAC and a serial are only stored
   * together when both are new (one node, one row); linking them across rows is `link`'s job,
   * after the boot policy has confirmed the pair. Operator-set fields are never touched here.
   */
  observe(facts: NodeFacts, now = Date.now()): NodeRecord {
    // Every chain request and Pi file lands here: a known node needs no transaction.
    const known = this.find(facts);
    if (known) return this.touched(known, facts, now);
    return this.insert(facts, now, now);
  }

  private insert(facts: NodeFacts, now: number, lastSeen: number): NodeRecord {
    return this.writeKeys(() => {
      const id = this.db
        .prepare(
          `INSERT INTO nodes (mac, serial, model, arch, firmware, first_seen, last_seen)
           VALUES (@mac, @serial, @model, @arch, @firmware, @now, @lastSeen)`,
        )
        .run({ mac: facts.mac ?? null, serial: facts.serial ?? null, ...this.learned(facts), now, lastSeen }).lastInsertRowid;
      return this.byId(Number(id))!;
    });
  }

  /**
   * Puts a MAC and a Pi serial on one node: the serial's node gets the MAC, the MAC's node the
   * serial, or a serial-only node (seen over TFTP, or registered by serial) is folded into the
   * MAC's node, keeping what the operator set on either. Never takes a MAC or a serial from a
   * node that has another one: that is a 'conflict' and nothing changes.
   */
  link(mac: Mac, serial: string, now = Date.now()): { outcome: 'linked' | 'already' | 'conflict'; node?: NodeRecord } {
    const byMac = this.byMac(mac);
    const bySerial = this.bySerial(serial);
    if (byMac && byMac.id === bySerial?.id) return { outcome: 'already', node: byMac };
    if ((bySerial?.mac && bySerial.mac !== mac) || (byMac?.serial && byMac.serial !== serial)) return { outcome: 'conflict' };
    const node = this.writeKeys(() => {
      if (!byMac && !bySerial) return this.observe({ mac, serial }, now);
      if (byMac && bySerial) {
        // OR IGNORE: a one-row-per-node table keeps the MAC node's row; the serial node's goes with it.
        for (const table of ['events', 'assignments', 'eeprom_node_settings', 'eeprom_state']) {
          this.db.prepare(`UPDATE OR IGNORE ${table} SET node_id = ? WHERE node_id = ?`).run(byMac.id, bySerial.id);
        }
        this.db.prepare('DELETE FROM nodes WHERE id = ?').run(bySerial.id);
        this.keys.drop(bySerial.id);
        this.db
          .prepare(
            `UPDATE nodes SET hostname = coalesce(hostname, ?), reserved_ip = coalesce(reserved_ip, ?),
               labels = CASE WHEN labels = '{}' THEN ? ELSE labels END,
               ssh_keys = CASE WHEN ssh_keys = '[]' THEN ? ELSE ssh_keys END,
               first_seen = min(first_seen, ?) WHERE id = ?`,
          )
          .run(bySerial.hostname, bySerial.reservedIp, JSON.stringify(bySerial.labels), JSON.stringify(bySerial.sshKeys), bySerial.firstSeen, byMac.id);
      }
      const id = (byMac ?? bySerial)!.id;
      this.db.prepare('UPDATE nodes SET mac = ?, serial = ?, last_seen = ? WHERE id = ?').run(mac, serial, now, id);
      return this.byId(id)!;
    });
    return { outcome: 'linked', node };
  }

  /**
   * Runs a write that may change a node's keys in a transaction and brings the key index up to
   * date. Inside a caller's transaction, or when the write fails, the index is read anew instead:
   * a rollback would otherwise leave it naming rows that never were.
   */
  private writeKeys(write: () => NodeRecord): NodeRecord {
    const nested = this.db.inTransaction;
    try {
      const node = this.cache.write(write);
      if (nested) this.keys.invalidate();
      else this.keys.put(node);
      return node;
    } catch (error) {
      this.keys.invalidate();
      throw error;
    }
  }

  /**
   * Records that the node was seen (and what it reported); re-read only when that changed its row.
   * `node` was just read, so most calls (seen moments ago, nothing new) need no UPDATE: even one
   * that changes no row takes SQLite's write lock, a tenth of a chain request's time.
   */
  private touched(node: NodeRecord, facts: NodeFacts, now: number): NodeRecord {
    const learned = this.learned(facts);
    const news =
      (learned.model !== null && learned.model !== node.model) ||
      (learned.arch !== null && learned.arch !== node.arch) ||
      (learned.firmware !== null && learned.firmware !== node.firmware);
    if (!news && node.lastSeen !== null && now - node.lastSeen < LAST_SEEN_RESOLUTION_MS) return node;
    return this.cache.write(() => this.touchStmt.run({ id: node.id, now, ...learned }).changes) ? this.byId(node.id)! : node;
  }

  private learned(facts: NodeFacts) {
    return {
      model: facts.model ?? null,
      arch: facts.arch && facts.arch !== 'unknown' ? facts.arch : null,
      firmware: facts.firmware && facts.firmware !== 'unknown' ? facts.firmware : null,
    };
  }

  /**
   * Creates the node if needed (operator registration before first boot: it is not seen until it
   * asks) and applies settings.
   */
  upsert(key: { mac?: Mac; serial?: string }, settings: NodeSettings, now = Date.now()): NodeRecord {
    return this.writeKeys(() => {
      const node = this.find(key) ?? this.insert(key, now, NEVER_SEEN);
      this.db
        .prepare(
          `UPDATE nodes SET
             hostname = CASE WHEN @setHostname THEN @hostname ELSE hostname END,
             labels = coalesce(@labels, labels),
             ssh_keys = coalesce(@sshKeys, ssh_keys),
             reserved_ip = CASE WHEN @setReservedIp THEN @reservedIp ELSE reserved_ip END
           WHERE id = @id`,
        )
        .run({
          id: node.id,
          setHostname: settings.hostname === undefined ? 0 : 1,
          hostname: settings.hostname ?? null,
          labels: settings.labels ? JSON.stringify(settings.labels) : null,
          sshKeys: settings.sshKeys ? JSON.stringify(settings.sshKeys) : null,
          setReservedIp: settings.reservedIp === undefined ? 0 : 1,
          reservedIp: settings.reservedIp ?? null,
        });
      return this.byId(node.id)!;
    });
  }

  remove(id: number): boolean {
    const removed = this.cache.write(() => this.db.prepare('DELETE FROM nodes WHERE id = ?').run(id).changes > 0);
    if (this.db.inTransaction) this.keys.invalidate();
    else this.keys.drop(id);
    return removed;
  }
}
