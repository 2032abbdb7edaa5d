// A one-shot (`node assign --once`) assignment end to end against the daemon: the next boot gets
// the one-shot image for every file it asks for, late ones too; that boot fetching its initramfs
// uses it up, and the node's next boot, seconds later, gets its standing image. Every step is an
// event, and the timeline shows each boot with the image and assignment it was served from.
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { runCli, startDaemon, type RunningDaemon } from './helpers/daemon.js';
import { api, fakeImageFiles, getBytes, getText } from './helpers/fixtures.js';
import { run } from './helpers/images-fixtures.js';
import { eventsWhen, type EventJson } from './helpers/wait.js';
import type { Assignment } from '../server/inventory/assignments.js';
import type { Boot } from '../server/timeline/types.js';

interface BootingClient {
  name: string;
  node: string;
  /** What the node is told to boot: the iPXE chain script, or a Pi's config.txt over TFTP. */
  answer(daemon: RunningDaemon): Promise<string>;
  /** Fetches the boot's kernel and initramfs as the client would; resolves with the initramfs. */
  boot(daemon: RunningDaemon, answer: string): Promise<Buffer>;
  /** A late file of the boot that got `answer`: its initramfs asked for again (a retry). */
  late(daemon: RunningDaemon, answer: string): Promise<Buffer>;
  /** The event in a line for the sequence check, or undefined for events it does not follow. */
  served(event: EventJson): string | undefined;
  /** served() of the boot's events, in order, for the steps of the test. */
  expected: string[];
}

const scriptUrl = (script: string, command: string) => new RegExp(`^${command} (\\S+)`, 'm').exec(script)![1]!;
const tftp = (daemon: RunningDaemon, file: string) => run('curl', ['-sS', '--max-time', '10', `tftp://127.0.0.1:${daemon.tftpPort}/${file}`]);

const clients: BootingClient[] = [
  {
    name: 'iPXE by MAC: /chain and HTTP',
    node: '52:54:00:0a:0a:01',
    answer: async (daemon) => (await getText(`${daemon.httpUrl}/chain?mac=52:54:00:0a:0a:01&uefi=`)).text,
    boot: async (_daemon, script) => {
      assert.equal((await getBytes(scriptUrl(script, 'kernel'))).status, 200);
      return (await getBytes(scriptUrl(script, 'initrd'))).data;
    },
    late: async (_daemon, script) => (await getBytes(scriptUrl(script, 'initrd'))).data,
    served: (event) =>
      event.kind === 'chain'
        ? `chain ${event.detail['image']} ${event.detail['reason']}`
        : event.kind === 'file'
          ? `file ${event.detail['file']} ${event.detail['image']}`
          : undefined,
    expected: [
      'chain rescue once',
      'file vmlinuz rescue',
      'file initrd.img rescue',
      'file initrd.img rescue',
      'chain standing assigned',
      'file vmlinuz standing',
      'file initrd.img standing',
    ],
  },
  {
    name: 'Pi by serial: config.txt and files over TFTP',
    node: '0a0a0a02',
    answer: async (daemon) => (await tftp(daemon, '0a0a0a02/config.txt')).toString(),
    boot: async (daemon) => {
      await tftp(daemon, '0a0a0a02/Image');
      return tftp(daemon, '0a0a0a02/rootfs.cpio.gz');
    },
    late: (daemon) => tftp(daemon, '0a0a0a02/rootfs.cpio.gz'),
    served: (event) => (event.kind === 'tftp-complete' ? `tftp ${event.detail['file']} ${event.detail['image']}` : undefined),
    expected: [
      'config.txt rescue',
      'Image rescue',
      'rootfs.cpio.gz rescue',
      'rootfs.cpio.gz rescue',
      'config.txt standing',
      'Image standing',
      'rootfs.cpio.gz standing',
    ].map((file) => `tftp 0a0a0a02/${file}`),
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
    it(`${client.name}: the one-shot image serves exactly the next boot, late files included; the boot after gets the standing image`, async () => {
      const { node } = client;
      // Both through the CLI: its events are stored when it exits, so their order is the order of the commands.
      await cli('node', 'assign', node, 'standing');
      assert.match(await cli('node', 'assign', node, 'rescue', '--once'), /-> rescue \(next boot only\)/);

      const answer = await client.answer(daemon);
      assert.match(answer, /\brescue v1\b/);
      const initramfs = await client.boot(daemon, answer);
      assert.ok(initramfs.equals(rescue.initrdData), 'the boot got the one-shot image');

      // Fetching the initramfs used the one-shot up; a late file of that boot (a retry) still comes from it.
      const [once, standingEntry] = await assignments(node);
      assert.equal(once!.once, true);
      assert.notEqual(once!.consumedAt, null);
      assert.equal(standingEntry!.imageName, 'standing');
      assert.ok((await client.late(daemon, answer)).equals(rescue.initrdData), 'the late file came from the one-shot image');
      const view = (await api(daemon, 'GET', `/nodes/${node}`)).json as Record<string, unknown>;
      assert.deepEqual(view['boots'], { image: 'standing', version: 1, reason: 'assigned' }, 'what the next boot gets');

      // The node boots again at once, well within the old 10-minute window: its standing image.
      const second = await client.answer(daemon);
      assert.match(second, /\bstanding v1\b/);
      assert.ok((await client.boot(daemon, second)).equals(standing.initrdData), 'the next boot got the standing image');

      const line = (event: EventJson) =>
        event.kind === 'assigned' || event.kind === 'assigned-once' ? `${event.kind} ${event.detail['image']}` : client.served(event);
      const expected = ['assigned standing', 'assigned-once rescue', ...client.expected];
      const events = await eventsWhen(daemon, node, (stored) => stored.map(line).filter(Boolean).length >= expected.length);
      assert.deepEqual(events.reverse().map(line).filter(Boolean), expected);

      // Two boots on the timeline, each with the image and the assignment its files came from.
      const boots = (await getText(`${daemon.httpUrl}/timeline/${node}`)).text;
      const served = (JSON.parse(boots) as Boot[]).map((boot) => [boot.image, boot.version, boot.reason, boot.assignment]);
      assert.deepEqual(served, [
        ['rescue', 1, 'once', once!.id],
        ['standing', 1, 'assigned', standingEntry!.id],
      ]);
      assert.match(await cli('node', 'show', node), /image standing v1 \(assigned\)/);
    });
  }
});
