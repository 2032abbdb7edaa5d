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
  /** Replies to the Pi 3 boot ROM are held this long (it loops on DHCP and TFTP answers within 2 s); 0: none. */
  piRomReplyDelayMs: number;
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
  maxConnections: number;
  maxLiveStreams: number;
  requestTimeoutMs: number;
  idleTimeoutMs: number;
  shutdownGraceMs: number;
}

export interface IpxeConfig {
  bios: string;
  uefiX64: string;
  uefiArm64: string;
  /** No default: a ROM of these arches gets no boot answer unless its own build is configured. */
  uefiIa32?: string;
  uefiArm32?: string;
  uefiRiscv32?: string;
  uefiRiscv64?: string;
}

/** Limits of API image imports; the CLI is not bound by them. */
export interface ImagesConfig {
  /** Absolute. */
  importRoots: string[];
  /** IPv4 CIDRs exempt from the loopback/link-local/own-address refusal of URL imports. */
  allowUrlNetworks: string[];
  importDeadlineSeconds: number;
}

/** Raspberry Pi HTTP boot (boot.img ramdisks). */
export interface HttpBootConfig {
  /** Absolute path of a PEM RSA 2048 private key that signs boot.sig. */
  signingKey?: string;
  cacheMaxBytes: number;
}

export interface EventsConfig {
  /** Days of boot events kept; 0 keeps them forever. */
  retentionDays: number;
  /** Most events kept (oldest deleted first); 0 sets no bound. */
  maxRows: number;
}

/** Bounds on nodes recorded because they booted; operator registrations are not bounded. */
export interface DiscoveryConfig {
  burst: number;
  perMinute: number;
  maxUnconfirmed: number;
}

/** The bootloader NETCONSOLE listener; off unless enabled. */
export interface NetconsoleConfig {
  enabled: boolean;
  address: string;
  port: number;
  maxLineBytes: number;
  linesPerSecond: number;
  burst: number;
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
  images: ImagesConfig;
  httpBoot: HttpBootConfig;
  events: EventsConfig;
  discovery: DiscoveryConfig;
  netconsole: NetconsoleConfig;
  /** Absolute path of the file this was read from. */
  source: string;
}
