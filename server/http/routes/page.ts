import { readFileSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import type { AdminContext } from '../../admin/context.js';
import { imageWarnings } from '../../admin/images.js';
import { parseNodeKey } from '../../admin/nodes.js';
import type { BootPolicy } from '../../boot/policy.js';
import type { EventRecorder } from '../../events/recorder.js';
import type { NodeRecord } from '../../inventory/nodes.js';
import { newestBoot, nodeBoots } from '../../timeline/node-boots.js';
import { version } from '../../version.js';
import { imagesFragment, nodesFragment, notSeenFragment, pageHtml, timelineFragment, type NodeView } from '../page/views.js';

export interface PageDeps {
  admin: AdminContext;
  policy: BootPolicy;
  /** Flushed before each render, so a fragment fetched right after a live event includes it. */
  recorder: EventRecorder;
}

// The page's script and style ship beside the templates; read once, served from memory.
const assetsDir = new URL('../../../../boot-assets/page/', import.meta.url);
const asset = (name: string) => readFileSync(new URL(name, assetsDir), 'utf8');

const HTML = 'text/html; charset=utf-8';
const NODES_PER_PAGE = 100;
const nodesQuery = {
  type: 'object',
  properties: {
    page: { type: 'integer', minimum: 1, default: 1 },
    limit: { type: 'integer', minimum: 1, maximum: 500, default: NODES_PER_PAGE },
  },
} as const;

/**
 * The page shows node-supplied text (hostnames, models) and holds the admin token: no script but
 * ours may run (no inline script, no other origin), and no other site may frame it to click for us.
 */
const PAGE_HEADERS = {
  'content-security-policy': "default-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  'x-frame-options': 'DENY',
  'x-content-type-options': 'nosniff',
};

/**
 * The operator's page: server-rendered HTML fragments (nodes, images, one node's timeline) that a
 * small script refreshes when /live reports events. Writes go from the browser to /api/v1 with
 * the admin token the operator types in.
 */
export async function pageRoutes(app: FastifyInstance, deps: PageDeps) {
  const { admin, policy, recorder } = deps;
  const { inventory } = admin;
  app.addHook('onRequest', async () => recorder.flush());
  app.addHook('onSend', async (_, reply) => {
    reply.headers(PAGE_HEADERS);
  });
  const script = asset('app.js');
  const style = asset('app.css');

  const nodeView = (node: NodeRecord, withBoot = true): NodeView => {
    const plan = policy.plan(node);
    return {
      key: node.mac ?? node.serial!,
      mac: node.mac,
      serial: node.serial,
      model: node.model,
      arch: node.arch,
      hostname: node.hostname,
      image: plan?.image.name ?? null,
      reason: plan?.reason ?? null,
      lastBoot: withBoot ? newestBoot(inventory, node.id) : null,
      lastSeen: node.lastSeen,
    };
  };
  // A page of rows, each with its newest boot, costs a bounded amount however large the rack;
  // finding the waiting nodes plans every node, but renders only the first of them. A node the
  // operator registered waits only once it asked to boot.
  const nodes = (page = 1, limit = NODES_PER_PAGE) => {
    const total = inventory.nodes.count();
    const pages = Math.max(1, Math.ceil(total / limit));
    const shown = Math.min(page, pages);
    const waiting = inventory.nodes.list().filter((node) => node.lastSeen !== null && !policy.plan(node));
    return nodesFragment(
      {
        nodes: inventory.nodes.listPage((shown - 1) * limit, limit).map((node) => nodeView(node)),
        total,
        page: shown,
        pages,
        waiting: waiting.slice(0, limit).map((node) => nodeView(node)),
        waitingTotal: waiting.length,
      },
      Date.now(),
    );
  };
  const images = () =>
    imagesFragment(
      inventory.images.list().map((image) => ({
        name: image.name,
        version: image.version,
        arch: image.arch,
        kernelSize: image.kernel.size,
        initrdSize: image.initrd?.size ?? null,
        warnings: imageWarnings(image),
      })),
    );
  const timeline = (text: string) => {
    const node = inventory.nodes.find(parseNodeKey(text));
    // The page may watch a node before its first request (a Pi about to be powered on).
    if (!node) return notSeenFragment(text);
    const names = [...new Set(inventory.images.list().map((image) => image.name))];
    return timelineFragment(nodeView(node, false), nodeBoots(inventory, node.id), names, Date.now());
  };

  const hidden = { schema: { hide: true } };
  app.get<{ Querystring: { node?: string } }>('/', hidden, async (request, reply) => {
    const selected = request.query.node ? timeline(request.query.node) : null;
    return reply.type(HTML).send(pageHtml({ nodes: nodes(), images: images(), timeline: selected, version }).text);
  });
  app.get<{ Querystring: { page: number; limit: number } }>('/ui/nodes', { schema: { hide: true, querystring: nodesQuery } }, async (request, reply) =>
    reply.type(HTML).header('cache-control', 'no-store').send(nodes(request.query.page, request.query.limit).text),
  );
  app.get('/ui/images', hidden, async (_, reply) => reply.type(HTML).header('cache-control', 'no-store').send(images().text));
  app.get<{ Params: { node: string } }>('/ui/timeline/:node', hidden, async (request, reply) =>
    reply.type(HTML).header('cache-control', 'no-store').send(timeline(request.params.node).text),
  );
  app.get('/ui/app.js', hidden, async (_, reply) => reply.type('text/javascript; charset=utf-8').send(script));
  app.get('/ui/app.css', hidden, async (_, reply) => reply.type('text/css; charset=utf-8').send(style));
}
