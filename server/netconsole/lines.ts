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
 * or a few per packet), empty lines are dropped, long ones cut to `maxLineBytes`, and at most
 * `maxLines` are kept. Only the bytes kept are decoded: a 64 KiB datagram of one line costs one cut line.
 */
export function consoleLines(datagram: Buffer, maxLineBytes: number, maxLines: number): ConsoleLines {
  const lines: string[] = [];
  let truncated = 0;
  for (let start = 0; start < datagram.length && lines.length < maxLines; ) {
    const newline = datagram.indexOf(0x0a, start);
    const end = newline < 0 ? datagram.length : newline;
    const cut = end - start > maxLineBytes;
    const line = datagram.toString('latin1', start, cut ? start + maxLineBytes : end).replace(/\r$/, '').replace(UNPRINTABLE, '?').trimEnd();
    start = end + 1;
    if (!line.trim()) continue;
    if (cut) truncated++;
    lines.push(line);
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
