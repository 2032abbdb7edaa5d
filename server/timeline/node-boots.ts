import type { Inventory } from '../inventory/index.js';
import { stitchBoots } from './stitch.js';
import type { Boot } from './types.js';

/** Enough events for the last few boots of a Pi (each asks for 20-40 files, several twice). */
const EVENTS_PER_NODE = 600;

/** A node's boots from its stored events, oldest first. */
export function nodeBoots(inventory: Inventory, nodeId: number, now = Date.now()): Boot[] {
  return stitchBoots(inventory.events.forNode(nodeId, EVENTS_PER_NODE), { now });
}
