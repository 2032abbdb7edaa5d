import type dgram from 'node:dgram';
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import type { TftpConfig } from '../config/types.js';
import { SampledLine } from '../log.js';
import { udp4Socket } from '../net/udp.js';
import { ErrorCode, ackBlock, decode, encodeError, encodeOack, isError, type RequestPacket } from './codec.js';
import { negotiate } from './options.js';
import { ReadBudget } from './read-budget.js';
import { TftpError, type TftpResolver, type TftpSource } from './source.js';
import { Transfer, type TransferEnd } from './transfer.js';

export { TftpError, type TftpResolver, type TftpSource } from './source.js';

export interface Remote {
  address: string;
  port: number;
}

export type TransferOutcomeName = 'complete' | 'probe' | 'aborted' | 'failed' | 'refused';

export interface TransferReport {
  path: string;
  remote: Remote;
  /** probe = the client took the OACK and then sent ERROR (the Raspberry Pi's tsize probe): not an error. */
  outcome: TransferOutcomeName;
  /** Payload bytes the client acknowledged. */
  bytes: number;
  size?: number;
  durationMs: number;
  blksize: number;
  windowsize: number;
  retransmits: number;
  error?: string;
  /** RFC 1350 code of the ERROR we sent, for refusals and failures. */
  errorCode?: number;
  /** The resolver's stable code for a refusal (TftpError.reason), e.g. RB_NO_IMAGE. */
  reason?: string;
  /** The source's context, as the resolver gave it. */
  context?: Readonly<Record<string, unknown>>;
}

/** The `tftp` config section (listening address: each transfer's socket binds to it too; port 0 = ephemeral) and the glue. */
export interface TftpServerOptions extends Omit<TftpConfig, 'enabled'> {
  resolve: TftpResolver;
  onTransfer?: (report: TransferReport) => void;
  log: Logger;
}

export interface TftpCounters {
  /** Transfers that ended, whatever the outcome (refusals included). */
  transfers: number;
  /** Payload bytes acknowledged by clients. */
  bytes: number;
  retransmits: number;
  /** Transfers that ended failed, aborted or refused. */
  errors: number;
  inFlight: number;
  byOutcome: Record<TransferOutcomeName, number>;
  /** Read-buffer bytes transfers hold now, and the most they ever held. */
  readonly bufferedBytes: number;
  readonly bufferedPeakBytes: number;
}

export interface TftpServer {
  readonly port: number;
  readonly counters: TftpCounters;
  /** Stops listening, ends in-flight transfers with an ERROR and releases every socket and descriptor. */
  close(): Promise<void>;
}

interface Active {
  readonly key: string;
  readonly remote: Remote;
  readonly path: string;
  readonly startedAt: number;
  transfer?: Transfer;
  socket?: dgram.Socket;
  source?: TftpSource;
  blksize: number;
  windowsize: number;
}

const UNKNOWN_TID = encodeError(ErrorCode.UNKNOWN_TID, 'unknown transfer ID');
// Long enough for a loaded event loop to flush the ERROR first; it only delays shutdown when a send never completes.
const FAREWELL_GRACE_MS = 1_000;
const SERVED_MODES = new Set(['octet', 'netascii']); // netascii is served byte for byte, as octet

function bindSocket(socket: dgram.Socket, port: number, address: string): Promise<void> {
  return new Promise((resolve, reject) => {
    socket.once('error', reject);
    socket.bind({ port, address, exclusive: true }, () => {
      socket.off('error', reject);
      resolve();
    });
  });
}

class Server implements TftpServer {
  readonly counters: TftpCounters;
  private readonly budget: ReadBudget;
  private readonly active = new Map<string, Active>();
  private readonly perClient = new Map<string, number>();
  /** Socket and file closes under way, awaited by close(). */
  private readonly releasing = new Set<Promise<void>>();
  private readonly unanswered = new SampledLine(1000);
  private closed = false;

  constructor(
    private readonly listener: dgram.Socket,
    private readonly options: TftpServerOptions,
  ) {
    const budget = new ReadBudget(options.maxBufferBytes, options.maxBufferBytesPerClient);
    this.budget = budget;
    this.counters = {
      transfers: 0,
      bytes: 0,
      retransmits: 0,
      errors: 0,
      inFlight: 0,
      byOutcome: { complete: 0, probe: 0, aborted: 0, failed: 0, refused: 0 },
      get bufferedBytes() {
        return budget.used;
      },
      get bufferedPeakBytes() {
        return budget.peak;
      },
    };
    listener.on('message', (msg, rinfo) => this.onRequest(msg, { address: rinfo.address, port: rinfo.port }));
    listener.on('error', (error) => options.log.error({ err: error }, 'tftp listener error'));
  }

  get port(): number {
    return this.listener.address().port;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.listener.close();
    for (const entry of [...this.active.values()]) entry.transfer?.stop('aborted', 'server shutting down');
    // Requests still resolving are ended by startTransfer once their source arrives.
    while (this.releasing.size > 0) await Promise.all([...this.releasing]);
  }

