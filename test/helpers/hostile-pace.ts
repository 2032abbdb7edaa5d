/** Sends a bounded number of items at a bounded rate: every flood of the soak ends by count. */
const TICK_MS = 20;

/**
 * Calls `send(i)` for i = 0..count-1, about `perSecond` a second, in ticks paced by timers so
 * the sender's own event loop (and its sockets' replies) keeps running between bursts.
 */
export async function paced(count: number, perSecond: number, send: (index: number) => void): Promise<void> {
  const perTick = Math.max(1, Math.round((perSecond * TICK_MS) / 1000));
  const tickMs = Math.max(TICK_MS, Math.round((perTick * 1000) / perSecond));
  for (let sent = 0; sent < count; ) {
    for (let i = 0; i < perTick && sent < count; i++, sent++) send(sent);
    await new Promise((resolve) => setTimeout(resolve, tickMs));
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
