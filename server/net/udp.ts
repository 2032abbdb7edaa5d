import dgram from 'node:dgram';
import dns from 'node:dns';
import { isIPv4 } from 'node:net';

type LookupCallback = (error: NodeJS.ErrnoException | null, address: string, family: number) => void;

function literalFirst(host: string, options: dns.LookupOneOptions, callback: LookupCallback): void {
  if (isIPv4(host)) callback(null, host, 4);
  else dns.lookup(host, options, callback);
}

/**
 * A UDP socket for servers that send to literal IPv4 addresses only (a request's source, giaddr,
 * broadcast). node:dgram passes every destination through dns.lookup, which for a literal still
 * costs a validation and a deferred callback per datagram: in lock-step TFTP, per block.
 */
export function udp4Socket(): dgram.Socket {
  return dgram.createSocket({ type: 'udp4', lookup: literalFirst });
}
