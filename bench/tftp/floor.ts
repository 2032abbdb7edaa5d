/**
 * The floor under any TFTP server on node:dgram, for bench/tftp: lock-step transfers of files
 * held in memory as ready-made DATA packets, one socket per transfer, blksize negotiated, a plain
 * retransmit timer, nothing else (no reads, no policy, no checks beyond the ACK's block number).
 * What it reaches is what a real server on this runtime and machine cannot exceed.
 * Usage: node dist/bench/tftp/floor.js <root> <address> <port>
 */
import dgram from 'node:dgram';
import { readFileSync } from 'node:fs';
import path from 'node:path';

const [root = '.', address = '127.0.0.1', port = '0'] = process.argv.slice(2);
const RETRANSMIT_MS = 1000;
const TRIES = 6;
const packetsByFile = new Map<string, Buffer[]>();

function packetsOf(name: string, blksize: number): Buffer[] {
  const key = `${name}:${blksize}`;
  let packets = packetsByFile.get(key);
  if (packets) return packets;
  const data = readFileSync(path.join(root, path.basename(name)));
  packets = [];
  // A file of exactly n blocks ends with an empty one.
  for (let block = 1; (block - 1) * blksize <= data.length; block++) {
    const payload = data.subarray((block - 1) * blksize, block * blksize);
    const packet = Buffer.allocUnsafe(4 + payload.length);
    packet.writeUInt16BE(3, 0);
    packet.writeUInt16BE(block & 0xffff, 2);
    payload.copy(packet, 4);
    packets.push(packet);
  }
  packetsByFile.set(key, packets);
  return packets;
}

function serve(request: Buffer, peer: dgram.RemoteInfo): void {
  const [name = '', , ...options] = request.toString('latin1', 2).split('\0');
  let blksize = 512;
  for (let at = 0; at + 1 < options.length; at += 2) {
    if (options[at]!.toLowerCase() === 'blksize') blksize = Math.min(Number(options[at + 1]), 65464);
  }
  const negotiated = blksize !== 512;
  const packets = packetsOf(name, blksize);
  const oack = Buffer.from(`\0\x06blksize\0${blksize}\0`, 'latin1');
  const socket = dgram.createSocket('udp4');
  // Block on the wire now: 0 is the OACK.
  let current = negotiated ? 0 : 1;
  let tries = 0;
  const transmit = () => socket.send(current === 0 ? oack : packets[current - 1]!, peer.port, peer.address);
  const timer = setInterval(() => {
    if (++tries > TRIES) end();
    else transmit();
  }, RETRANSMIT_MS);
  const end = () => {
    clearInterval(timer);
    socket.close();
  };
  socket.on('message', (ack) => {
    if (ack.length < 4 || ack.readUInt16BE(0) !== 4 || ack.readUInt16BE(2) !== (current & 0xffff)) return;
    if (current === packets.length) return end();
    current++;
    tries = 0;
    timer.refresh();
    transmit();
  });
  socket.bind(0, address, transmit);
}

const listener = dgram.createSocket('udp4');
listener.on('message', (request, peer) => {
  if (request.length > 4 && request.readUInt16BE(0) === 1) serve(request, peer);
});
listener.bind(Number(port), address, () => console.log(`ready ${listener.address().port}`));
