/**
 * Where one boot of a node ends and the next begins. The timeline stitches stored events with
 * these rules, and the boot policy follows live requests with the same ones: the files of "one
 * boot" on the page are the files served from one image (and one one-shot assignment).
 */

export const DEFAULT_QUIET_GAP_MS = 120_000;
export const DEFAULT_BOOTED_WINDOW_MS = 15 * 60_000;

/** What an event, or a boot request, is to the boundaries between boots. */
export type BootStep =
  | 'rom-discover' // a boot ROM's or Pi bootloader's DHCP DISCOVER; iPXE's own DISCOVER is plain 'dhcp'
  | 'dhcp'
  | 'start' // what a boot asks first: iPXE's /chain, a Pi's start4.elf, start.elf or config.txt
  | 'file'
  | 'last-file' // the file that completes a boot: the initramfs, or the kernel of an image without one
  | 'booted'; // the node's init called /booted

/** Files a Pi asks for at the start of a boot (a Pi 5 starts with config.txt), never after its last file. */
export const PI_START_FILES: ReadonlySet<string> = new Set(['start4.elf', 'start.elf', 'config.txt']);

/** What the rules need to know of the boot in progress. */
export interface BootCursor {
  lastAt: number;
  booted: boolean;
  /** A file or script was asked for: a later DISCOVER from boot firmware is a new attempt. */
  pastDhcp: boolean;
  /** The boot fetched its last file: a start request now begins the next boot. */
  complete: boolean;
}

export interface BootGaps {
  /** Silence after which the next step starts a new boot. */
  quietGapMs: number;
  /** How long after the last step a `booted` callback still belongs to that boot. */
  bootedWindowMs: number;
}

export const DEFAULT_GAPS: BootGaps = { quietGapMs: DEFAULT_QUIET_GAP_MS, bootedWindowMs: DEFAULT_BOOTED_WINDOW_MS };

/**
 * A step begins a new boot when there is none, after the booted callback, after a quiet gap, with a
 * boot ROM's DISCOVER once the boot went past DHCP, or with a start request once the boot fetched
 * its last file (a Pi reset after booting, with no DHCP of ours in between to tell).
 */
export function startsNewBoot(cursor: BootCursor | undefined, step: BootStep, at: number, gaps: BootGaps): boolean {
  if (!cursor) return true;
  if (step === 'booted') return cursor.booted || at - cursor.lastAt > gaps.bootedWindowMs;
  if (cursor.booted || at - cursor.lastAt > gaps.quietGapMs) return true;
  if (step === 'rom-discover') return cursor.pastDhcp;
  return step === 'start' && cursor.complete;
}

/** A new cursor, for the first step of a boot. */
export function newCursor(at: number): BootCursor {
  return { lastAt: at, booted: false, pastDhcp: false, complete: false };
}

/** Moves the cursor past a step of its boot. */
export function advance(cursor: BootCursor, step: BootStep, at: number): void {
  cursor.lastAt = at;
  cursor.booted ||= step === 'booted';
  cursor.pastDhcp ||= step !== 'dhcp' && step !== 'rom-discover';
  cursor.complete ||= step === 'last-file';
}
