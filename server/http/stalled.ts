import type { Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

/**
 * What a connection silent for http.idleTimeoutMs means depends on who is silent. Before the
 * answer has started, the server is the one working (an image fetched from a URL can take
 * minutes): keep the connection. Once the answer is being sent, silence is a client that stopped
 * reading: close it, or it holds a connection slot for ever. With a 'timeout' listener on the
 * server, Node leaves that decision to it.
 */
export function closeStalledConnections(server: Server): void {
  server.on('timeout', (socket: Socket) => {
    // Node's own link from a socket to the response it is sending (undocumented, stable since 0.x).
    const response = (socket as Socket & { _httpMessage?: ServerResponse | null })._httpMessage;
    if (response && !response.headersSent) return;
    socket.destroy();
  });
}
