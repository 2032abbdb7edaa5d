import type { Logger } from 'pino';
import type { Events } from '../inventory/events.js';

const PRUNE_INTERVAL_MS = 60 * 60_000;
const DAY_MS = 24 * 60 * 60_000;

/**
 * Deletes events older than `retentionDays` now and then hourly (0 keeps everything). A rack
 * booting all day writes tens of thousands of events; without this the database only grows.
 * Returns the closer the daemon runs on shutdown.
 */
export function startEventRetention(events: Events, retentionDays: number, log: Logger): () => Promise<void> {
  if (retentionDays <= 0) return async () => {};
  const prune = () => {
    try {
      const removed = events.pruneBefore(Date.now() - retentionDays * DAY_MS);
      if (removed) log.info({ removed, retentionDays }, 'pruned old boot events');
    } catch (error) {
      log.error({ err: error }, 'could not prune old boot events');
    }
  };
  prune();
  const timer = setInterval(prune, PRUNE_INTERVAL_MS).unref();
  return async () => clearInterval(timer);
}
