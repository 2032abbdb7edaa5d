import type { Command } from 'commander';
import { commandConfig, withAdmin } from './context.js';
import { daemonUrl } from './daemon-url.js';
import { followEvents } from './follow.js';
import { isoTime, output } from './output.js';
import { findNode } from '../admin/nodes.js';

export function registerEventCommands(program: Command): void {
  program
    .command('events')
    .description("a node's boot events, newest first; --follow prints every node's (or one node's) events live from the daemon")
    .argument('[node]', 'MAC or Pi serial (required without --follow)')
    .option('--limit <n>', 'how many', (text) => Number.parseInt(text, 10), 50)
    .option('--json', 'print JSON (with --follow: one JSON object per line)')
    .option('-f, --follow', 'stream events live from the running daemon (its /live endpoint)')
    .option('--url <url>', 'daemon URL for --follow (default: from the config http section)')
    .option('--count <n>', 'with --follow: stop after this many events', (text) => Number.parseInt(text, 10))
    .action(async (key: string | undefined, options, command: Command) => {
      if (options.follow) {
        return followEvents({ url: daemonUrl(commandConfig(command), options.url), node: key, json: options.json, count: options.count });
      }
      if (!key) command.error('error: missing required argument \'node\' (or pass --follow)');
      const events = await withAdmin(command, (admin) => admin.inventory.events.forNode(findNode(admin, key).id, options.limit), {
        create: false,
      });
      if (options.json) return output(true, events as unknown as Record<string, unknown>[], []);
      output(
        false,
        events.map((event) => ({ at: isoTime(event.at), source: event.source, kind: event.kind, detail: JSON.stringify(event.detail) })),
        ['at', 'source', 'kind', 'detail'],
      );
    });
}
