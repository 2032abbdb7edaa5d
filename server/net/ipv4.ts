/** IPv4 helpers shared by the config validation and the DHCP engine. */

const DOT = 0x2e;
const DIGIT_0 = 0x30;

/** Dotted quad to a 32-bit number. One pass, no allocation: the DHCP engine calls it several times a packet. */
export function ipToInt(address: string): number {
  let value = 0;
  let octet = 0;
  let digits = 0;
  let dots = 0;
  for (let i = 0; i < address.length; i++) {
    const code = address.charCodeAt(i);
    if (code === DOT && digits > 0 && octet <= 255 && dots < 3) {
      value = value * 256 + octet;
      octet = 0;
      digits = 0;
      dots++;
    } else if (code >= DIGIT_0 && code <= DIGIT_0 + 9 && digits < 3) {
      octet = octet * 10 + code - DIGIT_0;
      digits++;
    } else {
      throw new Error(`not an IPv4 address: ${address}`);
    }
  }
  if (dots !== 3 || digits === 0 || octet > 255) throw new Error(`not an IPv4 address: ${address}`);
  return (value * 256 + octet) >>> 0;
}

export function intToIp(value: number): string {
  return [value >>> 24, (value >>> 16) & 255, (value >>> 8) & 255, value & 255].join('.');
}

export interface Cidr {
  network: number;
  prefix: number;
  mask: number;
}

export function parseCidr(text: string): Cidr {
  const [address, prefixText] = text.split('/');
  const prefix = Number(prefixText);
  if (address === undefined || !Number.isInteger(prefix) || prefix < 0 || prefix > 32) {
    throw new Error(`not a CIDR subnet: ${text} (expected e.g. 192.168.50.0/24)`);
  }
  const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  return { network: (ipToInt(address) & mask) >>> 0, prefix, mask };
}

export function cidrContains(cidr: Cidr, address: string): boolean {
  return ((ipToInt(address) & cidr.mask) >>> 0) === cidr.network;
}

export function cidrBroadcast(cidr: Cidr): string {
  return intToIp((cidr.network | (~cidr.mask >>> 0)) >>> 0);
}
