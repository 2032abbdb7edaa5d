import type { Logger } from 'pino';
import { consoleLines, reportedBuild } from './lines.js';
import type { NetconsoleConfig } from '../config/types.js';
import type { EepromBuild } from '../eeprom/image.js';
import type { EventSink } from '../events/types.js';
import type { NodeRecord } from '../inventory/nodes.js';
import { TokenBucket } from '../net/token-bucket.js';
import { udp4Socket } from '../net/udp.js';

/** Lines of one node gathered into one boot event: a bootloader prints dozens a second. */
const FLUSH_MS = 1000;
const FLUSH_LINES = 50;
/** Nodes whose console is followed at once; the oldest is forgotten (its lines flushed) beyond it. */
const MAX_NODES = 10_000;
/** Source addresses whose node is remembered, and for how long (leases and ARP entries change). */
const MAX_ADDRESSES = 4096;
const ADDRESS_TTL_MS = 10_000;
/** Lookups of addresses not remembered, per second: made-up sources must not cost a lease query each. */
const LOOKUPS_PER_SECOND = 200;
const SUMMARY_EVERY_MS = 60_000;

export interface NetconsoleDeps {
  config: NetconsoleConfig;
  log: Logger;
  /** The known node behind a source address, or undefined; must never create one. */
  nodeAt(address: string): NodeRecord | undefined;
  events: EventSink;
  /** A console line named the bootloader's build. */
  reportBuild(node: NodeRecord, build: Partial<EepromBuild>): void;
  now?: () => number;
}

export interface NetconsoleCounters {
  lines: number;
  truncated: number;
  dropped: { unknownSource: number; rate: number; lookups: number };
}

export interface NetconsoleServer {
  port: number;
  counters: NetconsoleCounters;
  close(): Promise<void>;
}

interface NodeConsole {
  node: NodeRecord;
  address: string;
  bucket: TokenBucket;
  pending: string[];
  dropped: number;
  timer: NodeJS.Timeout | undefined;
}

/**
 * Listens for the Pi bootloader's NETCONSOLE log and puts each known node's lines on its boot
 * timeline as `netconsole` events. Unauthenticated LAN input: nothing here creates a node, lines
 * are cut to length and rate-limited per node, and the per-node and per-address state is bounded.
 */
export async function startNetconsole(deps: NetconsoleDeps): Promise<NetconsoleServer> {
  const { config, log } = deps;
  const now = deps.now ?? Date.now;
  const counters: NetconsoleCounters = { lines: 0, truncated: 0, dropped: { unknownSource: 0, rate: 0, lookups: 0 } };
  const consoles = new Map<number, NodeConsole>();
  const addresses = new Map<string, { node: NodeRecord | undefined; until: number }>();
  const lookups = new TokenBucket(LOOKUPS_PER_SECOND, LOOKUPS_PER_SECOND, now);

  const flush = (entry: NodeConsole) => {
    clearTimeout(entry.timer);
    entry.timer = undefined;
    if (!entry.pending.length && !entry.dropped) return;
    const { node } = entry;
    deps.events.record({
      source: 'netconsole',
      kind: 'console',
      ...(node.mac ? { mac: node.mac } : { serial: node.serial! }),
      address: entry.address,
      detail: { lines: entry.pending, ...(entry.dropped && { dropped: entry.dropped }) },
    });
    entry.pending = [];
    entry.dropped = 0;
  };

  const nodeAt = (address: string): NodeRecord | undefined | 'busy' => {
    const known = addresses.get(address);
    if (known && known.until > now()) return known.node;
    if (!lookups.take()) return 'busy';
    const node = deps.nodeAt(address);
    addresses.delete(address);
    addresses.set(address, { node, until: now() + ADDRESS_TTL_MS });
    if (addresses.size > MAX_ADDRESSES) addresses.delete(addresses.keys().next().value!);
    return node;
  };

  const consoleOf = (node: NodeRecord, address: string): NodeConsole => {
    let entry = consoles.get(node.id);
    if (!entry) {
      entry = { node, address, bucket: new TokenBucket(config.burst, config.linesPerSecond, now), pending: [], dropped: 0, timer: undefined };
      consoles.set(node.id, entry);
      if (consoles.size > MAX_NODES) {
        const [oldestId, oldest] = consoles.entries().next().value!;
        flush(oldest);
        consoles.delete(oldestId);
      }
    }
    entry.address = address;
    return entry;
  };

  const socket = udp4Socket();
  socket.on('message', (datagram, remote) => {
    const node = nodeAt(remote.address);
    if (node === 'busy') return void counters.dropped.lookups++;
    if (!node) return void counters.dropped.unknownSource++;
    const entry = consoleOf(node, remote.address);
    const { lines, truncated } = consoleLines(datagram, config.maxLineBytes, config.burst);
    counters.truncated += truncated;
    for (const line of lines) {
      if (!entry.bucket.take()) {
        entry.dropped++;
        counters.dropped.rate++;
        continue;
      }
      counters.lines++;
      entry.pending.push(line);
      const build = reportedBuild(line);
      if (build) deps.reportBuild(node, build);
    }
    if (entry.pending.length >= FLUSH_LINES) flush(entry);
    else if (entry.pending.length || entry.dropped) entry.timer ??= setTimeout(() => flush(entry), FLUSH_MS).unref();
  });
  socket.on('error', (error) => log.warn({ err: error }, 'netconsole socket error'));

  let reported = { ...counters.dropped };
  const summary = setInterval(() => {
    const { dropped } = counters;
    if (dropped.unknownSource === reported.unknownSource && dropped.rate === reported.rate && dropped.lookups === reported.lookups) return;
    log.info({ code: 'RB_NETCONSOLE_DROPPED', counters }, 'netconsole lines dropped (unknown sources, or over the per-node rate)');
    reported = { ...dropped };
  }, SUMMARY_EVERY_MS).unref();

  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind({ address: config.address, port: config.port }, () => {
      socket.off('error', reject);
      resolve();
    });
  });
  return {
    port: socket.address().port,
    counters,
    close: async () => {
      clearInterval(summary);
      for (const entry of consoles.values()) flush(entry);
      await new Promise<void>((resolve) => socket.close(() => resolve()));
    },
  };
}
