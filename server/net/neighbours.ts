import { readFileSync } from 'node:fs';
import { parseMac, type Mac } from './mac.js';

// A complete entry; 0x0 is an address still being resolved.
const ATF_COM = 0x2;

/**
 * The MAC the kernel's ARP table holds for an address on a directly attached link, or undefined
 * (not Linux, not a neighbour, routed through a relay). A client that sends us a unicast packet
 * has just resolved our address, and the kernel keeps the asker's MAC from that ARP request.
 */
export function neighbourMac(ip: string, table = '/proc/net/arp'): Mac | undefined {
  let text: string;
  try {
    text = readFileSync(table, 'latin1');
  } catch {
    return undefined;
  }
  for (const line of text.split('\n').slice(1)) {
    const [address, , flags, hw] = line.trim().split(/\s+/);
    if (address === ip && hw && (Number.parseInt(flags ?? '0', 16) & ATF_COM) !== 0) return parseMac(hw) ?? undefined;
  }
  return undefined;
}