  private onRequest(msg: Buffer, remote: Remote): void {
    if (this.closed) return;
    const packet = decode(msg);
    switch (packet.kind) {
      case 'request':
        if (packet.write) this.refuse(packet.filename, remote, ErrorCode.ACCESS_VIOLATION, 'writes are not accepted: this server is read-only');
        else if (!SERVED_MODES.has(packet.mode)) this.refuse(packet.filename, remote, ErrorCode.ILLEGAL_OPERATION, `transfer mode "${packet.mode}" is not supported: use octet`);
        else this.onReadRequest(packet, remote);
        return;
      case 'error':
        return; // never answer an ERROR with an ERROR
      case 'invalid':
        if (msg.length < 2) return; // nothing to recognise, nothing worth answering
        this.listener.send(encodeError(ErrorCode.ILLEGAL_OPERATION, `malformed packet: ${packet.reason}`), remote.port, remote.address);
        return;
      default:
        this.listener.send(UNKNOWN_TID, remote.port, remote.address);
    }
  }

  private onReadRequest(request: RequestPacket, remote: Remote): void {
    const key = `${remote.address}:${remote.port}`;
    const existing = this.active.get(key);
    if (existing) {
      // A duplicated or delayed RRQ: the running transfer answers it. Restarting here would send a
      // second OACK mid-transfer, which clients without a transfer-ID check (curl 7.88) fail on.
      if (!existing.transfer?.stalled) return;
      existing.transfer.stop('aborted', 'client restarted the request');
    }
    const { maxTransfers, maxTransfersPerClient } = this.options;
    if (this.counters.inFlight >= maxTransfers) {
      this.refuse(request.filename, remote, ErrorCode.NOT_DEFINED, `server busy: ${maxTransfers} transfers in flight, try again`);
      return;
    }
    const fromClient = this.perClient.get(remote.address) ?? 0;
    if (fromClient >= maxTransfersPerClient) {
      this.refuse(request.filename, remote, ErrorCode.NOT_DEFINED, `too many transfers from ${remote.address} (limit ${maxTransfersPerClient}), try again`);
      return;
    }
    const entry: Active = { key, remote, path: request.filename, startedAt: performance.now(), blksize: 512, windowsize: 1 };
    this.active.set(key, entry);
    this.perClient.set(remote.address, fromClient + 1);
    this.counters.inFlight++;
    this.track(this.resolveAndStart(entry, request));
  }

  private async resolveAndStart(entry: Active, request: RequestPacket): Promise<void> {
    await this.options.resolve(request.filename, entry.remote).then(
      (source) => this.startTransfer(entry, request, source),
      (error: unknown) => {
        if (error instanceof TftpError) {
          this.release(entry, { outcome: 'refused', error: error.message, ...(error.reason && { reason: error.reason }) }, error.tftpCode);
        } else {
          this.options.log.error({ err: error, path: request.filename, remote: entry.remote }, 'tftp resolver failed');
          this.release(entry, { outcome: 'failed', error: `resolver failed: ${(error as Error)?.message ?? String(error)}` }, ErrorCode.NOT_DEFINED);
        }
      },
    );
  }

  private async startTransfer(entry: Active, request: RequestPacket, source: TftpSource): Promise<void> {
    entry.source = source;
    const { options } = this;
    const socket = udp4Socket();
    try {
      // Not connect()ed to the client: strangers' packets must reach us to be answered with ERROR 5.
      await bindSocket(socket, 0, options.address);
    } catch (error) {
      this.release(entry, { outcome: 'failed', error: `cannot open a transfer socket: ${(error as Error).message}` }, ErrorCode.NOT_DEFINED);
      socket.close();
      return;
    }
    entry.socket = socket;
    if (this.closed) {
      this.release(entry, { outcome: 'aborted', error: 'server shutting down' }, ErrorCode.NOT_DEFINED);
      return;
    }
    const negotiated = negotiate(request.options, source.size, options);
    entry.blksize = negotiated.blksize;
    entry.windowsize = negotiated.windowsize;
    const transfer = new Transfer(
      source,
      {
        blksize: negotiated.blksize,
        windowsize: negotiated.windowsize,
        retransmitMs: negotiated.retransmitMs ?? options.retransmitMs,
        retries: options.retries,
        firstRetries: options.firstAckRetries,
        firstRetransmitMs: options.retransmitMs,
        deadlineMs: options.transferDeadlineMs,
        oack: negotiated.oack.length > 0 ? encodeOack(negotiated.oack) : null,
        buffers: {
          take: (needed, wanted) => this.budget.take(entry.remote.address, needed, wanted),
          give: (bytes) => this.budget.give(entry.remote.address, bytes),
        },
      },
      (packet) => socket.send(packet as Buffer, entry.remote.port, entry.remote.address),
      // The peer hears of our failures and of shutdown; not of its own ERROR or a restart it made.
      (end) => this.release(entry, end, end.outcome === 'failed' || this.closed ? ErrorCode.NOT_DEFINED : undefined),
    );
    entry.transfer = transfer;
    socket.on('message', (msg, rinfo) => this.onTransferPacket(entry, transfer, msg, rinfo));
    socket.on('error', (error) => transfer.stop('failed', `socket error: ${error.message}`));
    transfer.start();
  }

