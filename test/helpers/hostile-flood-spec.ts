/** What the soak asks one flood child to send, and where (addresses inside the test's own namespaces). */
export interface FloodTarget {
  server: string;
  dhcpPort: number;
  tftpPort: number;
  httpPort: number;
  /** Client-side addresses the flood sends from, in turn. */
  sources: string[];
  seed: number;
}

export type FloodSpec =
  /** ~63 KB DISCOVERs with option 12 repeated ~21,000 times. */
  | { kind: 'option-bomb'; count: number; perSecond: number }
  /** iPXE DISCOVERs, each from a new random MAC. */
  | { kind: 'random-discover'; count: number; perSecond: number }
  /** `/chain?mac=<random>` over keep-alive connections. */
  | { kind: 'random-chain'; count: number; concurrency: number }
  /** RRQs for `<random 8 hex>/<file>`, each aborted with an ERROR once the server answers. */
  | { kind: 'random-tftp'; count: number; perSecond: number; file: string }
  /** RRQs from a fresh source port each, never acknowledged; some ask for timeout 255. */
  | { kind: 'tftp-unacked'; count: number; perSecond: number; file: string; hostileTimeoutEvery: number }
  /** Idle connections, trickled headers, trickled bodies after a 401, and `/live` readers that never read. */
  | { kind: 'http-slow'; idle: number; trickleHeaders: number; trickleBody: number; live: number; holdMs: number }
  /** RELEASE and DECLINE, in turn, of the victim's lease, from an address that is not the victim's. */
  | { kind: 'forged-release'; count: number; perSecond: number; victimMac: string; victimIp: string };

export interface FloodRequest {
  target: FloodTarget;
  flood: FloodSpec;
}

/** What a flood child did, printed as one JSON line when it ends. */
export type FloodCounters = Record<string, number>;
