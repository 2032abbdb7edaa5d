// Child process of lossy-frames.ts `spawnFrameRelay`, started inside a namespace: runs the frame
// relay, prints "ready" once bound, and on the end of stdin (the parent stopping it, or dying)
// prints its counters as one JSON line and exits.
import { startFrameRelay, type WireImpairments } from './lossy-frames.js';
import type { WirePorts } from './qemu.js';

const options = JSON.parse(process.argv[2]!) as { ports: WirePorts } & WireImpairments;
const relay = await startFrameRelay(options);
process.stdout.write('ready\n');
process.stdin.resume();
process.stdin.once('end', () => {
  void relay.close().then((counters) => process.stdout.write(`${JSON.stringify(counters)}\n`));
});
