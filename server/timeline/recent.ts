import type { Inventory } from '../inventory/index.js';
import type { StoredEvent } from '../inventory/events.js';
import { latestBoot } from './stitch.js';
import type { Boot, BootOutcome } from './types.js';

/**
 * The newest events read for the rack's overview: a few boots' worth per node for a busy rack,
 * bounded whatever the rack's size (a boot storm of a thousand Pis fills it in seconds, and the
 * overview says how far back it looked).
 */
export const RECENT_EVENTS = 3_000;
/** Failed boots listed on the overview, newest first. */
const FAILURES_SHOWN = 6;

export interface RecentBoots {
  /** Nodes by the outcome of their newest boot among the events read. */
  outcomes: Partial<Record<BootOutcome, number>>;
  /** Newest failed boots, one per node. */
  failures: { nodeId: number; boot: Boot }[];
  /** How far back the events read go (null: none yet), and whether older ones were left unread. */
  since: number | null;
  truncated: boolean;
}

/** Each node's newest boot from the rack's newest events: bounded work for the overview. */
export function recentBoots(inventory: Inventory, now = Date.now()): RecentBoots {
  const events = inventory.events.recent(RECENT_EVENTS);
  const byNode = new Map<number, StoredEvent[]>();
  for (const event of events) {
    if (event.nodeId === null) continue;
    const own = byNode.get(event.nodeId);
    if (own) own.push(event);
    else byNode.set(event.nodeId, [event]);
  }
  const outcomes: RecentBoots['outcomes'] = {};
  const failures: RecentBoots['failures'] = [];
  for (const [nodeId, own] of byNode) {
    const boot = latestBoot(own, { now });
    if (!boot) continue;
    outcomes[boot.outcome] = (outcomes[boot.outcome] ?? 0) + 1;
    if (boot.outcome === 'failed') failures.push({ nodeId, boot });
  }
  failures.sort((a, b) => b.boot.endedAt - a.boot.endedAt);
  return {
    outcomes,
    failures: failures.slice(0, FAILURES_SHOWN),
    since: events.length ? events[events.length - 1]!.at : null,
    truncated: events.length === RECENT_EVENTS,
  };
}
