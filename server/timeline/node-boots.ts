import type { StoredEvent } from '../inventory/events.js';
import type { Inventory } from '../inventory/index.js';
import { DEFAULT_QUIET_GAP_MS } from './boundaries.js';
import { stitchBoots } from './stitch.js';
import type { Boot } from './types.js';

/** Enough events for the last few boots of a Pi (each asks for 20-40 files, several twice). */
const EVENTS_PER_NODE = 600;
/** Enough for one boot: the node list shows only the last, for every node at each refresh. */
const EVENTS_FOR_LAST_BOOT = 150;
/** How far back among all events to look for ones known only by the node's address. */
const ADDRESS_EVENTS_SCANNED = 2_000;

const text = (value: unknown) => (typeof value === 'string' ? value : undefined);

/**
 * Events recorded without a node (TFTP files fetched with no serial or MAC prefix: a Pi 3's
 * bootcode.bin, an iPXE binary) from an address DHCP gave this node, while it was booting.
 */
function addressEvents(inventory: Inventory, own: StoredEvent[]): StoredEvent[] {
  const addresses = new Set(own.filter((event) => event.source === 'dhcp').map((event) => text(event.detail['ip'])).filter(Boolean));
  if (!addresses.size) return [];
  const from = Math.min(...own.map((event) => event.at));
  const to = Math.max(...own.map((event) => event.at)) + DEFAULT_QUIET_GAP_MS;
  return inventory.events
    .recent(ADDRESS_EVENTS_SCANNED)
    .filter((event) => event.nodeId === null && event.at >= from && event.at <= to && addresses.has(text(event.detail['address'])));
}

/** A node's boots from its stored events, oldest first. */
export function nodeBoots(inventory: Inventory, nodeId: number, now = Date.now()): Boot[] {
  const own = inventory.events.forNode(nodeId, EVENTS_PER_NODE);
  return stitchBoots([...own, ...addressEvents(inventory, own)], { now });
}

/**
 * A node's newest boot, from its newest events only. A boot longer than that window (a node
 * retrying for minutes) is shown from the middle; its outcome is still right.
 */
export function newestBoot(inventory: Inventory, nodeId: number, now = Date.now()): Boot | null {
  return stitchBoots(inventory.events.forNode(nodeId, EVENTS_FOR_LAST_BOOT), { now }).pop() ?? null;
}
