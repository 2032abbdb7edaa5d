/**
 * The operator page's layout in headless Chromium at 1366x768 and 1920x1080, on a rack seeded with
 * what cramped it: long hostnames and models, a failure code, waiting nodes. Measured, not eyeballed:
 * nothing in the node list sticks out of its panel, ages stay on one line, the images are above the
 * fold, each node is listed once, ages tick without refetching, and the right half shows the rack
 * at a glance. Screenshots stay for a person (RACKBOOT_SCREENSHOTS picks the directory).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { BrowserContext, Page } from 'playwright-core';
import { parseConfig } from '../server/config/load.js';
import { openInventory } from '../server/inventory/index.js';
import { parseMac, type Mac } from '../server/net/mac.js';
import { launchChromium } from './helpers/chromium.js';
import { startDaemon, testConfig, type RunningDaemon } from './helpers/daemon.js';
import { api, fakeImageFiles, getText } from './helpers/fixtures.js';

const SCREENSHOT_DIR = process.env['RACKBOOT_SCREENSHOTS'] ?? tmpdir();
const NODES = 150;
const WAITING = 50;
const FAILED = { serial: '5e7a0bad', mac: '52:54:00:ff:00:01' as Mac, hostname: 'storage-rack07-shelf3-node42-longname' };
const macOf = (i: number) => parseMac(`52:54:00:10:${((i >> 8) & 255).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`)!;
const VIEWPORTS = [
  { width: 1366, height: 768 },
  { width: 1920, height: 1080 },
];

/** Elements of `panel` whose box reaches past the panel's (rounding aside). */
async function stickingOut(page: Page, panel: string): Promise<string[]> {
  return page.evaluate((selector) => {
    const box = document.querySelector(selector)!.getBoundingClientRect();
    return [...document.querySelectorAll(`${selector} *`)]
      .filter((element) => {
        const rect = element.getBoundingClientRect();
        return rect.width > 0 && (rect.right > box.right + 0.5 || rect.left < box.left - 0.5);
      })
      .map((element) => `${element.tagName}.${element.className} ${element.textContent?.slice(0, 40)}`);
  }, panel);
}

