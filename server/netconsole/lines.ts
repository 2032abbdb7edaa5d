/** The bootloader's NETCONSOLE datagrams as text lines. Pure: bytes in, lines out. */
import type { EepromBuild } from '../eeprom/image.js';

export interface ConsoleLines {
  lines: string[];
  /** Lines cut to the length bound. */
  truncated: number;
}

/** Everything but printable ASCII and tabs becomes '?': lines end up in HTML, terminals and JSON. */
const UNPRINTABLE = /[^\t\x20-\x7e]/g;

/**
 * The lines of one datagram: each datagram is taken as whole lines (the bootloader sends a line
 * or a few per packet), empty lines are dropped, long ones cut to `maxLineBytes`, and no more than
 * `maxLines` are decoded, so a 64 KiB datagram costs no more than the lines that will be kept.
 */
export function consoleLines(datagram: Buffer, maxLineBytes: number, maxLines: number): ConsoleLines {
  const text = datagram.toString('latin1', 0, Math.min(datagram.length, (maxLineBytes + 2) * maxLines));
  const lines: string[] = [];
  let truncated = 0;
  for (const raw of text.split(/\r?\n|\r/)) {
    if (lines.length >= maxLines) break;
    const line = raw.replace(UNPRINTABLE, '?').trimEnd();
    if (!line.trim()) continue;
    if (line.length > maxLineBytes) truncated++;
    lines.push(line.length > maxLineBytes ? line.slice(0, maxLineBytes) : line);
  }
  return { lines, truncated };
}

/**
 * The bootloader build a console line names: its banner carries `VERSION:<git hash>` and the boot
 * mode line `BUILD_TIMESTAMP=<unix seconds>`, the same strings the EEPROM image holds.
 */
export function reportedBuild(line: string): Partial<EepromBuild> | undefined {
  const version = /\bVERSION:([0-9a-f]{7,40})\b/.exec(line)?.[1];
  const ts = /\bBUILD_TIMESTAMP=(\d{1,12})\b/.exec(line)?.[1];
  if (!version && !ts) return undefined;
  return { ...(version && { version }), ...(ts && { buildTs: Number(ts) }) };
}
