import { NO_IMAGE_REASON } from '../events/types.js';
import { classifyBoot } from './classify.js';
import { advance, DEFAULT_BOOTED_WINDOW_MS, DEFAULT_QUIET_GAP_MS, newCursor, PI_START_FILES, startsNewBoot, type BootCursor, type BootStep } from './boundaries.js';
import type { Boot, BootStage, ConsoleLine, StitchOptions, TimelineEvent } from './types.js';

/** Console lines kept per boot: a bootloader's own log is a few dozen to a few hundred. */
export const MAX_CONSOLE_LINES = 500;

const STAGE_OF: Record<string, BootStage['name']> = { dhcp: 'dhcp', tftp: 'tftp', http: 'http', node: 'booted' };

const isBooted = (event: TimelineEvent) => event.source === 'node' && event.kind === 'booted';

/** The event as a step of a boot; the `last` mark comes from the policy, which knows the image's files. */
function stepOf(event: TimelineEvent): BootStep {
  const { source, kind, detail } = event;
  if (source === 'dhcp') return kind === 'discover' && detail['firmware'] !== 'ipxe' ? 'rom-discover' : 'dhcp';
  if (isBooted(event)) return 'booted';
  if (detail['last'] === true) return 'last-file';
  if (source === 'http') return kind === 'chain' || kind === 'chain-wait' ? 'start' : 'file';
  const file = typeof detail['file'] === 'string' ? detail['file'] : '';
  return source === 'tftp' && PI_START_FILES.has(file.slice(file.lastIndexOf('/') + 1)) ? 'start' : 'file';
}

function stageOutcome(events: TimelineEvent[]): BootStage['outcome'] {
  const last = events[events.length - 1]!;
  if (last.kind === 'chain-wait') return 'waiting';
  const failed = events.some(
    (event) =>
      event.kind === 'tftp-failed' ||
      event.kind === 'tftp-aborted' ||
      event.kind === 'file-missing' ||
      event.kind === 'nak' ||
      event.detail['reason'] === NO_IMAGE_REASON,
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

/**
 * The image whose files the boot was served, and the assignment behind it: the policy names them on
 * the chain script and on every file of a node that has an image, over TFTP and HTTP alike.
 */
function servedOf(events: TimelineEvent[]): Pick<Boot, 'image' | 'version' | 'reason' | 'assignment'> {
  for (let i = events.length - 1; i >= 0; i--) {
    const { source, detail } = events[i]!;
    if ((source !== 'http' && source !== 'tftp') || typeof detail['image'] !== 'string') continue;
    const version = detail['version'];
    const reason = detail['reason'];
    const assignment = detail['assignment'];
    return {
      image: detail['image'],
      version: typeof version === 'number' ? version : null,
      reason: reason === 'once' || reason === 'assigned' || reason === 'default' ? reason : null,
      assignment: typeof assignment === 'number' ? assignment : null,
    };
  }
  return { image: null, version: null, reason: null, assignment: null };
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
    ...servedOf(events),
    bytes: stages.reduce((sum, stage) => sum + stage.bytes, 0),
    events: events.length,
    console: consoleOf(all),
  };
}

/**
 * Stitches one node's events into boots, oldest first, at the boundaries of boundaries.ts (the
 * policy's too); a boot ends with its last event or the booted callback. Admin events
 * (assignments) are not part of any boot.
 */
export function stitchBoots(events: readonly (TimelineEvent & { id?: number })[], options: StitchOptions): Boot[] {
  const quietGapMs = options.quietGapMs ?? DEFAULT_QUIET_GAP_MS;
  const bootedWindowMs = options.bootedWindowMs ?? DEFAULT_BOOTED_WINDOW_MS;
  const ordered = events
    .filter((event) => event.source !== 'api')
    .sort((a, b) => a.at - b.at || (a.id ?? 0) - (b.id ?? 0));
  const groups: TimelineEvent[][] = [];
  let cursor: BootCursor | undefined;
  for (const event of ordered) {
    const step = stepOf(event);
    if (startsNewBoot(cursor, step, event.at, { quietGapMs, bootedWindowMs })) {
      cursor = newCursor(event.at);
      groups.push([]);
    }
    groups[groups.length - 1]!.push(event);
    advance(cursor!, step, event.at);
  }
  return groups.map((group) => toBoot(group, options, quietGapMs));
}

/** The newest boot of a node, or null when it has no boot events. */
export function latestBoot(events: readonly (TimelineEvent & { id?: number })[], options: StitchOptions): Boot | null {
  const boots = stitchBoots(events, options);
  return boots[boots.length - 1] ?? null;
}
