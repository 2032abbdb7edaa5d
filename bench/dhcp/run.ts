/**
 * DHCP benchmark: rackboot (the daemon), the node floor (floor.ts), Kea and dnsmasq in one run,
 * each alone in a server namespace, driven by Kea's perfdhcp acting as a relay agent (unicast
 * from the relay address, giaddr set) in a client namespace. Server pinned to CPU 0, perfdhcp to
 * CPU 1. Every server persists leases (rackboot: SQLite; Kea: memfile CSV; dnsmasq: its lease
 * file).
 *
 * Measures, per server: the sustained DORA rate at <= 1% loss over a rate sweep, DORA latency at
 * a light rate, the time to bind an avalanche of 1,000 new clients, and the completed rate
 * under a flood (perfdhcp as fast as it can). Prints a table and ratios to Kea as JSON + text.
 * Usage: node dist/bench/dhcp/run.js [--quick] [--servers rackboot,rackboot-engine,node-floor,kea,dnsmasq]
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createLab, type Lab } from '../../test/helpers/netns.js';

const mainJs = fileURLToPath(new URL('../../server/main.js', import.meta.url));
const standaloneJs = fileURLToPath(new URL('../../test/helpers/dhcp-standalone.js', import.meta.url));
const floorJs = fileURLToPath(new URL('./floor.js', import.meta.url));
const SERVER = '10.201.0.1';
/** perfdhcp's giaddr is its interface's address: a subnet the server reaches only through it, as behind a real relay. */
const RELAY = '10.202.0.1';
const SUBNET = '10.202.0.0/16';
const POOL = { start: '10.202.1.0', end: '10.202.250.255' };
const CLIENTS = 20_000;
const quick = process.argv.includes('--quick');
// Starts low enough for dnsmasq (a few hundred a second here) to have a sustained figure.
const SWEEP = quick ? [1000, 4000, 8000, 12000] : [250, 500, 1000, 2000, 4000, 6000, 8000, 10000, 12000, 14000, 16000, 20000, 24000];
const POINT_SECONDS = quick ? 3 : 5;
const FLOOD_SECONDS = 5;
const serversArg = process.argv[process.argv.indexOf('--servers') + 1];
const SERVERS = (process.argv.includes('--servers') && serversArg ? serversArg : 'rackboot,node-floor,kea,dnsmasq').split(',');

interface PerfResult {
  rate: number;
  doDrops: number;
  raDrops: number;
  doDelay: number;
  raDelay: number;
  acks: number;
  provisionSeconds?: number;
}

function parsePerf(output: string): PerfResult {
  const all = (pattern: RegExp) => [...output.matchAll(pattern)].map((m) => Number(m[1]));
  const drops = all(/drops ratio: ([\d.]+) %/g);
  const delays = all(/avg delay: ([\d.]+) ms/g);
  const received = all(/received packets: (\d+)/g);
  const took = /It took (\d+):(\d+):([\d.]+) to provision/.exec(output);
  const result: PerfResult = {
    rate: all(/Rate: ([\d.]+) 4-way/g)[0] ?? 0,
    doDrops: drops[0] ?? 100,
    raDrops: drops[1] ?? 100,
    doDelay: delays[0] ?? NaN,
    raDelay: delays[1] ?? NaN,
    acks: received[1] ?? 0,
  };
  if (took) result.provisionSeconds = Number(took[1]) * 3600 + Number(took[2]) * 60 + Number(took[3]);
  return result;
}

function perfdhcp(lab: Lab, args: string[], limitSeconds: number): PerfResult {
  let output: string;
  try {
    output = execFileSync(
      'ip',
      ['netns', 'exec', lab.client, 'timeout', '-s', 'INT', String(limitSeconds), 'taskset', '-c', '1', 'perfdhcp', '-4', '-l', RELAY, '-R', String(CLIENTS), ...args, SERVER],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: (limitSeconds + 10) * 1000 },
    );
  } catch (error) {
    // perfdhcp exits non-zero when it saw drops; the report is still on stdout.
    output = String((error as { stdout?: string }).stdout ?? '');
  }
  return parsePerf(output);
}

interface Target {
  name: string;
  version(): string;
  start(lab: Lab, dir: string): Promise<ChildProcess>;
}

