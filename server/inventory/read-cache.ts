import type { Db } from './db.js';
import type { ExternalCommits } from './external-commits.js';

/** Past this many entries the cache starts over: a bound on memory, not a working-set policy. */
const MAX_ENTRIES = 50_000;

/** Cached records are shared by every caller: one that changed a record would change it for all. */
function frozen<T>(value: T): T {
  if (typeof value !== 'object' || value === null || Object.isFrozen(value)) return value;
  for (const inner of Object.values(value)) frozen(inner);
  return Object.freeze(value);
}

/**
 * Reads of nodes, assignments and images kept in memory: every chain request and every file of
 * a Pi's boot asks for the node, its assignment and its image, and each SQLite read costs about
 * 10 us here. The repositories make each of their writes through `write()`, and another process's
 * commits (the CLI) empty the cache within a millisecond.
 */
export class ReadCache {
  /** Boxed: "no such record" (undefined) is an answer worth keeping too. */
  private readonly entries = new Map<string, { value: unknown }>();
  private dataVersion = -1;

  constructor(
    private readonly db: Db,
    private readonly commits: ExternalCommits,
  ) {}

  read<T>(key: string, load: () => T): T {
    // Inside a transaction a read can see writes that are rolled back later: never keep those.
    if (this.db.inTransaction) return load();
    const version = this.commits.current();
    if (version !== this.dataVersion) {
      this.entries.clear();
      this.dataVersion = version;
    }
    const cached = this.entries.get(key);
    if (cached) return cached.value as T;
    const value = frozen(load());
    if (this.entries.size >= MAX_ENTRIES) this.entries.clear();
    this.entries.set(key, { value });
    return value;
  }

  /**
   * Runs a write to nodes, assignments or images in a transaction (or the caller's); whether it
   * commits or not, the cache then forgets what it held.
   */
  write<T>(write: () => T): T {
    try {
      return this.db.transaction(write)();
    } finally {
      this.entries.clear();
    }
  }
}
