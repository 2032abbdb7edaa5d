import type { Inventory } from '../inventory/index.js';
import { stitchBoots } from './stitch.js';
import type { Boot } from './types.js';

/** Enough events for the last few boots of a Pi (each asks for 20-40 files, several twice). */
const EVENTS_PER_NODE = 600;
/** Enough for one boot: the node list shows only the last, for every node at each refresh. */
const EVENTS_FOR_LAST_BOOT = 150;

/** A node's boots from its stored events, oldest first. */
export function nodeBoots(inventory: Inventory, nodeId: number, now = Date.now()): Boot[] {
  return stitchBoots(inventory.events.forNode(nodeId, EVENTS_PER_NODE), { now });
}

/**
 * A node's newest boot, from its newest events only. A boot longer than that window (a node
 * retrying for minutes) is shown from the middle; its outcome is still right.
 */
export function newestBoot(inventory: Inventory, nodeId: number, now = Date.now()): Boot | null {
  return stitchBoots(inventory.events.forNode(nodeId, EVENTS_FOR_LAST_BOOT), { now }).pop() ?? null;
}
