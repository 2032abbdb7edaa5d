/**
 * /chain benchmark (not a test): rackboot answering `GET /chain` for a node with an assigned image
 * (inventory lookup, template render, boot event) against nginx serving a static file of the same
 * bytes and the fastify floor (floor.ts), all on 127.0.0.1, driven by wrk. Servers are pinned to
 * CPU 0 (nginx with one worker);
 * wrk inherits this process's CPU (run.sh starts it on CPU 1), so the load generator never takes
 * the server's core. Prints a markdown section with ratios.
 * Usage: node dist/bench/http/run.js [--seconds N] [--connections N]
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Pool } from 'undici';
import { startDaemon } from '../../test/helpers/daemon.js';
import { api, fakeImageFiles, getText } from '../../test/helpers/fixtures.js';

const SECONDS = Number(argument('--seconds') ?? 10);
const CONNECTIONS = Number(argument('--connections') ?? 32);
const WARMUP_SECONDS = 2;
const MAC = '52:54:00:be:0c:01';
const TARGET = { ratio: 0.5, p99Ms: 2 };

function argument(name: string): string | undefined {
  const index = process.argv.indexOf(name);
  return index > 0 ? process.argv[index + 1] : undefined;
}

function pin(pid: number): void {
  execFileSync('taskset', ['-a', '-p', '-c', '0', String(pid)], { stdio: 'ignore' });
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

interface WrkResult {
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  errors: string;
}

function toMs(value: string): number {
  const match = /^([\d.]+)(us|ms|s|m)$/.exec(value);
  if (!match) throw new Error(`unreadable wrk latency "${value}"`);
  const scale = { us: 0.001, ms: 1, s: 1000, m: 60_000 }[match[2] as 'us' | 'ms' | 's' | 'm'];
  return Number(match[1]) * scale;
}

function wrk(url: string, seconds: number, connections = CONNECTIONS): WrkResult {
  const out = execFileSync('wrk', ['-t1', `-c${connections}`, `-d${seconds}s`, '--latency', url], { encoding: 'utf8', timeout: (seconds + 30) * 1000 });
  const percentile = (p: string) => toMs(new RegExp(`^\\s+${p}%\\s+(\\S+)`, 'm').exec(out)![1]!);
  return {
    requestsPerSecond: Number(/Requests\/sec:\s+([\d.]+)/.exec(out)![1]),
    p50Ms: percentile('50'),
    p99Ms: percentile('99'),
    errors: [/Socket errors:.*$/m.exec(out)?.[0], /Non-2xx.*$/m.exec(out)?.[0]].filter(Boolean).join('; ') || 'none',
  };
}

async function startNginx(root: string, body: string): Promise<{ url: string; child: ChildProcess }> {
  const port = await freePort();
  chmodSync(root, 0o755); // nginx's worker runs as nobody and must read the file
  mkdirSync(path.join(root, 'www'));
  writeFileSync(path.join(root, 'www', 'chain.ipxe'), body);
  const conf = path.join(root, 'nginx.conf');
  writeFileSync(
    conf,
    `worker_processes 1;
daemon off;
pid ${root}/nginx.pid;
error_log ${root}/error.log;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path ${root}/tmp;
  proxy_temp_path ${root}/tmp;
  fastcgi_temp_path ${root}/tmp;
  uwsgi_temp_path ${root}/tmp;
  scgi_temp_path ${root}/tmp;
  server {
    listen 127.0.0.1:${port};
    root ${root}/www;
    location / { default_type text/plain; }
  }
}
`,
  );
  const child = spawn('taskset', ['-c', '0', 'nginx', '-c', conf, '-p', root], { stdio: 'ignore' });
  const url = `http://127.0.0.1:${port}/chain.ipxe`;
  for (let attempt = 0; attempt < 100; attempt++) {
    const ok = await getText(url).then(
      (response) => response.status === 200,
      () => false,
    );
    if (ok) return { url, child };
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  child.kill('SIGKILL');
  throw new Error(`nginx did not answer on ${url}`);
}

/**
 * Latency at one connection seen by a second client, undici (this process, on CPU 1), timing each
 * request of its closed loop. wrk corrects its histogram for coordinated omission: for every slow
 * response it adds the samples a client sending at the run's average rate would have seen during
 * the stall, so a server that pauses now and then reads much worse in wrk than here.
 */
async function undiciLatency(url: string, seconds: number): Promise<{ p50Ms: number; p99Ms: number }> {
  const target = new URL(url);
  const pool = new Pool(target.origin, { connections: 1 });
  const path = target.pathname + target.search;
  const samples: number[] = [];
  try {
    const end = performance.now() + seconds * 1000;
    while (performance.now() < end && samples.length < 1_000_000) {
      const started = performance.now();
      const response = await pool.request({ path, method: 'GET' });
      await response.body.text();
      samples.push(performance.now() - started);
    }
  } finally {
    await pool.close();
  }
  samples.sort((a, b) => a - b);
  const at = (q: number) => samples[Math.floor(samples.length * q)]!;
  return { p50Ms: at(0.5), p99Ms: at(0.99) };
}

