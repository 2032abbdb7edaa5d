/**
 * Which addresses an API URL import may connect to. The daemon fetches from inside the boot
 * network and the host itself: unchecked, a URL (or any redirect) could make it read services
 * that trust loopback or link-local callers (cloud metadata, the daemon's own port) and then
 * serve the answer to every node as a "kernel".
 *
 * Exports `AddressGuard` (address -> reason it is refused, or undefined) and `addressGuard`.
 */
import { BlockList, isIPv4 } from 'node:net';
import { networkInterfaces } from 'node:os';

export type AddressGuard = (address: string) => string | undefined;

export interface AddressGuardOptions {
  /** IPv4 CIDRs allowed although they fall in a refused range (a mirror on this host). */
  allowNetworks: readonly string[];
  /** This server's address as the config names it; the interfaces' addresses are added. */
  serverAddress: string;
}

const refusedRanges = new BlockList();
refusedRanges.addSubnet('0.0.0.0', 8, 'ipv4'); // "this host"
refusedRanges.addSubnet('127.0.0.0', 8, 'ipv4');
refusedRanges.addSubnet('169.254.0.0', 16, 'ipv4'); // link-local: cloud metadata lives here
refusedRanges.addAddress('::', 'ipv6');
refusedRanges.addAddress('::1', 'ipv6');
refusedRanges.addSubnet('fe80::', 10, 'ipv6');

export function addressGuard(options: AddressGuardOptions): AddressGuard {
  const allowed = new BlockList();
  for (const network of options.allowNetworks) {
    const [address, prefix] = network.split('/');
    allowed.addSubnet(address!, Number(prefix), 'ipv4');
  }
  return (address) => {
    const family = isIPv4(address) ? 'ipv4' : 'ipv6';
    if (allowed.check(address, family)) return undefined;
    if (refusedRanges.check(address, family)) return `${address} is a loopback, link-local or unspecified address`;
    // Read per check: interfaces come and go while the daemon runs.
    if (ownAddresses(options.serverAddress).check(address, family)) return `${address} is an address of this server`;
    return undefined;
  };
}

function ownAddresses(serverAddress: string): BlockList {
  const own = new BlockList();
  own.addAddress(serverAddress, 'ipv4');
  for (const entries of Object.values(networkInterfaces())) {
    for (const entry of entries ?? []) own.addAddress(entry.address.replace(/%.*$/, ''), entry.family === 'IPv4' ? 'ipv4' : 'ipv6');
  }
  return own;
}
