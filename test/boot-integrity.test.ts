// Nothing a request or the admin API carries reaches a boot script or a lookup table unchecked:
// query values are allowlisted or escaped, image templates are checked when registered, prototype
// names are no files, and only the booting node itself uses up its one-shot assignment.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { rmSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { Agent } from 'undici';
import { runCli, startDaemon, type RunningDaemon } from './helpers/daemon.js';
import { api, fakeImageFiles, getBytes, getText } from './helpers/fixtures.js';
import { eventsWhen, type EventJson } from './helpers/wait.js';
import type { Assignment } from '../server/inventory/assignments.js';
import { openInventory } from '../server/inventory/index.js';

const ASSIGNED = '52:54:00:0b:0b:01';
const UNASSIGNED = '52:54:00:0b:0b:02';
const ONCE = '52:54:00:0b:0b:03';
const PI = '0b0b0b04';
const LEGACY = '52:54:00:0b:0b:05';
const PI_ONCE = '0b0b0b06';

/** curl's exit code for a TFTP transfer from `from`: 0 when it got the file, 68 for TFTP error 1 (file not found). */
async function tftpExit(daemon: RunningDaemon, file: string, from = '127.0.0.1'): Promise<number | null> {
  const url = `tftp://127.0.0.1:${daemon.tftpPort}/${file}`;
  const child = spawn('curl', ['-sS', '-o', '/dev/null', '--max-time', '10', '--interface', from, url], { stdio: 'ignore' });
  const [code] = (await once(child, 'close')) as [number | null];
  return code;
}

