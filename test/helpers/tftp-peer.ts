import dgram from 'node:dgram';
import { decode, encodeAck, encodeRequest, type Packet } from '../../server/tftp/codec.js';

export interface Received {
  packet: Packet;
  raw: Buffer;
  port: number;
  address: string;
}

/** A hand-driven TFTP client on 127.0.0.x: sends whatever a test wants and queues what comes back. */
export class TftpPeer {
  private readonly queue: Received[] = [];
  private waiter: (() => void) | undefined;

  private constructor(readonly socket: dgram.Socket) {
    socket.on('message', (raw, rinfo) => {
      this.queue.push({ packet: decode(raw), raw, port: rinfo.port, address: rinfo.address });
      this.waiter?.();
    });
  }

  static async open(address = '127.0.0.1'): Promise<TftpPeer> {
    const socket = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(0, address, resolve));
    return new TftpPeer(socket);
  }

  get port(): number {
    return this.socket.address().port;
  }

  send(buf: Buffer, port: number, address = '127.0.0.1'): void {
    this.socket.send(buf, port, address);
  }

  /** The next datagram, or null after `timeoutMs` of silence. */
  async next(timeoutMs = 2000): Promise<Received | null> {
    if (this.queue.length === 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, timeoutMs);
        this.waiter = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.waiter = undefined;
    }
    return this.queue.shift() ?? null;
  }

  /** Everything that arrives within `ms`. */
  async drain(ms: number): Promise<Received[]> {
    const out: Received[] = [];
    const until = Date.now() + ms;
    for (let left = ms; left > 0; left = until - Date.now()) {
      const got = await this.next(left);
      if (got) out.push(got);
    }
    return out;
  }

  close(): void {
    this.socket.close();
  }
}

export interface FetchOptions {
  options?: Array<[string, string]>;
  /** The server's address; 127.0.0.1 unless given. */
  host?: string;
  /** ACK every ACK twice (a network that duplicates them). */
  duplicateAcks?: boolean;
  /** Absolute block numbers to lose once each, as if the network dropped them. */
  dropOnce?: Set<number>;
  /** Called on each in-order DATA block with the server's transfer port. */
  onData?: (block: number, serverPort: number) => Promise<void> | void;
  /** How long to keep listening after the last block, counting stray DATA. */
  lingerMs?: number;
}

export interface FetchResult {
  data: Buffer;
  /** DATA packets received, duplicates and drops included. */
  dataPackets: number;
  oack?: Map<string, string>;
  serverPort: number;
}

/**
 * Downloads like an RFC 1350/7440 client: ACK every window's last block; in a window, answer a gap
 * once with an ACK of the last block in order. Throws on an ERROR or 5 s of silence.
 */
export async function fetchFile(peer: TftpPeer, serverPort: number, filename: string, opts: FetchOptions = {}): Promise<FetchResult> {
  const { duplicateAcks = false, dropOnce = new Set<number>(), lingerMs = 200, host = '127.0.0.1' } = opts;
  peer.send(encodeRequest(false, filename, 'octet', opts.options ?? []), serverPort, host);
  let blksize = 512;
  let windowsize = 1;
  let expected = 1;
  let inWindow = 0;
  let gapAnswered = false;
  let dataPackets = 0;
  let oack: Map<string, string> | undefined;
  let tid = serverPort;
  const chunks: Buffer[] = [];
  const ack = (block: number) => {
    peer.send(encodeAck(block), tid, host);
    if (duplicateAcks) peer.send(encodeAck(block), tid, host);
  };
  for (let guard = 0; guard < 10_000_000; guard++) {
    const got = await peer.next(5000);
    if (!got) throw new Error(`no answer for ${filename} after block ${expected - 1}`);
    const { packet } = got;
    if (packet.kind === 'error') throw new Error(`ERROR ${packet.code}: ${packet.message}`);
    if (packet.kind === 'oack') {
      oack = packet.options;
      blksize = Number(oack.get('blksize') ?? 512);
      windowsize = Number(oack.get('windowsize') ?? 1);
      tid = got.port;
      ack(0);
      continue;
    }
    if (packet.kind !== 'data') continue;
    dataPackets++;
    tid = got.port;
    if (packet.block === (expected & 0xffff) && !dropOnce.delete(expected)) {
      chunks.push(Buffer.from(packet.payload));
      await opts.onData?.(expected, tid);
      expected++;
      inWindow++;
      gapAnswered = false;
      const last = packet.payload.length < blksize;
      if (last || inWindow >= windowsize) {
        ack(expected - 1);
        inWindow = 0;
      }
      if (last) break;
    } else if (windowsize > 1 && !gapAnswered && packet.block !== ((expected - 1) & 0xffff)) {
      ack(expected - 1);
      gapAnswered = true;
      inWindow = 0;
    }
  }
  for (const late of await peer.drain(lingerMs)) if (late.packet.kind === 'data') dataPackets++;
  return { data: Buffer.concat(chunks), dataPackets, serverPort: tid, ...(oack ? { oack } : {}) };
}
