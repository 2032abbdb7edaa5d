/**
 * Runs one flood of the hostile-LAN soak inside the client namespace (started by hostile-soak.ts
 * under `ip netns exec`). Input: one JSON argument, a FloodRequest. Prints its counters as one
 * JSON line when the flood, bounded in count and time, is over.
 */
import { forgedReleaseFlood, optionBombFlood, randomDiscoverFlood } from './hostile-dhcp-floods.js';
import type { FloodCounters, FloodRequest } from './hostile-flood-spec.js';
import { randomChainFlood, slowHttpFlood } from './hostile-http-floods.js';
import { randomTftpFlood, unackedTftpFlood } from './hostile-tftp-floods.js';

const { target, flood } = JSON.parse(process.argv[2]!) as FloodRequest;

function run(): Promise<FloodCounters> {
  switch (flood.kind) {
    case 'option-bomb':
      return optionBombFlood(target, flood.count, flood.perSecond);
    case 'random-discover':
      return randomDiscoverFlood(target, flood.count, flood.perSecond);
    case 'random-chain':
      return randomChainFlood(target, flood.count, flood.concurrency);
    case 'random-tftp':
      return randomTftpFlood(target, flood.count, flood.perSecond, flood.file);
    case 'tftp-unacked':
      return unackedTftpFlood(target, flood.count, flood.perSecond, flood.file, flood.hostileTimeoutEvery);
    case 'http-slow':
      return slowHttpFlood(target, flood, flood.holdMs);
    case 'forged-release':
      return forgedReleaseFlood(target, flood.count, flood.perSecond, flood.victimMac, flood.victimIp);
  }
}

process.stdout.write(`${JSON.stringify(await run())}\n`);
