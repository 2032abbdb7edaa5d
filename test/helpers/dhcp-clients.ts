/**
 * Real DHCP clients and a raw-packet probe, run inside a lab's client namespace. Every run is
 * bounded in time; dhclient is stopped by the pid it wrote.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { decode, type DhcpPacket } from '../../server/dhcp/codec.js';
import type { Lab } from './netns.js';

const probeJs = fileURLToPath(new URL('./dhcp-probe.js', import.meta.url));

/** Variables a client hands its script: dhclient's new_* or udhcpc's env, as a plain object. */
export type ClientLease = Record<string, string>;

function readEnv(file: string): ClientLease {
  const env: ClientLease = {};
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const at = line.indexOf('=');
    if (at > 0) env[line.slice(0, at)] = line.slice(at + 1);
  }
  return env;
}

/**
 * ISC dhclient, one DORA with user class "iPXE" (so the policy treats it as iPXE) and option
 * 224 declared so it is reported. Runs in the foreground (-d) so it is stopped by the pid we
 * spawned, once its script saw the lease. Without `freshLeaseFile` it reuses the lease file
 * of the last run (INIT-REBOOT).
 */
export async function runDhclient(lab: Lab, work: string, options: { freshLeaseFile?: boolean } = {}): Promise<ClientLease> {
  const conf = path.join(work, 'dhclient.conf');
  const script = path.join(work, 'dhclient-script.sh');
  const leases = path.join(work, 'dhclient.leases');
  const envFile = path.join(work, 'dhclient.env');
  writeFileSync(conf, 'option rb-chain code 224 = text;\nsend user-class "iPXE";\ntimeout 20;\n');
  // Written to a temp name and renamed, so the file is never seen half written.
  writeFileSync(script, `#!/bin/sh\ncase "$reason" in BOUND|REBOOT|RENEW) env > ${envFile}.tmp && mv ${envFile}.tmp ${envFile};; esac\n`, { mode: 0o755 });
  if (options.freshLeaseFile) rmSync(leases, { force: true });
  rmSync(envFile, { force: true });
  const child = lab.spawn(lab.client, 'dhclient', ['-d', '-1', '-cf', conf, '-sf', script, '-lf', leases, '-pf', path.join(work, 'dhclient.pid'), lab.clientDev]);
  const exited = new Promise((resolve) => child.once('exit', resolve));
  try {
    const deadline = Date.now() + 30_000;
    while (!existsSync(envFile) && child.exitCode === null && Date.now() < deadline) await sleep(100);
  } finally {
    child.kill('SIGTERM');
    await exited;
  }
  if (!existsSync(envFile)) throw new Error('dhclient got no lease within 30 s');
  const lease: ClientLease = {};
  for (const [key, value] of Object.entries(readEnv(envFile))) if (key.startsWith('new_') || key === 'reason') lease[key] = value;
  return lease;
}

/** busybox udhcpc, one DORA, by default asking for 224 (-O) and sending user class iPXE (-x 0x4d). */
export function runUdhcpc(lab: Lab, work: string, clientArgs = ['-O', '224', '-x', '0x4d:69505845']): ClientLease {
  const script = path.join(work, 'udhcpc-script.sh');
  const envFile = path.join(work, 'udhcpc.env');
  writeFileSync(script, `#!/bin/sh\n[ "$1" = bound ] && env > ${envFile}\nexit 0\n`, { mode: 0o755 });
  rmSync(envFile, { force: true });
  lab.run(lab.client, 'udhcpc', ['-i', lab.clientDev, '-n', '-q', '-f', '-s', script, ...clientArgs, '-t', '5', '-T', '2'], 30_000);
  return readEnv(envFile);
}

export function workDir(): string {
  return mkdtempSync(path.join(tmpdir(), 'rbt-dhcp-'));
}

export interface ProbeReply {
  from: string;
  port: number;
  packet: DhcpPacket;
}

/**
 * Sends raw packets from the client namespace and returns the decoded replies to them (matched
 * by xid, so other clients' broadcasts on the segment do not count) that arrive within waitMs.
 */
export function probe(
  lab: Lab,
  sends: Array<{ to: string; port: number; packet: Buffer }>,
  options: { bindPort: number; waitMs?: number },
): ProbeReply[] {
  const input = {
    bindPort: options.bindPort,
    waitMs: options.waitMs ?? 1500,
    sends: sends.map((s) => ({ to: s.to, port: s.port, hex: s.packet.toString('hex') })),
  };
  const out = lab.run(lab.client, process.execPath, [probeJs, JSON.stringify(input)], 15_000);
  const xids = new Set(sends.map((s) => s.packet.readUInt32BE(4)));
  return out
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const raw = JSON.parse(line) as { from: string; port: number; hex: string };
      const result = decode(Buffer.from(raw.hex, 'hex'));
      if (!result.ok) throw new Error(`undecodable reply from ${raw.from}: ${result.reason}`);
      return { from: raw.from, port: raw.port, packet: result.packet };
    })
    .filter((reply) => xids.has(reply.packet.xid));
}
