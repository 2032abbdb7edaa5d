import { Command } from 'commander';
import { cliActor, withAdmin } from './context.js';
import { isoTime, output, printJson, warningLines } from './output.js';
import { bootLines } from './timeline-text.js';
import { assignImage, describeAssignment, findNode, rollbackNode, saveNode } from '../admin/nodes.js';
import type { AdminContext } from '../admin/context.js';
import type { NodeRecord } from '../inventory/nodes.js';
import { nodeBoots } from '../timeline/node-boots.js';

function nodeRow(admin: AdminContext, node: NodeRecord) {
  const assignment = admin.inventory.assignments.current(node.id);
  return {
    mac: node.mac,
    serial: node.serial,
    model: node.model,
    arch: node.arch,
    firmware: node.firmware,
    hostname: node.hostname,
    image: assignment?.imageName ?? null,
    version: assignment?.imageVersion ?? null,
    once: assignment?.once ?? false,
    lastSeen: isoTime(node.lastSeen),
  };
}

function parseLabels(pairs: string[]): Record<string, string> {
  return Object.fromEntries(
    pairs.map((pair) => {
      const at = pair.indexOf('=');
      if (at < 1) throw new Error(`--labels: "${pair}" is not key=value`);
      return [pair.slice(0, at), pair.slice(at + 1)];
    }),
  );
}

export function registerNodeCommands(program: Command): Command {
  const node = program.command('node').description('nodes: what the rack has and what each boots');

  node
    .command('ls')
    .description('list nodes with their assigned image')
    .option('--json', 'print JSON')
    .action(async (options, command: Command) => {
      const rows = await withAdmin(command, (admin) => admin.inventory.nodes.list().map((entry) => nodeRow(admin, entry)), { create: false });
      output(options.json, rows, ['mac', 'serial', 'model', 'arch', 'hostname', 'image', 'version', 'once', 'lastSeen']);
    });

  node
    .command('show')
    .description("one node, its last boot's timeline, assignment history and recent events")
    .argument('<node>', 'MAC or Pi serial')
    .option('--json', 'print JSON')
    .action(async (key: string, options, command: Command) => {
      const view = await withAdmin(command, (admin) => {
        const found = findNode(admin, key);
        return {
          ...found,
          lastBoot: nodeBoots(admin.inventory, found.id).pop() ?? null,
          assignments: admin.inventory.assignments.history(found.id),
          events: admin.inventory.events.forNode(found.id, 50),
        };
      }, { create: false });
      if (options.json) return printJson(view);
      const { assignments, events, lastBoot, ...fields } = view;
      for (const [name, value] of Object.entries(fields)) console.log(`${name.padEnd(11)} ${JSON.stringify(value)}`);
      console.log(`\nlast boot: ${lastBoot ? '' : '(none recorded)'}`);
      if (lastBoot) for (const text of bootLines(lastBoot)) console.log(`  ${text}`);
      console.log('\nassignments (newest first):');
      for (const a of assignments) console.log(`  ${isoTime(a.createdAt)}  ${a.imageName ?? '(none)'}${a.imageVersion ? ` v${a.imageVersion}` : ''}${a.once ? ' once' : ''}  by ${a.createdBy}`);
      console.log('\nrecent events (newest first):');
      for (const e of events) console.log(`  ${isoTime(e.at)}  ${e.source.padEnd(4)} ${e.kind.padEnd(14)} ${JSON.stringify(e.detail)}`);
    });

  node
    .command('set')
    .description('create or update a node')
    .argument('<node>', 'MAC or Pi serial')
    .option('--hostname <name>')
    .option('--labels <key=value...>')
    .option('--ssh-key <key...>', 'authorized SSH public keys (replaces the list)')
    .option('--reserve <ip>', 'DHCP reservation')
    .option('--json', 'print JSON')
    .action(async (key: string, options, command: Command) => {
      const saved = await withAdmin(command, (admin) =>
        saveNode(admin, key, {
          ...(options.hostname !== undefined && { hostname: options.hostname }),
          ...(options.labels && { labels: parseLabels(options.labels) }),
          ...(options.sshKey && { sshKeys: options.sshKey }),
          ...(options.reserve && { reservedIp: options.reserve }),
        }),
      );
      if (options.json) printJson(saved);
      else console.log(`saved node ${saved.mac ?? saved.serial}`);
    });

  node
    .command('assign')
    .description('assign an image to a node (by MAC or Pi serial); "none" unassigns')
    .argument('<node>', 'MAC or Pi serial')
    .argument('<image>', 'image name, or none')
    .option('--version <n>', 'pin this version instead of following the newest', (text) => Number.parseInt(text, 10))
    .option('--once', 'for the next boot only; then the node returns to its standing image')
    .option('--json', 'print JSON')
    .action(async (key: string, image: string, options, command: Command) => {
      const result = await withAdmin(command, (admin) =>
        assignImage(
          admin,
          key,
          { image: image === 'none' ? null : image, ...(options.version && { version: options.version }), once: Boolean(options.once) },
          cliActor(),
        ),
        { create: false }, // an empty inventory has no image to assign
      );
      if (options.json) return printJson(result);
      console.log(`${key} -> ${image}${options.version ? ` v${options.version}` : ''}${options.once ? ' (next boot only)' : ''}`);
      for (const warning of result.warnings) console.error(warningLines(warning).join('\n'));
    });

  node
    .command('rollback')
    .description('step the standing assignment back one place in its history (again: further back)')
    .argument('<node>', 'MAC or Pi serial')
    .option('--json', 'print JSON')
    .action(async (key: string, options, command: Command) => {
      const result = await withAdmin(command, (admin) => rollbackNode(admin, key, cliActor()), { create: false });
      if (options.json) return printJson(result);
      console.log(`${key} -> ${result.assignment.imageName ?? '(none)'}${result.assignment.imageVersion ? ` v${result.assignment.imageVersion}` : ''}`);
      console.log(`restored: ${describeAssignment(result.restored)}`);
    });
  return node;
}
