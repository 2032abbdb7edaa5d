import type { Server } from 'node:http';
import type { Logger } from 'pino';

/** Refusals logged: the first, then every this many, so a flood cannot flood the log too. */
const LOG_EVERY = 1000;

/**
 * Node closes connections beyond `server.maxConnections` as it accepts them ('drop'). Say so, with
 * the setting to raise, without a log line per refused connection.
 */
export function watchRefusedConnections(server: Server, limit: number, log: Pick<Logger, 'warn'>): void {
  let refused = 0;
  server.on('drop', (peer?: { remoteAddress?: string }) => {
    if (refused++ % LOG_EVERY !== 0) return;
    log.warn(
      { refused, limit, remote: peer?.remoteAddress },
      `HTTP connection refused: ${limit} connections are open (http.maxConnections); ${refused} refused so far`,
    );
  });
}
