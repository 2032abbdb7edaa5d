import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Client, request } from 'undici';
import { startDaemon, type RunningDaemon } from './helpers/daemon.js';
import { api, fakeImageFiles, getBytes, getText } from './helpers/fixtures.js';

const MAC = '52:54:00:12:34:56';
const ENCODED = '52%3A54%3A00%3A12%3A34%3A56';

describe('HTTP: admin API and the chain endpoint', () => {
  let daemon: RunningDaemon;
  const files = fakeImageFiles();

  before(async () => {
    daemon = await startDaemon();
  });
  after(async () => {
    assert.equal(await daemon.stop(), 0);
  });

  it('/healthz answers and /docs serves the OpenAPI description', async () => {
    assert.deepEqual(JSON.parse((await getText(`${daemon.httpUrl}/healthz`)).text), { status: 'ok' });
    const spec = JSON.parse((await getText(`${daemon.httpUrl}/docs/json`)).text) as { paths: Record<string, unknown> };
    assert.ok(spec.paths['/chain']);
    assert.ok(spec.paths['/api/v1/nodes/{node}/assignment']);
  });

  it('writes need the admin token: missing and wrong tokens are 401 and write nothing', async () => {
    const body = { name: 'debian', arch: 'x86_64', kernel: files.kernel, initrd: files.initrd };
    const missing = await api(daemon, 'POST', '/images', body, null);
    assert.equal(missing.status, 401);
    assert.match(String(missing.json?.['message']), /missing Authorization/);
    const wrong = await api(daemon, 'POST', '/images', body, 'not-the-token-at-all-0000');
    assert.equal(wrong.status, 401);
    assert.deepEqual((await api(daemon, 'GET', '/images')).json, []);
  });

  it('the right token without the Bearer scheme is refused with 401 and says to use the scheme', async () => {
    const body = { name: 'debian', arch: 'x86_64', kernel: files.kernel, initrd: files.initrd };
    for (const header of [daemon.adminToken, `Basic ${daemon.adminToken}`, `Bearer`]) {
      const raw = await request(`${daemon.httpUrl}/api/v1/images`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: header },
        body: JSON.stringify(body),
      });
      const reply = (await raw.body.json()) as { error: string; message: string };
      assert.equal(raw.statusCode, 401, header);
      assert.equal(reply.error, 'RB_AUTH');
      assert.match(reply.message, /use the Bearer scheme: Authorization: Bearer <adminToken>/);
    }
    assert.deepEqual((await api(daemon, 'GET', '/images')).json, []);
  });

  it('validation errors are 400 and name the field', async () => {
    const noKernel = await api(daemon, 'POST', '/images', { name: 'debian' });
    assert.equal(noKernel.status, 400);
    assert.match(String(noKernel.json?.['message']), /kernel/);
    // Under the import root (outside it, the answer is a 403 that says nothing about existence).
    const missing = `${files.dir}/nonexistent/vmlinuz`;
    const badPath = await api(daemon, 'POST', '/images', { name: 'debian', kernel: missing });
    assert.equal(badPath.status, 400);
    assert.equal(String(badPath.json?.['message']).startsWith(`kernel: ${missing} does not exist`), true);
    const unknownField = await api(daemon, 'POST', '/images', { name: 'debian', kernel: files.kernel, kernal: 'typo' });
    assert.equal(unknownField.status, 400);
    assert.match(String(unknownField.json?.['message']), /^kernal: unknown field/);
    const badName = await api(daemon, 'POST', '/images', { name: '../etc', kernel: files.kernel });
    assert.match(String(badName.json?.['message']), /^name:/);
    const badMac = await api(daemon, 'PUT', '/nodes/52:54:00:zz/assignment', { image: 'debian' });
    assert.equal(badMac.status, 400);
    assert.match(String(badMac.json?.['message']), /neither a MAC address/);
    const unknownImage = await api(daemon, 'PUT', `/nodes/${MAC}/assignment`, { image: 'nonexistent' });
    assert.equal(unknownImage.status, 404);
    assert.match(String(unknownImage.json?.['message']), /no image named nonexistent/);
    assert.deepEqual((await api(daemon, 'GET', '/nodes')).json, [], 'a refused assignment creates no node');
  });

  it('an image registered and assigned through the API is what /chain answers, also percent-encoded', async () => {
    const created = await api(daemon, 'POST', '/images', { name: 'debian', arch: 'x86_64', kernel: files.kernel, initrd: files.initrd });
    assert.equal(created.status, 201);
    assert.equal((await api(daemon, 'POST', '/images', { name: 'debian', arch: 'x86_64', kernel: files.kernel, initrd: files.initrd })).status, 200, 're-adding the same content is free');
    assert.equal((await api(daemon, 'PUT', `/nodes/${MAC}/assignment`, { image: 'debian' })).status, 200);

    const chain = await getText(`${daemon.httpUrl}/chain?mac=${ENCODED}&uefi=`);
    assert.equal(chain.status, 200);
    const base = `${daemon.httpUrl}/boot/52-54-00-12-34-56/images/1`;
    assert.match(chain.text, /^#!ipxe\n/);
    assert.match(chain.text, new RegExp(`^kernel ${base}/vmlinuz initrd=initrd.img console=ttyS0`, 'm'));
    assert.match(chain.text, new RegExp(`^initrd ${base}/initrd.img$`, 'm'));
    assert.match(chain.text, /^boot$/m);
    for (const spelling of ['52-54-00-12-34-56', '52:54:00:12:34:56', '5254.0012.3456'.replace(/\./g, '')]) {
      assert.match((await getText(`${daemon.httpUrl}/chain?mac=${spelling}&uefi=true`)).text, /rackboot: debian v1/);
    }
  });

  it('BIOS iPXE (${buildarch} i386) boots x86_64 builds; an arch with no build is explained', async () => {
    assert.match((await getText(`${daemon.httpUrl}/chain?mac=${MAC}&arch=i386&uefi=`)).text, /rackboot: debian v1 \(x86_64\)/);
    const arm = await getText(`${daemon.httpUrl}/chain?mac=${MAC}&arch=arm64&uefi=true`);
    assert.match(arm.text, /the assigned image debian has no build for arch arm64/);
  });

  it('a MAC with no image and no default gets a script that explains and retries', async () => {
    const chain = await getText(`${daemon.httpUrl}/chain?mac=52:54:00:99:99:99&uefi=false`);
    assert.equal(chain.status, 200);
    assert.match(chain.text, /no image assigned and no defaultImage/);
    assert.match(chain.text, /^sleep \d+$/m);
    assert.match(chain.text, /^chain --autofree --replace .*\/chain\?mac=52:54:00:99:99:99/m);
    const bad = await getText(`${daemon.httpUrl}/chain?mac=nonsense&uefi=`);
    assert.equal(bad.status, 400);
  });

  it('boot files have Content-Length, keep-alive and Range', async () => {
    // One connection at most, one request at a time: a second 'connect' would mean the daemon closed it.
    const client = new Client(daemon.httpUrl, { pipelining: 1 });
    let connects = 0;
    client.on('connect', () => connects++);
    const get = async (path: string, headers: Record<string, string> = {}) => {
      const response = await client.request({ method: 'GET', path, headers });
      return { status: response.statusCode, headers: response.headers, data: Buffer.from(await response.body.arrayBuffer()) };
    };
    try {
      const base = '/boot/52-54-00-12-34-56/images/1';
      const kernel = await get(`${base}/vmlinuz`);
      assert.equal(kernel.status, 200);
      assert.equal(Number(kernel.headers['content-length']), files.kernelData.length);
      assert.ok(kernel.data.equals(files.kernelData));
      assert.equal(kernel.headers['connection'], 'keep-alive');
      assert.match(String(kernel.headers['keep-alive']), /^timeout=\d+$/);
      const part = await get(`${base}/initrd.img`, { range: 'bytes=1000-1999' });
      assert.equal(part.status, 206);
      assert.equal(part.headers['content-range'], `bytes 1000-1999/${files.initrdData.length}`);
      assert.ok(part.data.equals(files.initrdData.subarray(1000, 2000)));
      assert.equal((await get(`${base}/initrd.img`, { range: 'bytes=999999999-' })).status, 416);
      assert.equal((await get(`${base}/nothing-here`)).status, 404);
      assert.equal((await get('/boot/52-54-00-12-34-56/images/999/vmlinuz')).status, 404);
      const initrd = await get(`${base}/initrd.img`);
      assert.ok(initrd.data.equals(files.initrdData));
      assert.equal(connects, 1, 'six requests, errors among them, over one kept-alive connection');
    } finally {
      await client.close();
    }
  });

  it('every chain request is a boot event of the node', async () => {
    await new Promise((resolve) => setTimeout(resolve, 300));
    const events = (await api(daemon, 'GET', `/nodes/${MAC}/events`)).json as unknown as { kind: string; detail: Record<string, unknown> }[];
    const chains = events.filter((event) => event.kind === 'chain');
    assert.ok(chains.length >= 4, `chain events: ${chains.length}`);
    assert.equal(chains[0]!.detail['image'], 'debian');
    assert.ok(events.some((event) => event.kind === 'assigned'));
  });
});

