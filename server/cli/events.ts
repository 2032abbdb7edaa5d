import type { Command } from 'commander';
import { withAdmin } from './context.js';
import { isoTime, output } from './output.js';
import { findNode } from '../admin/nodes.js';

export function registerEventCommands(program: Command): void {
  program
    .command('events')
    .description("a node's boot events, newest first")
    .argument('<node>', 'MAC or Pi serial')
    .option('--limit <n>', 'how many', (text) => Number.parseInt(text, 10), 50)
    .option('--json', 'print JSON')
    .action(async (key: string, options, command: Command) => {
      const events = await withAdmin(command, (admin) => admin.inventory.events.forNode(findNode(admin, key).id, options.limit));
      if (options.json) return output(true, events as unknown as Record<string, unknown>[], []);
      output(
        false,
        events.map((event) => ({ at: isoTime(event.at), source: event.source, kind: event.kind, detail: JSON.stringify(event.detail) })),
        ['at', 'source', 'kind', 'detail'],
      );
    });
}
