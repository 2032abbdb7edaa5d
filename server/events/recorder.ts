import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import type { BootEventInput, EventSink } from './types.js';
import type { Inventory } from '../inventory/index.js';
import type { StoredEvent } from '../inventory/events.js';

const FLUSH_INTERVAL_MS = 20;
const FLUSH_AT = 100;

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
    this.pending.push(event);
    this.live.emit('event', event);
    if (this.pending.length >= FLUSH_AT) this.flush();
    else this.timer ??= setTimeout(() => this.flush(), FLUSH_INTERVAL_MS).unref();
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
