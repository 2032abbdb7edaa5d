/**
 * The operator page in headless Chromium (Debian `chromium`, driven by playwright-core): a boot
 * driven by real requests (TFTP with curl, HTTP, the booted callback) shows up live, and the
 * admin actions work from the page with the token the operator types in.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import type { BrowserContext, Page } from 'playwright-core';
import { launchChromium } from './helpers/chromium.js';
import { startDaemon, type RunningDaemon } from './helpers/daemon.js';
import { api, fakeImageFiles, getText } from './helpers/fixtures.js';

const run = promisify(execFile);
const SERIAL = '5e7a2002';
const MAC = '52:54:00:aa:00:01';
const X86_MAC = '52:54:00:aa:00:02';
/** The bar: a boot's events are on the page within a second. */
const LIVE_WITHIN_MS = 1000;
/** Screenshots stay for a person to look at (RACKBOOT_SCREENSHOTS picks the directory). */
const SCREENSHOT_DIR = process.env['RACKBOOT_SCREENSHOTS'] ?? tmpdir();

describe('operator page in headless Chromium', () => {
  let daemon: RunningDaemon;
  let browser: BrowserContext;
  let page: Page;
  /** Chromium reports what the page's CSP refused on the console. */
  const cspViolations: string[] = [];
  const profile = mkdtempSync(path.join(tmpdir(), 'rbt-ops-chromium-'));
  const small = fakeImageFiles(40_000, 90_000);
  const big = fakeImageFiles(40_000, 35 * 2 ** 20);

  before(async () => {
    daemon = await startDaemon();
    for (const [name, files] of [
      ['rack', small],
      ['rack-next', small],
      ['fat', big],
    ] as const) {
      const added = await api(daemon, 'POST', '/images', { name, arch: 'arm64', kernel: files.kernel, initrd: files.initrd });
      assert.equal(added.status, 201, JSON.stringify(added.json));
    }
    browser = await launchChromium(profile);
    page = browser.pages()[0] ?? (await browser.newPage());
    page.on('console', (message) => {
      if (/Content Security Policy/i.test(message.text())) cspViolations.push(message.text());
    });
  });
  after(async () => {
    await browser?.close();
    await daemon?.stop();
    for (const dir of [profile, small.dir, big.dir]) rmSync(dir, { recursive: true, force: true });
  });

  /** Time from a request's completion until the selector is on the page. */
  async function liveWithin(selector: string): Promise<number> {
    const started = performance.now();
    await page.waitForSelector(selector, { timeout: LIVE_WITHIN_MS });
    return performance.now() - started;
  }

  it('shows images with sizes and the Pi limit warning, and a node not seen yet', async () => {
    await page.goto(`${daemon.httpUrl}/?node=${SERIAL}`);
    await page.waitForSelector('#live.on', { timeout: 5000 });
    const images = await page.textContent('#images');
    assert.match(images!, /rack-next/);
    assert.match(images!, /35\.0 MiB/);
    const warned = await page.textContent('#images tr.warn');
    assert.match(warned!, /^fat/);
    assert.match(warned!, /30 s per-file timeout/);
    assert.match((await page.textContent('#timeline'))!, /Not seen yet/);
  });

  it('a Pi boot driven by curl (TFTP), HTTP and the booted callback appears live, stage by stage', async (t) => {
    await api(daemon, 'PUT', `/nodes/${SERIAL}/assignment`, { image: 'rack' });
    const latencies: Record<string, number> = {};

    const config = await run('curl', ['-sS', '--max-time', '10', `tftp://127.0.0.1:${daemon.tftpPort}/${SERIAL}/config.txt`]);
    assert.ok(config.stdout.length > 0);
    latencies['tftp'] = await liveWithin('#timeline tr[data-stage="tftp"]');
    await run('curl', ['-sS', '--max-time', '10', '-o', '/dev/null', `tftp://127.0.0.1:${daemon.tftpPort}/${SERIAL}/cmdline.txt`]);

    assert.equal((await getText(`${daemon.httpUrl}/boot/${SERIAL}/vmlinuz`)).status, 200);
    latencies['http'] = await liveWithin('#timeline tr[data-stage="http"]');
    assert.equal(await page.textContent('#timeline .boot .badge'), 'in-progress');
    const tftpRow = (await page.textContent('#timeline tr[data-stage="tftp"]'))!;
    assert.match(tftpRow, /config\.txt, .*cmdline\.txt/);
    assert.match(tftpRow, /tftp-complete×2/);
    const inProgress = path.join(SCREENSHOT_DIR, 'rackboot-page-boot-in-progress.png');
    await page.screenshot({ path: inProgress, fullPage: true });
    assert.ok(statSync(inProgress).size > 10_000);

    assert.equal((await getText(`${daemon.httpUrl}/booted?serial=${SERIAL}`)).status, 200);
    latencies['booted'] = await liveWithin('#timeline .boot[data-outcome="booted"] tr[data-stage="booted"]');
    await page.waitForSelector(`#nodes tr[data-node="${SERIAL}"] .badge.booted`, { timeout: 5000 });
    await page.screenshot({ path: path.join(SCREENSHOT_DIR, 'rackboot-page-booted.png'), fullPage: true });
    t.diagnostic(`event -> on page: ${JSON.stringify(Object.fromEntries(Object.entries(latencies).map(([k, v]) => [k, Math.round(v)])))} ms`);
  });

  it('a node waiting for an image is listed apart; assign once, rollback and unassign work from the page with the token', async () => {
    await getText(`${daemon.httpUrl}/chain?mac=${MAC}`);
    await page.waitForSelector(`#nodes tr.waiting[data-node="${MAC}"]`, { timeout: 5000 });
    await page.click(`#nodes tr.waiting[data-node="${MAC}"]`);
    await page.waitForSelector(`#timeline[data-node="${MAC}"] .badge.waiting`, { timeout: 5000 });
    assert.equal(await page.locator(`#nodes-panel [data-node="${MAC}"]`).count(), 1, 'a waiting node is listed once');
    assert.match((await page.textContent('#timeline .failure'))!, /RB_BOOT_NO_IMAGE/);
    await page.screenshot({ path: path.join(SCREENSHOT_DIR, 'rackboot-page-waiting.png'), fullPage: true });

    // Without the token the API refuses and the page says so.
    await page.selectOption('#assign select[name=image]', 'rack');
    await page.click('#assign button[data-action=assign]');
    await page.waitForSelector('#status.bad', { timeout: 5000 });
    assert.match((await page.textContent('#status'))!, /enter the admin token/);

    await page.fill('#token', 'wrong-token-0123456789');
    await page.click('#token-form button');
    await page.click('#assign button[data-action=assign]');
    await page.waitForFunction(() => /RB_AUTH/.test(document.querySelector('#status')!.textContent ?? ''), null, { timeout: 5000 });

    await page.fill('#token', daemon.adminToken);
    await page.click('#token-form button');
    await page.selectOption('#assign select[name=image]', 'rack');
    await page.click('#assign button[data-action=assign]');
    await page.waitForFunction(() => /done/.test(document.querySelector('#status')!.textContent ?? ''), null, { timeout: 5000 });
    // The status names the node as the operator knows it, not as the URL encoded it.
    assert.equal(await page.textContent('#status'), `PUT /nodes/${MAC}/assignment: done`);
    await page.waitForSelector(`#nodes tr.waiting[data-node="${MAC}"]`, { state: 'detached', timeout: 5000 });
    assert.equal(await page.locator(`#nodes-panel [data-node="${MAC}"]`).count(), 1, 'listed once');

    const bootsText = (pattern: RegExp) =>
      page.waitForFunction((source) => new RegExp(source).test(document.querySelector('#timeline p')?.textContent ?? ''), pattern.source, { timeout: 5000 });
    await page.selectOption('#assign select[name=image]', 'rack-next');
    await page.click('#assign button[data-action=assign]');
    await bootsText(/boots rack-next \(assigned\)/);

    await page.selectOption('#assign select[name=image]', 'rack');
    await page.check('#assign input[name=once]');
    await page.click('#assign button[data-action=assign]');
    await bootsText(/boots rack \(once\)/);
    let node = (await api(daemon, 'GET', `/nodes/${MAC}`)).json as unknown as { assignment: { imageName: string; once: boolean } };
    assert.deepEqual([node.assignment.imageName, node.assignment.once], ['rack', true]);

    // Rollback restores the standing assignment before the current one and cancels the one-shot.
    await page.click('#assign button[data-action=rollback]');
    await bootsText(/boots rack \(assigned\)/);
    node = (await api(daemon, 'GET', `/nodes/${MAC}`)).json as unknown as typeof node;
    assert.deepEqual([node.assignment.imageName, node.assignment.once], ['rack', false]);

    // The node's next chain request is the boot going on: live on the page with the image.
    await getText(`${daemon.httpUrl}/chain?mac=${MAC}`);
    await liveWithin('#timeline .boot .kinds:has-text("chain")');

    await page.click('#assign button[data-action=unassign]');
    await page.waitForSelector(`#nodes tr.waiting[data-node="${MAC}"]`, { timeout: 5000 });
  });

  it('assigning from the page an image with no build for the node\'s arch shows the warning with its code', async () => {
    // An x86-64 machine's iPXE asked for its script: its arch is known, and every image here is arm64.
    await getText(`${daemon.httpUrl}/chain?mac=${X86_MAC}&arch=x86_64`);
    await page.goto(`${daemon.httpUrl}/?node=${X86_MAC}`);
    await page.waitForSelector(`#timeline[data-node="${X86_MAC}"] #assign`, { timeout: 5000 });
    await page.selectOption('#assign select[name=image]', 'rack');
    await page.click('#assign button[data-action=assign]');
    await page.waitForSelector('#status.warn', { timeout: 5000 });
    const status = (await page.textContent('#status'))!;
    assert.match(status, /done, but RB_ASSIGN_NO_BUILD_FOR_ARCH: image rack has no build for arch x86_64/);
    assert.match(status, /rackboot image add rack --arch x86_64/);
    await page.screenshot({ path: path.join(SCREENSHOT_DIR, 'rackboot-page-arch-warning.png'), fullPage: true });
  });

  it('the page and its fragments carry CSP, X-Frame-Options and nosniff, and it works under them', async () => {
    for (const url of ['/', '/ui/nodes', '/ui/images', `/ui/timeline/${SERIAL}`, '/ui/app.js', '/ui/app.css']) {
      const { headers } = await getText(`${daemon.httpUrl}${url}`);
      assert.match(String(headers['content-security-policy']), /default-src 'self'/, url);
      assert.doesNotMatch(String(headers['content-security-policy']), /unsafe-inline/, url);
      assert.equal(headers['x-frame-options'], 'DENY', url);
      assert.equal(headers['x-content-type-options'], 'nosniff', url);
    }
    await page.goto(`${daemon.httpUrl}/?node=${SERIAL}`);
    await page.waitForSelector('#live.on', { timeout: 5000 });
    // The stage bars are drawn (no inline style to refuse) and nothing was refused all along.
    const bar = await page.locator('#timeline tr[data-stage="tftp"] rect.fill').first().boundingBox();
    assert.ok(bar && bar.width > 0, 'the TFTP stage bar is drawn');
    assert.deepEqual(cspViolations, []);
  });
});
