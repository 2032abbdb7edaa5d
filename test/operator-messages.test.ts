// What the API and the CLI say to an operator's mistakes: a body field of the wrong type is a 400
// naming it (not coerced into a lookup that 404s), node settings errors read `field: what is
// wrong` alike from the CLI and the API, and `image rm` of an image in use names the nodes holding it.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { runCli, startDaemon, type RunningDaemon } from './helpers/daemon.js';
import { api, fakeImageFiles } from './helpers/fixtures.js';

const MAC = '52:54:00:4d:00:01';
const HOLDERS = Array.from({ length: 7 }, (_, i) => `52:54:00:4d:01:0${i}`);

describe('operator messages', () => {
  let daemon: RunningDaemon;
  const files = fakeImageFiles(1000, 1000);

  before(async () => {
    daemon = await startDaemon();
    assert.equal((await api(daemon, 'POST', '/images', { name: '42', arch: 'x86_64', kernel: files.kernel })).status, 201);
  });
  after(async () => {
    await daemon.stop();
  });

  it('a body field of the wrong type is a 400 naming the field, not coerced (an image named "42" exists)', async () => {
    const cases: [string, string, unknown, RegExp][] = [
      ['PUT', `/nodes/${MAC}/assignment`, { image: 42 }, /^image: must be string or null$/],
      ['PUT', `/nodes/${MAC}/assignment`, { image: '42', once: 'yes' }, /^once: must be boolean$/],
      ['PUT', `/nodes/${MAC}/assignment`, { image: '42', version: '1' }, /^version: must be integer$/],
      ['PUT', `/nodes/${MAC}/assignment`, {}, /^image: required field is missing$/],
      ['PUT', `/nodes/${MAC}/assignment`, { image: '42', imgae: 'x' }, /^imgae: unknown field/],
      ['PUT', `/nodes/${MAC}`, { labels: { rack: 1 } }, /^labels\.rack: must be string$/],
      ['POST', '/images', { name: 'x', kernel: files.kernel, arch: 'sparc' }, /^arch: must be one of "arm64", /],
      ['PUT', `/nodes/${MAC}/assignment`, [1], /^body: must be object$/],
    ];
    for (const [method, url, body, message] of cases) {
      const answer = await api(daemon, method, url, body);
      assert.deepEqual([answer.status, answer.json?.['error']], [400, 'RB_VALIDATION'], `${JSON.stringify(body)}: ${JSON.stringify(answer.json)}`);
      assert.match(String(answer.json?.['message']), message);
    }
    assert.deepEqual((await api(daemon, 'GET', '/nodes')).json, [], 'nothing was created');
    // Query strings are text: numbers there still are numbers.
    assert.equal((await api(daemon, 'GET', `/nodes/${MAC}/events?limit=5`)).status, 404, 'coerced, then the node is unknown');
    const badLimit = await api(daemon, 'GET', `/nodes/${MAC}/events?limit=five`);
    assert.deepEqual([badLimit.status, badLimit.json?.['message']], [400, 'limit: must be integer']);
    assert.equal((await api(daemon, 'PUT', `/nodes/${MAC}/assignment`, { image: '42', version: 1 })).status, 200, 'the right types work');
  });

  it('node settings errors are `field: what is wrong`, the same from the CLI and the API', async () => {
    const hostname = /^hostname: "no_underscores" is not a valid DNS name \(/;
    const cli = await runCli(['node', 'set', MAC, '--hostname', 'no_underscores'], daemon.configFile);
    assert.equal(cli.code, 1);
    assert.match(cli.stderr.replace(/^rackboot: /, ''), hostname);
    const answer = await api(daemon, 'PUT', `/nodes/${MAC}`, { hostname: 'no_underscores' });
    assert.deepEqual([answer.status, answer.json?.['error']], [400, 'RB_BAD_NODE']);
    assert.match(String(answer.json?.['message']), hostname);
    const key = await api(daemon, 'PUT', `/nodes/${MAC}`, { sshKeys: ['ssh-ed25519 AAAA', 'ssh-rsa A\nssh-rsa B'] });
    assert.equal(key.status, 400);
    assert.match(String(key.json?.['message']), /^sshKeys: key 2 is not one non-empty line/);
    assert.equal((await api(daemon, 'PUT', `/nodes/${MAC}`, { hostname: 'rack1-n07.lab' })).status, 200, 'a dotted DNS name is fine');
  });

  it('image rm of an image held by nodes names the first five and counts the rest', async () => {
    for (const mac of HOLDERS) assert.equal((await api(daemon, 'PUT', `/nodes/${mac}/assignment`, { image: '42' })).status, 200);
    const refused = await runCli(['image', 'rm', '42'], daemon.configFile);
    assert.equal(refused.code, 1);
    const named = [MAC, ...HOLDERS.slice(0, 4)].join(', ');
    assert.match(refused.stderr, new RegExp(`image 42 is assigned to 8 nodes \\(${named} and 3 more\\): assign them another image first`));
    const answer = await api(daemon, 'DELETE', '/images/42');
    assert.deepEqual([answer.status, answer.json?.['error']], [409, 'RB_IMAGE_IN_USE']);
    assert.match(String(answer.json?.['message']), /assigned to 8 nodes \(52:54:00:4d:00:01, .* and 3 more\)/);
  });
});
