/** The validated configuration; mirrors config.schema.json with its defaults applied. */

export interface PoolConfig {
  start: string;
  end: string;
}

export interface RelaySubnetConfig {
  subnet: string;
  pool: PoolConfig;
  router?: string;
  dns?: string[];
}

export interface DhcpConfig {
  enabled: boolean;
  mode: 'server' | 'proxy';
  interface?: string;
  port: number;
  proxyPort: number;
  clientPort: number;
  subnet?: string;
  pool?: PoolConfig;
  router?: string;
  dns: string[];
  domain?: string;
  leaseSeconds: number;
  relaySubnets: RelaySubnetConfig[];
}

export interface TftpConfig {
  enabled: boolean;
  address: string;
  port: number;
  maxBlksize: number;
  maxWindowsize: number;
  maxTransfers: number;
  maxTransfersPerClient: number;
  retransmitMs: number;
  retries: number;
  firstAckRetries: number;
  transferDeadlineMs: number;
  maxBufferBytes: number;
  maxBufferBytesPerClient: number;
}

export interface HttpConfig {
  address: string;
  port: number;
  adminToken?: string;
  publicUrl?: string;
}

export interface IpxeConfig {
  bios: string;
  uefiX64: string;
  uefiArm64: string;
}

export interface EventsConfig {
  /** Days of boot events kept; 0 keeps them forever. */
  retentionDays: number;
}

export interface Config {
  serverAddress: string;
  /** Absolute. */
  dataDir: string;
  /** Absolute. */
  assetsDir: string;
  defaultImage: string | null;
  log: { level: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' };
  http: HttpConfig;
  tftp: TftpConfig;
  dhcp: DhcpConfig;
  ipxe: IpxeConfig;
  events: EventsConfig;
  /** Absolute path of the file this was read from. */
  source: string;
}
