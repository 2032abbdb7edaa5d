import type { Server } from 'node:http';

/** How often connections that went idle during the drain are closed. */
const SWEEP_MS = 100;

/**
 * Stops the HTTP server within `graceMs`: no new connections, idle ones closed at once and as they
 * go idle, in-flight requests given the grace to finish, then every connection still open is cut.
 * Without the cut, a client trickling a request or reading a download slowly holds the exit past
 * systemd's TimeoutStopSec, and the SIGKILL that follows loses the events not yet written.
 */
export async function closeHttpApp(app: { server: Server; close(): Promise<unknown> }, graceMs: number): Promise<void> {
  // close() drops idle connections once; a download still in flight finishes first, and its
  // kept-alive connection (iPXE keeps one) would then hold the exit until keepAliveTimeout.
  const sweeper = setInterval(() => app.server.closeIdleConnections(), SWEEP_MS);
  const cut = setTimeout(() => app.server.closeAllConnections(), graceMs);
  try {
    await app.close();
  } finally {
    clearInterval(sweeper);
    clearTimeout(cut);
  }
}