/** Resolves when `text` appears on the child's output; keeps draining the pipes afterwards so the child never blocks on them. */
function waitForLine(child: ChildProcess, text: string, ms: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let seen = '';
    let done = false;
    const timer = setTimeout(() => reject(new Error(`not ready after ${ms} ms: ${seen.slice(-500)}`)), ms);
    const onData = (chunk: Buffer) => {
      if (done) return;
      seen = (seen + chunk.toString()).slice(-64 * 1024);
      if (seen.includes(text)) {
        done = true;
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function pinned(lab: Lab, command: string, args: string[], env: Record<string, string> = {}): ChildProcess {
  const child = spawn('ip', ['netns', 'exec', lab.server, 'env', ...Object.entries(env).map(([k, v]) => `${k}=${v}`), 'taskset', '-c', '0', command, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // Always drained: a server blocked on a full log pipe would measure the pipe.
  child.stdout?.resume();
  child.stderr?.resume();
  return child;
}

const targets: Record<string, Target> = {
  rackboot: {
    name: 'rackboot',
    version: () => `rackboot ${JSON.parse(execFileSync('node', ['-p', 'JSON.stringify(require("./package.json").version)'], { cwd: path.dirname(path.dirname(path.dirname(mainJs))), encoding: 'utf8' }))} (node ${process.version})`,
    async start(lab, dir) {
      const config = {
        serverAddress: SERVER,
        dataDir: path.join(dir, 'data'),
        // info: the ready line; the DHCP engine logs per packet only at debug.
        log: { level: 'info' },
        http: { address: '0.0.0.0', port: 0 },
        tftp: { enabled: false },
        dhcp: {
          enabled: true,
          mode: 'server',
          interface: lab.serverDev,
          subnet: '10.201.0.0/24',
          pool: { start: '10.201.0.100', end: '10.201.0.200' },
          leaseSeconds: 3600,
          relaySubnets: [{ subnet: SUBNET, pool: POOL, router: RELAY }],
        },
      };
      const file = path.join(dir, 'rackboot.json');
      writeFileSync(file, JSON.stringify(config));
      const child = pinned(lab, process.execPath, [mainJs, 'serve', '--config', file]);
      await waitForLine(child, '"msg":"ready"', 20_000);
      return child;
    },
  },
  /** The DHCP server alone: stub boot policy, no event store, real SQLite lease store. */
  'rackboot-engine': {
    name: 'rackboot-engine',
    version: () => `rackboot DHCP engine (node ${process.version})`,
    async start(lab, dir) {
      const input = {
        config: {
          enabled: true,
          mode: 'server',
          interface: lab.serverDev,
          port: 67,
          proxyPort: 4011,
          clientPort: 68,
          subnet: '10.201.0.0/24',
          pool: { start: '10.201.0.100', end: '10.201.0.200' },
          dns: [],
          leaseSeconds: 3600,
          relaySubnets: [{ subnet: SUBNET, pool: POOL, router: RELAY }],
        },
        serverAddress: SERVER,
        dataDir: path.join(dir, 'data'),
        httpPort: 80,
      };
      const child = pinned(lab, process.execPath, [standaloneJs, JSON.stringify(input)]);
      await waitForLine(child, '"ready":true', 10_000);
      return child;
    },
  },
  /** No server at all: node:dgram answering with a patched canned reply (floor.ts), the ceiling for any server on node. */
  'node-floor': {
    name: 'node-floor',
    version: () => `node:dgram floor (node ${process.version})`,
    async start(lab) {
      const child = pinned(lab, process.execPath, [floorJs, SERVER, '67']);
      await waitForLine(child, 'ready', 10_000);
      return child;
    },
  },
  kea: {
    name: 'kea',
    version: () => `kea-dhcp4 ${execFileSync('kea-dhcp4', ['-v'], { encoding: 'utf8' }).trim()}`,
    async start(lab, dir) {
      const config = {
        Dhcp4: {
          'interfaces-config': { interfaces: [lab.serverDev], 'dhcp-socket-type': 'udp' },
          'lease-database': { type: 'memfile', persist: true, name: path.join(dir, 'kea-leases.csv'), 'lfc-interval': 0 },
          'valid-lifetime': 3600,
          authoritative: true,
          'subnet4': [{ id: 1, subnet: SUBNET, pools: [{ pool: `${POOL.start} - ${POOL.end}` }], 'option-data': [{ name: 'routers', data: RELAY }] }],
          loggers: [{ name: 'kea-dhcp4', output_options: [{ output: 'stderr' }], severity: 'WARN' }],
        },
      };
      const file = path.join(dir, 'kea.json');
      writeFileSync(file, JSON.stringify(config));
      const child = pinned(lab, 'kea-dhcp4', ['-c', file], { KEA_PIDFILE_DIR: dir, KEA_LOCKFILE_DIR: dir });
      await sleep(2500);
      return child;
    },
  },
  dnsmasq: {
    name: 'dnsmasq',
    version: () => execFileSync('dnsmasq', ['--version'], { encoding: 'utf8' }).split('\n')[0]!,
    async start(lab, dir) {
      const child = pinned(lab, 'dnsmasq', [
        '-k',
        '--conf-file=/dev/null',
        '--port=0',
        `--interface=${lab.serverDev}`,
        '--user=root',
        `--pid-file=${path.join(dir, 'dnsmasq.pid')}`,
        `--dhcp-leasefile=${path.join(dir, 'dnsmasq.leases')}`,
        `--dhcp-range=${POOL.start},${POOL.end},255.255.0.0,1h`,
        '--dhcp-lease-max=100000',
        '--dhcp-authoritative',
        `--dhcp-option=3,${RELAY}`,
        // By default dnsmasq pings each address before offering it and waits up to 3 s for a
        // reply, its DHCP socket unread meanwhile. A relayed pool's addresses are not on a
        // link the server can ARP on, so no ping ever returns: one OFFER per 3 s, each long
        // after perfdhcp gave up on it. Kea and rackboot do no such check.
        '--no-ping',
        // Log to stderr (drained by pinned()) rather than syslog, so a start failure shows in
        // the error; --quiet-dhcp drops the per-packet lines, leaving warnings and the banner.
        '--log-facility=-',
        '--quiet-dhcp',
      ]);
      await waitForLine(child, 'started, version', 10_000);
      return child;
    },
  },
};

interface Figures {
  version: string;
  sustained: number;
  sweep: Array<{ offered: number; achieved: number; loss: number }>;
  latencyMs: { discoverOffer: number; requestAck: number };
  avalancheSeconds: number | null;
  floodRate: number;
}

async function withServer<T>(lab: Lab, target: Target, body: () => T): Promise<T> {
  const dir = mkdtempSync(path.join(tmpdir(), `rbt-dhcp-bench-${target.name}-`));
  const child = await target.start(lab, dir);
  let log = '';
  child.stderr?.on('data', (chunk: Buffer) => (log = (log + chunk.toString()).slice(-4000)));
  try {
    if (child.exitCode !== null) throw new Error(`${target.name} exited at start: ${log}`);
    // Warm-up (JIT, caches, first lease-file writes), also proves the server answers.
    const warm = perfdhcp(lab, ['-r', '500', '-p', '2'], 10);
    if (warm.acks === 0) throw new Error(`${target.name} did not answer the warm-up: ${log}`);
    return body();
  } finally {
    child.kill('SIGTERM');
    await Promise.race([new Promise((resolve) => child.once('exit', resolve)), sleep(5000)]);
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
}

async function measure(lab: Lab, target: Target): Promise<Figures> {
  const figures: Figures = { version: target.version(), sustained: 0, sweep: [], latencyMs: { discoverOffer: NaN, requestAck: NaN }, avalancheSeconds: null, floodRate: 0 };
  await withServer(lab, target, () => {
    for (const rate of SWEEP) {
      const r = perfdhcp(lab, ['-r', String(rate), '-p', String(POINT_SECONDS)], POINT_SECONDS + 10);
      const loss = Math.max(r.doDrops, r.raDrops);
      figures.sweep.push({ offered: rate, achieved: Math.round(r.rate), loss });
      process.stderr.write(`  ${target.name} ${rate}/s: achieved ${r.rate.toFixed(0)}/s, loss ${loss.toFixed(2)} %, delay ${r.doDelay} / ${r.raDelay} ms\n`);
      if (rate === SWEEP[0]) figures.latencyMs = { discoverOffer: r.doDelay, requestAck: r.raDelay };
      // Sustained: the offered rate was met (within 2%) with at most 1% loss.
      if (loss <= 1 && r.rate >= rate * 0.98) figures.sustained = rate;
      else break;
    }
  });
  await withServer(lab, target, () => {
    // New MACs (a base the sweep never used) so the avalanche binds fresh clients.
    const r = perfdhcp(lab, ['--scenario', 'avalanche', '-R', '1000', '-b', 'mac=00:0c:aa:00:00:00'], 60);
    figures.avalancheSeconds = r.provisionSeconds ?? null;
    process.stderr.write(`  ${target.name} avalanche: ${r.provisionSeconds ?? 'did not finish'} s\n`);
  });
  await withServer(lab, target, () => {
    const r = perfdhcp(lab, ['-p', String(FLOOD_SECONDS)], FLOOD_SECONDS + 15);
    figures.floodRate = Math.round(r.acks / FLOOD_SECONDS);
    process.stderr.write(`  ${target.name} flood: ${figures.floodRate} completed DORA/s (loss ${Math.max(r.doDrops, r.raDrops).toFixed(1)} %)\n`);
  });
  return figures;
}

async function main(): Promise<void> {
  const lab = createLab({ prefix: 'rbt-dhcp-', tag: 'bench', serverCidr: `${SERVER}/24`, clientCidr: `${RELAY}/16` });
  lab.run(lab.client, 'ip', ['route', 'add', `${SERVER}/32`, 'dev', lab.clientDev]);
  lab.run(lab.server, 'ip', ['route', 'add', SUBNET, 'dev', lab.serverDev]);
  const results: Record<string, Figures> = {};
  const failures: Record<string, string> = {};
  try {
    for (const name of SERVERS) {
      const target = targets[name];
      if (!target) throw new Error(`unknown server ${name} (${Object.keys(targets).join(', ')})`);
      process.stderr.write(`${name}:\n`);
      try {
        results[name] = await measure(lab, target);
      } catch (error) {
        process.stderr.write(`  ${name} failed: ${(error as Error).message}\n`);
        failures[name] = (error as Error).message.split('\n')[0]!;
      }
    }
  } finally {
    lab.cleanup();
  }
  const kea = results['kea'];
  const ratio = (a: number | null, b: number | null, lowerIsBetter = false) =>
    a && b ? (lowerIsBetter ? b / a : a / b).toFixed(2) + 'x' : 'n/a';
  console.log(`\n| server | sustained DORA/s (<=1% loss) | latency DO / RA (ms, ${SWEEP[0]}/s) | avalanche 1,000 (s) | flood completed DORA/s |`);
  console.log('| --- | --- | --- | --- | --- |');
  for (const [name, f] of Object.entries(results)) {
    console.log(`| ${name} | ${f.sustained} | ${f.latencyMs.discoverOffer.toFixed(2)} / ${f.latencyMs.requestAck.toFixed(2)} | ${f.avalancheSeconds?.toFixed(2) ?? 'n/a'} | ${f.floodRate} |`);
  }
  if (kea) {
    console.log('\nratios to Kea (>1 = better than Kea):');
    for (const [name, f] of Object.entries(results)) {
      if (name === 'kea') continue;
      console.log(`  ${name}: sustained ${ratio(f.sustained, kea.sustained)}, avalanche ${ratio(f.avalancheSeconds, kea.avalancheSeconds, true)}, flood ${ratio(f.floodRate, kea.floodRate)}`);
    }
  }
  const floor = results['node-floor'];
  const rackboot = results['rackboot'];
  if (floor && rackboot) {
    console.log(`\nrackboot / node:dgram floor (what node alone sustains here): sustained ${ratio(rackboot.sustained, floor.sustained)}, flood ${ratio(rackboot.floodRate, floor.floodRate)}`);
    if (kea) console.log(`node:dgram floor / Kea: sustained ${ratio(floor.sustained, kea.sustained)}`);
  }
  for (const [name, why] of Object.entries(failures)) console.log(`\n${name}: no figures (${why})`);
  console.log(`\n${JSON.stringify({ failures, date: new Date().toISOString(), sweepSecondsPerPoint: POINT_SECONDS, clients: CLIENTS, results })}`);
}

await main();
