import type { Db } from './db.js';

/** How stale a write by another process (the CLI) may be seen here, at most. */
const RECHECK_MS = 1;

/**
 * Notices commits made through other connections to the database file (the CLI, a second
 * daemon): `PRAGMA data_version` changes with each of them, never with this connection's own.
 * Read at most once a millisecond, so the in-memory views can ask on every lookup.
 */
export class ExternalCommits {
  private readonly dataVersionStmt;
  private version = -1;
  private checkedAt = -Infinity;

  constructor(db: Db) {
    this.dataVersionStmt = db.prepare<[], number>('PRAGMA data_version').pluck();
  }

  /** A number that changes when another connection has committed since it was last read. */
  current(): number {
    const now = Date.now();
    if (now - this.checkedAt >= RECHECK_MS) {
      this.checkedAt = now;
      this.version = this.dataVersionStmt.get()!;
    }
    return this.version;
  }
}
