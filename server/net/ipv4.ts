/** IPv4 helpers shared by the config validation and the DHCP engine. */

export function ipToInt(address: string): number {
  const parts = address.split('.');
  if (parts.length !== 4) throw new Error(`not an IPv4 address: ${address}`);
  let value = 0;
  for (const part of parts) {
    const octet = Number(part);
    if (!/^\d{1,3}$/.test(part) || octet > 255) throw new Error(`not an IPv4 address: ${address}`);
    value = value * 256 + octet;
  }
  return value >>> 0;
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
