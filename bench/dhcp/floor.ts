/**
 * The floor under any DHCP server on node:dgram, for bench/dhcp: answers a relayed DISCOVER with
 * an OFFER and a REQUEST with an ACK by patching one prepared reply (xid, flags, yiaddr, giaddr,
 * chaddr, message type): no decoding beyond option 53, no leases, no policy, no storage. What it
 * sustains is what a server doing real work on this runtime and machine cannot exceed.
 * Usage: node dist/bench/dhcp/floor.js <server address> <port>
 */
import dgram from 'node:dgram';

const [serverAddress = '', portArgument = '67'] = process.argv.slice(2);
const OPTIONS_AT = 240;
const REPLY_TYPE_AT = OPTIONS_AT + 2;

const reply = Buffer.alloc(OPTIONS_AT + 24);
reply[0] = 2; // BOOTREPLY
reply[1] = 1;
reply[2] = 6;
Buffer.from(serverAddress.split('.').map(Number)).copy(reply, 20); // siaddr
reply.writeUInt32BE(0x63825363, 236);
Buffer.from([
  53, 1, 0, // message type, patched per reply
  54, 4, ...serverAddress.split('.').map(Number),
  51, 4, 0, 0, 0x0e, 0x10,
  1, 4, 255, 255, 0, 0,
  255,
]).copy(reply, OPTIONS_AT);

function messageType(packet: Buffer): number {
  for (let at = OPTIONS_AT; at + 1 < packet.length; ) {
    const code = packet[at]!;
    if (code === 255) break;
    if (code === 0) {
      at++;
      continue;
    }
    if (code === 53) return packet[at + 2] ?? 0;
    at += 2 + packet[at + 1]!;
  }
  return 0;
}

const socket = dgram.createSocket('udp4');
socket.on('message', (packet) => {
  if (packet.length < OPTIONS_AT || packet[0] !== 1 || packet.readUInt32BE(24) === 0) return;
  const type = messageType(packet);
  if (type !== 1 && type !== 3) return;
  packet.copy(reply, 4, 4, 8); // xid
  packet.copy(reply, 10, 10, 12); // flags
  // yiaddr: one address per MAC inside the relay's /16.
  reply[16] = 10;
  reply[17] = 202;
  reply[18] = packet[32]! | 1;
  reply[19] = packet[33]!;
  packet.copy(reply, 24, 24, 44); // giaddr, chaddr
  reply[REPLY_TYPE_AT] = type === 1 ? 2 : 5;
  socket.send(reply, Number(portArgument), `${packet[24]}.${packet[25]}.${packet[26]}.${packet[27]}`);
});
socket.bind({ port: Number(portArgument), address: '0.0.0.0' }, () => {
  socket.setRecvBufferSize(512 * 1024);
  console.log('ready');
});
