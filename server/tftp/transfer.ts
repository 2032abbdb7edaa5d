import { BlockRing, CHUNK_BYTES, lastBlockOf, slotBytes } from './block-ring.js';
import type { TftpSource } from './source.js';

/** Retransmission backs off by doubling, up to this multiple of the base interval. */
const MAX_BACKOFF = 4;

export interface TransferSettings {
  blksize: number;
  windowsize: number;
  retransmitMs: number;
  /** Retransmissions without progress before giving up. */
  retries: number;
  /**
   * Retransmissions of the OACK or of DATA 1 before the peer's first ACK, each after at most
   * `firstRetransmitMs` and without backoff: how long a request nobody answers holds its slot.
   */
  firstRetries: number;
  firstRetransmitMs: number;
  /** The transfer ends (failed) this long after it started, whatever the peer negotiated. */
  deadlineMs: number;
  /** The OACK to send first, or null to start with DATA block 1. */
  oack: Buffer | null;
  buffers: BufferLender;
}

/** Read-buffer memory lent to one transfer (the server's ReadBudget for this peer's address). */
export interface BufferLender {
  /** Grants between `needed` and `wanted` bytes, or 0 when not even `needed` is free. */
  take(needed: number, wanted: number): number;
  give(bytes: number): void;
}

export type TransferOutcome = 'complete' | 'probe' | 'aborted' | 'failed';

export interface TransferEnd {
  outcome: TransferOutcome;
  error?: string;
}

/** Where a transfer's packets go: the server's socket for this peer. */
export type SendPacket = (packet: Buffer | readonly Buffer[]) => void;

/**
 * One read transfer's state machine (RFC 1350 lock-step, RFC 7440 windows). Knows nothing of
 * sockets: the server feeds it the peer's ACKs and ERRORs and gives it a function to send with.
 *
 * Blocks are numbered absolutely from 1; only the wire carries them modulo 65536 (rollover to 0).
 */
export class Transfer {
  /** Payload bytes the client has acknowledged. */
  bytes = 0;
  retransmits = 0;
  private readonly lastBlock: number;
  /**
   * Allocated when the peer shows it is there: at the ACK of the OACK, or (a request without
   * options, whose DATA 1 goes out at once) one block first and the full ring at the ACK of it.
   */
  private ring: BlockRing | undefined;
  private ringBytes = 0;
  /** The peer has acknowledged something: from here on the full retry budget and backoff apply. */
  private heard = false;
  private phase: 'oack' | 'data' | 'ended' = 'oack';
  /** First block not acknowledged yet. */
  private base = 1;
  /** Next block to send. */
  private next = 1;
  /** First block never sent: anything sent below it is a retransmission. */
  private sentEnd = 1;
  private tries = 0;
  /** The base for which a duplicate ACK already caused a resend (at most one per base). */
  private rewoundAt = 0;
  private filling = false;
  private timer: NodeJS.Timeout | undefined;
  private timerDelay = 0;
  private deadline: NodeJS.Timeout | undefined;

  constructor(
    private readonly source: TftpSource,
    private readonly settings: TransferSettings,
    private readonly send: SendPacket,
    private readonly onEnd: (end: TransferEnd) => void,
  ) {
    this.lastBlock = lastBlockOf(source.size, settings.blksize);
  }

  /**
   * The peer acknowledged something, then went quiet for a whole retransmit timeout: a repeated RRQ
   * from it now means it gave up on this transfer. Before that, a repeated RRQ is a copy the
   * network delayed or duplicated.
   */
  get stalled(): boolean {
    return this.phase === 'data' && (this.settings.oack !== null || this.base > 1) && this.tries > 0;
  }

  start(): void {
    const { deadlineMs } = this.settings;
    this.deadline = setTimeout(() => this.stop('failed', `not done within the transfer deadline of ${deadlineMs} ms (tftp.transferDeadlineMs)`), deadlineMs);
    if (this.settings.oack) {
      this.send(this.settings.oack);
      this.arm();
    } else {
      this.phase = 'data';
      if (this.allocate(1, 1)) this.pump();
    }
  }

  /** An ACK from the peer (the wire's 16-bit block number). */
  ack(wireBlock: number): void {
    if (this.phase === 'oack') {
      if (wireBlock !== 0) return;
      this.phase = 'data';
      this.heard = true;
      this.tries = 0;
      if (this.allocateFull()) this.pump();
      return;
    }
    if (this.phase !== 'data') return;
    const advance = (wireBlock - (this.base - 1)) & 0xffff;
    if (advance > this.sentEnd - this.base) return; // acknowledges nothing we sent: stale or forged
    if (advance === 0) {
      // Lock-step: a duplicate ACK never triggers a resend (no sorcerer's apprentice). In a window,
      // a repeated ACK of the base means the client lost the window's first block: resend once.
      if (this.settings.windowsize > 1 && this.rewoundAt !== this.base) {
        this.rewoundAt = this.base;
        this.next = this.base;
        this.pump();
      }
      return;
    }
    this.base += advance;
    this.tries = 0;
    this.bytes = Math.min(this.source.size, (this.base - 1) * this.settings.blksize);
    if (this.base > this.lastBlock) {
      this.end({ outcome: 'complete' });
      return;
    }
    if (!this.heard) {
      this.heard = true;
      if (!this.allocateFull()) return;
    }
    // An ACK short of what was sent says the client dropped what followed: rewind to it.
    if (this.next !== this.base) this.next = this.base;
    this.pump();
  }

