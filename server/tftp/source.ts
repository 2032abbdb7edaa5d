/** A file to serve; its content must stay the same for the whole transfer. */
export interface TftpSource {
  readonly size: number;
  /** Like pread(2): may return fewer bytes than asked only at the end of the content. */
  read(buffer: Buffer, offset: number, length: number, position: number): Promise<number>;
  close(): Promise<void>;
  /** What the resolver knows of the file (whose boot it is part of): passed on untouched in the TransferReport. */
  context?: Readonly<Record<string, unknown>>;
}

/**
 * A refusal the client is told about: `tftpCode` is an RFC 1350 error code (1 not found, 2 access
 * violation, ...); `reason`, when given, is the resolver's stable code for why (the wire has room
 * only for the number), passed on in the transfer report.
 */
export class TftpError extends Error {
  constructor(
    readonly tftpCode: number,
    message: string,
    readonly reason?: string,
  ) {
    super(message);
  }
}

export type TftpResolver = (path: string, remote: { address: string; port: number }) => Promise<TftpSource>;
