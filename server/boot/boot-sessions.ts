import type { Assignment } from '../inventory/assignments.js';
import { advance, DEFAULT_GAPS, newCursor, startsNewBoot, type BootCursor, type BootStep } from '../timeline/boundaries.js';

/** How many nodes' boots are followed; far more than boot at once in a rack. */
export const MAX_BOOT_SESSIONS = 10_000;

/** What a boot serves, fixed when it first found a plan. */
export interface PinnedPlan {
  imageId: number;
  reason: 'once' | 'assigned' | 'default';
  assignment?: Assignment;
}

/** The boot a node is in now, as the policy follows it from its requests. */
export interface BootSession extends BootCursor {
  /** Where this boot's requests come from: the address that last fetched its chain script or its Pi files. */
  address?: string;
  pinned?: PinnedPlan;
}

/**
 * Each node's current boot, in memory: which requests belong to one boot is decided by the
 * timeline's boundaries (timeline/boundaries.ts), so a boot on the page is a boot here.
 */
export class BootSessions {
  private readonly sessions = new Map<number, BootSession>();

  constructor(private readonly now: () => number) {}

  /** The boot this step of the node belongs to: the current one, or a new one the step begins. */
  step(nodeId: number, step: BootStep): BootSession {
    const at = this.now();
    const current = this.sessions.get(nodeId);
    const session: BootSession = startsNewBoot(current, step, at, DEFAULT_GAPS) ? newCursor(at) : current!;
    advance(session, step, at);
    // Oldest first in a Map: one entry per node that booted lately, however many MACs a LAN invents.
    this.sessions.delete(nodeId);
    this.sessions.set(nodeId, session);
    if (this.sessions.size > MAX_BOOT_SESSIONS) this.sessions.delete(this.sessions.keys().next().value!);
    return session;
  }

  current(nodeId: number): BootSession | undefined {
    return this.sessions.get(nodeId);
  }
}
