// A node the operator creates (node set / node assign, CLI or API) has never been seen: its
// last-seen stays empty and it is not listed as waiting on the page until it really asks to boot.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { runCli, startDaemon, type RunningDaemon } from './helpers/daemon.js';
import { api, getText } from './helpers/fixtures.js';

const BY_CLI_SET = '52:54:00:5e:00:01';
const BY_CLI_ASSIGN = '52:54:00:5e:00:02';
const BY_API_SET = '52:54:00:5e:00:03';
const BY_API_ASSIGN = '52:54:00:5e:00:04';
const ALL = [BY_CLI_SET, BY_CLI_ASSIGN, BY_API_SET, BY_API_ASSIGN];

/** The rows the node list marks as waiting for an image. */
const waitingRows = (text: string) => [...text.matchAll(/<tr data-node="([^"]+)" tabindex="0" class="waiting">/g)].map((match) => match[1]!);

describe('operator-created nodes are not seen until they ask', () => {
  let daemon: RunningDaemon;
  before(async () => {
    daemon = await startDaemon();
  });
  after(async () => {
    await daemon.stop();
  });

  it('node set and node assign (CLI and API) leave last-seen empty and the node out of "Waiting"', async () => {
    for (const args of [['node', 'set', BY_CLI_SET, '--hostname', 'n1'], ['node', 'assign', BY_CLI_ASSIGN, 'none']]) {
      const result = await runCli(args, daemon.configFile);
      assert.equal(result.code, 0, result.stderr);
    }
    assert.equal((await api(daemon, 'PUT', `/nodes/${BY_API_SET}`, { hostname: 'n3' })).status, 200);
    assert.equal((await api(daemon, 'PUT', `/nodes/${BY_API_ASSIGN}/assignment`, { image: null })).status, 200);

    for (const mac of ALL) assert.equal((await api(daemon, 'GET', `/nodes/${mac}`)).json!['lastSeen'], null, `${mac}: API lastSeen`);
    const listed = JSON.parse((await runCli(['node', 'ls', '--json'], daemon.configFile)).stdout) as { mac: string; lastSeen: unknown }[];
    assert.deepEqual(listed.map((row) => [row.mac, row.lastSeen]), ALL.map((mac) => [mac, null]), 'node ls: lastSeen null');
    assert.match((await runCli(['node', 'ls'], daemon.configFile)).stdout, new RegExp(`${BY_CLI_SET}.*-$`, 'm'));

    const page = await getText(`${daemon.httpUrl}/ui/nodes`);
    assert.deepEqual(waitingRows(page.text), [], 'none of them asked to boot');
    assert.match(page.text, /<td class="seen">never<\/td>/);
  });

  it('once such a node asks (an iPXE chain request), it is seen and, having no image, waits', async () => {
    const before = Date.now();
    assert.equal((await getText(`${daemon.httpUrl}/chain?mac=${BY_CLI_SET}&arch=x86_64`)).status, 200);
    const seen = (await api(daemon, 'GET', `/nodes/${BY_CLI_SET}`)).json!['lastSeen'] as number;
    assert.ok(seen >= before, `lastSeen ${seen} is set by the request`);
    assert.deepEqual(waitingRows((await getText(`${daemon.httpUrl}/ui/nodes`)).text), [BY_CLI_SET]);
  });
});
