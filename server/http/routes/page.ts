import { readFileSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import type { AdminContext } from '../../admin/context.js';
import { imageWarnings } from '../../admin/images.js';
import { parseNodeKey } from '../../admin/nodes.js';
import type { BootPolicy } from '../../boot/policy.js';
import type { EventRecorder } from '../../events/recorder.js';
import type { NodeRecord } from '../../inventory/nodes.js';
import type { EngineCounters } from './metrics.js';
import { newestBoot, nodeBoots } from '../../timeline/node-boots.js';
import { version } from '../../version.js';
import { recentBoots } from '../../timeline/recent.js';
import { overviewFragment } from '../page/overview.js';
import { imagesFragment, nodesFragment, notSeenFragment, pageHtml, timelineFragment, type NodeView } from '../page/views.js';

export interface PageDeps {
  admin: AdminContext;
  policy: BootPolicy;
  /** Flushed before each render, so a fragment fetched right after a live event includes it. */
  recorder: EventRecorder;
  /** The TFTP engine's counters, for the overview's storm panel. */
  engines: EngineCounters;
}

// The page's script and style ship beside the templates; read once, served from memory.
const assetsDir = new URL('../../../../boot-assets/page/', import.meta.url);
const asset = (name: string) => readFileSync(new URL(name, assetsDir), 'utf8');

const HTML = 'text/html; charset=utf-8';
const NODES_PER_PAGE = 100;
/** The overview counts the nodes seen within this. */
const SEEN_LATELY_MS = 10 * 60_000;
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
  const { admin, policy, recorder, engines } = deps;
  const { inventory } = admin;
  app.addHook('onRequest', async () => recorder.flush());
  app.addHook('onSend', async (_, reply) => {
    reply.headers(PAGE_HEADERS);
  });
  const script = asset('app.js');
  const style = asset('app.css');
  const icon = asset('favicon.svg');

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
  // A page of rows, each with its newest boot, costs a bounded amount however large the rack; the
  // waiting nodes are counted and put first by plan group (SQL), not by planning every node. A node
  // the operator registered waits only once it asked to boot.
  const nodes = (page = 1, limit = NODES_PER_PAGE) => {
    const now = Date.now();
    const groups = policy.planGroups();
    const waiting = groups.filter((group) => !group.reason && group.seen);
    const waitingKeys = waiting.map((group) => group.key);
    const total = groups.reduce((sum, group) => sum + group.nodes, 0);
    const pages = Math.max(1, Math.ceil(total / limit));
    const shown = Math.min(page, pages);
    return nodesFragment(
      {
        nodes: inventory.planGroups.page(waitingKeys, (shown - 1) * limit, limit).map((node) => nodeView(node)),
        total,
        page: shown,
        pages,
        waitingTotal: waiting.reduce((sum, group) => sum + group.nodes, 0),
      },
      now,
    );
  };
  const overview = () => {
    const now = Date.now();
    const counts = { assigned: 0, once: 0, default: 0, waiting: 0 };
    for (const group of policy.planGroups()) {
      if (group.reason) counts[group.reason] += group.nodes;
      else if (group.seen) counts.waiting += group.nodes;
    }
    const boots = recentBoots(inventory, now);
    const tftp = engines.tftp;
    return overviewFragment(
      {
        nodes: { ...counts, total: inventory.nodes.count(), seenLately: inventory.nodes.countSeenSince(now - SEEN_LATELY_MS) },
        lateMs: SEEN_LATELY_MS,
        boots: {
          ...boots,
          failures: boots.failures.flatMap(({ nodeId, boot }) => {
            const node = inventory.nodes.byId(nodeId);
            return node ? [{ key: node.mac ?? node.serial!, name: node.hostname ?? node.mac ?? node.serial!, boot }] : [];
          }),
        },
        tftp: tftp ? {
          inFlight: tftp.inFlight,
          bufferedBytes: tftp.bufferedBytes,
          maxBufferBytes: admin.config.tftp.maxBufferBytes,
          peakBytes: tftp.bufferedPeakBytes,
          errors: tftp.errors,
          retransmits: tftp.retransmits,
        } : null,
      },
      now,
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
    const right = request.query.node ? timeline(request.query.node) : overview();
    return reply.type(HTML).send(pageHtml({ nodes: nodes(), images: images(), right, version }).text);
  });
  app.get('/ui/overview', hidden, async (_, reply) => reply.type(HTML).header('cache-control', 'no-store').send(overview().text));
  app.get<{ Querystring: { page: number; limit: number } }>('/ui/nodes', { schema: { hide: true, querystring: nodesQuery } }, async (request, reply) =>
    reply.type(HTML).header('cache-control', 'no-store').send(nodes(request.query.page, request.query.limit).text),
  );
  app.get('/ui/images', hidden, async (_, reply) => reply.type(HTML).header('cache-control', 'no-store').send(images().text));
  app.get<{ Params: { node: string } }>('/ui/timeline/:node', hidden, async (request, reply) =>
    reply.type(HTML).header('cache-control', 'no-store').send(timeline(request.params.node).text),
  );
  app.get('/ui/app.js', hidden, async (_, reply) => reply.type('text/javascript; charset=utf-8').send(script));
  app.get('/ui/app.css', hidden, async (_, reply) => reply.type('text/css; charset=utf-8').send(style));
  app.get('/ui/favicon.svg', hidden, async (_, reply) => reply.type('image/svg+xml').header('cache-control', 'max-age=86400').send(icon));
}
