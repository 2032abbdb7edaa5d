/**
 * Runs inside a client namespace: sends DHCP packets and prints every datagram that comes back
 * within the wait as one JSON line { from, port, hex }. Input: one JSON argument
 * { bindPort, sends: [{ to, port, hex }], waitMs }.
 */
import dgram from 'node:dgram';

interface ProbeInput {
  bindPort: number;
  bindAddress?: string;
  sends: Array<{ to: string; port: number; hex: string }>;
  waitMs: number;
}

const input = JSON.parse(process.argv[2]!) as ProbeInput;
const socket = dgram.createSocket({ type: 'udp4', reuseAddr: true });
socket.on('message', (message, remote) => {
  process.stdout.write(`${JSON.stringify({ from: remote.address, port: remote.port, hex: message.toString('hex') })}\n`);
});
socket.bind(input.bindPort, input.bindAddress ?? '0.0.0.0', () => {
  socket.setBroadcast(true);
  for (const send of input.sends) socket.send(Buffer.from(send.hex, 'hex'), send.port, send.to);
  setTimeout(() => socket.close(), input.waitMs);
});
