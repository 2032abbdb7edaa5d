import type { Server } from 'node:http';
import type { Logger } from 'pino';
import { SampledLine } from '../log.js';

/**
 * Node closes connections beyond `server.maxConnections` as it accepts them ('drop'). Say so, with
 * the setting to raise, without a log line per refused connection.
 */
export function watchRefusedConnections(server: Server, limit: number, log: Pick<Logger, 'warn'>): void {
  const line = new SampledLine(1000);
  server.on('drop', (peer?: { remoteAddress?: string }) => {
    const refused = line.next();
    if (refused === undefined) return;
    log.warn(
      { refused, limit, remote: peer?.remoteAddress },
      `HTTP connection refused: ${limit} connections are open (http.maxConnections); ${refused} refused so far`,
    );
  });
}
