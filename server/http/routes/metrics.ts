import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FastifyInstance, RawServerDefault } from 'fastify';
import type { Logger } from 'pino';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { EventRecorder } from '../../events/recorder.js';
import type { Inventory } from '../../inventory/index.js';
import type { TftpCounters } from '../../tftp/server.js';
import { BootTracker } from '../../timeline/tracker.js';

/**
 * The engines' own counters, read at scrape time so the engines never import prom-client. The
 * daemon fills these in once each engine listens (HTTP starts first).
 */
export interface EngineCounters {
  tftp?: TftpCounters;
  dhcp?: Record<string, number>;
  /** New nodes auto-discovery refused, by reason (rate, unconfirmed). */
  discovery?: Record<string, number>;
}

export interface MetricsDeps {
  inventory: Inventory;
  recorder: EventRecorder;
  engines: EngineCounters;
}

const SWEEP_INTERVAL_MS = 10_000;

/** A counter whose value is copied from an engine counter on each scrape. */
function mirrored(registry: Registry, name: string, help: string, labelNames: string[], read: () => [Record<string, string>, number][]) {
  return new Counter({
    name,
    help,
    labelNames,
    registers: [registry],
    collect() {
      this.reset();
      for (const [labels, value] of read()) this.inc(labels, value);
    },
  });
}

/** DHCP engine counters are named `<prefix><value>` (in-discover, out-offer, dropped-malformed, nak-<reason>). */
function byPrefix(counters: Record<string, number> | undefined, prefix: string, label: string): [Record<string, string>, number][] {
  return Object.entries(counters ?? {})
    .filter(([name]) => name.startsWith(prefix))
    .map(([name, value]) => [{ [label]: name.slice(prefix.length) }, value]);
}

function registerEngineMetrics(registry: Registry, engines: EngineCounters): void {
  mirrored(registry, 'rackboot_discovery_refused_total', 'New nodes auto-discovery did not record, by the limit reached', ['reason'], () =>
    Object.entries(engines.discovery ?? {}).map(([reason, value]) => [{ reason }, value]),
  );
  mirrored(registry, 'rackboot_dhcp_packets_received_total', 'DHCP packets received, by message type', ['type'], () =>
    byPrefix(engines.dhcp, 'in-', 'type'),
  );
  mirrored(registry, 'rackboot_dhcp_packets_sent_total', 'DHCP replies sent, by message type', ['type'], () => byPrefix(engines.dhcp, 'out-', 'type'));
  mirrored(registry, 'rackboot_dhcp_packets_dropped_total', 'DHCP packets dropped without a reply, by reason', ['reason'], () =>
    byPrefix(engines.dhcp, 'dropped-', 'reason'),
  );
  mirrored(registry, 'rackboot_dhcp_naks_total', 'DHCP NAKs sent, by reason', ['reason'], () =>
    byPrefix(engines.dhcp, 'nak-', 'reason'),
  );
  mirrored(registry, 'rackboot_dhcp_pool_exhausted_total', 'DISCOVERs left unanswered because the pool was full', [], () =>
    engines.dhcp ? [[{}, engines.dhcp['pool-exhausted'] ?? 0]] : [],
  );
  mirrored(registry, 'rackboot_tftp_transfers_total', 'TFTP transfers that ended, by outcome (probe = Pi tsize probe)', ['outcome'], () =>
    Object.entries(engines.tftp?.byOutcome ?? {}).map(([outcome, value]) => [{ outcome }, value]),
  );
  mirrored(registry, 'rackboot_tftp_bytes_total', 'TFTP payload bytes acknowledged by clients', [], () =>
    engines.tftp ? [[{}, engines.tftp.bytes]] : [],
  );
  mirrored(registry, 'rackboot_tftp_retransmits_total', 'TFTP blocks sent again after a timeout', [], () =>
    engines.tftp ? [[{}, engines.tftp.retransmits]] : [],
  );
  mirrored(registry, 'rackboot_tftp_errors_total', 'TFTP transfers that ended failed, aborted or refused', [], () =>
    engines.tftp ? [[{}, engines.tftp.errors]] : [],
  );
  new Gauge({
    name: 'rackboot_tftp_transfers_in_flight',
    help: 'TFTP transfers running now',
    registers: [registry],
    collect() {
      this.set(engines.tftp?.inFlight ?? 0);
    },
  });
  new Gauge({
    name: 'rackboot_tftp_buffered_bytes',
    help: 'TFTP read-buffer bytes held now (tftp.maxBufferBytes caps it)',
    registers: [registry],
    collect() {
      this.set(engines.tftp?.bufferedBytes ?? 0);
    },
  });
  new Gauge({
    name: 'rackboot_tftp_buffered_peak_bytes',
    help: 'The most TFTP read-buffer bytes ever held at once since start',
    registers: [registry],
    collect() {
      this.set(engines.tftp?.bufferedPeakBytes ?? 0);
    },
  });
}

