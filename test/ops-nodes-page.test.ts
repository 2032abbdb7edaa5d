/**
 * The page's node list with thousands of nodes: /ui/nodes renders one page of rows (with the
 * total), so a refresh costs the same for 7,000 nodes as for 100. Rows and bytes are counted;
 * in Chromium the pager turns pages and a live refresh keeps the page shown.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { openInventory } from '../server/inventory/index.js';
import { parseMac } from '../server/net/mac.js';
import { launchChromium } from './helpers/chromium.js';
import { startDaemon, testConfig, type RunningDaemon } from './helpers/daemon.js';
import { getText } from './helpers/fixtures.js';

const NODES = 7000;
const PER_PAGE = 100;

const macOf = (i: number) => parseMac(`52:54:00:${((i >> 16) & 255).toString(16).padStart(2, '0')}:${((i >> 8) & 255).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`)!;
const rows = (text: string, kind = '') => {
  const body = /<table class="nodes" id="nodes"[^>]*>.*?<\/table>/s.exec(text)?.[0] ?? '';
  return [...body.matchAll(/<tr data-node="([^"]+)" tabindex="0" class="([^"]+)"/g)].filter((match) => !kind || match[2] === kind).map((match) => match[1]!);
};

describe(`/ui/nodes with ${NODES} nodes`, { timeout: 120_000 }, () => {
  let dir: string;
  let daemon: RunningDaemon;

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'rbt-nodes-page-'));
    const inventory = openInventory(testConfig(dir)['dataDir'] as string);
    inventory.db.transaction(() => {
      for (let i = 0; i < NODES; i++) inventory.nodes.observe({ mac: macOf(i), arch: 'x86_64' });
    })();
    inventory.close();
    daemon = await startDaemon({ dir });
  });
  after(async () => {
    assert.equal(await daemon?.stop(), 0);
    rmSync(dir, { recursive: true, force: true });
  });

  it(`renders ${PER_PAGE} rows a page with the total, whatever the page`, async (t) => {
    await getText(`${daemon.httpUrl}/ui/nodes`); // warm: statements prepared, pages cached
    const started = performance.now();
    const first = await getText(`${daemon.httpUrl}/ui/nodes`);
    const took = performance.now() - started;
    assert.equal(first.status, 200);
    assert.deepEqual(rows(first.text), Array.from({ length: PER_PAGE }, (_, i) => macOf(i)));
    assert.match(first.text, new RegExp(`<h2>Nodes <span class="count">${NODES}</span>`));
    assert.match(first.text, new RegExp(`page 1 of ${NODES / PER_PAGE}`));
    // None has an image: all wait, counted by plan group (no node planned one by one).
    assert.equal(rows(first.text, 'waiting').length, PER_PAGE);
    assert.match(first.text, new RegExp(`<span class="count waiting">${NODES} waiting</span>`));
    assert.ok(first.text.length < 200_000, `${first.text.length} bytes for one page`);

    const last = await getText(`${daemon.httpUrl}/ui/nodes?page=${NODES / PER_PAGE}`);
    assert.deepEqual(rows(last.text), Array.from({ length: PER_PAGE }, (_, i) => macOf(NODES - PER_PAGE + i)));
    const past = await getText(`${daemon.httpUrl}/ui/nodes?page=999`);
    assert.deepEqual(rows(past.text), rows(last.text), 'a page past the end shows the last one');
    assert.equal(rows((await getText(`${daemon.httpUrl}/ui/nodes?limit=500`)).text).length, 500);
    assert.equal((await getText(`${daemon.httpUrl}/ui/nodes?limit=100000`)).status, 400);

    const page = await getText(`${daemon.httpUrl}/`);
    assert.equal(rows(page.text).length, PER_PAGE, 'the page itself embeds the first page only');
    t.diagnostic(`one page: ${first.text.length} bytes in ${took.toFixed(0)} ms (reported, not asserted)`);
  });

  it('the page turns pages in the browser and stays on its page across live refreshes', async () => {
    const profile = mkdtempSync(path.join(tmpdir(), 'rbt-nodes-chromium-'));
    const browser = await launchChromium(profile);
    try {
      const page = browser.pages()[0] ?? (await browser.newPage());
      await page.goto(daemon.httpUrl);
      await page.waitForSelector('#live.on', { timeout: 5000 });
      await page.click('#nodes-panel .pager button[data-page="2"]');
      await page.waitForSelector('#nodes[data-page="2"]', { timeout: 5000 });
      assert.equal(await page.locator('#nodes tbody tr[data-node]').count(), PER_PAGE);
      assert.equal(await page.locator('#nodes tbody tr[data-node]').first().getAttribute('data-node'), macOf(PER_PAGE));
      // A boot event refreshes the list: the page shown stays the second.
      await getText(`${daemon.httpUrl}/chain?mac=${encodeURIComponent(macOf(0))}`);
      await page.waitForResponse((response) => response.url().includes('/ui/nodes?page=2'), { timeout: 5000 });
      assert.equal(await page.locator('#nodes').getAttribute('data-page'), '2');
    } finally {
      await browser.close();
      rmSync(profile, { recursive: true, force: true });
    }
  });
});
