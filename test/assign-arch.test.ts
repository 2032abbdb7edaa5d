// Assigning an image with no build for the node's known arch is accepted (the build may come
// next) but warned about, with code RB_ASSIGN_NO_BUILD_FOR_ARCH: in the API answer, on the CLI's
// stderr and --json, and in the assigned event. A node whose arch is not known yet is not warned.
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { runCli, startDaemon, type RunningDaemon } from './helpers/daemon.js';
import { api, fakeImageFiles, getText } from './helpers/fixtures.js';
import { eventsWhen } from './helpers/wait.js';
import type { AssignWarning } from '../server/admin/nodes.js';

const ARM_NODE = '52:54:00:0a:0a:01';
const X86_NODE = '52:54:00:0a:0a:02';
const NEW_NODE = '52:54:00:0a:0a:03';
const NO_BUILD = /^image x86only has no build for arch arm64, which 52:54:00:0a:0a:01 reported \(its builds: x86_64\): the node will not boot it /;
const NO_BUILD_FIX = /rackboot image add x86only --arch arm64/;

describe('assigning an image with no build for the node\'s arch', { timeout: 60_000 }, () => {
  let daemon: RunningDaemon;
  const files = fakeImageFiles(20_000, 20_000);

  before(async () => {
    daemon = await startDaemon();
    for (const [name, arch] of [
      ['x86only', 'x86_64'],
      ['both', 'x86_64'],
      ['both', 'arm64'],
    ] as const) {
      const added = await api(daemon, 'POST', '/images', { name, arch, kernel: files.kernel, initrd: files.initrd });
      assert.ok(added.status === 201, JSON.stringify(added.json));
    }
    // Each node's iPXE asks for its script once: that records its arch.
    await getText(`${daemon.httpUrl}/chain?mac=${ARM_NODE}&arch=arm64&uefi=true`);
    await getText(`${daemon.httpUrl}/chain?mac=${X86_NODE}&arch=x86_64`);
  });
  after(async () => {
    await daemon.stop();
    rmSync(files.dir, { recursive: true, force: true });
  });

  const assign = async (node: string, image: string, version?: number) => {
    const answer = await api(daemon, 'PUT', `/nodes/${node}/assignment`, { image, ...(version && { version }) });
    assert.equal(answer.status, 200, JSON.stringify(answer.json));
    return answer.json as unknown as { warnings: AssignWarning[]; assignment: { imageName: string } };
  };

  it('PUT /nodes/<node>/assignment accepts it and answers with the warning, its code and fix; the event has it', async () => {
    const answer = await assign(ARM_NODE, 'x86only');
    assert.equal(answer.assignment.imageName, 'x86only', 'accepted');
    assert.deepEqual(answer.warnings.map((warning) => warning.code), ['RB_ASSIGN_NO_BUILD_FOR_ARCH']);
    assert.match(answer.warnings[0]!.message, NO_BUILD);
    assert.match(answer.warnings[0]!.fix, NO_BUILD_FIX);
    const events = await eventsWhen(daemon, ARM_NODE, (list) => list.some((event) => event.kind === 'assigned'));
    const assigned = events.find((event) => event.kind === 'assigned')!;
    assert.deepEqual(assigned.detail['warnings'], answer.warnings);
  });

  it('no warning where a build for the arch exists, or the arch is not known yet', async () => {
    assert.deepEqual((await assign(ARM_NODE, 'both')).warnings, []);
    assert.deepEqual((await assign(X86_NODE, 'x86only')).warnings, []);
    assert.deepEqual((await assign(NEW_NODE, 'x86only')).warnings, []);
  });

  it('rackboot node assign prints the warning on stderr and exits 0; --json carries the code', async () => {
    const text = await runCli(['node', 'assign', ARM_NODE, 'x86only'], daemon.configFile);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /52:54:00:0a:0a:01 -> x86only/);
    assert.match(text.stderr, /^warning: image x86only has no build for arch arm64/);
    assert.match(text.stderr, /^  fix: add one with `rackboot image add x86only --arch arm64/m);
    const json = await runCli(['node', 'assign', ARM_NODE, 'x86only', '--json'], daemon.configFile);
    const result = JSON.parse(json.stdout) as { warnings: AssignWarning[] };
    assert.deepEqual(result.warnings.map((warning) => warning.code), ['RB_ASSIGN_NO_BUILD_FOR_ARCH']);
  });
});
