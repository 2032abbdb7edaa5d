/**
 * Random packet loss inside a network namespace with nftables (`numgen random`), both ways on one
 * device: this machine's kernel has no netem. The namespace is the caller's; deleting it removes
 * the table too.
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

/** Drops `permille` of every 1000 packets in and out of `dev`; 0 removes the rule. */
export function setLoss(ns: string, dev: string, permille: number): void {
  // Declaring the table first makes the delete succeed whether or not it existed.
  const rules = [`table inet ${TABLE}`, `delete table inet ${TABLE}`];
  if (permille > 0) {
    rules.push(
      `table inet ${TABLE} {`,
      `  chain in { type filter hook input priority 0; iifname "${dev}" numgen random mod 1000 < ${permille} counter drop; }`,
      `  chain out { type filter hook output priority 0; oifname "${dev}" numgen random mod 1000 < ${permille} counter drop; }`,
      '}',
    );
  }
  nft(ns, ['-f', '-'], `${rules.join('\n')}\n`);
}

/** Packets the loss rule has dropped so far (both ways). */
export function droppedPackets(ns: string): number {
  const listing = nft(ns, ['list', 'table', 'inet', TABLE]);
  return [...listing.matchAll(/counter packets (\d+)/g)].reduce((sum, match) => sum + Number(match[1]), 0);
}
