/**
 * Measures how long a datagram waits in the DHCP socket's receive queue, which node cannot tell
 * (no SIOCINQ, no SO_TIMESTAMP): every PROBE_INTERVAL_MS a tiny timestamped datagram is sent
 * over loopback to the socket itself and timed when it comes out of the queue. While one is
 * in flight its age is a lower bound of the current delay, so a sudden backlog shows at once.
 *
 * Why: a reply that leaves after the client gave up is wasted work, and a queue that only grows
 * turns overload into collapse (measured: a flood dropped completed exchanges to ~2% of capacity).
 * While the delay is above the limit the engine sheds DISCOVERs and keeps answering REQUESTs,
 * so the exchanges already half done complete.
 */
import dgram from 'node:dgram';
import { performance } from 'node:perf_hooks';

const PROBE_INTERVAL_MS = 50;
const PROBE_MAGIC = 0x72626471; // "rbdq"
const PROBE_LENGTH = 12;

export class BacklogProbe {
  private readonly sender = dgram.createSocket('udp4');
  private readonly timer: NodeJS.Timeout;
  private readonly packet = Buffer.alloc(PROBE_LENGTH);
  private sentAt = 0;
  private inFlight = false;
  private measured = 0;
  private senderPort = 0;

  constructor(targetPort: number) {
    this.packet.writeUInt32BE(PROBE_MAGIC, 0);
    this.sender.bind(0, '127.0.0.1', () => (this.senderPort = this.sender.address().port));
    this.sender.on('error', () => {
      // Loopback down: no measurement, the server then never sheds.
    });
    this.timer = setInterval(() => {
      if (this.inFlight || this.senderPort === 0) return;
      this.inFlight = true;
      this.sentAt = performance.now();
      this.sender.send(this.packet, targetPort, '127.0.0.1', (error) => {
        if (error) this.inFlight = false;
      });
    }, PROBE_INTERVAL_MS);
    this.timer.unref();
  }

  /** True (and consumed) when the datagram is our probe. */
  take(message: Buffer, remote: dgram.RemoteInfo): boolean {
    if (message.length !== PROBE_LENGTH || remote.port !== this.senderPort || remote.address !== '127.0.0.1') return false;
    if (message.readUInt32BE(0) !== PROBE_MAGIC) return false;
    this.measured = performance.now() - this.sentAt;
    this.inFlight = false;
    return true;
  }

  /** Current queueing delay estimate in milliseconds. */
  delayMs(): number {
    return this.inFlight ? Math.max(this.measured, performance.now() - this.sentAt) : this.measured;
  }

  close(): void {
    clearInterval(this.timer);
    this.sender.close();
  }
}
