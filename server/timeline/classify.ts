import { FIRMWARE_SOURCE, isExpectedMiss, isRequiredFile, PI_FAMILIES, piFamilyOf, piModelByFile, REQUIRED_WHY, type PiFamily } from '../boot/pi-models.js';
import { splitPrefix } from '../boot/tftp-files.js';
import { NO_IMAGE_REASON } from '../events/types.js';
import type { BootFailure, TimelineEvent } from './types.js';

/** The Pi bootloader's per-file TFTP timeout (TFTP_FILE_TIMEOUT) is 30 s; allow for timer slack. */
const PI_FILE_TIMEOUT_MS = { min: 27_000, max: 34_000 };

const TFTP_NOT_FOUND = 1;

const text = (value: unknown): string => (typeof value === 'string' ? value : '');
const num = (value: unknown): number => (typeof value === 'number' && Number.isFinite(value) ? value : 0);
const seconds = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;

function outcomeOf(event: TimelineEvent): string {
  return event.source === 'tftp' ? text(event.detail['outcome']) || event.kind.replace(/^tftp-/, '') : '';
}

function piFileTimeout(events: TimelineEvent[]): BootFailure | null {
  const hit = events.find((event) => {
    const outcome = outcomeOf(event);
    const duration = num(event.detail['durationMs']);
    return (outcome === 'aborted' || outcome === 'failed') && duration >= PI_FILE_TIMEOUT_MS.min && duration <= PI_FILE_TIMEOUT_MS.max;
  });
  if (!hit) return null;
  const file = text(hit.detail['file']);
  const size = num(hit.detail['size']);
  return {
    code: 'RB_BOOT_PI_FILE_TIMEOUT',
    message: `the transfer of ${file} ended after ${seconds(num(hit.detail['durationMs']))} with ${num(hit.detail['bytes'])}${size ? ` of ${size}` : ''} bytes: the Pi bootloader's 30 s per-file TFTP timeout`,
    whatToDo:
      'shrink the file (rackboot doctor checks images against the Pi limits), raise TFTP_FILE_TIMEOUT in the bootloader EEPROM config, or look for packet loss between the Pi and this server',
  };
}

/** A TFTP path without the node's serial or MAC prefix: what the firmware asked for. */
const underPrefix = (file: string): string => splitPrefix(file).rest;

function isNotFound(event: TimelineEvent): boolean {
  return event.source === 'tftp' && outcomeOf(event) === 'refused' && num(event.detail['errorCode']) === TFTP_NOT_FOUND;
}

/** The Pi family of a boot: the model DHCP option 97 gave, else the device tree the firmware asked for. */
function bootFamily(events: TimelineEvent[]): { family: PiFamily; model?: string } | undefined {
  for (const event of events) {
    const model = text(event.detail['model']);
    const family = event.source === 'dhcp' ? piFamilyOf(model) : undefined;
    if (family) return { family, model };
  }
  for (const event of events) {
    const model = event.source === 'tftp' ? piModelByFile(underPrefix(text(event.detail['file']))) : undefined;
    if (model) return { family: piFamilyOf(model)!, model };
  }
  // A Pi 5 with an EEPROM older than 2023-10 sends no "RPi5" in option 97: its BCM2712 files tell.
  const pi5 = PI_FAMILIES.pi5;
  const asksPi5File = (event: TimelineEvent) => {
    const file = underPrefix(text(event.detail['file']));
    return event.source === 'tftp' && (file.startsWith(`${pi5.soc}-`) || file === pi5.defaultKernel);
  };
  if (events.some(asksPi5File)) return { family: 'pi5' };
  return undefined;
}

/**
 * A file the board cannot boot without (its device tree, the Pi 5's config.txt and D0 overlay) that
 * was not found. The firmware does not ask again: it goes on and the kernel dies, so the miss is
 * definite once the node asked for anything after it.
 */
function requiredMiss(events: TimelineEvent[], quiet: boolean): BootFailure | null {
  const pi = bootFamily(events);
  if (!pi) return null;
  const completed = new Set(events.filter((event) => outcomeOf(event) === 'complete').map((event) => underPrefix(text(event.detail['file']))));
  const index = events.findIndex((event) => {
    const file = underPrefix(text(event.detail['file']));
    return isNotFound(event) && isRequiredFile(pi.family, file) && !completed.has(file);
  });
  if (index < 0) return null;
  const file = underPrefix(text(events[index]!.detail['file']));
  const wentOn = events.slice(index + 1).some((event) => event.source === 'tftp' && underPrefix(text(event.detail['file'])) !== file);
  if (!wentOn && !quiet) return null;
  const board = pi.model ?? pi.family;
  const why = REQUIRED_WHY[file] ?? REQUIRED_WHY['dtb']!;
  return {
    code: 'RB_BOOT_PI_REQUIRED_MISSING',
    message: `the ${board} asked for ${file} and did not get it: ${why}`,
    whatToDo:
      file === 'config.txt'
        ? 'assign the node an image (rackboot node assign NODE IMAGE) or set defaultImage'
        : `put ${file} from ${FIRMWARE_SOURCE} into <assetsDir>/firmware/, or give the image its firmware (image add --firmware); \`rackboot doctor\` lists what each model needs`,
  };
}

