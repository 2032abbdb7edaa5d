/**
 * The hostile-LAN soak: every flood of issue #13 at once, from ~150 addresses in a client
 * namespace, while a real client (udhcpc, curl tftp://, curl /chain) keeps booting from its own
 * address. Afterwards the daemon is alive, its descriptors are back near the start, its peak RSS
 * stayed under a ceiling, the node count grew by a bounded amount, and the real client's lease
 * survived the forged RELEASE/DECLINEs. Latency and footprints are printed, never asserted.
 * Every flood is bounded in count and killed at a hard limit; the namespaces are removed at the end.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { openDatabase } from '../server/inventory/db.js';
import { sqliteLeaseStore } from '../server/inventory/leases.js';
import { startDaemon, type RunningDaemon } from './helpers/daemon.js';
import { runUdhcpc, workDir } from './helpers/dhcp-clients.js';
import { dhcpDaemonConfig } from './helpers/dhcp-daemon.js';
import { sha256 } from './helpers/fixtures.js';
import type { FloodSpec, FloodTarget } from './helpers/hostile-flood-spec.js';
import { latencyReport, realClientRound, type Attempt, type RealClient } from './helpers/hostile-real-client.js';
import { addSourceAddresses, footprint, startFlood, type FloodOutcome, type Footprint } from './helpers/hostile-soak.js';
import { stormAssets } from './helpers/lossy-storm.js';
import { createLab, type Lab } from './helpers/netns.js';
import { logRecords, within } from './helpers/wait.js';

const NET = '10.213.0';
const SERVER = `${NET}.1`;
const CLIENT_ADDRESS = `${NET}.2`;
const CLIENT_MAC = '52:54:00:13:00:02';
/** The forged RELEASE/DECLINEs come from here: on the segment, but not the lease holder. */
const FORGER = `${NET}.3`;
/**
 * 150 flood sources: with 8 transfers per source (tftp.maxTransfersPerClient) they can ask for
 * more slots than tftp.maxTransfers (1000), like the 250-source reproduction.
 */
const FLOOD_FIRST = 10;
const FLOOD_LAST = 159;
const POOL = { start: `${NET}.200`, end: `${NET}.250` };
const SEED = Number(process.env['RBT_SOAK_SEED'] ?? 20261206);
const TFTP_FILE = 'start4.elf';

/** Each flood child is killed at this limit whatever it is doing. */
const FLOOD_LIMIT_MS = 90_000;
/** Real-client rounds while the floods run; each round is itself bounded by its clients' limits. */
const MAX_ROUNDS = 20;
/** After the floods, descriptors are polled this many times, a second apart, to come back. */
const SETTLE_POLLS = 30;

/** Bounds from the intent, generous on purpose: a leak or unbounded growth crosses them by far. */
const FD_SLACK = 20;
const RSS_CEILING_MB = 400;
/** The floods offer ~6,000 unknown identities; auto-discovery may admit a bounded share, not all. */
const NEW_NODE_CEILING = 1_000;

const FLOODS: FloodSpec[] = [
  { kind: 'option-bomb', count: 300, perSecond: 10 },
  { kind: 'random-discover', count: 4_000, perSecond: 200 },
  { kind: 'random-chain', count: 1_500, concurrency: 4 },
  { kind: 'random-tftp', count: 1_500, perSecond: 75, file: TFTP_FILE },
  { kind: 'tftp-unacked', count: 4_000, perSecond: 150, file: TFTP_FILE, hostileTimeoutEvery: 4 },
  { kind: 'http-slow', idle: 150, trickleHeaders: 50, trickleBody: 50, live: 100, holdMs: 40_000 },
];

/** How often the daemon logged each warning or error code: what the floods made it say. */
function warningsByCode(d: RunningDaemon): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const record of logRecords(d, /./)) {
    if (Number(record['level']) < 40) continue;
    // TFTP reports carry no code but name the path (a random serial): group them by outcome and error.
    const tftp = record['tftp'] as { outcome?: string; error?: string } | undefined;
    const code = String(record['code'] ?? (tftp ? `tftp ${tftp.outcome}: ${tftp.error ?? ''}` : record['msg']));
    counts[code] = (counts[code] ?? 0) + 1;
  }
  return counts;
}

