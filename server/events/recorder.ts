import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import type { BootEventInput, EventSink } from './types.js';
import type { Inventory } from '../inventory/index.js';
import type { StoredEvent } from '../inventory/events.js';

const FLUSH_INTERVAL_MS = 20;
const FLUSH_AT = 100;
/**
 * Events naming a MAC or serial no node has (a client auto-discovery refused, a non-boot client)
 * are held this long per source and kind and stored as one row with a count: a flood of made-up
 * MACs then writes a few rows a minute, not one per packet.
 */
export const AGGREGATE_WINDOW_MS = 10_000;

interface Held {
  event: Omit<StoredEvent, 'id'>;
  count: number;
  lastAt: number;
  timer: NodeJS.Timeout;
}

export interface RecordedEvent extends Omit<StoredEvent, 'id'> {
  mac?: string;
  serial?: string;
}

/**
 * Stores boot events and tells live listeners (the page, `events --follow`). Writes are batched
 * into one transaction per flush: a DHCP storm reports several events per packet.
 */
export class EventRecorder implements EventSink {
  private readonly live = new EventEmitter();
  private pending: Omit<StoredEvent, 'id'>[] = [];
  private timer: NodeJS.Timeout | undefined;
  private readonly writeBatch;
  private readonly held = new Map<string, Held>();

  constructor(
    private readonly inventory: Inventory,
    private readonly log: Logger,
  ) {
    this.live.setMaxListeners(0);
    this.writeBatch = inventory.db.transaction((batch: Omit<StoredEvent, 'id'>[]) => {
      for (const event of batch) inventory.events.insert(event);
    });
  }

  record(input: BootEventInput): void {
    const nodeId = input.mac || input.serial ? this.inventory.nodes.idOf(input) : undefined;
    // Not `{ ...input.detail }`: extending a spread clone makes it outlive young-generation GCs (see boot/ipxe.ts).
    const detail: Record<string, unknown> = Object.assign({}, input.detail);
    if (input.mac) detail['mac'] = input.mac;
    if (input.serial) detail['serial'] = input.serial;
    if (input.address) detail['address'] = input.address;
    const event = { nodeId: nodeId ?? null, at: Date.now(), source: input.source, kind: input.kind, detail };
    this.live.emit('event', event);
    if (event.nodeId === null && (input.mac || input.serial)) this.hold(event);
    else this.store(event);
  }

  private store(event: Omit<StoredEvent, 'id'>): void {
    this.pending.push(event);
    if (this.pending.length >= FLUSH_AT) this.flush();
    else this.timer ??= setTimeout(() => this.flush(), FLUSH_INTERVAL_MS).unref();
  }

  /** The first event of its source and kind in a window is stored at the window's end, with the count of all. */
  private hold(event: Omit<StoredEvent, 'id'>): void {
    const key = `${event.source}/${event.kind}`;
    const held = this.held.get(key);
    if (held) {
      held.count++;
      held.lastAt = event.at;
      return;
    }
    const timer = setTimeout(() => this.release(key), AGGREGATE_WINDOW_MS).unref();
    this.held.set(key, { event, count: 1, lastAt: event.at, timer });
  }

  private release(key: string): void {
    const held = this.held.get(key);
    if (!held) return;
    clearTimeout(held.timer);
    this.held.delete(key);
    if (held.count > 1) Object.assign(held.event.detail, { count: held.count, lastAt: held.lastAt });
    this.store(held.event);
  }

  /** Stores everything, held aggregates included (shutdown, the CLI exiting). */
  flushAll(): void {
    for (const key of [...this.held.keys()]) this.release(key);
    this.flush();
  }

  flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    const batch = this.pending;
    this.pending = [];
    if (!batch.length) return;
    try {
      this.writeBatch(batch);
    } catch (error) {
      this.log.error({ err: error, events: batch.length }, 'could not store boot events');
    }
  }

  subscribe(listener: (event: RecordedEvent) => void): () => void {
    this.live.on('event', listener);
    return () => this.live.off('event', listener);
  }
}
