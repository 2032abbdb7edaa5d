// A raw TCP client for HTTP tests that need what undici will not do: trickle, stall, stop reading.
import { connect, type Socket } from 'node:net';

export interface RawConnection {
  socket: Socket;
  /** Everything the server sent so far, as latin1 text. */
  received(): string;
  /** Bytes the server sent so far. */
  receivedBytes(): number;
  /** Resolves when the socket is closed (by either side); `byServer` is false once we called end/destroy. */
  closed: Promise<{ byServer: boolean }>;
  isClosed(): boolean;
  close(): void;
}

/** Connects to `url`'s host and port on loopback; resolves once connected. */
export async function rawConnect(url: string, options: { paused?: boolean } = {}): Promise<RawConnection> {
  const { hostname, port } = new URL(url);
  const socket = connect({ host: hostname, port: Number(port) });
  const chunks: Buffer[] = [];
  let bytes = 0;
  let closedByUs = false;
  let isClosed = false;
  if (!options.paused) {
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      bytes += chunk.length;
    });
  }
  socket.on('error', () => {}); // a reset from the server shows as the close below
  const closed = new Promise<{ byServer: boolean }>((resolve) =>
    socket.once('close', () => {
      isClosed = true;
      resolve({ byServer: !closedByUs });
    }),
  );
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  return {
    socket,
    received: () => Buffer.concat(chunks).toString('latin1'),
    receivedBytes: () => bytes,
    closed,
    isClosed: () => isClosed,
    close: () => {
      closedByUs = true;
      socket.destroy();
    },
  };
}

/** Sends `text` one byte per `everyMs` while the socket is open, at most `maxBytes`; resolves with the bytes sent. */
export async function trickle(connection: RawConnection, text: string, everyMs: number, maxBytes: number): Promise<number> {
  let sent = 0;
  for (; sent < maxBytes && !connection.isClosed(); sent++) {
    connection.socket.write(text[sent % text.length]!);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
  return sent;
}
