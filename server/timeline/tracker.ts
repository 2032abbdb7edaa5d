import type { RecordedEvent } from '../events/recorder.js';
import { DEFAULT_BOOTED_WINDOW_MS, DEFAULT_QUIET_GAP_MS, stitchBoots } from './stitch.js';
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
const NODE_KEY = 'node:';

/** Every name an event gives its node, the most stable first; none for an event known only by address. */
function keysOf(event: RecordedEvent): string[] {
  const keys: string[] = [];
  if (event.nodeId !== null) keys.push(`${NODE_KEY}${event.nodeId}`);
  const mac = text(event.detail['mac']);
  const serial = text(event.detail['serial']);
  if (mac) keys.push(`mac:${mac}`);
  if (serial) keys.push(`serial:${serial}`);
  return keys;
}

/**
 * Follows live events and reports each boot once when it is over: at the booted callback, or
 * once it went quiet. A boot that served its files is held until the booted window passed, so a
 * late callback still counts it as booted. Feeds the boot metrics.
 */
export class BootTracker {
  private readonly pending = new Map<string, Pending>();
  /**
   * IP address -> node key, learned from DHCP offers and acks: a Pi 3's bootcode.bin and an iPXE
   * binary are fetched over TFTP without a node prefix, known only by the client's address.
   */
  private readonly owners = new Map<string, string>();
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
    if (event.source === 'api') return;
    const keys = keysOf(event);
    const address = text(event.detail['address']);
    const owner = !keys.length && address ? this.owners.get(address) : undefined;
    const [primary, ...aliases] = owner ? [owner] : keys;
    if (!primary) return;
    this.learnAddress(event, primary);
    let entry = this.pending.get(primary);
    // A new node's first DISCOVER is recorded before it has an id: fold that into the node.
    for (const alias of aliases) {
      const other = this.pending.get(alias);
      if (!other) continue;
      this.pending.delete(alias);
      entry = entry ? { events: [...other.events, ...entry.events], lastAt: entry.lastAt } : other;
    }
    entry ??= { events: [], lastAt: event.at };
    entry.events.push(event);
    entry.lastAt = event.at;
    if (entry.events.length > MAX_EVENTS_PER_NODE) entry.events.splice(0, entry.events.length / 2);
    this.pending.set(primary, entry);
    if (event.source === 'node' && event.kind === 'booted') this.finish(primary, entry, event.at);
  }

  private learnAddress(event: RecordedEvent, key: string): void {
    const ip = text(event.detail['ip']);
    if (event.source !== 'dhcp' || !ip) return;
    this.owners.delete(ip);
    this.owners.set(ip, key);
    if (this.owners.size > MAX_ADDRESS_OWNERS) this.owners.delete(this.owners.keys().next().value!);
  }

  /** Reports boots that are over; the owner calls this now and then. */
  sweep(now = Date.now()): void {
    for (const [key, entry] of this.pending) {
      const silence = now - entry.lastAt;
      if (silence <= this.quietGapMs) continue;
      const boots = stitchBoots(entry.events, { now, quietGapMs: this.quietGapMs });
      if (boots[boots.length - 1]?.outcome === 'served' && silence <= this.bootedWindowMs) continue;
      this.finish(key, entry, now);
    }
  }

  private finish(key: string, entry: Pending, now: number): void {
    this.pending.delete(key);
    // Never became a node: a laptop or BMC leasing an address in server mode, not a boot of ours.
    if (!key.startsWith(NODE_KEY)) return;
    // Everything here is over: an attempt cut short by the node starting again counts as ended, not in progress.
    const over = Math.max(now, entry.lastAt + this.quietGapMs + 1);
    for (const boot of stitchBoots(entry.events, { now: over, quietGapMs: this.quietGapMs, bootedWindowMs: this.bootedWindowMs })) {
      this.onBoot(boot);
    }
  }
}
