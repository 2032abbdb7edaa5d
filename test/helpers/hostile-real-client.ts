/**
 * The real client of the hostile-LAN soak: busybox udhcpc, curl tftp:// and curl /chain from the
 * client namespace, one after the other, each timed. Latency is reported, never asserted.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { runUdhcpc } from './dhcp-clients.js';
import { sha256 } from './fixtures.js';
import type { Lab } from './netns.js';

/** A real client gives up after this (curl --max-time); udhcpc has its own -t 5 -T 2. */
const CLIENT_MAX_SECONDS = 20;

export interface RealClient {
  lab: Lab;
  /** Scratch directory for udhcpc's script and curl's output. */
  work: string;
  /** The client's own source address for HTTP and TFTP (not a flood address). */
  address: string;
  mac: string;
  server: string;
  tftpPort: number;
  httpUrl: string;
  /** A file the server serves over TFTP without a node prefix, and its sha256. */
  tftpFile: { name: string; sha256: string };
}

export interface Attempt {
  what: 'dhcp' | 'tftp' | 'chain';
  ms: number;
  error?: string;
}

function timed(what: Attempt['what'], step: () => void): Attempt {
  const started = performance.now();
  try {
    step();
    return { what, ms: performance.now() - started };
  } catch (error) {
    return { what, ms: performance.now() - started, error: (error as Error).message.split('\n').slice(0, 3).join(' ') };
  }
}

/** One DORA, one TFTP download and one chain script; `expectIp` is the address the client must keep. */
export function realClientRound(client: RealClient, expectIp: string): Attempt[] {
  const { lab } = client;
  const curl = (args: string[]) => lab.run(lab.client, 'curl', ['-sS', '--max-time', String(CLIENT_MAX_SECONDS), '--interface', client.address, ...args], (CLIENT_MAX_SECONDS + 5) * 1000);
  return [
    timed('dhcp', () => {
      const ip = runUdhcpc(lab, client.work)['ip'];
      if (ip !== expectIp) throw new Error(`udhcpc got ${ip ?? 'no address'}, not its lease ${expectIp}`);
    }),
    timed('tftp', () => {
      const local = path.join(client.work, 'tftp.bin');
      curl(['--tftp-blksize', '1468', '-o', local, `tftp://${client.server}:${client.tftpPort}/${client.tftpFile.name}`]);
      if (sha256(readFileSync(local)) !== client.tftpFile.sha256) throw new Error(`${client.tftpFile.name} arrived damaged`);
    }),
    timed('chain', () => {
      const script = curl([`${client.httpUrl}/chain?mac=${encodeURIComponent(client.mac)}&arch=x86_64`]);
      if (!script.startsWith('#!ipxe')) throw new Error(`not an iPXE script: ${script.slice(0, 200)}`);
    }),
  ];
}

/** "dhcp 12/12 ok, median 40 ms, max 900 ms; ..." for t.diagnostic. */
export function latencyReport(attempts: Attempt[]): string {
  return (['dhcp', 'tftp', 'chain'] as const)
    .map((what) => {
      const mine = attempts.filter((a) => a.what === what);
      const ms = mine.map((a) => a.ms).sort((a, b) => a - b);
      const ok = mine.filter((a) => !a.error).length;
      return `${what} ${ok}/${mine.length} ok, median ${Math.round(ms[Math.floor(ms.length / 2)] ?? NaN)} ms, max ${Math.round(ms.at(-1) ?? NaN)} ms`;
    })
    .join('; ');
}
