/**
 * Random packet loss inside a network namespace with nftables (`numgen random`): this machine's
 * kernel has no netem. Loss has to look like a packet lost on the wire to both ends, so nothing is
 * dropped in the sending host's IP output hook: a drop there fails the sender's sendto() with
 * EPERM (`setSendFailure` does that on purpose, to test the sender). Instead:
 * - `setLoss(ns, dev)` drops packets arriving on `dev` (IP input hook); for loss both ways, set it
 *   in the namespaces on both ends of a veth pair.
 * - `setBridgeLoss(ns, ports)` drops frames between the host and the bridge ports matching `ports`
 *   (bridge input and output hooks), both ways: the sender's stack has already handed the frame
 *   to the bridge, whose transmit never reports a drop, so neither end sees an error.
 * Every drop is counted as `tftp` (UDP other than DHCP: the only such traffic in these tests) or
 * `other`. The namespace is the caller's; deleting it removes the table too.
 */
import { execFileSync } from 'node:child_process';

type Family = 'inet' | 'bridge';

export interface LossCounts {
  tftp: number;
  other: number;
  total: number;
}

const TABLE = 'rbt_hostile_loss';

function nft(ns: string, args: string[], input?: string): string {
  return execFileSync('ip', ['netns', 'exec', ns, 'nft', ...args], {
    encoding: 'utf8',
    input,
    timeout: 10_000,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
}

/** Replaces the family's loss table: each hook sends `permille` of what `match` selects to `lose`. */
function writeTable(ns: string, family: Family, permille: number, hooks: { hook: 'input' | 'output'; match: string }[]): void {
  // Declaring the table first makes the delete succeed whether or not it existed.
  const rules = [`table ${family} ${TABLE}`, `delete table ${family} ${TABLE}`];
  if (permille > 0) {
    rules.push(
      `table ${family} ${TABLE} {`,
      '  counter tftp {}',
      '  counter other {}',
      '  chain lose {',
      '    udp sport != { 67, 68 } udp dport != { 67, 68 } counter name "tftp" drop',
      '    counter name "other" drop',
      '  }',
      ...hooks.map(({ hook, match }) => `  chain ${hook} { type filter hook ${hook} priority 0; ${match} numgen random mod 1000 < ${permille} jump lose; }`),
      '}',
    );
  }
  nft(ns, ['-f', '-'], `${rules.join('\n')}\n`);
}

/** Drops `permille` of every 1000 packets arriving on `dev`; 0 removes the rule. */
export function setLoss(ns: string, dev: string, permille: number): void {
  writeTable(ns, 'inet', permille, [{ hook: 'input', match: `iifname "${dev}"` }]);
}

/**
 * Refuses `permille` of every 1000 packets this namespace sends out of `dev` (IP output hook): the
 * sender's sendto() fails with EPERM, as under a local firewall. Shares the inet table with setLoss.
 */
export function setSendFailure(ns: string, dev: string, permille: number): void {
  writeTable(ns, 'inet', permille, [{ hook: 'output', match: `oifname "${dev}"` }]);
}

/** Drops `permille` of every 1000 frames each way between the host and bridge ports named like `ports` (e.g. "tap*"); 0 removes the rules. */
export function setBridgeLoss(ns: string, ports: string, permille: number): void {
  writeTable(ns, 'bridge', permille, [
    { hook: 'input', match: `iifname "${ports}"` },
    { hook: 'output', match: `oifname "${ports}"` },
  ]);
}

/** What the loss rules of `family` dropped since they were set; zeros when there are none. */
export function lossCounts(ns: string, family: Family = 'inet'): LossCounts {
  const listing = nft(ns, ['list', 'tables', family]).includes(` ${TABLE}\n`) ? nft(ns, ['list', 'counters', 'table', family, TABLE]) : '';
  const named = (name: string) => Number(new RegExp(`counter ${name} \\{\\s*packets (\\d+)`).exec(listing)?.[1] ?? 0);
  const tftp = named('tftp');
  const other = named('other');
  return { tftp, other, total: tftp + other };
}

/** Packets the inet loss rule has dropped so far. */
export function droppedPackets(ns: string): number {
  return lossCounts(ns).total;
}