describe('hostile-LAN soak: all floods at once while a real client boots', { timeout: 300_000 }, () => {
  let lab: Lab;
  let daemon: RunningDaemon | undefined;
  const dir = workDir();
  const work = workDir();
  let client: RealClient;
  let target: FloodTarget;
  let assetsDir: string | undefined;

  before(async () => {
    lab = createLab({ prefix: 'rbt-soak-', serverCidr: `${SERVER}/24`, clientCidr: `${CLIENT_ADDRESS}/24`, clientMac: CLIENT_MAC, broadcastRoutes: true });
    addSourceAddresses(lab, NET, 3, 3);
    const sources = addSourceAddresses(lab, NET, FLOOD_FIRST, FLOOD_LAST);
    const assets = stormAssets([]);
    assetsDir = assets.dir;
    const firmware = randomBytes(512 * 1024);
    writeFileSync(path.join(assets.dir, 'firmware', TFTP_FILE), firmware);
    daemon = await startDaemon({
      netns: lab.server,
      dir,
      // info, not debug: a line per flood packet would measure the logger and fill this process's memory.
      config: { ...dhcpDaemonConfig(NET, { pool: POOL }), assetsDir: assets.dir, log: { level: 'info' } },
    });
    client = {
      lab,
      work,
      address: CLIENT_ADDRESS,
      mac: CLIENT_MAC,
      server: SERVER,
      tftpPort: daemon.tftpPort,
      httpUrl: daemon.httpUrl,
      tftpFile: { name: TFTP_FILE, sha256: sha256(firmware) },
    };
    target = { server: SERVER, dhcpPort: 67, tftpPort: daemon.tftpPort, httpPort: Number(new URL(daemon.httpUrl).port), sources, seed: SEED };
  });
  after(async () => {
    await daemon?.stop('SIGKILL');
    lab?.cleanup();
    for (const each of [dir, work, assetsDir]) if (each) rmSync(each, { recursive: true, force: true });
  });

  /** GET /api/v1/nodes with the admin token, from the server side, written to a file (it may be megabytes). */
  const nodeCount = (d: RunningDaemon) => {
    const out = path.join(work, 'nodes.json');
    lab.run(lab.server, 'curl', ['-sS', '--fail', '--max-time', '60', '-o', out, '-H', `authorization: Bearer ${d.adminToken}`, `${d.httpUrl}/api/v1/nodes`], 70_000);
    return (JSON.parse(readFileSync(out, 'utf8')) as unknown[]).length;
  };

  it('keeps the real client served, and stays bounded in descriptors, memory, nodes and leases', async (t) => {
    const d = daemon!;
    const problems: string[] = [];
    const check = (ok: boolean, problem: string) => ok || problems.push(problem);

    const victimIp = runUdhcpc(lab, work)['ip'];
    assert.ok(victimIp, 'the real client gets a lease before the floods');
    const baseline = realClientRound(client, victimIp);
    assert.deepEqual(baseline.filter((a) => a.error), [], 'the real client is served before the floods');
    const nodesBefore = nodeCount(d);
    const start = footprint(d.pid);

    const floods: FloodSpec[] = [...FLOODS, { kind: 'forged-release', count: 200, perSecond: 10, victimMac: CLIENT_MAC, victimIp }];
    let running = floods.length;
    const outcomes = Promise.all(
      floods.map((flood, index) => {
        const from = flood.kind === 'forged-release' ? { ...target, sources: [FORGER] } : target;
        return startFlood(lab, { ...from, seed: SEED + index }, flood, FLOOD_LIMIT_MS).finally(() => running--);
      }),
    );
    const attempts: Attempt[] = [];
    let busiest: Footprint = start;
    for (let round = 0; round < MAX_ROUNDS && running > 0; round++) {
      attempts.push(...realClientRound(client, victimIp));
      const now = footprint(d.pid);
      if (now.fds > busiest.fds) busiest = now;
      await new Promise((resolve) => setImmediate(resolve)); // let finished floods report
    }
    const results: FloodOutcome[] = await outcomes;
    check(d.child.exitCode === null && d.child.signalCode === null, `the daemon died during the floods:\n${d.output().slice(-2000)}`);

    let settled = footprint(d.pid);
    for (let poll = 0; poll < SETTLE_POLLS && settled.fds > start.fds + FD_SLACK; poll++) {
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      settled = footprint(d.pid);
    }
    const afterwards = realClientRound(client, victimIp);
    const nodesAfter = nodeCount(d);

    // Last word to the forger: a lease the floods' RELEASEs ended could be renewed by a later round.
    const volley = await startFlood(lab, { ...target, sources: [FORGER], seed: SEED }, { kind: 'forged-release', count: 20, perSecond: 20, victimMac: CLIENT_MAC, victimIp }, FLOOD_LIMIT_MS);
    await new Promise((resolve) => setTimeout(resolve, 500));
    const final = footprint(d.pid);
    daemon = undefined;
    const exitCode = await within(d.stop('SIGTERM'), 30_000, 'exit after SIGTERM (the unit allows 30 s)');

    const db = openDatabase(path.join(dir, 'data'));
    const lease = sqliteLeaseStore(db).loadAll().find((l) => l.mac === CLIENT_MAC);
    const events = (db.prepare('SELECT count(*) AS n FROM events').get() as { n: number }).n;
    db.close();
    const dbMb = statSync(path.join(dir, 'data', 'rackboot.sqlite')).size / 1024 / 1024;

    for (const r of [...results, volley]) t.diagnostic(`flood ${r.kind}: ${r.failure ?? JSON.stringify(r.counters)}`);
    t.diagnostic(`real client during floods: ${latencyReport(attempts)}`);
    t.diagnostic(`real client after floods: ${latencyReport(afterwards)}`);
    t.diagnostic(`daemon fds: start ${start.fds}, busiest sample ${busiest.fds}, settled ${settled.fds}, final ${final.fds} (bound start + ${FD_SLACK})`);
    t.diagnostic(`daemon RSS MB: start ${start.rssMb}, settled ${settled.rssMb}, peak ${final.peakRssMb} (ceiling ${RSS_CEILING_MB})`);
    t.diagnostic(`nodes: before ${nodesBefore}, after ${nodesAfter} (ceiling +${NEW_NODE_CEILING}); events stored ${events}; database ${dbMb.toFixed(1)} MB`);
    t.diagnostic(`daemon warnings and errors by code: ${JSON.stringify(warningsByCode(d))}`);
    t.diagnostic(`real client lease after forged RELEASE/DECLINE: ${JSON.stringify(lease)}; SIGTERM exit ${exitCode}`);

    for (const r of [...results, volley]) check(!r.failure, `flood ${r.kind} did not run to its end: ${r.failure}`);
    for (const a of [...attempts, ...afterwards].filter((x) => x.error)) check(false, `real client ${a.what} failed: ${a.error}`);
    check(attempts.length > 0, 'no real-client round ran during the floods');
    check(settled.fds <= start.fds + FD_SLACK, `descriptors ${settled.fds} after the floods, ${start.fds} before`);
    check(final.peakRssMb < RSS_CEILING_MB, `peak RSS ${final.peakRssMb} MB`);
    check(nodesAfter - nodesBefore <= NEW_NODE_CEILING, `${nodesAfter - nodesBefore} nodes created by unauthenticated floods`);
    check(lease?.state === 'bound' && lease.ip === victimIp, `the real client's lease is ${JSON.stringify(lease)}, not bound to ${victimIp}`);
    check(exitCode === 0, `SIGTERM exit code ${exitCode}`);
    assert.deepEqual(problems, []);
  });
});

// Fail loudly (not skip) when a client is missing: test/tools/install.sh installs them.
for (const tool of ['udhcpc', 'curl', 'ip']) execFileSync('sh', ['-c', `command -v ${tool}`]);
