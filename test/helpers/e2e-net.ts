/**
 * A rack segment in one network namespace: bridge `br0` carrying the server address, and one tap
 * per VM enslaved to it. The daemon and the QEMU processes both run inside the namespace, so all
 * traffic stays in it. A default route via br0 lets the daemon broadcast DHCP replies.
 *
 * `setLoss(permille)` drops that share of the frames between the VMs' taps and the host, each way,
 * inside the bridge (nftables `numgen random`, see lossy-nft.ts; `tc netem` is not available on
 * these machines): a silent loss on the wire to the daemon and the VM alike.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { lossCounts, setBridgeLoss, type LossCounts } from './lossy-nft.js';

export interface Segment {
  ns: string;
  bridge: string;
  /** e.g. 10.77.3.1 */
  serverAddress: string;
  /** e.g. 10.77.3.0/24 */
  subnet: string;
  pool: { start: string; end: string };
  /** Creates tap `name` on the bridge, for `-netdev tap,ifname=<name>,script=no`. */
  addTap(name: string): void;
  /** Drops `permille`/1000 of the frames between the taps and the host, each way; 0 removes the rule. */
  setLoss(permille: number): void;
  /** Frames the loss rules dropped since they were set (both directions). */
  droppedPackets(): LossCounts;
  /**
   * Starts radvd on the bridge: IPv6 router advertisements without a prefix or default route.
   * iPXE's autoboot waits for its IPv6 configurator as well as DHCP, and only an RA ends that
   * wait early (no DHCPv4 option does; see the report of issue 6).
   */
  advertiseRouter(): void;
  cleanup(): void;
}

function exec(command: string, args: string[], input?: string): string {
  return execFileSync(command, args, { encoding: 'utf8', timeout: 10_000, input, stdio: ['pipe', 'pipe', 'pipe'] });
}

/** Every VM's tap is named like this, so the loss rules match them all. */
export const TAP_PREFIX = 'tap';

export function createSegment(tag: string): Segment {
  const ns = `rbt-e2e-${process.pid}-${tag}`;
  const bridge = 'br0';
  // Every segment is its own namespace, so they can all use the same subnet.
  const prefix = '10.77.0';
  const inNs = (command: string, args: string[], input?: string) => exec('ip', ['netns', 'exec', ns, command, ...args], input);
  const workDir = mkdtempSync(path.join(tmpdir(), `${ns}-`));
  let radvd: ChildProcess | undefined;
  let cleaned = false;
  const cleanup = () => {
    if (cleaned) return;
    cleaned = true;
    process.off('exit', cleanup);
    radvd?.kill('SIGKILL');
    rmSync(workDir, { recursive: true, force: true });
    try {
      exec('ip', ['netns', 'del', ns]);
    } catch {
      // Already gone.
    }
  };
  process.on('exit', cleanup);
  try {
    exec('ip', ['netns', 'add', ns]);
    inNs('ip', ['link', 'set', 'lo', 'up']);
    inNs('ip', ['link', 'add', bridge, 'type', 'bridge']);
    // One wire frame per skb: with GSO a dropped "packet" would be up to 45 frames at once, and
    // the loss rule would see a few hundred super-packets instead of the boot's real traffic.
    inNs('ip', ['link', 'set', bridge, 'gso_max_segs', '1']);
    inNs('ip', ['addr', 'add', `${prefix}.1/24`, 'dev', bridge]);
    inNs('ip', ['link', 'set', bridge, 'up']);
    inNs('ip', ['route', 'add', 'default', 'dev', bridge]);
  } catch (error) {
    cleanup();
    throw error;
  }
  return {
    ns,
    bridge,
    serverAddress: `${prefix}.1`,
    subnet: `${prefix}.0/24`,
    pool: { start: `${prefix}.100`, end: `${prefix}.199` },
    addTap(name) {
      if (!name.startsWith(TAP_PREFIX)) throw new Error(`tap ${name} must start with ${TAP_PREFIX}: the loss rules match on it`);
      inNs('ip', ['tuntap', 'add', 'dev', name, 'mode', 'tap']);
      inNs('ip', ['link', 'set', name, 'master', bridge]);
      inNs('ip', ['link', 'set', name, 'up']);
    },
    setLoss(permille) {
      setBridgeLoss(ns, `${TAP_PREFIX}*`, permille);
    },
    droppedPackets: () => lossCounts(ns, 'bridge'),
    advertiseRouter() {
      if (radvd) return;
      const config = path.join(workDir, 'radvd.conf');
      // AdvDefaultLifetime 0: not a default router; no prefix: nothing to autoconfigure.
      writeFileSync(config, `interface ${bridge} {\n  AdvSendAdvert on;\n  AdvDefaultLifetime 0;\n  MinRtrAdvInterval 3;\n  MaxRtrAdvInterval 10;\n};\n`);
      inNs('radvd', ['--configtest', '-C', config]); // throws when radvd is missing or the config is bad
      inNs('sysctl', ['-qw', 'net.ipv6.conf.all.forwarding=1']);
      radvd = spawn('ip', ['netns', 'exec', ns, 'radvd', '--nodaemon', '-C', config, '-p', path.join(workDir, 'radvd.pid'), '-m', 'stderr'], {
        stdio: ['ignore', 'ignore', 'pipe'],
      });
    },
    cleanup,
  };
}