describe('HTTP: deleting images', () => {
  let daemon: RunningDaemon;
  const kept = fakeImageFiles(1000, 1000);
  const spare = fakeImageFiles(1100, 1100);
  const KEPT_NODE = '52:54:00:12:34:60';
  const SPARE_NODE = '52:54:00:12:34:61';

  before(async () => {
    daemon = await startDaemon();
    for (const body of [
      { name: 'kept', arch: 'x86_64', kernel: kept.kernel, initrd: kept.initrd },
      { name: 'spare', arch: 'x86_64', kernel: spare.kernel, initrd: spare.initrd },
      { name: 'spare', arch: 'x86_64', kernel: spare.kernel, initrd: spare.initrd, cmdline: 'console=ttyS1' },
    ]) {
      assert.equal((await api(daemon, 'POST', '/images', body)).status, 201);
    }
    for (const [node, image] of [[KEPT_NODE, 'kept'], [SPARE_NODE, 'spare']]) {
      assert.equal((await api(daemon, 'PUT', `/nodes/${node}/assignment`, { image })).status, 200);
    }
  });
  after(async () => {
    assert.equal(await daemon.stop(), 0);
  });

  it('DELETE /api/v1/images/<name> is refused (409) while a node is assigned to it and needs the token', async () => {
    for (const name of ['spare', 'kept']) {
      const refused = await api(daemon, 'DELETE', `/images/${name}`);
      assert.equal(refused.status, 409);
      assert.equal(refused.json?.['error'], 'RB_IMAGE_IN_USE');
      assert.match(String(refused.json?.['message']), new RegExp(`image ${name} is assigned to 1 node \\(${name === 'kept' ? KEPT_NODE : SPARE_NODE}\\): assign them`));
    }
    assert.equal((await api(daemon, 'DELETE', '/images/spare', undefined, null)).status, 401);
    assert.equal(((await api(daemon, 'GET', '/images/spare')).json as unknown[]).length, 2, 'nothing removed');
  });

  it('once no node is assigned to it, DELETE removes every version of that image and nothing else', async () => {
    assert.equal((await api(daemon, 'PUT', `/nodes/${SPARE_NODE}/assignment`, { image: 'kept' })).status, 200);
    const nodesBefore = (await api(daemon, 'GET', '/nodes')).json;
    const removed = await api(daemon, 'DELETE', '/images/spare');
    assert.equal(removed.status, 200);
    assert.deepEqual(removed.json, { removed: 2 });
    assert.equal((await api(daemon, 'GET', '/images/spare')).status, 404);
    assert.equal((await api(daemon, 'DELETE', '/images/spare')).status, 404, 'a second DELETE finds nothing');

    const images = (await api(daemon, 'GET', '/images')).json as unknown as { name: string; version: number }[];
    assert.deepEqual(images.map((image) => `${image.name} v${image.version}`), ['kept v1']);
    assert.deepEqual((await api(daemon, 'GET', '/nodes')).json, nodesBefore, 'nodes and their assignments untouched');
    for (const node of [KEPT_NODE, SPARE_NODE]) {
      assert.match((await getText(`${daemon.httpUrl}/chain?mac=${node}&uefi=`)).text, /rackboot: kept v1/);
    }
    const initrd = await getBytes(`${daemon.httpUrl}/boot/${SPARE_NODE}/initrd.img`);
    assert.ok(initrd.data.equals(kept.initrdData), "the remaining image's files are still served");
  });
});

describe('HTTP: defaultImage', () => {
  it('unknown nodes boot the configured default', async () => {
    const daemon = await startDaemon({ config: { defaultImage: 'fallback' } });
    try {
      const files = fakeImageFiles(1000, 1000);
      assert.equal((await api(daemon, 'POST', '/images', { name: 'fallback', arch: 'any', kernel: files.kernel })).status, 201);
      const chain = await getText(`${daemon.httpUrl}/chain?mac=02:00:00:00:00:01&uefi=`);
      assert.match(chain.text, /rackboot: fallback v1/);
      assert.doesNotMatch(chain.text, /^initrd/m, 'no initrd line for an image without one');
      const node = (await api(daemon, 'GET', '/nodes/02:00:00:00:00:01')).json as Record<string, unknown>;
      assert.deepEqual(node['boots'], { image: 'fallback', version: 1, reason: 'default' });
    } finally {
      await daemon.stop();
    }
  });
});
