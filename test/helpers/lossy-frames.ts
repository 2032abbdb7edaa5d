/**
 * A seeded relay of Ethernet frames between a QEMU NIC and the tap it would otherwise use: QEMU
 * sends each frame as one UDP datagram (`-netdev socket,udp=`, see qemu.ts `wire`), and the relay
 * reorders, duplicates, delays (and can drop) them each way with lossy-impair.ts. It works below
 * IP, so it perturbs everything the VM says and hears: ARP, DHCP, TFTP and the HTTP TCP segments.
 * (`tc netem` is missing on these machines, and nftables can drop and duplicate but not reorder.)
 *
 * The tap lives in the segment's namespace, so QEMU and the relay run there too: `spawnFrameRelay`
 * starts lossy-frames-child.js with `ip netns exec`, and every port is on that namespace's
 * 127.0.0.1. The relay answers only the two QEMU ports it was given.
 */
import { spawn } from 'node:child_process';
import dgram from 'node:dgram';
import { fileURLToPath } from 'node:url';
import { createImpairer, type ImpairCounters, type Impairments } from './lossy-impair.js';
import { bound } from './lossy-relay.js';
import type { WirePorts } from './qemu.js';

export type WireImpairments = Impairments & { seed: number };

export interface FrameCounters {
  /** Frames the relay delivered, and what it did to them, per direction. */
  toVm: ImpairCounters & { frames: number };
  fromVm: ImpairCounters & { frames: number };
}

const LOCAL = '127.0.0.1';
/** Start-up and shutdown of the child are quick; anything longer is a hang. */
const CHILD_TIMEOUT_MS = 10_000;

/** Runs the relay in this process until close() resolves with its counters. */
export async function startFrameRelay(options: { ports: WirePorts } & WireImpairments): Promise<{ close(): Promise<FrameCounters> }> {
  const { ports } = options;
  // One impairer per direction, so each direction's counters tell what happened to it.
  const directions = {
    toVm: { impairer: createImpairer(options.seed, options), frames: 0, lane: {} },
    fromVm: { impairer: createImpairer(options.seed ^ 0x5bd1e995, options), frames: 0, lane: {} },
  };
  const nicSide = dgram.createSocket('udp4');
  const tapSide = dgram.createSocket('udp4');
  const relay = (direction: (typeof directions)['toVm'], out: dgram.Socket, toPort: number) => (frame: Buffer) =>
    direction.impairer.pass(direction.lane, frame, (copy) => {
      direction.frames++;
      out.send(copy, toPort, LOCAL);
    });
  const fromVm = relay(directions.fromVm, tapSide, ports.tap);
  const toVm = relay(directions.toVm, nicSide, ports.nic);
  nicSide.on('message', (frame, from) => from.port === ports.nic && fromVm(frame));
  tapSide.on('message', (frame, from) => from.port === ports.tap && toVm(frame));
  await Promise.all([bound(nicSide, ports.relayNic), bound(tapSide, ports.relayTap)]);
  return {
    async close() {
      for (const { impairer } of Object.values(directions)) impairer.close();
      await Promise.all([nicSide, tapSide].map((socket) => new Promise<void>((resolve) => socket.close(() => resolve()))));
      const counted = (direction: (typeof directions)['toVm']) => ({ ...direction.impairer.counters, frames: direction.frames });
      return { toVm: counted(directions.toVm), fromVm: counted(directions.fromVm) };
    },
  };
}

export interface FrameRelayProcess {
  /** Stops the relay and resolves with what it did. */
  stop(): Promise<FrameCounters>;
  /** For cleanup paths: safe to call any number of times. */
  kill(): void;
}

const COUNTERS_LINE = /^(\{.*\})$/m;
const CHILD = fileURLToPath(new URL('./lossy-frames-child.js', import.meta.url));

/**
 * Starts the relay inside namespace `ns`; resolves once its ports are bound. The child prints
 * `ready`, and its counters as one JSON line when its stdin closes.
 */
export async function spawnFrameRelay(ns: string, options: { ports: WirePorts } & WireImpairments): Promise<FrameRelayProcess> {
  const child = spawn('ip', ['netns', 'exec', ns, process.execPath, CHILD, JSON.stringify(options)], { stdio: ['pipe', 'pipe', 'pipe'] });
  let output = '';
  const watchers = new Set<() => void>();
  const onData = (chunk: Buffer) => {
    output += chunk.toString();
    for (const watcher of watchers) watcher();
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  // 'close', not 'exit': only 'close' comes after the pipes are drained, so the counters are in.
  const closed = new Promise<void>((resolve) => child.once('close', () => resolve()));
  void closed.then(() => {
    for (const watcher of watchers) watcher();
  });
  const kill = () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  };
  /** Resolves when `done(output)` holds; rejects when the child ends first or after the timeout. */
  const until = (what: string, done: () => boolean) =>
    new Promise<void>((resolve, reject) => {
      const finish = (settle: () => void) => {
        clearTimeout(timer);
        watchers.delete(check);
        settle();
      };
      const check = () => {
        if (done()) return finish(resolve);
        if (child.exitCode !== null || child.signalCode !== null) finish(() => reject(new Error(`frame relay in ${ns} ended before ${what}:\n${output}`)));
      };
      const timer = setTimeout(() => finish(() => reject(new Error(`frame relay in ${ns}: no ${what} within ${CHILD_TIMEOUT_MS} ms:\n${output}`))), CHILD_TIMEOUT_MS);
      watchers.add(check);
      check();
    });
  try {
    await until('ready', () => /^ready$/m.test(output));
  } catch (error) {
    kill();
    throw error;
  }
  return {
    async stop() {
      child.stdin.end();
      try {
        await until('counters', () => child.exitCode === 0 && COUNTERS_LINE.test(output));
      } finally {
        kill();
      }
      return JSON.parse(COUNTERS_LINE.exec(output)![1]!) as FrameCounters;
    },
    kill,
  };
}
