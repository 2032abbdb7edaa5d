// Bounded waits for things the daemon does a moment later: batched event writes, log lines, exits.
import type { RunningDaemon } from './daemon.js';
import { api } from './fixtures.js';

/** Polls `probe` until it returns something other than undefined; rejects after `timeoutMs`, naming `what`. */
export async function until<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() >= deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** `promise`, or a rejection naming `what` when it has not settled within `timeoutMs`. */
export async function within<T>(promise: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** A boot event as `/api/v1/nodes/:node/events` returns it. */
export interface EventJson {
  source: string;
  kind: string;
  at: number;
  detail: Record<string, unknown>;
}

/**
 * The node's stored events, newest first, once `done` is satisfied with them: the recorder writes
 * in batches, so an event is in the database a moment after the request that caused it.
 */
export function eventsWhen(daemon: RunningDaemon, node: string, done: (events: EventJson[]) => boolean): Promise<EventJson[]> {
  return until(`events of ${node}`, async () => {
    const events = (await api(daemon, 'GET', `/nodes/${node}/events`)).json as unknown as EventJson[];
    return done(events) ? events : undefined;
  });
}

/** The daemon's pino log records so far whose message matches; the line being written is skipped. */
export function logRecords(daemon: RunningDaemon, msg: RegExp): Record<string, unknown>[] {
  const records: Record<string, unknown>[] = [];
  for (const line of daemon.output().split('\n').slice(0, -1)) {
    if (!line.startsWith('{')) continue;
    const record = JSON.parse(line) as Record<string, unknown>;
    if (msg.test(String(record['msg']))) records.push(record);
  }
  return records;
}
