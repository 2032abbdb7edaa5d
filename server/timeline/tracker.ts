import type { RecordedEvent } from '../events/recorder.js';
import { DEFAULT_BOOTED_WINDOW_MS, DEFAULT_QUIET_GAP_MS, stitchBoots } from './stitch.js';
import type { Boot, TimelineEvent } from './types.js';

/** Bounds memory per node if one misbehaves (a ROM in a DHCP loop). */
const MAX_EVENTS_PER_NODE = 2_000;

interface Pending {
  events: TimelineEvent[];
  lastAt: number;
}

const text = (value: unknown) => (typeof value === 'string' && value ? value : undefined);

/** Every name an event gives its node, the most stable first. */
function keysOf(event: RecordedEvent): string[] {
  const keys: string[] = [];
  if (event.nodeId !== null) keys.push(`node:${event.nodeId}`);
  const mac = text(event.detail['mac']);
  const serial = text(event.detail['serial']);
  if (mac) keys.push(`mac:${mac}`);
  if (serial) keys.push(`serial:${serial}`);
  if (!keys.length) {
    const address = text(event.detail['address']);
    if (address) keys.push(`address:${address}`);
  }
  return keys;
}

/**
 * Follows live events and reports each boot once when it is over: at the booted callback, or
 * once it went quiet. A boot that served its files is held until the booted window passed, so a
 * late callback still counts it as booted. Feeds the boot metrics.
 */
export class BootTracker {
  private readonly pending = new Map<string, Pending>();
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
    const [primary, ...aliases] = keysOf(event);
    if (!primary) return;
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
    for (const boot of stitchBoots(entry.events, { now, quietGapMs: this.quietGapMs, bootedWindowMs: this.bootedWindowMs })) {
      this.onBoot(boot);
    }
  }
}