describe('operator page layout in headless Chromium', { timeout: 120_000 }, () => {
  let dir: string;
  let daemon: RunningDaemon;
  let browser: BrowserContext;
  let page: Page;
  const profile = mkdtempSync(path.join(tmpdir(), 'rbt-layout-chromium-'));
  const files = fakeImageFiles(40_000, 90_000);

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'rbt-layout-'));
    const inventory = openInventory(testConfig(dir)['dataDir'] as string);
    const now = Date.now();
    inventory.db.transaction(() => {
      // A Pi whose start4.elf timed out: its row carries a failure code, the widest cell there is.
      const failed = inventory.nodes.observe({ mac: FAILED.mac, serial: FAILED.serial, arch: 'arm64', model: 'Raspberry Pi 4 Model B Rev 1.4' }, now - 30_000);
      inventory.nodes.upsert({ mac: FAILED.mac }, { hostname: FAILED.hostname });
      inventory.assignments.assign(failed.id, { imageName: 'rack' }, 'test', now - 60_000);
      const tftp = (at: number, outcome: string, file: string, durationMs: number) =>
        inventory.events.insert({ nodeId: failed.id, at, source: 'tftp', kind: `tftp-${outcome}`, detail: { file, outcome, bytes: 0, durationMs, address: '10.0.0.42' } });
      tftp(now - 70_000, 'complete', `${FAILED.serial}/config.txt`, 20);
      tftp(now - 35_000, 'aborted', `${FAILED.serial}/start4.elf`, 30_000);
      for (let i = 0; i < NODES; i++) {
        const node = inventory.nodes.observe({ mac: macOf(i), arch: 'arm64', model: 'Raspberry Pi Compute Module 4 Rev 1.1' }, now - 40_000);
        inventory.nodes.upsert({ mac: macOf(i) }, { hostname: `rack07-shelf${i % 9}-node${i}-with-a-long-name` });
        if (i >= WAITING) inventory.assignments.assign(node.id, { imageName: 'rack' }, 'test', now - 60_000);
      }
    })();
    inventory.close();
    daemon = await startDaemon({ dir });
    const added = await api(daemon, 'POST', '/images', { name: 'rack', arch: 'arm64', kernel: files.kernel, initrd: files.initrd });
    assert.equal(added.status, 201, JSON.stringify(added.json));
    browser = await launchChromium(profile);
    page = browser.pages()[0] ?? (await browser.newPage());
  });
  after(async () => {
    await browser?.close();
    await daemon?.stop();
    for (const each of [profile, files.dir, dir]) rmSync(each, { recursive: true, force: true });
  });

  for (const viewport of VIEWPORTS) {
    it(`at ${viewport.width}x${viewport.height}: the node list fits its panel, one line an age, images above the fold`, async () => {
      await page.setViewportSize(viewport);
      await page.goto(daemon.httpUrl);
      await page.waitForSelector('#live.on', { timeout: 5000 });
      await page.waitForSelector(`#nodes tr[data-node="${FAILED.mac}"] .code`, { timeout: 5000 });

      assert.deepEqual(await stickingOut(page, '#nodes-section'), [], 'nothing in the node list is wider than its panel');
      assert.deepEqual(await stickingOut(page, '#timeline-panel'), [], 'nor in the overview');
      // An inline element has one client rect per line it spans.
      const lines = await page.$$eval('#nodes td.seen time, #nodes td .clip, #nodes td.mono', (cells) => cells.map((cell) => cell.getClientRects().length));
      assert.ok(lines.length > 3 * 100 && lines.every((count) => count === 1), `every age, hostname and MAC on one line: ${lines.filter((n) => n !== 1).length} are not`);
      const heights = await page.$$eval('#nodes td.seen', (cells) => cells.map((cell) => {
        const time = cell.querySelector('time')!;
        return [time.getBoundingClientRect().height, parseFloat(getComputedStyle(time).lineHeight)];
      }));
      assert.ok(heights.every(([height, line]) => height! <= line!), `'Last seen' is one line high: ${JSON.stringify(heights.find(([height, line]) => height! > line!))}`);

      const images = await page.locator('#images-section').boundingBox();
      assert.ok(images && images.y + 40 < viewport.height, `the Images section starts at ${images?.y}, above the fold at ${viewport.height}`);

      const shot = path.join(SCREENSHOT_DIR, `rackboot-page-${viewport.width}x${viewport.height}.png`);
      await page.screenshot({ path: shot });
      assert.ok(statSync(shot).size > 10_000);

      await page.click(`#nodes tr[data-node="${FAILED.mac}"]`);
      await page.waitForSelector(`#timeline[data-node="${FAILED.mac}"] .failure`, { timeout: 5000 });
      assert.deepEqual(await stickingOut(page, '#timeline-panel'), [], 'nothing in the timeline is wider than its panel');
      await page.screenshot({ path: path.join(SCREENSHOT_DIR, `rackboot-page-${viewport.width}x${viewport.height}-failed.png`) });
    });
  }

  it('the right half shows the rack at a glance: counts by state, recent failures, TFTP load', async () => {
    await page.goto(daemon.httpUrl);
    await page.waitForSelector('#live.on', { timeout: 5000 });
    const count = async (name: string) => Number(await page.textContent(`#overview [data-count="${name}"] b`));
    assert.equal(await count('total'), NODES + 1);
    assert.equal(await count('waiting'), WAITING);
    assert.equal(await count('with-image'), NODES + 1 - WAITING);
    assert.equal(await count('seen'), NODES + 1);
    assert.equal(await count('boot-failed'), 1);
    assert.match((await page.textContent(`#failures tr[data-node="${FAILED.mac}"]`))!, /RB_BOOT_PI_FILE_TIMEOUT/);
    assert.equal(await count('tftp-in-flight'), 0);
    const meter = page.locator('#overview [data-count="tftp-buffers"] meter');
    const config = parseConfig(testConfig(dir), path.join(dir, 'config.json'));
    assert.equal(Number(await meter.getAttribute('max')), config.tftp.maxBufferBytes);
    assert.equal(Number(await meter.getAttribute('value')), 0);
    // A failure in the overview leads to its node.
    await page.click(`#failures tr[data-node="${FAILED.mac}"]`);
    await page.waitForSelector(`#timeline[data-node="${FAILED.mac}"]`, { timeout: 5000 });
  });

  it('a waiting node is listed once, first, marked as waiting', async () => {
    await page.goto(daemon.httpUrl);
    await page.waitForSelector('#live.on', { timeout: 5000 });
    for (const mac of [macOf(0), macOf(WAITING - 1), macOf(WAITING)]) {
      assert.equal(await page.locator(`#nodes-panel [data-node="${mac}"]`).count(), 1, mac);
    }
    const rows = await page.$$eval('#nodes tbody tr[data-node]', (trs) => trs.map((tr) => tr.classList.contains('waiting')));
    assert.deepEqual(rows.slice(0, WAITING + 1), [...Array(WAITING).fill(true), false], `the waiting nodes come first: ${rows.map(Number).join('')}`);
    assert.equal(rows.filter(Boolean).length, WAITING);
  });

  it('ages tick in the browser without refetching', async () => {
    await page.goto(daemon.httpUrl);
    await page.waitForSelector('#live.on', { timeout: 5000 });
    // From here no fragment can be fetched: only the page's script can change an age.
    await page.route(/\/ui\/(nodes|overview|timeline)/, (route) => route.abort());
    const age = page.locator(`#nodes tr[data-node="${macOf(0)}"] td.seen time`);
    const before = (await age.textContent())!;
    assert.match(before, /^\d+ s ago$/);
    await page.waitForFunction(
      (text) => document.querySelector('#nodes td.seen time')?.textContent !== text,
      before,
      { timeout: 5000 },
    );
    assert.ok(Number((await age.textContent())!.split(' ')[0]) > Number(before.split(' ')[0]));
    await page.unroute(/\/ui\/(nodes|overview|timeline)/);
  });

  it('serves an SVG favicon under the page CSP', async () => {
    assert.equal(await page.getAttribute('link[rel=icon]', 'href'), '/ui/favicon.svg');
    const icon = await getText(`${daemon.httpUrl}/ui/favicon.svg`);
    assert.equal(icon.status, 200);
    assert.match(String(icon.headers['content-type']), /^image\/svg\+xml/);
    assert.match(icon.text, /^<svg /);
    assert.match(String(icon.headers['content-security-policy']), /default-src 'self'/);
  });
});
