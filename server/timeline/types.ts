import type { StoredEvent } from '../inventory/events.js';

/** What stitching needs of an event: stored rows and live (not yet stored) events both fit. */
export type TimelineEvent = Pick<StoredEvent, 'at' | 'source' | 'kind' | 'detail'>;

/** A run of consecutive events of one protocol: a Pi boot is dhcp, tftp, booted; iPXE adds dhcp and http again. */
export interface BootStage {
  name: 'dhcp' | 'tftp' | 'http' | 'booted' | 'api';
  startedAt: number;
  endedAt: number;
  durationMs: number;
  events: number;
  /** Payload bytes of completed TFTP transfers; HTTP events do not carry sizes. */
  bytes: number;
  /** Files asked for in this stage, in first-request order. */
  files: string[];
  /** Event kinds with their counts, e.g. { discover: 2, offer: 2 }. */
  kinds: Record<string, number>;
  outcome: 'ok' | 'failed' | 'waiting';
}

export type BootOutcome =
  | 'booted' // the node called /booted
  | 'in-progress' // events within the quiet gap
  | 'served' // files went out, then silence without a booted callback
  | 'waiting' // iPXE is waiting for an image assignment
  | 'failed'; // a known failure pattern, or transfers that failed

export type BootFailureCode =
  | 'RB_BOOT_PI_FILE_TIMEOUT'
  | 'RB_BOOT_MISSING_FILES'
  | 'RB_BOOT_PI_REQUIRED_MISSING'
  | 'RB_BOOT_NO_FOLLOW_UP'
  | 'RB_BOOT_NO_OFFER'
  | 'RB_BOOT_POOL_EXHAUSTED'
  | 'RB_BOOT_NO_IMAGE'
  | 'RB_BOOT_PI_NO_IMAGE'
  | 'RB_BOOT_TRANSFER_FAILED';

export interface BootFailure {
  code: BootFailureCode;
  message: string;
  whatToDo: string;
}

export interface Boot {
  startedAt: number;
  endedAt: number;
  durationMs: number;
  outcome: BootOutcome;
  stages: BootStage[];
  failure: BootFailure | null;
  /** The image whose files the boot was served (named on its chain script and files), when any. */
  image: string | null;
  version: number | null;
  /** Why the boot got that image: its one-shot assignment, its standing one, or config.defaultImage. */
  reason: 'once' | 'assigned' | 'default' | null;
  /** The id of the assignment behind the image (in the node's assignment history); null for the default. */
  assignment: number | null;
  bytes: number;
  events: number;
  /** The bootloader's NETCONSOLE lines during this boot, oldest first (the newest MAX_CONSOLE_LINES). */
  console: ConsoleLine[];
}

export interface ConsoleLine {
  at: number;
  line: string;
}

export interface StitchOptions {
  /** Wall clock used to tell a boot in progress from one that went quiet. */
  now: number;
  /** Silence after which the next event starts a new boot (and a boot counts as over). Default 120 s. */
  quietGapMs?: number;
  /** How long after the last file a `booted` callback still belongs to that boot. Default 15 min. */
  bootedWindowMs?: number;
}
