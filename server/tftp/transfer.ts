import { BlockRing } from './block-ring.js';
import type { TftpSource } from './source.js';

/** Retransmission backs off by doubling, up to this multiple of the base interval. */
const MAX_BACKOFF = 4;

export interface TransferSettings {
  blksize: number;
  windowsize: number;
  retransmitMs: number;
  /** Retransmissions without progress before giving up. */
  retries: number;
  /** The OACK to send first, or null to start with DATA block 1. */
  oack: Buffer | null;
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
  private readonly ring: BlockRing;
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

  constructor(
    private readonly source: TftpSource,
    private readonly settings: TransferSettings,
    private readonly send: SendPacket,
    private readonly onEnd: (end: TransferEnd) => void,
  ) {
    this.ring = new BlockRing(source, settings.blksize, settings.windowsize);
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
    if (this.settings.oack) {
      this.send(this.settings.oack);
      this.arm();
      this.maybeFill(); // read ahead while the client considers the OACK
    } else {
      this.phase = 'data';
      this.pump();
    }
  }

  /** An ACK from the peer (the wire's 16-bit block number). */
  ack(wireBlock: number): void {
    if (this.phase === 'oack') {
      if (wireBlock !== 0) return;
      this.phase = 'data';
      this.tries = 0;
      this.pump();
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
    if (this.base > this.ring.lastBlock) {
      this.end({ outcome: 'complete' });
      return;
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

  private pump(): void {
    const windowEnd = Math.min(this.base + this.settings.windowsize, this.ring.lastBlock + 1);
    const before = this.next;
    while (this.next < windowEnd && this.ring.has(this.next)) {
      if (this.next < this.sentEnd) this.retransmits++;
      this.send(this.ring.packet(this.next));
      this.next++;
    }
    if (this.next > this.sentEnd) this.sentEnd = this.next;
    if (this.next !== before) this.arm();
    this.maybeFill();
  }

  private maybeFill(): void {
    if (this.filling || !this.ring.wantsFill(this.base, this.next)) return;
    this.filling = true;
    this.ring.fill(this.base).then(
      () => {
        this.filling = false;
        if (this.phase === 'data') this.pump();
        else if (this.phase === 'oack') this.maybeFill();
      },
      (error: Error) => {
        this.filling = false;
        this.stop('failed', `read failed: ${error.message}`);
      },
    );
  }

  private arm(): void {
    const delay = this.settings.retransmitMs * Math.min(2 ** this.tries, MAX_BACKOFF);
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
    if (this.tries >= this.settings.retries) {
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
      if (!this.ring.has(this.next)) this.arm(); // still waiting for the read: keep the clock running
    }
  }

  private end(end: TransferEnd): void {
    this.phase = 'ended';
    clearTimeout(this.timer);
    this.onEnd(end);
  }
}
