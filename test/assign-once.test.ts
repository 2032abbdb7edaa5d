// A one-shot (`node assign --once`) assignment end to end against the daemon: the next boot gets
// the one-shot image for every file it asks for; that boot fetching its initramfs uses it up, and
// once the boot's window has passed the node boots its standing image again. Every step is an event.
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { runCli, startDaemon, type RunningDaemon } from './helpers/daemon.js';
import { api, fakeImageFiles, getBytes, getText } from './helpers/fixtures.js';
import { run } from './helpers/images-fixtures.js';
import { eventsWhen, type EventJson } from './helpers/wait.js';
import { openInventory } from '../server/inventory/index.js';
import { ONCE_BOOT_WINDOW_MS, type Assignment } from '../server/inventory/assignments.js';

interface BootingClient {
  name: string;
  node: string;
  /** What the node is told to boot: the iPXE chain script, or a Pi's config.txt over TFTP. */
  answer(daemon: RunningDaemon): Promise<string>;
  /** Fetches the boot's kernel and initramfs as the client would; resolves with the initramfs. */
  boot(daemon: RunningDaemon, answer: string): Promise<Buffer>;
  /** The event in a line for the sequence check, or undefined for events it does not follow. */
  served(event: EventJson): string | undefined;
  /** served() of the boot's events, in order, for the steps of the test. */
  expected: string[];
}

const tftp = (daemon: RunningDaemon, file: string) => run('curl', ['-sS', '--max-time', '10', `tftp://127.0.0.1:${daemon.tftpPort}/${file}`]);

const clients: BootingClient[] = [
  {
    name: 'iPXE by MAC: /chain and HTTP',
    node: '52:54:00:0a:0a:01',
    answer: async (daemon) => (await getText(`${daemon.httpUrl}/chain?mac=52:54:00:0a:0a:01&uefi=`)).text,
    boot: async (_daemon, script) => {
      const url = (command: string) => new RegExp(`^${command} (\\S+)`, 'm').exec(script)![1]!;
      assert.equal((await getBytes(url('kernel'))).status, 200);
      return (await getBytes(url('initrd'))).data;
    },
    served: (event) =>
      event.kind === 'chain'
        ? `chain ${event.detail['image']} ${event.detail['reason']}`
        : event.kind === 'file'
          ? `file ${event.detail['file']} ${event.detail['image']}`
          : undefined,
    expected: ['chain rescue once', 'file vmlinuz rescue', 'file initrd.img rescue', 'chain rescue once', 'chain standing assigned'],
  },
  {
    name: 'Pi by serial: config.txt and files over TFTP',
    node: '0a0a0a02',
    answer: async (daemon) => (await tftp(daemon, '0a0a0a02/config.txt')).toString(),
    boot: async (daemon) => {
      await tftp(daemon, '0a0a0a02/Image');
      return tftp(daemon, '0a0a0a02/rootfs.cpio.gz');
    },
    served: (event) => (event.kind === 'tftp-complete' ? `tftp ${event.detail['file']}` : undefined),
    expected: ['config.txt', 'Image', 'rootfs.cpio.gz', 'config.txt', 'config.txt'].map((file) => `tftp 0a0a0a02/${file}`),
  },
];

describe('once-only assignment, end to end', { timeout: 60_000 }, () => {
  let daemon: RunningDaemon;
  const standing = fakeImageFiles(1000, 2000);
  const rescue = fakeImageFiles(1100, 2100);

  before(async () => {
    daemon = await startDaemon();
    for (const [name, files] of [['standing', standing], ['rescue', rescue]] as const) {
      assert.equal((await api(daemon, 'POST', '/images', { name, arch: 'any', kernel: files.kernel, initrd: files.initrd })).status, 201);
    }
  });
  after(async () => {
    assert.equal(await daemon.stop(), 0);
    for (const files of [standing, rescue]) rmSync(files.dir, { recursive: true, force: true });
  });

  const cli = async (...args: string[]) => {
    const result = await runCli(args, daemon.configFile);
    assert.equal(result.code, 0, result.stderr);
    return result.stdout;
  };
  const assignments = async (node: string) => (await api(daemon, 'GET', `/nodes/${node}/assignments`)).json as unknown as Assignment[];

  for (const client of clients) {
    it(`${client.name}: the one-shot image serves one whole boot, then the standing image is back`, async () => {
      const { node } = client;
      // Both through the CLI: its events are stored when it exits, so their order is the order of the commands.
      await cli('node', 'assign', node, 'standing');
      assert.match(await cli('node', 'assign', node, 'rescue', '--once'), /-> rescue \(next boot only\)/);

      const answer = await client.answer(daemon);
      assert.match(answer, /\brescue v1\b/);
      const initramfs = await client.boot(daemon, answer);
      assert.ok(initramfs.equals(rescue.initrdData), 'the boot got the one-shot image');

      // Fetching the initramfs used the one-shot up; the rest of that boot (retries) still gets it.
      const [once, standingEntry] = await assignments(node);
      assert.equal(once!.once, true);
      assert.notEqual(once!.consumedAt, null);
      assert.equal(standingEntry!.imageName, 'standing');
      assert.match(await client.answer(daemon), /\brescue v1\b/);

      // The boot's window passes: moved back in the database rather than waited for (10 minutes).
      const inventory = openInventory(daemon.dataDir);
      try {
        inventory.db.prepare('UPDATE assignments SET consumed_at = consumed_at - ? WHERE id = ?').run(ONCE_BOOT_WINDOW_MS, once!.id);
      } finally {
        inventory.close();
      }
      assert.match(await client.answer(daemon), /\bstanding v1\b/);
      const view = (await api(daemon, 'GET', `/nodes/${node}`)).json as Record<string, unknown>;
      assert.deepEqual(view['boots'], { image: 'standing', version: 1, reason: 'assigned' });

      const line = (event: EventJson) =>
        event.kind === 'assigned' || event.kind === 'assigned-once' ? `${event.kind} ${event.detail['image']}` : client.served(event);
      const expected = ['assigned standing', 'assigned-once rescue', ...client.expected];
      const events = await eventsWhen(daemon, node, (stored) => stored.map(line).filter(Boolean).length >= expected.length);
      assert.deepEqual(events.reverse().map(line).filter(Boolean), expected);
    });
  }
});
