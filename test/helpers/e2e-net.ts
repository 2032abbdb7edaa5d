/**
 * A rack segment in one network namespace: bridge `br0` carrying the server address, and one tap
 * per VM enslaved to it. The daemon and the QEMU processes both run inside the namespace, so all
 * traffic stays in it. A default route via br0 lets the daemon broadcast DHCP replies.
 *
 * `setLoss(permille)` drops that share of the packets entering and leaving the host side of the
 * bridge (nftables `numgen random`; `tc netem` is not available on these machines).
 */
import { execFileSync } from 'node:child_process';

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
  /** Drops `permille`/1000 of the server's packets on br0 in each direction; 0 removes the rule. */
  setLoss(permille: number): void;
  run(command: string, args: string[]): string;
  cleanup(): void;
}

function exec(command: string, args: string[], input?: string): string {
  return execFileSync(command, args, { encoding: 'utf8', timeout: 10_000, input, stdio: ['pipe', 'pipe', 'pipe'] });
}

export function createSegment(options: { tag: string; octet: number }): Segment {
  const ns = `rbt-e2e-${process.pid}-${options.tag}`;
  const bridge = 'br0';
  const prefix = `10.77.${options.octet}`;
  const inNs = (command: string, args: string[], input?: string) => exec('ip', ['netns', 'exec', ns, command, ...args], input);
  let cleaned = false;
  const cleanup = () => {
    if (cleaned) return;
    cleaned = true;
    process.off('exit', cleanup);
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
      inNs('ip', ['tuntap', 'add', 'dev', name, 'mode', 'tap']);
      inNs('ip', ['link', 'set', name, 'master', bridge]);
      inNs('ip', ['link', 'set', name, 'up']);
    },
    setLoss(permille) {
      // Declaring the table first makes the delete succeed whether or not it existed.
      const rules = ['table inet rbt_e2e_loss', 'delete table inet rbt_e2e_loss'];
      if (permille > 0) {
        rules.push(
          'table inet rbt_e2e_loss {',
          `  chain in { type filter hook input priority 0; iifname "${bridge}" numgen random mod 1000 < ${permille} drop; }`,
          `  chain out { type filter hook output priority 0; oifname "${bridge}" numgen random mod 1000 < ${permille} drop; }`,
          '}',
        );
      }
      inNs('nft', ['-f', '-'], `${rules.join('\n')}\n`);
    },
    run: (command, args) => inNs(command, args),
    cleanup,
  };
}
