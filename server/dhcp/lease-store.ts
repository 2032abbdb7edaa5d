/** What the engine needs from persistence; server/inventory/leases.ts implements it over SQLite. */
import type { Mac } from '../net/mac.js';

export type LeaseState = 'offered' | 'bound' | 'declined' | 'released';

export interface LeaseRecord {
  ip: string;
  mac: Mac;
  state: LeaseState;
  hostname?: string;
  /** Milliseconds since the epoch. */
  expiresAt: number;
}

export interface LeaseStore {
  /** Every persisted lease, read once when the server starts. */
  loadAll(): LeaseRecord[];
  /** Inserts or replaces each record by ip, all in one transaction; throws if nothing was written. */
  saveBatch(records: readonly LeaseRecord[]): void;
}
