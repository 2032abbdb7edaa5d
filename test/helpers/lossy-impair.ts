/**
 * The seeded impairments our userspace relays apply to each datagram (this machine has no
 * `tc netem`): drop, duplicate, delay and reorder. Shared by the TFTP relay (lossy-relay.ts) and
 * the Ethernet frame relay a QEMU NIC talks through (lossy-frames.ts). The same seed and the same
 * packet sequence give the same decisions, so a failure replays. Held packets are bounded in time
 * and number; close() releases all timers and nothing is sent after it.
 */
import { seededRandom } from './random.js';

export interface Impairments {
  /** Chances per 1000 packets. */
  dropPermille?: number;
  duplicatePermille?: number;
  /** Held back until the next packet of the same lane has passed (or maxDelayMs is up). */
  reorderPermille?: number;
  delayPermille?: number;
  /** Upper bound of a random delay, and of a reorder hold. */
  maxDelayMs?: number;
}

export interface ImpairCounters {
  dropped: number;
  duplicated: number;
  reordered: number;
  delayed: number;
}

export type Send = (packet: Buffer) => void;

/** One direction of one flow: reordering swaps packets within a lane only. */
export interface Lane {
  /** The packet held back for reordering, with its release timer. */
  held?: { packet: Buffer; send: Send; timer: NodeJS.Timeout };
}

export interface Impairer {
  readonly counters: ImpairCounters;
  /** Changes the impairments from now on (e.g. none while setting up). */
  set(impairments: Impairments): void;
  /** Applies the impairments to one packet; `send` is called zero, one or two times, maybe later. */
  pass(lane: Lane, packet: Buffer, send: Send): void;
  close(): void;
}

const MAX_HELD_PACKETS = 10_000;

export function createImpairer(seed: number, initial: Impairments = {}): Impairer {
  const random = seededRandom(seed);
  let impairments: Required<Impairments> = { dropPermille: 0, duplicatePermille: 0, reorderPermille: 0, delayPermille: 0, maxDelayMs: 20 };
  const set = (next: Impairments) => (impairments = { ...impairments, ...next });
  set(initial);
  const counters: ImpairCounters = { dropped: 0, duplicated: 0, reordered: 0, delayed: 0 };
  const timers = new Set<NodeJS.Timeout>();
  let closed = false;

  const chance = (permille: number) => permille > 0 && random() * 1000 < permille;
  const later = (ms: number, run: () => void) => {
    if (closed || timers.size >= MAX_HELD_PACKETS) return false;
    const timer = setTimeout(() => {
      timers.delete(timer);
      if (!closed) run();
    }, ms);
    timers.add(timer);
    return timer;
  };
  const releaseHeld = (lane: Lane) => {
    const held = lane.held;
    if (!held) return;
    lane.held = undefined;
    clearTimeout(held.timer);
    timers.delete(held.timer);
    held.send(held.packet);
  };

  return {
    counters,
    set,
    pass(lane, packet, send) {
      if (closed) return;
      if (chance(impairments.dropPermille)) {
        counters.dropped++;
        return;
      }
      const copies = chance(impairments.duplicatePermille) ? 2 : 1;
      if (copies === 2) counters.duplicated++;
      for (let copy = 0; copy < copies; copy++) {
        // With too many packets held already, a packet goes straight through rather than vanish.
        if (chance(impairments.delayPermille)) {
          if (later(1 + Math.floor(random() * impairments.maxDelayMs), () => send(packet))) {
            counters.delayed++;
            continue;
          }
        } else if (!lane.held && chance(impairments.reorderPermille)) {
          const timer = later(impairments.maxDelayMs, () => releaseHeld(lane));
          if (timer) {
            lane.held = { packet, send, timer };
            counters.reordered++;
            continue;
          }
        }
        send(packet);
        releaseHeld(lane); // the held packet now arrives after this one
      }
    },
    close() {
      closed = true;
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
    },
  };
}
