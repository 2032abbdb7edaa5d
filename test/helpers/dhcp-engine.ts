/** An engine on an in-memory lease store and a settable clock, for engine unit tests. */
import pino from 'pino';
import type { DhcpConfig } from '../../server/config/types.js';
import type { BootEventInput } from '../../server/events/types.js';
import { decode, type DhcpPacket } from '../../server/dhcp/codec.js';
import { DhcpEngine, type EngineHooks, type Outbound, type Via } from '../../server/dhcp/engine.js';
import type { LeaseRecord, LeaseStore } from '../../server/dhcp/lease-store.js';
import type { Mac } from '../../server/net/mac.js';
import { stubBootAnswer } from './dhcp-stub-policy.js';
import { wire } from './dhcp-packets.js';

export const SERVER = '10.50.0.1';

export function dhcpConfig(over: Partial<DhcpConfig> = {}): DhcpConfig {
  return {
    enabled: true,
    mode: 'server',
    interface: 'eth0',
    port: 67,
    proxyPort: 4011,
    clientPort: 68,
    subnet: '10.50.0.0/24',
    pool: { start: '10.50.0.100', end: '10.50.0.199' },
    router: '10.50.0.1',
    dns: ['10.50.0.53', '10.50.0.54'],
    domain: 'rack.test',
    leaseSeconds: 3600,
    piRomReplyDelayMs: 1000,
    relaySubnets: [{ subnet: '10.60.0.0/24', pool: { start: '10.60.0.10', end: '10.60.0.20' }, router: '10.60.0.1' }],
    ...over,
  };
}

export class MemoryLeaseStore implements LeaseStore {
  rows = new Map<string, LeaseRecord>();
  batches = 0;
  loadAll(): LeaseRecord[] {
    return [...this.rows.values()];
  }
  saveBatch(records: readonly LeaseRecord[]): void {
    this.batches++;
    for (const record of records) this.rows.set(record.ip, { ...record });
  }
}

export interface EngineRig {
  engine: DhcpEngine;
  store: MemoryLeaseStore;
  events: BootEventInput[];
  clock: { now: number };
  /** Sends a request and returns the decoded reply (or null) with where it went. */
  send(packet: DhcpPacket, via?: Via, from?: { address: string; port: number }): { out: Outbound; reply: DhcpPacket } | null;
}

/** `hooks` replaces the stub policy's (e.g. with the real BootPolicy and inventory). */
export function engineRig(
  options: { config?: DhcpConfig; store?: MemoryLeaseStore; reservations?: Record<string, string>; hooks?: Partial<EngineHooks> } = {},
): EngineRig {
  const store = options.store ?? new MemoryLeaseStore();
  const events: BootEventInput[] = [];
  const clock = { now: 1_700_000_000_000 };
  const reservations = new Map(Object.entries(options.reservations ?? {}));
  const owners = new Map([...reservations].map(([mac, ip]) => [ip, mac as Mac]));
  const engine = new DhcpEngine({
    config: options.config ?? dhcpConfig(),
    serverAddress: SERVER,
    log: pino({ level: 'silent' }),
    now: () => clock.now,
    hooks: {
      bootAnswer: stubBootAnswer(SERVER, 8080),
      reservation: (mac) => reservations.get(mac),
      reservedMac: (ip) => owners.get(ip),
      leases: store,
      events: { record: (event) => void events.push(event) },
      ...options.hooks,
    },
  });
  return {
    engine,
    store,
    events,
    clock,
    send(packet, via = 'dhcp', from = { address: '0.0.0.0', port: 68 }) {
      const out = engine.handle(wire(packet), from, via);
      if (!out) return null;
      const result = decode(out.buffer);
      if (!result.ok) throw new Error(`engine sent an undecodable reply: ${result.reason}`);
      return { out, reply: result.packet };
    },
  };
}
