import { isoTime } from './output.js';
import type { RecordedEvent } from '../events/recorder.js';

export interface FollowOptions {
  url: string;
  node?: string;
  json?: boolean;
  /** Stop after this many events (scripts, tests); default: until interrupted. */
  count?: number;
}

function line(event: RecordedEvent): string {
  const { mac, serial, address, ...rest } = event.detail as Record<string, unknown>;
  const who = String(mac ?? serial ?? address ?? '-');
  return `${isoTime(event.at)}  ${who.padEnd(17)}  ${event.source.padEnd(4)}  ${event.kind.padEnd(14)}  ${JSON.stringify(rest)}`;
}

/**
 * Prints boot events as the daemon records them, from its /live Server-Sent Events stream:
 * one line per event for people, one JSON object per line (NDJSON) with --json.
 */
export async function followEvents(options: FollowOptions): Promise<void> {
  const url = new URL('/live', options.url);
  if (options.node) url.searchParams.set('node', options.node);
  const abort = new AbortController();
  const stop = () => abort.abort();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  let seen = 0;
  try {
    const { request } = await import('undici');
    const response = await request(url, { signal: abort.signal, headersTimeout: 10_000, bodyTimeout: 0 }).catch((error: Error) => {
      throw Object.assign(new Error(`cannot reach the daemon at ${options.url}: ${error.message} (is \`rackboot serve\` running? --url sets the address)`), {
        code: 'RB_DAEMON_UNREACHABLE',
      });
    });
    if (response.statusCode !== 200) {
      throw Object.assign(new Error(`${url}: HTTP ${response.statusCode} ${await response.body.text()}`), { code: 'RB_DAEMON_UNREACHABLE' });
    }
    console.error(`following boot events from ${options.url}${options.node ? ` for ${options.node}` : ''} (Ctrl-C stops)`);
    let pending = '';
    for await (const chunk of response.body) {
      pending += chunk.toString();
      const messages = pending.split('\n\n');
      pending = messages.pop()!;
      for (const message of messages) {
        const data = message.split('\n').filter((text) => text.startsWith('data: ')).map((text) => text.slice(6)).join('\n');
        if (!data) continue;
        const event = JSON.parse(data) as RecordedEvent;
        console.log(options.json ? JSON.stringify(event) : line(event));
        if (options.count !== undefined && ++seen >= options.count) return abort.abort();
      }
    }
    if (!abort.signal.aborted) throw Object.assign(new Error('the daemon closed the event stream (stopped or restarted?)'), { code: 'RB_DAEMON_GONE' });
  } catch (error) {
    if (!abort.signal.aborted) throw error;
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  }
}