/** bench/http/floor.ts on CPU 0: fastify answering the same bytes with no work at all. */
async function startFloor(root: string, body: string): Promise<{ url: string; child: ChildProcess }> {
  const bodyFile = path.join(root, 'floor-body.ipxe');
  writeFileSync(bodyFile, body);
  const child = spawn('taskset', ['-c', '0', process.execPath, fileURLToPath(new URL('./floor.js', import.meta.url)), bodyFile], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the fastify floor did not start within 10 s')), 10_000);
    child.stdout!.once('data', (chunk: Buffer) => {
      clearTimeout(timer);
      resolve(Number(/ready (\d+)/.exec(chunk.toString())?.[1]));
    });
  });
  return { url: `http://127.0.0.1:${port}/chain`, child };
}

const fmt = (value: number, digits = 2) => value.toFixed(digits);

async function main(): Promise<void> {
  const work = mkdtempSync(path.join(tmpdir(), 'rbt-bench-http-'));
  const image = fakeImageFiles();
  // The shipped default log level: what an operator runs.
  const daemon = await startDaemon({ config: { log: { level: 'info' } } });
  let nginx: ChildProcess | undefined;
  let floor: ChildProcess | undefined;
  try {
    pin(daemon.pid);
    const added = await api(daemon, 'POST', '/images', { name: 'bench', arch: 'x86_64', kernel: image.kernel, initrd: image.initrd });
    if (added.status !== 201) throw new Error(`image add failed: ${JSON.stringify(added.json)}`);
    await api(daemon, 'PUT', `/nodes/${MAC}/assignment`, { image: 'bench' });
    const chainUrl = `${daemon.httpUrl}/chain?mac=${encodeURIComponent(MAC)}&arch=x86_64&uefi=true`;
    const chain = await getText(chainUrl);
    if (chain.status !== 200 || !/^kernel /m.test(chain.text)) throw new Error(`/chain is not a boot script:\n${chain.text}`);
    const started = await startNginx(work, chain.text);
    nginx = started.child;
    const bare = await startFloor(work, chain.text);
    floor = bare.child;

    type Server = 'rackboot' | 'fastify floor' | 'nginx';
    const results: Record<Server, WrkResult> = {} as never;
    // One connection: latency without queueing (at ${CONNECTIONS} connections p50 >= connections / rate).
    const single: Record<Server, WrkResult> = {} as never;
    const undici: Record<Server, { p50Ms: number; p99Ms: number }> = {} as never;
    for (const [name, url] of [
      ['rackboot', chainUrl],
      ['fastify floor', bare.url],
      ['nginx', started.url],
    ] as const) {
      wrk(url, WARMUP_SECONDS);
      results[name] = wrk(url, SECONDS);
      single[name] = wrk(url, SECONDS, 1);
      undici[name] = await undiciLatency(url, SECONDS);
    }
    const ratio = results.rackboot.requestsPerSecond / results.nginx.requestsPerSecond;
    const floorRatio = results['fastify floor'].requestsPerSecond / results.nginx.requestsPerSecond;
    const rows = (['rackboot', 'fastify floor', 'nginx'] as const).flatMap((name) =>
      [
        [CONNECTIONS, results[name]],
        [1, single[name]],
      ].map(([connections, r]) => {
        const w = r as WrkResult;
        return `| ${name} | ${connections} | ${fmt(w.requestsPerSecond, 0)} | ${fmt(w.p50Ms, 3)} | ${fmt(w.p99Ms, 3)} | ${w.errors} |`;
      }),
    );
    const verdict = (ok: boolean) => (ok ? 'meets target' : 'BELOW TARGET');
    console.log(`## HTTP: /chain vs nginx static

Same ${Buffer.byteLength(chain.text)}-byte iPXE script: rackboot renders it per request (node, assignment
and image from the inventory, which answers from memory until written; template; a boot event
stored in SQLite); nginx serves it from disk with one worker; the
fastify floor (bench/http/floor.ts) answers the same bytes from one fastify route doing nothing else.
All three pinned to CPU 0 (taskset -a -p -c 0 / taskset -c 0); wrk -t1 --latency on CPU 1,
${WARMUP_SECONDS} s warm-up then ${SECONDS} s at ${CONNECTIONS} connections and ${SECONDS} s at 1, keep-alive. rackboot log level info (the default).

| server | connections | requests/s | p50 ms | p99 ms | errors |
|---|---:|---:|---:|---:|---|
${rows.join('\n')}

- ratio rackboot / nginx: **${fmt(ratio)}** (target >= ${TARGET.ratio}: ${verdict(ratio >= TARGET.ratio)})
- fastify floor / nginx: ${fmt(floorRatio)}: no /chain on fastify here can do better; rackboot / floor: ${fmt(results.rackboot.requestsPerSecond / results['fastify floor'].requestsPerSecond)}
- rackboot p99 at 1 connection: **${fmt(single.rackboot.p99Ms, 3)} ms** (target < ${TARGET.p99Ms} ms: ${verdict(single.rackboot.p99Ms < TARGET.p99Ms)}); at ${CONNECTIONS}: ${fmt(results.rackboot.p99Ms, 3)} ms
- p50 / p99 at 1 connection seen by undici, per request of a closed loop (wrk's figures above are corrected for coordinated omission) (${SECONDS} s each): ${(['rackboot', 'fastify floor', 'nginx'] as const)
      .map((name) => `${name} ${fmt(undici[name].p50Ms, 3)} / ${fmt(undici[name].p99Ms, 3)} ms`)
      .join(', ')}
`);
  } finally {
    nginx?.kill('SIGTERM');
    floor?.kill('SIGTERM');
    await daemon.stop();
    rmSync(work, { recursive: true, force: true });
    rmSync(image.dir, { recursive: true, force: true });
  }
}

await main();
