import type { ServerResponse } from 'node:http';
import type { FastifyInstance } from 'fastify';
import { findNode, parseNodeKey } from '../../admin/nodes.js';
import type { AdminContext } from '../../admin/context.js';
import type { EventRecorder, RecordedEvent } from '../../events/recorder.js';
import type { Inventory } from '../../inventory/index.js';
import { nodeBoots } from '../../timeline/node-boots.js';

export interface LiveDeps {
  admin: AdminContext;
  recorder: EventRecorder;
  /** Streams open at once at most (http.maxLiveStreams): each costs a write per event. */
  maxStreams: number;
  /** The server closes silent connections after this (http.idleTimeoutMs); heartbeats must come sooner. */
  idleTimeoutMs: number;
}

/** Proxies and browsers drop a silent stream; a comment line now and then keeps it open. */
const HEARTBEAT_MS = 15_000;
/** A client this far behind is cut off rather than buffered without end; EventSource reconnects. */
const MAX_BUFFERED_BYTES = 1 << 20;

const liveQuery = {
  type: 'object',
  properties: { node: { type: 'string', description: 'only this node (MAC or Pi serial)' } },
} as const;

/** Does the event belong to the node named by `text`? The node may not exist yet when the stream opens. */
function matcher(inventory: Inventory, text: string | undefined): (event: RecordedEvent) => boolean {
  if (!text) return () => true;
  const key = parseNodeKey(text, 'node');
  let nodeId = inventory.nodes.find(key)?.id;
  return (event) => {
    if (key.mac && event.detail['mac'] === key.mac) return true;
    if (key.serial && event.detail['serial'] === key.serial) return true;
    if (event.nodeId === null) return false;
    // A Pi known by MAC and serial reports TFTP by serial only: match those by node id.
    nodeId ??= inventory.nodes.find(key)?.id;
    return event.nodeId === nodeId;
  };
}

/**
 * Server-Sent Events of boot events as they are recorded (the page and `rackboot events --follow`),
 * and a node's boots stitched into timelines as JSON.
 */
export async function liveRoutes(app: FastifyInstance, deps: LiveDeps) {
  const { admin, recorder, maxStreams } = deps;
  const { inventory } = admin;
  const heartbeatMs = Math.min(HEARTBEAT_MS, deps.idleTimeoutMs / 2);
  const streams = new Set<ServerResponse>();
  // Every stream gets the same text for an event: build it once, not once per subscriber.
  let lastEvent: RecordedEvent | undefined;
  let lastMessage = '';
  const message = (event: RecordedEvent) => {
    if (event !== lastEvent) {
      lastEvent = event;
      lastMessage = `data: ${JSON.stringify(event)}\n\n`;
    }
    return lastMessage;
  };
  // Open streams are never idle, so the server's close would wait on them forever.
  app.addHook('preClose', async () => {
    for (const stream of streams) stream.end();
  });

  app.get<{ Querystring: { node?: string } }>(
    '/live',
    { schema: { tags: ['ops'], summary: 'Boot events as Server-Sent Events (one JSON event per message)', querystring: liveQuery } },
    async (request, reply) => {
      const wanted = matcher(inventory, request.query.node);
      if (streams.size >= maxStreams) {
        return reply
          .code(503)
          .header('retry-after', '30')
          .send({ error: 'RB_LIVE_FULL', message: `${maxStreams} /live streams are open (http.maxLiveStreams): close a page or raise the limit` });
      }
      reply.hijack();
      const stream = reply.raw;
      stream.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-store',
        connection: 'keep-alive',
        'x-accel-buffering': 'no',
      });
      stream.write(': rackboot live events\n\n');
      streams.add(stream);
      const unsubscribe = recorder.subscribe((event) => {
        if (!wanted(event)) return;
        if (stream.writableLength > MAX_BUFFERED_BYTES) stream.destroy();
        else stream.write(message(event));
      });
      const heartbeat = setInterval(() => stream.write(': keep-alive\n\n'), heartbeatMs).unref();
      stream.once('close', () => {
        clearInterval(heartbeat);
        unsubscribe();
        streams.delete(stream);
      });
    },
  );

  app.get<{ Params: { node: string } }>(
    '/timeline/:node',
    { schema: { tags: ['ops'], summary: "A node's boots, oldest first: stages with timings, bytes, outcome and classified failures" } },
    async (request) => {
      recorder.flush();
      return nodeBoots(inventory, findNode(admin, request.params.node).id);
    },
  );
}
