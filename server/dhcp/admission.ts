/**
 * Admission control for new exchanges, driven by how long datagrams wait in the DHCP socket's
 * receive queue. Node cannot read that (no SIOCINQ, no SO_TIMESTAMP), so every
 * PROBE_INTERVAL_MS a tiny datagram is sent over loopback to the socket itself and timed when
 * it comes out of the queue; while one is in flight its age is a lower bound of the delay.
 *
 * Why: under a flood the queue stays full, every reply leaves late and clients give up on it
 * (measured: completed exchanges fell to ~1% of capacity). Holding the delay near TARGET_MS by
 * admitting only a share of DISCOVERs (cut in half while the delay is above target, grown back
 * while it is well below) keeps REQUESTs, which finish exchanges already started, answered in
 * time. An avalanche that the server drains within about two seconds is not touched.
 */
import dgram from 'node:dgram';
import { performance } from 'node:perf_hooks';

const PROBE_INTERVAL_MS = 25;
const TARGET_MS = 500;
/** Only a delay above target for this long is overload; an avalanche that drains sooner is served whole. */
const SUSTAINED_MS = 2000;
/** Some new clients always get through. */
const MIN_SHARE = 1 / 64;
/** A probe older than this was dropped by a full queue: send another. */
const PROBE_LOST_MS = 4 * TARGET_MS;
const PROBE_MAGIC = 0x72626471; // "rbdq"
const PROBE_LENGTH = 12;

export class DiscoverAdmission {
  private readonly sender = dgram.createSocket('udp4');
  private readonly timer: NodeJS.Timeout;
  private readonly packet = Buffer.alloc(PROBE_LENGTH);
  private senderPort = 0;
  private sentAt = 0;
  private inFlight = false;
  private adjustedAt = 0;
  private overSince: number | null = null;
  /** Share of DISCOVERs admitted, and the running credit that spreads admissions evenly. */
  private share = 1;
  private credit = 0;

  constructor(targetPort: number) {
    this.packet.writeUInt32BE(PROBE_MAGIC, 0);
    this.sender.on('error', () => {
      // Loopback unusable: no measurement, so everything stays admitted.
    });
    this.sender.bind(0, '127.0.0.1', () => (this.senderPort = this.sender.address().port));
    this.timer = setInterval(() => {
      if (this.senderPort === 0) return;
      if (this.inFlight && performance.now() - this.sentAt < PROBE_LOST_MS) return;
      this.inFlight = true;
      this.sentAt = performance.now();
      this.sender.send(this.packet, targetPort, '127.0.0.1', (error) => {
        if (error) this.inFlight = false;
      });
    }, PROBE_INTERVAL_MS);
    this.timer.unref();
  }

  /** True (and consumed) when the datagram is our probe. */
  takeProbe(message: Buffer, remote: dgram.RemoteInfo): boolean {
    if (message.length !== PROBE_LENGTH || remote.port !== this.senderPort || remote.address !== '127.0.0.1') return false;
    if (message.readUInt32BE(0) !== PROBE_MAGIC) return false;
    this.inFlight = false;
    this.adjust(performance.now() - this.sentAt);
    return true;
  }

  /** Whether to process the next DISCOVER. */
  admit(): boolean {
    if (this.inFlight) {
      const age = performance.now() - this.sentAt;
      if (age > TARGET_MS) this.adjust(age);
    }
    if (this.share >= 1) return true;
    this.credit += this.share;
    if (this.credit < 1) return false;
    this.credit -= 1;
    return true;
  }

  private adjust(delayMs: number): void {
    const now = performance.now();
    // One change per probe interval, so a single slow turn does not collapse the share.
    if (now - this.adjustedAt < PROBE_INTERVAL_MS) return;
    this.adjustedAt = now;
    if (delayMs > TARGET_MS) {
      this.overSince ??= now;
      if (now - this.overSince >= SUSTAINED_MS) this.share = Math.max(MIN_SHARE, this.share / 2);
      return;
    }
    this.overSince = null;
    if (delayMs < TARGET_MS / 2) this.share = Math.min(1, this.share * 1.25 + 0.01);
  }

  close(): void {
    clearInterval(this.timer);
    this.sender.close();
  }
}
