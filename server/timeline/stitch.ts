import { classifyBoot } from './classify.js';
import type { Boot, BootStage, ConsoleLine, StitchOptions, TimelineEvent } from './types.js';

export const DEFAULT_QUIET_GAP_MS = 120_000;
export const DEFAULT_BOOTED_WINDOW_MS = 15 * 60_000;
/** Console lines kept per boot: a bootloader's own log is a few dozen to a few hundred. */
export const MAX_CONSOLE_LINES = 500;

const STAGE_OF: Record<string, BootStage['name']> = { dhcp: 'dhcp', tftp: 'tftp', http: 'http', node: 'booted' };

const isBooted = (event: TimelineEvent) => event.source === 'node' && event.kind === 'booted';

interface Open {
  events: TimelineEvent[];
  lastAt: number;
  booted: boolean;
  /** A file or script was asked for: a later DISCOVER from boot firmware is a new attempt. */
  pastDhcp: boolean;
}

function startsNewBoot(event: TimelineEvent, open: Open | undefined, quietGapMs: number, bootedWindowMs: number): boolean {
  if (!open) return true;
  if (isBooted(event)) return open.booted || event.at - open.lastAt > bootedWindowMs;
  if (open.booted || event.at - open.lastAt > quietGapMs) return true;
  // iPXE loaded over TFTP asks DHCP again within the same boot; a ROM's DISCOVER starts over.
  return event.source === 'dhcp' && event.kind === 'discover' && open.pastDhcp && event.detail['firmware'] !== 'ipxe';
}

function stageOutcome(events: TimelineEvent[]): BootStage['outcome'] {
  const last = events[events.length - 1]!;
  if (last.kind === 'chain-wait') return 'waiting';
  const failed = events.some(
    (event) => event.kind === 'tftp-failed' || event.kind === 'tftp-aborted' || event.kind === 'file-missing' || event.kind === 'nak',
  );
  return failed ? 'failed' : 'ok';
}

function toStage(name: BootStage['name'], events: TimelineEvent[]): BootStage {
  const files: string[] = [];
  const kinds: Record<string, number> = {};
  let bytes = 0;
  for (const event of events) {
    kinds[event.kind] = (kinds[event.kind] ?? 0) + 1;
    const file = event.detail['file'];
    if (typeof file === 'string' && !files.includes(file)) files.push(file);
    const sent = event.detail['bytes'];
    if (event.source === 'tftp' && typeof sent === 'number') bytes += sent;
  }
  const startedAt = events[0]!.at;
  const endedAt = events[events.length - 1]!.at;
  return { name, startedAt, endedAt, durationMs: endedAt - startedAt, events: events.length, bytes, files, kinds, outcome: stageOutcome(events) };
}

function toStages(events: TimelineEvent[]): BootStage[] {
  const stages: BootStage[] = [];
  let run: TimelineEvent[] = [];
  let name: BootStage['name'] | undefined;
  for (const event of events) {
    const stage = STAGE_OF[event.source] ?? 'api';
    if (stage !== name && run.length) {
      stages.push(toStage(name!, run));
      run = [];
    }
    name = stage;
    run.push(event);
  }
  if (run.length) stages.push(toStage(name!, run));
  return stages;
}

function imageOf(events: TimelineEvent[]): string | null {
  for (let i = events.length - 1; i >= 0; i--) {
    const image = events[i]!.detail['image'];
    if (events[i]!.source === 'http' && typeof image === 'string') return image;
  }
  return null;
}

const isConsole = (event: TimelineEvent) => event.source === 'netconsole';

function consoleOf(events: TimelineEvent[]): ConsoleLine[] {
  const lines: ConsoleLine[] = [];
  for (const event of events) {
    const got = event.detail['lines'];
    if (!isConsole(event) || !Array.isArray(got)) continue;
    for (const line of got) if (typeof line === 'string') lines.push({ at: event.at, line });
  }
  return lines.slice(-MAX_CONSOLE_LINES);
}

/** The console lines ride along the boot; its stages and failure come from the protocol events alone. */
function toBoot(all: TimelineEvent[], options: StitchOptions, quietGapMs: number): Boot {
  const events = all.filter((event) => !isConsole(event));
  const startedAt = all[0]!.at;
  const endedAt = all[all.length - 1]!.at;
  const booted = events.some(isBooted);
  const quiet = options.now - endedAt > quietGapMs;
  const failure = booted ? null : classifyBoot(events, quiet);
  const stages = toStages(events);
  const outcome = booted
    ? 'booted'
    : failure?.code === 'RB_BOOT_NO_IMAGE'
      ? 'waiting'
      : failure
        ? 'failed'
        : quiet
          ? 'served'
          : 'in-progress';
  return {
    startedAt,
    endedAt,
    durationMs: endedAt - startedAt,
    outcome,
    stages,
    failure,
    image: imageOf(events),
    bytes: stages.reduce((sum, stage) => sum + stage.bytes, 0),
    events: events.length,
    console: consoleOf(all),
  };
}

/**
 * Stitches one node's events into boots, oldest first. A boot starts with the node's first event
 * after a quiet gap (or after a booted callback), or with a boot ROM's DHCP DISCOVER once the node
 * had already gone past DHCP; it ends with its last event or the booted callback. Admin events
 * (assignments) are not part of any boot.
 */
export function stitchBoots(events: readonly (TimelineEvent & { id?: number })[], options: StitchOptions): Boot[] {
  const quietGapMs = options.quietGapMs ?? DEFAULT_QUIET_GAP_MS;
  const bootedWindowMs = options.bootedWindowMs ?? DEFAULT_BOOTED_WINDOW_MS;
  const ordered = events
    .filter((event) => event.source !== 'api')
    .sort((a, b) => a.at - b.at || (a.id ?? 0) - (b.id ?? 0));
  const groups: TimelineEvent[][] = [];
  let open: Open | undefined;
  for (const event of ordered) {
    if (startsNewBoot(event, open, quietGapMs, bootedWindowMs)) {
      open = { events: [], lastAt: event.at, booted: false, pastDhcp: false };
      groups.push(open.events);
    }
    open = open!;
    open.events.push(event);
    open.lastAt = event.at;
    open.booted ||= isBooted(event);
    open.pastDhcp ||= event.source !== 'dhcp';
  }
  return groups.map((group) => toBoot(group, options, quietGapMs));
}

/** The newest boot of a node, or null when it has no boot events. */
export function latestBoot(events: readonly (TimelineEvent & { id?: number })[], options: StitchOptions): Boot | null {
  const boots = stitchBoots(events, options);
  return boots[boots.length - 1] ?? null;
}