/** Files the node asked for repeatedly and never received, other than the usual optional ones. */
function missingFiles(events: TimelineEvent[]): string[] {
  const family = bootFamily(events)?.family;
  const completed = new Set<string>();
  const misses = new Map<string, number>();
  let attempts = 0;
  for (const event of events) {
    const file = text(event.detail['file']);
    if (event.source === 'http' && event.kind === 'file-missing') misses.set(file, (misses.get(file) ?? 0) + 2);
    if (event.source !== 'tftp' || !file) continue;
    const outcome = outcomeOf(event);
    if (isNotFound(event)) {
      misses.set(file, (misses.get(file) ?? 0) + 1);
    } else if (outcome === 'probe') {
      misses.set(file, misses.get(file) ?? 0);
    } else {
      attempts++;
      if (outcome === 'complete') completed.add(file);
    }
  }
  // Probes and refusals alone, over and over, not one transfer: the node never found what it came for.
  const probesOnly = attempts === 0 && misses.size > 0 && events.filter((event) => event.source === 'tftp').length >= 2;
  const wanted = [...misses].filter(([file]) => !completed.has(file) && !isExpectedMiss(family, underPrefix(file)));
  return wanted.filter(([, count]) => probesOnly || count >= 2).map(([file]) => file);
}

function failedTransfer(events: TimelineEvent[]): BootFailure | null {
  const completed = new Set(events.filter((event) => outcomeOf(event) === 'complete').map((event) => text(event.detail['file'])));
  const failed = events.find((event) => outcomeOf(event) === 'failed' && !completed.has(text(event.detail['file'])));
  if (!failed) return null;
  return {
    code: 'RB_BOOT_TRANSFER_FAILED',
    message: `the TFTP transfer of ${text(failed.detail['file'])} failed: ${text(failed.detail['error']) || 'no reason given'}`,
    whatToDo: 'the daemon log has the transfer; retransmits point to packet loss, a refusal to a file or option the server could not serve',
  };
}

function dhcpOnly(events: TimelineEvent[]): BootFailure | null {
  if (!events.length || events.some((event) => event.source !== 'dhcp')) return null;
  const answers = events.filter((event) => event.kind === 'offer' || event.kind === 'ack').length;
  if (answers) {
    return {
      code: 'RB_BOOT_NO_FOLLOW_UP',
      message: `DHCP answered ${answers} time(s) but the node asked for no file afterwards`,
      whatToDo:
        "a Pi ignores offers without the PXE option 43 it expects, so another DHCP server's plain offer may have won (run proxy mode beside it, or stop it); check that UDP 69 and HTTP from the node reach serverAddress",
    };
  }
  if (events.some((event) => event.kind === 'exhausted')) {
    return {
      code: 'RB_BOOT_POOL_EXHAUSTED',
      message: 'the DHCP pool had no free address for this node',
      whatToDo: 'widen dhcp.pool, shorten dhcp.leaseSeconds, or use proxy mode beside the network\'s own DHCP server',
    };
  }
  return {
    code: 'RB_BOOT_NO_OFFER',
    message: 'the node sent DHCP requests and rackboot did not answer them',
    whatToDo:
      "at log level debug the daemon logs why each packet was dropped ('dhcp packet dropped'); a relayed subnet must be listed in dhcp.relaySubnets, and in proxy mode only PXE and Pi clients are answered",
  };
}

function waitingForImage(events: TimelineEvent[]): BootFailure | null {
  const lastChain = [...events].reverse().find((event) => event.source === 'http' && event.kind.startsWith('chain'));
  if (lastChain?.kind !== 'chain-wait') return null;
  const mac = text(lastChain.detail['mac']) || 'MAC';
  return {
    code: 'RB_BOOT_NO_IMAGE',
    message: 'no image is assigned and no defaultImage is configured: iPXE waits and retries',
    whatToDo: `rackboot node assign ${mac} IMAGE (or assign it on the page), or set defaultImage in the config`,
  };
}

/** A Pi asked for its own files (config.txt, kernel) over TFTP while the node had no image, and never got them since. */
function piWithoutImage(events: TimelineEvent[]): BootFailure | null {
  const refusals = events.filter((event) => outcomeOf(event) === 'refused' && event.detail['reason'] === NO_IMAGE_REASON);
  const last = refusals.at(-1);
  if (!last) return null;
  const file = text(last.detail['file']);
  if (events.some((event) => event.at > last.at && outcomeOf(event) === 'complete' && text(event.detail['file']) === file)) return null;
  const node = text(last.detail['mac']) || text(last.detail['serial']) || 'NODE';
  return {
    code: 'RB_BOOT_PI_NO_IMAGE',
    message: `the Pi asked for ${[...new Set(refusals.map((event) => underPrefix(text(event.detail['file']))))].join(', ')} and the node has no image assigned (and no defaultImage applies)`,
    whatToDo: `rackboot node assign ${node} IMAGE (or assign it on the page), or set defaultImage in the config; the Pi retries by itself`,
  };
}

/**
 * The known failure patterns of a boot that did not reach the booted callback. Some are definite as
 * soon as they happen (the Pi timeout, waiting for an image); the rest only once the boot went quiet.
 */
export function classifyBoot(events: TimelineEvent[], quiet: boolean): BootFailure | null {
  const definite = piFileTimeout(events) ?? waitingForImage(events) ?? piWithoutImage(events) ?? requiredMiss(events, quiet);
  if (definite || !quiet) return definite;
  const missing = missingFiles(events);
  if (missing.length) {
    return {
      code: 'RB_BOOT_MISSING_FILES',
      message: `the node asked for ${missing.join(', ')} again and again and never got ${missing.length > 1 ? 'them' : 'it'}`,
      whatToDo:
        'put the Pi firmware (start4.elf, fixup4.dat, the bcm27*.dtb of the model; bootcode.bin and start.elf for a Pi 3) in <assetsDir>/firmware, or give the image these files; `rackboot doctor` lists what is missing',
    };
  }
  return failedTransfer(events) ?? dhcpOnly(events);
}
