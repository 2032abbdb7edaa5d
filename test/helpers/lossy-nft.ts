/**
 * Random packet loss inside a network namespace with nftables (`numgen random`): this machine's
 * kernel has no netem. Only arriving packets are dropped: a drop in the output hook fails the
 * sender's sendto() with EPERM, which a client reports as an error instead of a lost packet.
 * For loss both ways, set it in the namespaces on both ends. The namespace is the caller's;
 * deleting it removes the table too.
 */
import { execFileSync } from 'node:child_process';

const TABLE = 'rbt_hostile_loss';

function nft(ns: string, args: string[], input?: string): string {
  return execFileSync('ip', ['netns', 'exec', ns, 'nft', ...args], {
    encoding: 'utf8',
    input,
    timeout: 10_000,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
}

/** Drops `permille` of every 1000 packets arriving on `dev`; 0 removes the rule. */
export function setLoss(ns: string, dev: string, permille: number): void {
  // Declaring the table first makes the delete succeed whether or not it existed.
  const rules = [`table inet ${TABLE}`, `delete table inet ${TABLE}`];
  if (permille > 0) {
    rules.push(
      `table inet ${TABLE} {`,
      `  chain in { type filter hook input priority 0; iifname "${dev}" numgen random mod 1000 < ${permille} counter drop; }`,
      '}',
    );
  }
  nft(ns, ['-f', '-'], `${rules.join('\n')}\n`);
}

/** Packets the loss rule has dropped so far. */
export function droppedPackets(ns: string): number {
  const listing = nft(ns, ['list', 'table', 'inet', TABLE]);
  return [...listing.matchAll(/counter packets (\d+)/g)].reduce((sum, match) => sum + Number(match[1]), 0);
}