function registerInventoryMetrics(registry: Registry, inventory: Inventory): void {
  new Gauge({
    name: 'rackboot_nodes',
    help: 'Nodes in the inventory, by whether they have an assignment of their own',
    labelNames: ['assigned'],
    registers: [registry],
    collect() {
      const nodes = inventory.nodes.list();
      const assigned = nodes.filter((node) => inventory.assignments.current(node.id)?.imageName).length;
      this.set({ assigned: 'yes' }, assigned);
      this.set({ assigned: 'no' }, nodes.length - assigned);
    },
  });
  new Gauge({
    name: 'rackboot_images',
    help: 'Image versions in the inventory',
    registers: [registry],
    collect() {
      this.set(inventory.images.list().length);
    },
  });
}

/**
 * Prometheus text at /metrics: DHCP and TFTP engine counters, HTTP requests by route, boots by
 * outcome with their durations, inventory counts and the process defaults. Registered on the root
 * instance (not as an encapsulated plugin) so its hook sees every route; call it before the routes.
 */
export function registerMetrics(app: FastifyInstance<RawServerDefault, IncomingMessage, ServerResponse, Logger>, deps: MetricsDeps): void {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'rackboot_' });
  registerEngineMetrics(registry, deps.engines);
  registerInventoryMetrics(registry, deps.inventory);

  // Counted here and copied at scrape time: prom-client's inc() sorts, hashes and checks the labels
  // on every call, and an async hook adds a promise; the response hook took 3.4% of a chain
  // request's CPU.
  const requests = new Map<string, [Record<string, string>, number]>();
  mirrored(registry, 'rackboot_http_requests_total', 'HTTP requests, by route pattern, method and status code', ['route', 'method', 'status'], () => [
    ...requests.values(),
  ]);
  app.addHook('onResponse', (request, reply, done) => {
    const route = request.routeOptions.url ?? 'unmatched';
    const key = `${reply.statusCode} ${request.method} ${route}`;
    const counted = requests.get(key);
    if (counted) counted[1]++;
    else requests.set(key, [{ route, method: request.method, status: String(reply.statusCode) }, 1]);
    done();
  });

  const boots = new Counter({
    name: 'rackboot_boots_total',
    help: 'Boots that ended, by outcome (booted, served, waiting, failed) and failure code',
    labelNames: ['outcome', 'failure'],
    registers: [registry],
  });
  const durations = new Histogram({
    name: 'rackboot_boot_duration_seconds',
    help: 'From the first DHCP or file request of a boot to its booted callback or last file, by outcome',
    labelNames: ['outcome'],
    buckets: [1, 2, 5, 10, 20, 30, 45, 60, 90, 120, 180, 300, 600],
    registers: [registry],
  });
  const tracker = new BootTracker((boot) => {
    boots.inc({ outcome: boot.outcome, failure: boot.failure?.code ?? '' });
    durations.observe({ outcome: boot.outcome }, boot.durationMs / 1000);
  });
  const unsubscribe = deps.recorder.subscribe((event) => tracker.observe(event));
  const sweeper = setInterval(() => tracker.sweep(), SWEEP_INTERVAL_MS).unref();
  app.addHook('onClose', async () => {
    clearInterval(sweeper);
    unsubscribe();
  });

  app.get('/metrics', { schema: { tags: ['ops'], summary: 'Prometheus metrics' } }, async (_, reply) => {
    tracker.sweep();
    return reply.type(registry.contentType).send(await registry.metrics());
  });
}
