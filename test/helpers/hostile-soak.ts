/**
 * Parent side of the hostile-LAN soak: flood source addresses in the client namespace, flood
 * children (hostile-flood-child.ts under `ip netns exec`) with a hard limit each, and the
 * daemon's footprint read from /proc.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FloodCounters, FloodSpec, FloodTarget } from './hostile-flood-spec.js';
import type { Lab } from './netns.js';
import { openFds } from './tftp-fixtures.js';

const childJs = fileURLToPath(new URL('./hostile-flood-child.js', import.meta.url));

/** Adds `<net>.<first>` .. `<net>.<last>` (/24) to the client side in one `ip -batch`, and returns them. */
export function addSourceAddresses(lab: Lab, net: string, first: number, last: number): string[] {
  const addresses = Array.from({ length: last - first + 1 }, (_, i) => `${net}.${first + i}`);
  const batch = path.join(tmpdir(), `rbt-soak-addrs-${process.pid}`);
  writeFileSync(batch, addresses.map((address) => `addr add ${address}/24 dev ${lab.clientDev}\n`).join(''));
  try {
    execFileSync('ip', ['-n', lab.client, '-batch', batch], { stdio: ['ignore', 'ignore', 'pipe'], timeout: 10_000 });
  } finally {
    rmSync(batch, { force: true });
  }
  return addresses;
}

export interface FloodOutcome {
  kind: FloodSpec['kind'];
  /** Undefined when the child failed or hit its limit; `failure` says which. */
  counters?: FloodCounters;
  failure?: string;
}

/** Starts one flood child; it is killed at `limitMs`, so a flood can never outlive the test. */
export function startFlood(lab: Lab, target: FloodTarget, flood: FloodSpec, limitMs: number): Promise<FloodOutcome> {
  const child = lab.spawn(lab.client, process.execPath, [childJs, JSON.stringify({ target, flood })]);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  let killed = false;
  const timer = setTimeout(() => {
    killed = true;
    child.kill('SIGKILL');
  }, limitMs);
  return new Promise((resolve) =>
    child.once('close', (code) => {
      clearTimeout(timer);
      const line = stdout.trim().split('\n').pop();
      if (code === 0 && line) resolve({ kind: flood.kind, counters: JSON.parse(line) as FloodCounters });
      else resolve({ kind: flood.kind, failure: killed ? `killed at its ${limitMs} ms limit` : `exit ${code}: ${stderr.trim().slice(-500)}` });
    }),
  );
}

export interface Footprint {
  rssMb: number;
  /** VmHWM: the highest RSS since the process started, so a peak between samples is not missed. */
  peakRssMb: number;
  fds: number;
}

export function footprint(pid: number): Footprint {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { rssMb: Math.round(kb('VmRSS') / 1024), peakRssMb: Math.round(kb('VmHWM') / 1024), fds: openFds(pid) };
}
