import { DEFAULT_BLKSIZE, MAX_BLKSIZE, MIN_BLKSIZE } from './codec.js';

/**
 * Option negotiation for a read request (RFC 2347 blksize/2348, timeout+tsize/2349, windowsize/7440).
 * Values we cannot honour are clamped where the RFC allows the server to answer lower, and options
 * that are malformed or unknown are left out of the OACK, which tells the client they were ignored.
 */

export interface NegotiationLimits {
  maxBlksize: number;
  maxWindowsize: number;
}

export interface Negotiated {
  blksize: number;
  windowsize: number;
  /** From the client's `timeout` option; undefined when it sent none. */
  retransmitMs?: number;
  /** Name/value pairs for the OACK, in the client's order; empty means answer with DATA directly. */
  oack: Array<[string, string]>;
}

/**
 * A window larger than this overflowed client receive buffers in measurements (see the library
 * verdicts note), so window x blksize is held near it.
 */
export const WINDOW_BYTES = 128 * 1024;

function integer(value: string, min: number, max: number): number | undefined {
  if (!/^\d{1,10}$/.test(value)) return undefined;
  const n = Number(value);
  return n >= min && n <= max ? n : undefined;
}

export function negotiate(options: ReadonlyMap<string, string>, size: number, limits: NegotiationLimits): Negotiated {
  const result: Negotiated = { blksize: DEFAULT_BLKSIZE, windowsize: 1, oack: [] };
  // blksize first: the window clamp depends on it whatever order the client used.
  const askedBlksize = options.get('blksize');
  const blksize = askedBlksize === undefined ? undefined : integer(askedBlksize, MIN_BLKSIZE, Number.MAX_SAFE_INTEGER);
  if (blksize !== undefined) result.blksize = Math.min(blksize, MAX_BLKSIZE, limits.maxBlksize);

  for (const [name, value] of options) {
    switch (name) {
      case 'blksize':
        if (blksize !== undefined) result.oack.push([name, String(result.blksize)]);
        break;
      case 'windowsize': {
        const asked = integer(value, 1, 65535);
        if (asked === undefined) break;
        result.windowsize = Math.min(asked, limits.maxWindowsize, Math.max(1, Math.floor(WINDOW_BYTES / result.blksize)));
        result.oack.push([name, String(result.windowsize)]);
        break;
      }
      case 'timeout': {
        const seconds = integer(value, 1, 255);
        if (seconds === undefined) break;
        result.retransmitMs = seconds * 1000;
        result.oack.push([name, String(seconds)]);
        break;
      }
      case 'tsize':
        // An empty file is left out: curl (7.88) aborts on "tsize 0" in an OACK, and RFC 2347 lets a
        // server omit any option; with nothing else acknowledged the transfer starts with DATA.
        if (size > 0 && integer(value, 0, Number.MAX_SAFE_INTEGER) !== undefined) result.oack.push([name, String(size)]);
        break;
      default:
        break; // unknown options are ignored (RFC 2347)
    }
  }
  return result;
}
