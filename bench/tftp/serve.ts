/**
 * rackboot's TFTP engine alone, serving one directory: what bench/tftp/run.sh measures beside
 * tftpd-hpa, atftpd and dnsmasq. Usage: node dist/bench/tftp/serve.js <root> <address> <port>
 */
import { pino } from 'pino';
import { directoryResolver } from '../../server/tftp/directory-resolver.js';
import { startTftpServer } from '../../server/tftp/server.js';

const [root, address = '127.0.0.1', port = '0'] = process.argv.slice(2);
if (!root) {
  console.error('usage: serve.js <root> [address] [port]');
  process.exit(2);
}
const server = await startTftpServer({
  address,
  port: Number(port),
  maxBlksize: 65464,
  maxWindowsize: 64,
  maxTransfers: 1000,
  maxTransfersPerClient: 200,
  retransmitMs: 1000,
  retries: 6,
  firstAckRetries: 2,
  transferDeadlineMs: 600_000,
  // All bench clients share one address: the per-client memory cap would otherwise shrink their read-ahead.
  maxBufferBytes: 1024 * 1024 * 1024,
  maxBufferBytesPerClient: 1024 * 1024 * 1024,
  resolve: directoryResolver(root),
  log: pino({ level: 'warn' }),
});
console.log(`ready ${server.port}`);
const stop = () => {
  setTimeout(() => {
    console.error('close() did not finish within 5 s');
    process.exit(1);
  }, 5000).unref();
  void server.close().then(() => {
    console.error(JSON.stringify(server.counters));
    process.exit(0);
  });
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
