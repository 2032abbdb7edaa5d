import pino, { type Logger } from 'pino';

/** JSON logs for journald and tools; pretty lines when a person watches a terminal. */
export function createLogger(level: string): Logger {
  if (process.stdout.isTTY) {
    return pino({ level, transport: { target: 'pino-pretty', options: { translateTime: 'SYS:HH:MM:ss.l' } } });
  }
  return pino({ level });
}

/**
 * Counts occurrences of one kind of log line and says which to write: the first, then every
 * `every`-th, so traffic anyone on the LAN can send never floods the log (or journald's disk).
 */
export class SampledLine {
  private seen = 0;

  constructor(private readonly every: number) {}

  /** The occurrences so far, when this one is to be written; undefined when it is skipped. */
  next(): number | undefined {
    return this.seen++ % this.every === 0 ? this.seen : undefined;
  }
}
