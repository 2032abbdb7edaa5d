// The EEPROM fleet end to end: a synthetic pieeprom-*.bin added over the API, settings per node and
// per label (API and CLI), pieeprom.upd + pieeprom.sig fetched with curl over TFTP from the node's
// prefix and read back independently, served once until the settings change, and the drift report.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fakeEepromImage, readBootconf, readSections } from './helpers/eeprom-image.js';
import { runCli, startDaemon, type RunningDaemon } from './helpers/daemon.js';
import { api } from './helpers/fixtures.js';
import { run } from './helpers/images-fixtures.js';

const SERIAL = '1a2b3c4d';

describe('bootloader EEPROM updates over TFTP', { timeout: 60_000 }, () => {
  let daemon: RunningDaemon;
  const dir = mkdtempSync(path.join(tmpdir(), 'rackboot-eeprom-'));
  const imageFile = path.join(dir, 'pieeprom-2024-11-12.bin');
  const original = fakeEepromImage();

  before(async () => {
    writeFileSync(imageFile, original);
    daemon = await startDaemon();
  });
  after(async () => {
    assert.equal(await daemon.stop(), 0);
    rmSync(dir, { recursive: true, force: true });
  });

  const tftp = (file: string) => run('curl', ['-sS', '--max-time', '10', `tftp://127.0.0.1:${daemon.tftpPort}/${file}`]);
  const drift = async () => (await api(daemon, 'GET', '/eeprom/drift')).json as unknown as { node: string; reasons: string[] }[];

  it('stores the image and refuses a file that is not one', async () => {
    const added = await api(daemon, 'POST', '/eeprom/images', { path: imageFile });
    assert.equal(added.status, 201, JSON.stringify(added.json));
    assert.equal(added.json!['name'], 'pieeprom-2024-11-12');
    assert.equal(added.json!['buildTs'], 1731428000);
    const bogus = path.join(dir, 'bogus.bin');
    writeFileSync(bogus, Buffer.alloc(512 * 1024, 0x41));
    const refused = await api(daemon, 'POST', '/eeprom/images', { path: bogus });
    assert.equal(refused.status, 400);
    assert.match(String(refused.json!['message']), /^file: .*bogus\.bin: no section header at offset 0/);
  });

  it('refuses an undocumented key, naming it, and a bad value', async () => {
    const unknown = await api(daemon, 'PUT', `/eeprom/nodes/${SERIAL}`, { image: 'pieeprom-2024-11-12', settings: { BOOT_ORDER: '0xf21', ENABLE_NETWORK_INSTALL: '1' } });
    assert.equal(unknown.status, 400);
    assert.match(String(unknown.json!['message']), /^ENABLE_NETWORK_INSTALL: not a documented bootloader setting/);
    const low = await api(daemon, 'PUT', `/eeprom/nodes/${SERIAL}`, { settings: { TFTP_FILE_TIMEOUT: '1000' } });
    assert.match(String(low.json!['message']), /TFTP_FILE_TIMEOUT: must be at least 5000/);
    const cli = await runCli(['eeprom', 'set', SERIAL, 'BOOT_ORDR=0xf21'], daemon.configFile);
    assert.equal(cli.code, 1);
    assert.match(cli.stderr, /BOOT_ORDR: not a documented bootloader setting/);
  });

  it('serves pieeprom.upd and pieeprom.sig from the prefix once, again after a change', async () => {
    assert.equal((await api(daemon, 'PUT', `/nodes/${SERIAL}`, { labels: { rack: 'a' } })).status, 200);
    assert.equal((await api(daemon, 'PUT', '/eeprom/labels/rack=a', { settings: { HDMI_DELAY: '0', BOOT_ORDER: '0xf41' } })).status, 200);
    const set = await api(daemon, 'PUT', `/eeprom/nodes/${SERIAL}`, { image: 'pieeprom-2024-11-12', settings: { BOOT_ORDER: '0xf21', TFTP_FILE_TIMEOUT: '60000' } });
    assert.equal(set.status, 200, JSON.stringify(set.json));
    const expected = '[all]\nBOOT_ORDER=0xf21\nTFTP_FILE_TIMEOUT=60000\nHDMI_DELAY=0\n';
    assert.equal((set.json!['effective'] as { config: string }).config, expected);
    assert.deepEqual((await drift()).map((entry) => [entry.node, entry.reasons]), [[SERIAL, ['has not fetched an update yet']]]);

    const sig = (await tftp(`${SERIAL}/pieeprom.sig`)).toString();
    const upd = await tftp(`${SERIAL}/pieeprom.upd`);
    assert.equal(upd.length, original.length);
    assert.equal(readBootconf(upd), expected);
    // Everything but bootconf.txt's sector is the operator's image, byte for byte.
    assert.ok(upd.subarray(0x2000).equals(original.subarray(0x2000)));
    assert.ok(upd.subarray(0, 0x1000).equals(original.subarray(0, 0x1000)));
    assert.equal(readSections(upd).filter((entry) => entry.name).length, 2);
    const [digest, ts, end] = sig.split('\n');
    assert.equal(digest, createHash('sha256').update(upd).digest('hex'));
    assert.match(ts!, /^ts: \d{10}$/);
    assert.ok(Math.abs(Number(ts!.slice(4)) - Date.now() / 1000) < 600);
    assert.equal(end, '');

    // Fetched whole: no longer offered, and no drift.
    await assert.rejects(tftp(`${SERIAL}/pieeprom.upd`), /TFTP|curl/i);
    await assert.rejects(tftp(`${SERIAL}/pieeprom.sig`), /TFTP|curl/i);
    assert.deepEqual(await drift(), []);
    const view = await api(daemon, 'GET', `/eeprom/nodes/${SERIAL}`);
    assert.equal((view.json!['state'] as { servedConfig: string }).servedConfig, expected);

    // A label change reaches the node: a new update, and drift until it is fetched.
    const cli = await runCli(['eeprom', 'set', 'label:rack=a', 'NET_INSTALL_ENABLED=0'], daemon.configFile);
    assert.equal(cli.code, 0, cli.stderr);
    assert.deepEqual((await drift()).map((entry) => entry.reasons), [['fetched another bootloader config']]);
    const again = await tftp(`${SERIAL}/pieeprom.upd`);
    assert.equal(readBootconf(again), '[all]\nBOOT_ORDER=0xf21\nTFTP_FILE_TIMEOUT=60000\nHDMI_DELAY=0\nNET_INSTALL_ENABLED=0\n');
    assert.deepEqual(await drift(), []);
    const text = await runCli(['eeprom', 'drift'], daemon.configFile);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /^NODE/);
  });

  it('a node without settings gets no update; an image in use cannot be removed', async () => {
    await assert.rejects(tftp('0badc0de/pieeprom.upd'), /TFTP|curl/i);
    assert.equal((await api(daemon, 'DELETE', '/eeprom/images/pieeprom-2024-11-12')).status, 409);
  });
});
