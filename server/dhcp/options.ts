/** DHCP option codes rackboot reads or writes, and typed views over raw option bytes. */

export const Opt = {
  subnetMask: 1,
  router: 3,
  dns: 6,
  hostname: 12,
  domain: 15,
  broadcast: 28,
  vendorSpecific: 43,
  requestedIp: 50,
  leaseTime: 51,
  messageType: 53,
  serverId: 54,
  paramRequest: 55,
  message: 56,
  maxMessageSize: 57,
  renewalTime: 58,
  rebindingTime: 59,
  vendorClass: 60,
  clientId: 61,
  tftpServer: 66,
  bootFile: 67,
  userClass: 77,
  relayAgent: 82,
  clientArch: 93,
  clientNdi: 94,
  clientUuid: 97,
  ipxeEncap: 175,
  ipxeChain: 224,
} as const;

export const MessageType = {
  discover: 1,
  offer: 2,
  request: 3,
  decline: 4,
  ack: 5,
  nak: 6,
  release: 7,
  inform: 8,
} as const;

export type MessageTypeName = keyof typeof MessageType;

const messageTypeNames = new Map<number, MessageTypeName>(
  Object.entries(MessageType).map(([name, code]) => [code, name as MessageTypeName]),
);

export function messageTypeName(code: number | undefined): MessageTypeName | undefined {
  return code === undefined ? undefined : messageTypeNames.get(code);
}

export function ipBytes(ip: string): Buffer {
  const parts = ip.split('.');
  return Buffer.from([Number(parts[0]), Number(parts[1]), Number(parts[2]), Number(parts[3])]);
}

export function ipListBytes(ips: readonly string[]): Buffer {
  return Buffer.concat(ips.map(ipBytes));
}

export function u32Bytes(value: number): Buffer {
  const buf = Buffer.allocUnsafe(4);
  buf.writeUInt32BE(value >>> 0);
  return buf;
}

/** A 4-byte option as an address, or undefined when absent or the wrong size. */
export function optionIp(options: Map<number, Buffer>, code: number): string | undefined {
  const value = options.get(code);
  return value?.length === 4 ? `${value[0]}.${value[1]}.${value[2]}.${value[3]}` : undefined;
}

export function optionU16(options: Map<number, Buffer>, code: number): number | undefined {
  const value = options.get(code);
  return value && value.length >= 2 ? value.readUInt16BE(0) : undefined;
}

export function optionText(options: Map<number, Buffer>, code: number): string | undefined {
  return options.get(code)?.toString('latin1');
}

/** RFC 3004 user class: a list of length-prefixed strings; iPXE sends the bare string. Both read. */
export function userClasses(value: Buffer | undefined): string[] {
  if (!value?.length) return [];
  const classes: string[] = [];
  let i = 0;
  while (i < value.length) {
    const length = value[i]!;
    if (length === 0 || i + 1 + length > value.length) return [value.toString('latin1')];
    classes.push(value.toString('latin1', i + 1, i + 1 + length));
    i += 1 + length;
  }
  return classes;
}