  private onTransferPacket(entry: Active, transfer: Transfer, msg: Buffer, rinfo: dgram.RemoteInfo): void {
    if (rinfo.port !== entry.remote.port || rinfo.address !== entry.remote.address) {
      // Another host or port (RFC 1350 transfer ID): tell it, and leave the transfer alone.
      if (!isError(msg)) entry.socket!.send(UNKNOWN_TID, rinfo.port, rinfo.address);
      return;
    }
    const block = ackBlock(msg);
    if (block >= 0) {
      transfer.ack(block);
      return;
    }
    const packet = decode(msg);
    if (packet.kind === 'error') transfer.peerError(packet.code, packet.message);
    // Anything else from the peer is ignored: a stray datagram must not end a boot.
  }

  /** A request turned down before any transfer state exists. */
  private refuse(path: string, remote: Remote, code: number, message: string): void {
    this.listener.send(encodeError(code, message), remote.port, remote.address);
    this.report({ path, remote, outcome: 'refused', bytes: 0, durationMs: 0, blksize: 512, windowsize: 1, retransmits: 0, error: message, errorCode: code });
  }

  /** Ends an accepted request on any path: tells the peer when `errorCode` is given, frees everything. */
  private release(entry: Active, end: TransferEnd | { outcome: 'refused'; error: string; reason?: string }, errorCode?: number): void {
    if (this.active.get(entry.key) === entry) this.active.delete(entry.key);
    const left = (this.perClient.get(entry.remote.address) ?? 1) - 1;
    if (left > 0) this.perClient.set(entry.remote.address, left);
    else this.perClient.delete(entry.remote.address);
    this.counters.inFlight--;

    const { socket, source, transfer, remote } = entry;
    const farewell = errorCode === undefined ? undefined : encodeError(errorCode, end.error ?? 'transfer failed');
    if (socket) {
      // Closed once the ERROR is out (a send waits behind an address lookup tick), or after a
      // short grace: node drops a send's callback when the socket goes away first.
      const closing = new Promise<void>((resolve) => {
        let closed = false;
        const close = () => {
          if (closed) return;
          closed = true;
          socket.close(() => resolve());
        };
        if (!farewell) return close();
        socket.send(farewell, remote.port, remote.address, close);
        setTimeout(close, FAREWELL_GRACE_MS);
      });
      this.track(closing);
    } else if (farewell && !this.closed) {
      this.listener.send(farewell, remote.port, remote.address);
    }
    if (source) this.track(source.close().catch((error: Error) => this.options.log.warn({ err: error, path: entry.path }, 'tftp source close failed')));
    this.report({
      path: entry.path,
      remote: entry.remote,
      outcome: end.outcome,
      bytes: transfer?.bytes ?? 0,
      ...(source ? { size: source.size } : {}),
      durationMs: performance.now() - entry.startedAt,
      blksize: entry.blksize,
      windowsize: entry.windowsize,
      retransmits: transfer?.retransmits ?? 0,
      ...(end.error !== undefined ? { error: end.error } : {}),
      ...(errorCode !== undefined ? { errorCode } : {}),
      ...('reason' in end && end.reason ? { reason: end.reason } : {}),
      ...(source?.context ? { context: source.context } : {}),
    });
  }

  private track(closing: Promise<void>): void {
    this.releasing.add(closing);
    void closing.finally(() => this.releasing.delete(closing));
  }

  private report(report: TransferReport): void {
    const { counters } = this;
    counters.transfers++;
    counters.byOutcome[report.outcome]++;
    counters.bytes += report.bytes;
    counters.retransmits += report.retransmits;
    if (report.outcome === 'failed' || report.outcome === 'aborted' || report.outcome === 'refused') counters.errors++;
    if (report.outcome !== 'failed') {
      this.options.log.debug({ tftp: report }, `tftp ${report.outcome} ${report.path}`);
    } else if (report.bytes > 0) {
      this.options.log.warn({ tftp: report }, `tftp failed ${report.path}`);
    } else {
      // Never acknowledged at all is what a flood of RRQs looks like: the first and every 1000th are written.
      const unanswered = this.unanswered.next();
      if (unanswered === undefined) this.options.log.debug({ tftp: report }, `tftp failed ${report.path}: never acknowledged`);
      else this.options.log.warn({ tftp: report, unanswered }, `tftp failed ${report.path}: never acknowledged (${unanswered} such requests so far)`);
    }
    this.options.onTransfer?.(report);
  }
}

export async function startTftpServer(options: TftpServerOptions): Promise<TftpServer> {
  const listener = udp4Socket();
  await bindSocket(listener, options.port, options.address);
  try {
    // A boot storm arrives as a burst of RRQs; a larger queue keeps the kernel from dropping them.
    listener.setRecvBufferSize(4 * 1024 * 1024);
  } catch {
    // capped by net.core.rmem_max; the default still works
  }
  return new Server(listener, options);
}
