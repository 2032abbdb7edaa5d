/**
 * Runs inside a client namespace: sends `count` seeded fuzz packets to the DHCP server, in bursts
 * paced by the event loop so the run is bounded (at most 10,000 a second: about 10-20 s for 100,000). Input: one JSON
 * argument { to, port, count, seed }. Prints { sent } when done.
 */
import dgram from 'node:dgram';
import { fuzzPacket } from './dhcp-fuzz.js';
import { seededRandom } from './random.js';

const { to, port, count, seed } = JSON.parse(process.argv[2]!) as { to: string; port: number; count: number; seed: number };
const random = seededRandom(seed);
const socket = dgram.createSocket('udp4');
const BURST = 40;
let sent = 0;

socket.bind(0, () => {
  socket.setBroadcast(true);
  const burst = () => {
    for (let i = 0; i < BURST && sent < count; i++, sent++) {
      // One packet in ten goes out as a broadcast, the rest by unicast, like clients and relays.
      socket.send(fuzzPacket(random), port, sent % 10 === 0 ? '255.255.255.255' : to);
    }
    if (sent < count) setTimeout(burst, 4);
    else setTimeout(() => socket.close(() => process.stdout.write(`${JSON.stringify({ sent })}\n`)), 200);
  };
  burst();
});