describe('boot integrity: request values, image templates, prototype names, one-shots', { timeout: 60_000 }, () => {
  let daemon: RunningDaemon;
  const files = fakeImageFiles(1000, 2000);
  const rescue = fakeImageFiles(1100, 2100);
  // A third party on the boot LAN: another loopback address than the one the node's requests come from.
  const stranger = new Agent({ localAddress: '127.0.0.2' });

  before(async () => {
    daemon = await startDaemon();
    for (const [name, image] of [['debian', files], ['rescue', rescue]] as const) {
      assert.equal((await api(daemon, 'POST', '/images', { name, arch: 'any', kernel: image.kernel, initrd: image.initrd })).status, 201);
    }
    for (const node of [ASSIGNED, ONCE, PI]) assert.equal((await api(daemon, 'PUT', `/nodes/${node}/assignment`, { image: 'debian' })).status, 200);
  });
  after(async () => {
    await stranger.close();
    assert.equal(await daemon.stop(), 0);
    for (const image of [files, rescue]) rmSync(image.dir, { recursive: true, force: true });
  });

  it('a newline in arch or mac adds no line to the script', async () => {
    for (const query of [`mac=${UNASSIGNED}&arch=x86_64%0Ashell`, `mac=${ASSIGNED}&arch=x86_64%0Ashell`, 'mac=zz%0Ashell%20%24%7Bx%7D&arch=x86_64']) {
      const { status, text } = await getText(`${daemon.httpUrl}/chain?${query}&uefi=`);
      assert.doesNotMatch(text, /^shell/m, query);
      assert.doesNotMatch(text, /\$\{/, `${query}: nothing for iPXE to expand`);
      assert.ok(status === 400 || status === 404, `${query}: ${status}`);
      assert.match(text, /^#!ipxe\necho rackboot: [^\n]*\nexit 1\n$/, query);
    }
    const { text } = await getText(`${daemon.httpUrl}/chain?mac=zz%0Ashell&arch=x86_64&uefi=`);
    assert.match(text, /mac "zz\?shell" is not a MAC address/, 'the operator still sees what was sent');
  });

  it('the API and the CLI refuse a cmdline with a control character or an unknown variable, naming the field', async () => {
    const image = (extra: Record<string, string>) => ({ name: 'templated', arch: 'any', kernel: files.kernel, ...extra });
    const newline = await api(daemon, 'POST', '/images', image({ cmdline: 'quiet\nshell' }));
    assert.equal(newline.status, 400);
    assert.match(String(newline.json?.['message']), /^cmdline: holds a control character \(0x0a\) at offset 5/);
    const unknown = await api(daemon, 'POST', '/images', image({ cmdline: 'quiet host={{hostnmae}}' }));
    assert.equal(unknown.status, 400);
    assert.match(String(unknown.json?.['message']), /^cmdline: unknown template variable \{\{hostnmae\}\}; known: bootedUrl, hostname,/);
    const prototypeName = await api(daemon, 'POST', '/images', image({ configTxt: 'kernel={{constructor}}' }));
    assert.match(String(prototypeName.json?.['message']), /^configTxt: unknown template variable \{\{constructor\}\}/);

    const cli = await runCli(['image', 'add', '--name', 'templated', '--kernel', files.kernel, '--cmdline', 'quiet {{nope}}'], daemon.configFile);
    assert.notEqual(cli.code, 0);
    assert.match(cli.stderr, /cmdline: unknown template variable \{\{nope\}\}/);
    const cliNewline = await runCli(['image', 'add', '--name', 'templated', '--kernel', files.kernel, '--cmdline', 'a\nb'], daemon.configFile);
    assert.notEqual(cliNewline.code, 0);
    assert.match(cliNewline.stderr, /cmdline: holds a control character/);
    assert.equal((await api(daemon, 'GET', '/images/templated')).status, 404, 'nothing was registered');

    const good = await api(daemon, 'POST', '/images', image({ cmdline: 'quiet rackboot.node={{hostname}}' }));
    assert.equal(good.status, 201, JSON.stringify(good.json));
  });

  it('a cmdline with a newline stored before registration checked it still renders as one kernel line', async () => {
    assert.equal((await api(daemon, 'POST', '/images', { name: 'legacy', arch: 'any', kernel: files.kernel, cmdline: 'quiet' })).status, 201);
    const inventory = openInventory(daemon.dataDir);
    try {
      inventory.db.prepare("UPDATE images SET cmdline = ? WHERE name = 'legacy'").run('quiet\nshell\r\n{{hostname}}');
    } finally {
      inventory.close();
    }
    assert.equal((await api(daemon, 'PUT', `/nodes/${LEGACY}/assignment`, { image: 'legacy' })).status, 200);
    const script = (await getText(`${daemon.httpUrl}/chain?mac=${LEGACY}&arch=x86_64&uefi=`)).text;
    assert.doesNotMatch(script, /^shell/m);
    assert.match(script, /^kernel \S+ quiet shell rb-525400\w+$/m);
    const cmdline = (await getText(`${daemon.httpUrl}/boot/${LEGACY.replace(/:/g, '-')}/cmdline.txt`)).text;
    assert.match(cmdline, /^quiet shell rb-525400\w+\n$/);
  });

  it('prototype names are unknown arches: 404, not 500', async () => {
    for (const arch of ['constructor', '__proto__', 'toString', 'hasOwnProperty']) {
      const { status, text } = await getText(`${daemon.httpUrl}/chain?mac=${ASSIGNED}&arch=${arch}&uefi=`);
      assert.equal(status, 404, `arch=${arch}: ${text}`);
      assert.match(text, new RegExp(`^#!ipxe\necho rackboot: arch "${arch}" is not one we boot`));
    }
  });

  it('prototype names are no files: 404 over HTTP, file not found over TFTP, the blob store never asked', async () => {
    const script = (await getText(`${daemon.httpUrl}/chain?mac=${ASSIGNED}&arch=x86_64&uefi=`)).text;
    const base = /^kernel (\S+)\/vmlinuz/m.exec(script)![1]!;
    for (const url of [`${daemon.httpUrl}/boot/52-54-00-0b-0b-01`, base]) {
      for (const file of ['constructor', '__proto__', 'toString']) {
        const { status, text } = await getText(`${url}/${file}`);
        assert.equal(status, 404, `${url}/${file}: ${text}`);
        // Not "missing from the store": the name never reached the blob store as a digest.
        assert.equal(JSON.parse(text).message, `${file} is not part of this node's boot`);
      }
    }
    assert.equal(await tftpExit(daemon, `${PI}/config.txt`), 0, 'the Pi has a plan, so its own files are looked up');
    const names = ['__proto__', 'constructor', 'toString'];
    for (const file of names) assert.equal(await tftpExit(daemon, `${PI}/${file}`), 68, file);
    const refusals = (events: EventJson[]) => events.filter((event) => event.kind === 'tftp-refused');
    const refused = refusals(await eventsWhen(daemon, PI, (events) => refusals(events).length >= names.length));
    // Only the shared firmware was searched, and the message (readable by anyone) names no server path.
    for (const event of refused) assert.match(String(event.detail['error']), /^\w+ is not in assetsDir\/firmware$/);
  });

  const consumedAt = async (node: string) => ((await api(daemon, 'GET', `/nodes/${node}/assignments`)).json as unknown as Assignment[])[0]!.consumedAt;

  it("a stranger's GET of the initrd serves it but does not use up the node's one-shot; the node's own fetch does", async () => {
    assert.equal((await api(daemon, 'PUT', `/nodes/${ONCE}/assignment`, { image: 'rescue', once: true })).status, 200);
    const script = (await getText(`${daemon.httpUrl}/chain?mac=${ONCE}&arch=x86_64&uefi=`)).text;
    assert.match(script, /\brescue v1\b/);
    const initrdUrl = /^initrd (\S+)/m.exec(script)![1]!;

    const { origin, pathname } = new URL(initrdUrl);
    const fromStranger = await stranger.request({ origin, path: pathname, method: 'GET' });
    assert.equal(fromStranger.statusCode, 200, 'a read is still served');
    assert.ok(Buffer.from(await fromStranger.body.arrayBuffer()).equals(rescue.initrdData));
    assert.equal(await consumedAt(ONCE), null, "the stranger's GET changed nothing");

    assert.equal((await getBytes(initrdUrl)).status, 200);
    assert.notEqual(await consumedAt(ONCE), null, "the node's own fetch, from where its chain script went, used the one-shot up");
  });

  it("over TFTP too: a stranger's first request, straight for a Pi's initramfs, does not use up its one-shot", async () => {
    assert.equal((await api(daemon, 'PUT', `/nodes/${PI_ONCE}/assignment`, { image: 'rescue', once: true })).status, 200);
    assert.equal(await tftpExit(daemon, `${PI_ONCE}/rootfs.cpio.gz`, '127.0.0.2'), 0, 'a read is still served');
    assert.equal(await consumedAt(PI_ONCE), null, "the stranger's request changed nothing");
    for (const file of ['config.txt', 'Image', 'rootfs.cpio.gz']) assert.equal(await tftpExit(daemon, `${PI_ONCE}/${file}`), 0, file);
    assert.notEqual(await consumedAt(PI_ONCE), null, "the Pi's own boot used the one-shot up");
  });
});
