/** Seeded packet mutations for the DHCP fuzz tests: a failure replays from its seed. */
import { ipxeDiscover, pi3RomDiscover, pi4Discover, pxeDiscover, httpClientDiscover, wire } from './dhcp-packets.js';


const seeds = [
  wire(pi4Discover('dc:a6:32:00:00:01')),
  wire(pi3RomDiscover('b8:27:eb:00:00:02')),
  wire(ipxeDiscover('52:54:00:00:00:03')),
  wire(pxeDiscover('52:54:00:00:00:04', 0)),
  wire(httpClientDiscover('52:54:00:00:00:05')),
];

/** The i-th fuzz packet: random bytes, a truncation, or a seed with bytes flipped or options broken. */
export function fuzzPacket(random: () => number): Buffer {
  const pick = (n: number) => Math.floor(random() * n);
  const kind = pick(5);
  if (kind === 0) {
    const buf = Buffer.allocUnsafe(pick(700));
    for (let i = 0; i < buf.length; i++) buf[i] = pick(256);
    return buf;
  }
  const seed = seeds[pick(seeds.length)]!;
  if (kind === 1) return Buffer.from(seed.subarray(0, pick(seed.length)));
  const buf = Buffer.from(seed);
  if (kind === 2) {
    for (let n = 1 + pick(8); n > 0; n--) buf[pick(buf.length)] = pick(256);
    return buf;
  }
  if (kind === 3) {
    // Lengths and codes inside the options area: overload, bogus lengths, missing end.
    for (let n = 1 + pick(4); n > 0; n--) buf[240 + pick(buf.length - 240)] = [0, 52, 53, 255, 0xff, 1, 3][pick(7)]!;
    return buf;
  }
  // Grow: random tail with options of random lengths.
  const tail = Buffer.allocUnsafe(pick(400));
  for (let i = 0; i < tail.length; i++) tail[i] = pick(256);
  return Buffer.concat([buf.subarray(0, 240 + pick(buf.length - 240)), tail]);
}