  /** An ERROR from the peer. */
  peerError(code: number, message: string): void {
    if (this.phase === 'ended') return;
    // After an OACK and before any data, a client's ERROR is the Raspberry Pi's tsize probe ("Early terminate").
    if (this.phase === 'oack') this.end({ outcome: 'probe' });
    else this.end({ outcome: 'aborted', error: `client sent ERROR ${code}: ${message}` });
  }

  /** Ends the transfer from our side (the caller tells the peer if it should know). */
  stop(outcome: 'aborted' | 'failed', error: string): void {
    if (this.phase !== 'ended') this.end({ outcome, error });
  }

  /** The read-ahead ring the transfer runs with once the peer has answered: from the base on. */
  private allocateFull(): boolean {
    const { blksize, windowsize } = this.settings;
    return this.allocate(2 * windowsize, Math.max(2 * windowsize, Math.ceil(CHUNK_BYTES / blksize)));
  }

  /** Replaces the ring with one of `needed` to `wanted` slots, as the budget allows; ends the transfer when it has none. */
  private allocate(neededSlots: number, wantedSlots: number): boolean {
    const perSlot = slotBytes(this.settings.blksize);
    const { buffers } = this.settings;
    buffers.give(this.ringBytes);
    this.ringBytes = 0;
    const granted = buffers.take(Math.min(neededSlots, this.lastBlock) * perSlot, Math.min(wantedSlots, this.lastBlock) * perSlot);
    if (granted === 0) {
      this.ring = undefined;
      this.stop('failed', 'server busy: no read-buffer memory free (tftp.maxBufferBytes, tftp.maxBufferBytesPerClient), try again');
      return false;
    }
    this.ring = new BlockRing(this.source, this.settings.blksize, Math.floor(granted / perSlot), this.base);
    // What the ring really holds (a small file needs less than its slots): the rest goes back now.
    this.ringBytes = this.ring.bytes;
    buffers.give(granted - this.ringBytes);
    return true;
  }

  private pump(): void {
    const ring = this.ring!;
    const windowEnd = Math.min(this.base + this.settings.windowsize, this.lastBlock + 1);
    const before = this.next;
    while (this.next < windowEnd && ring.has(this.next)) {
      if (this.next < this.sentEnd) this.retransmits++;
      this.send(ring.packet(this.next));
      this.next++;
    }
    if (this.next > this.sentEnd) this.sentEnd = this.next;
    if (this.next !== before) this.arm();
    this.maybeFill();
  }

  private maybeFill(): void {
    const ring = this.ring!;
    if (this.filling || !ring.wantsFill(this.base, this.next)) return;
    this.filling = true;
    ring.fill(this.base).then(
      () => {
        this.filling = false;
        if (this.phase === 'data') this.pump();
      },
      (error: Error) => {
        this.filling = false;
        this.stop('failed', `read failed: ${error.message}`);
      },
    );
  }

  private arm(): void {
    const { retransmitMs, firstRetransmitMs } = this.settings;
    const delay = this.heard ? retransmitMs * Math.min(2 ** this.tries, MAX_BACKOFF) : Math.min(retransmitMs, firstRetransmitMs);
    if (this.timer && delay === this.timerDelay) {
      this.timer.refresh();
      return;
    }
    clearTimeout(this.timer);
    this.timerDelay = delay;
    this.timer = setTimeout(() => this.timeout(), delay);
  }

  private timeout(): void {
    if (this.phase === 'ended') return;
    if (this.tries >= (this.heard ? this.settings.retries : this.settings.firstRetries)) {
      this.stop('failed', `no answer after ${this.tries} retransmissions`);
      return;
    }
    this.tries++;
    if (this.phase === 'oack') {
      this.retransmits++;
      this.send(this.settings.oack!);
      this.arm();
    } else {
      this.next = this.base;
      this.pump();
      if (!this.ring!.has(this.next)) this.arm(); // still waiting for the read: keep the clock running
    }
  }

  private end(end: TransferEnd): void {
    this.phase = 'ended';
    clearTimeout(this.timer);
    clearTimeout(this.deadline);
    this.settings.buffers.give(this.ringBytes);
    this.ringBytes = 0;
    this.onEnd(end);
  }
}
