import type { Logger } from 'pino';
import type { EventsConfig } from '../config/types.js';
import type { Events } from '../inventory/events.js';

const PRUNE_INTERVAL_MS = 60 * 60_000;
const DAY_MS = 24 * 60 * 60_000;

/**
 * Deletes events older than `retentionDays` and the oldest beyond `maxRows`, now and then hourly
 * (0 turns either off). A rack booting all day writes tens of thousands of events, and a hostile
 * LAN can make many more: an age alone does not bound the database's size, a row count does.
 * Returns the closer the daemon runs on shutdown.
 */
export function startEventRetention(events: Events, config: EventsConfig, log: Logger): () => Promise<void> {
  const { retentionDays, maxRows } = config;
  if (retentionDays <= 0 && maxRows <= 0) return async () => {};
  const prune = () => {
    try {
      const old = retentionDays > 0 ? events.pruneBefore(Date.now() - retentionDays * DAY_MS) : 0;
      if (old) log.info({ removed: old, retentionDays }, 'pruned old boot events');
      const excess = maxRows > 0 ? events.pruneBeyond(maxRows) : 0;
      if (excess) log.warn({ removed: excess, maxRows }, 'pruned the oldest boot events beyond events.maxRows');
    } catch (error) {
      log.error({ err: error }, 'could not prune old boot events');
    }
  };
  prune();
  const timer = setInterval(prune, PRUNE_INTERVAL_MS).unref();
  return async () => clearInterval(timer);
}
