import type { RecordedEvent } from '../events/recorder.js';
import { DEFAULT_BOOTED_WINDOW_MS, DEFAULT_QUIET_GAP_MS } from './boundaries.js';
import { stitchBoots } from './stitch.js';
import type { Boot, TimelineEvent } from './types.js';

/** Bounds memory per node if one misbehaves (a ROM in a DHCP loop). */
const MAX_EVENTS_PER_NODE = 2_000;
/** Addresses remembered from DHCP; the oldest are forgotten past this many. */
const MAX_ADDRESS_OWNERS = 10_000;

interface Pending {
  events: TimelineEvent[];
  lastAt: number;
}

const text = (value: unknown) => (typeof value === 'string' && value ? value : undefined);

/**
 * Follows live events and reports each boot once when it is over: at the booted callback, or
 * once it went quiet. A boot that served its files is held until the booted window passed, so a
 * late callback still counts it as booted. Feeds the boot metrics.
 */
export class BootTracker {
  private readonly pending = new Map<number, Pending>();
  /**
   * IP address -> node id, learned from DHCP offers and acks: a Pi 3's bootcode.bin and an iPXE
   * binary are fetched over TFTP without a node prefix, known only by the client's address.
   */
  private readonly owners = new Map<string, number>();
  private readonly quietGapMs: number;
  private readonly bootedWindowMs: number;

  constructor(
    private readonly onBoot: (boot: Boot) => void,
    options: { quietGapMs?: number; bootedWindowMs?: number } = {},
  ) {
    this.quietGapMs = options.quietGapMs ?? DEFAULT_QUIET_GAP_MS;
    this.bootedWindowMs = options.bootedWindowMs ?? DEFAULT_BOOTED_WINDOW_MS;
  }

  observe(event: RecordedEvent): void {
    // Console lines are no boot step: a node logging while booting from its SD card made no boot of ours.
    if (event.source === 'api' || event.source === 'netconsole') return;
    // Every protocol records a boot client's node before its event, so an event without a node
    // is a laptop's or BMC's DHCP exchange in server mode, or a file fetched by address only.
    const address = text(event.detail['address']);
    const node = event.nodeId ?? (address ? this.owners.get(address) : undefined);
    this.learnAddress(event, node);
    if (node === undefined) return;
    let entry = this.pending.get(node);
    if (!entry) {
      entry = { events: [], lastAt: event.at };
      this.pending.set(node, entry);
    }
    entry.events.push(event);
    entry.lastAt = event.at;
    if (entry.events.length > MAX_EVENTS_PER_NODE) entry.events.splice(0, entry.events.length / 2);
    if (event.source === 'node' && event.kind === 'booted') this.finish(node, entry, event.at);
  }

  /** Remembers the node DHCP gave an address to; once given to a client that is no node (a laptop), it is nobody's. */
  private learnAddress(event: RecordedEvent, node: number | undefined): void {
    const ip = text(event.detail['ip']);
    if (event.source !== 'dhcp' || !ip) return;
    this.owners.delete(ip);
    if (node === undefined) return;
    this.owners.set(ip, node);
    if (this.owners.size > MAX_ADDRESS_OWNERS) this.owners.delete(this.owners.keys().next().value!);
  }

  /** Reports boots that are over; the owner calls this now and then. */
  sweep(now = Date.now()): void {
    for (const [node, entry] of this.pending) {
      const silence = now - entry.lastAt;
      if (silence <= this.quietGapMs) continue;
      const boots = stitchBoots(entry.events, { now, quietGapMs: this.quietGapMs });
      if (boots[boots.length - 1]?.outcome === 'served' && silence <= this.bootedWindowMs) continue;
      this.finish(node, entry, now);
    }
  }

  private finish(node: number, entry: Pending, now: number): void {
    this.pending.delete(node);
    // Everything here is over: an attempt cut short by the node starting again counts as ended, not in progress.
    const over = Math.max(now, entry.lastAt + this.quietGapMs + 1);
    for (const boot of stitchBoots(entry.events, { now: over, quietGapMs: this.quietGapMs, bootedWindowMs: this.bootedWindowMs })) {
      this.onBoot(boot);
    }
  }
}
