/**
 * Runs the DHCP server alone (no daemon) with stub boot hooks and the real SQLite lease store,
 * for tests and the bench. Input: one JSON argument (see StandaloneInput). Prints
 * {"ready":true,"ports":...} when listening; on SIGTERM closes, prints {"counters":...} and exits 0.
 */
import pino from 'pino';
import type { DhcpConfig } from '../../server/config/types.js';
import { startDhcpServer } from '../../server/dhcp/server.js';
import { openDatabase } from '../../server/inventory/db.js';
import { sqliteLeaseStore } from '../../server/inventory/leases.js';
import type { Mac } from '../../server/net/mac.js';
import { stubBootAnswer } from './dhcp-stub-policy.js';

export interface StandaloneInput {
  config: DhcpConfig;
  serverAddress: string;
  dataDir: string;
  httpPort: number;
  reservations?: Record<string, string>;
  logLevel?: string;
}

async function main(): Promise<void> {
  const input = JSON.parse(process.argv[2]!) as StandaloneInput;
  const log = pino({ level: input.logLevel ?? 'warn' }, pino.destination(2));
  const db = openDatabase(input.dataDir);
  const reservations = new Map(Object.entries(input.reservations ?? {}));
  const owners = new Map([...reservations].map(([mac, ip]) => [ip, mac as Mac]));
  const events: Record<string, number> = {};
  const server = await startDhcpServer({
    config: input.config,
    serverAddress: input.serverAddress,
    log,
    hooks: {
      bootAnswer: stubBootAnswer(input.serverAddress, input.httpPort),
      reservation: (mac) => reservations.get(mac),
      reservedMac: (ip) => owners.get(ip),
      leases: sqliteLeaseStore(db),
      events: { record: (event) => void (events[event.kind] = (events[event.kind] ?? 0) + 1) },
    },
  });
  process.stdout.write(`${JSON.stringify({ ready: true, ports: server.ports })}\n`);
  process.once('SIGTERM', () => {
    void server.close().then(() => {
      db.close();
      process.stdout.write(`${JSON.stringify({ counters: server.counters, events, rssMb: process.memoryUsage().rss / 2 ** 20 })}\n`);
      process.exit(0);
    });
  });
}

void main();
