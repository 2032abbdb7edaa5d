import { ErrorCode } from '../tftp/codec.js';

/** The stable codes of a file the server will not serve, whatever asked for it. */
export type RefusalCode = 'RB_NOT_FOUND' | 'RB_PATH_TRAVERSAL' | 'RB_ACCESS_DENIED';

export interface Refusal {
  code: RefusalCode;
  /** RFC 1350 error code. */
  tftp: number;
  /** HTTP status. */
  http: number;
}

/**
 * One table for TFTP and HTTP, so a file refused over one protocol is refused the same way over
 * the other. A file the daemon cannot read (EACCES) is an access violation, not an internal error.
 */
const REFUSALS: Record<RefusalCode, Refusal> = {
  RB_NOT_FOUND: { code: 'RB_NOT_FOUND', tftp: ErrorCode.FILE_NOT_FOUND, http: 404 },
  RB_PATH_TRAVERSAL: { code: 'RB_PATH_TRAVERSAL', tftp: ErrorCode.ACCESS_VIOLATION, http: 403 },
  RB_ACCESS_DENIED: { code: 'RB_ACCESS_DENIED', tftp: ErrorCode.ACCESS_VIOLATION, http: 403 },
};

/** How to answer `error`, or undefined when it is not a refusal (an internal failure). */
export function refusalOf(error: unknown): Refusal | undefined {
  const code = (error as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' && Object.hasOwn(REFUSALS, code) ? REFUSALS[code as RefusalCode] : undefined;
}
