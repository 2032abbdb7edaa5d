/** The DHCP lease store over SQLite (table `leases`, migrations/001). */
import type { LeaseRecord, LeaseState, LeaseStore } from '../dhcp/lease-store.js';
import type { Mac } from '../net/mac.js';
import type { Db } from './db.js';

interface LeaseRow {
  ip: string;
  mac: string;
  state: LeaseState;
  hostname: string | null;
  expires_at: number;
}

export function sqliteLeaseStore(db: Db): LeaseStore {
  const selectAll = db.prepare<[], LeaseRow>('SELECT ip, mac, state, hostname, expires_at FROM leases');
  const upsert = db.prepare<[string, string, LeaseState, string | null, number, number]>(
    `INSERT INTO leases (ip, mac, state, hostname, expires_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)
     ON CONFLICT (ip) DO UPDATE SET mac = excluded.mac, state = excluded.state, hostname = excluded.hostname,
       expires_at = excluded.expires_at, updated_at = excluded.updated_at`,
  );
  const saveAll = db.transaction((records: readonly LeaseRecord[]) => {
    const now = Date.now();
    for (const r of records) upsert.run(r.ip, r.mac, r.state, r.hostname ?? null, r.expiresAt, now);
  });
  return {
    loadAll() {
      return selectAll.all().map((row) => {
        const record: LeaseRecord = { ip: row.ip, mac: row.mac as Mac, state: row.state, expiresAt: row.expires_at };
        if (row.hostname) record.hostname = row.hostname;
        return record;
      });
    },
    saveBatch(records) {
      saveAll(records);
    },
  };
}

/** The MAC our DHCP server leased (or is offering) `ip` to at `now`, if any. */
export function leaseHolder(db: Db): (ip: string, now?: number) => Mac | undefined {
  const select = db.prepare<[string, number], { mac: string }>(
    "SELECT mac FROM leases WHERE ip = ? AND state IN ('offered', 'bound') AND expires_at > ?",
  );
  return (ip, now = Date.now()) => select.get(ip, now)?.mac as Mac | undefined;
}
