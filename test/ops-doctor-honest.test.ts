/**
 * `rackboot doctor` in three setups where every earlier check passed and no node could boot, or
 * the operator could not write: a loopback serverAddress, a missing admin token (in the config,
 * or in the running daemon only), and Pis refused firmware they asked for (no model from DHCP).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { ADMIN_TOKEN, mainJs, repoRoot, startDaemon, testConfig, type RunningDaemon } from './helpers/daemon.js';
import { eventsWhen } from './helpers/wait.js';
import type { DoctorReport } from '../server/cli/doctor.js';
import type { DoctorCheck } from '../server/cli/doctor-checks.js';

const run = promisify(execFile);
const SERIAL = '6d6f6e31';

/** doctor's text and JSON reports, with `env` added to this process's environment. */
async function doctor(configFile: string, args: string[] = [], env: Record<string, string> = {}) {
  const exec = async (extra: string[]) => {
    try {
      const { stdout } = await run(process.execPath, [mainJs, '--config', configFile, 'doctor', ...args, ...extra], { env: { ...process.env, ...env } });
      return { code: 0, stdout };
    } catch (error) {
      const failed = error as { code: number; stdout: string; stderr: string };
      assert.equal(failed.code, 1, failed.stderr);
      return { code: 1, stdout: failed.stdout };
    }
  };
  const text = await exec([]);
  const json = await exec(['--json']);
  const report = JSON.parse(json.stdout) as DoctorReport;
  const check = (id: string): DoctorCheck => report.checks.find((entry) => entry.id === id) ?? assert.fail(`no ${id} check in ${json.stdout}`);
  return { code: text.code, text: text.stdout, report, check };
}

describe('doctor: what nodes and the operator need beyond free ports', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'rbt-doctor-honest-'));
  const write = (name: string, overrides: Record<string, unknown>) => {
    const file = path.join(dir, name);
    writeFileSync(file, JSON.stringify(testConfig(dir, overrides), null, 2)); // an undefined field is left out
    return file;
  };
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('a loopback serverAddress fails, naming the field, the boot URLs and this host\'s addresses', async () => {
    const { code, text, check } = await doctor(write('loopback.json', {}));
    assert.equal(code, 1);
    assert.equal(check('serverAddress').status, 'fail');
    assert.match(text, /FAIL\s+serverAddress\s+serverAddress 127\.0\.0\.1 is a loopback\/unspecified address: DHCP sends nodes there .* every boot URL \(http:\/\/127\.0\.0\.1:0\/\.\.\.\) points there/);
    assert.match(text, /fix: set serverAddress in \S+loopback\.json to this host's address on the boot network/);
    assert.doesNotMatch(text, /all checks passed/);
  });

  it('a loopback http.publicUrl fails too, a loopback listener is warned about, while a LAN serverAddress is ok', async () => {
    const lan = { serverAddress: '10.99.0.5', tftp: { address: '127.0.0.1' } };
    const proxied = await doctor(write('proxied.json', { ...lan, http: { publicUrl: 'http://localhost:8080' } }));
    assert.equal(proxied.check('serverAddress').status, 'ok');
    assert.equal(proxied.check('http.publicUrl').status, 'fail');
    assert.match(proxied.check('http.publicUrl').message, /every HTTP boot URL .* points there/);
    assert.equal(proxied.check('tftp.address').status, 'warn');
    assert.match(proxied.check('tftp.address').message, /listens on loopback only: nodes sent to 10\.99\.0\.5 get no answer from it/);
    assert.ok(!proxied.report.checks.some((check) => check.id === 'http.address'), 'behind a proxy named by http.publicUrl');
    const direct = await doctor(write('direct.json', lan));
    assert.equal(direct.check('http.address').status, 'warn');
  });

  it('without an admin token the report warns that the API and the page are read-only', async () => {
    const { text, check, report } = await doctor(write('no-token.json', { http: { adminToken: undefined } }));
    assert.equal(check('adminToken').status, 'warn');
    assert.match(text, /WARN\s+adminToken\s+no admin token \(http\.adminToken, RACKBOOT_ADMIN_TOKEN\): the API is read-only and the page's Assign, Unassign and Rollback answer 403 RB_NO_TOKEN/);
    assert.match(text, /fix: set a random token \(openssl rand -hex 32\)/);
    // A warning, not a failure: counted with the others (no inventory yet is one too) in the summary line.
    const warnings = report.checks.filter((entry) => entry.status === 'warn').length;
    assert.ok(warnings >= 1);
    assert.match(text, new RegExp(`\\d+ failed, ${warnings} warning\\(s\\)`));
  });

  it('a token in this shell but not in the running daemon is named: the daemon answers writes with RB_NO_TOKEN', async () => {
    const daemon = await startDaemon({ config: { http: { adminToken: undefined } } });
    try {
      const { check } = await doctor(daemon.configFile, ['--url', daemon.httpUrl], { RACKBOOT_ADMIN_TOKEN: ADMIN_TOKEN });
      assert.equal(check('adminToken').status, 'warn');
      assert.match(check('adminToken').message, /the running daemon has no admin token, though this config \(or this shell's RACKBOOT_ADMIN_TOKEN\) has one/);
    } finally {
      await daemon.stop();
    }
  });

  it('a published token is refused where the config is checked', async () => {
    const { code, text } = await doctor(write('published.json', { http: { address: '127.0.0.1', port: 0, adminToken: 'change-me-to-a-long-random-token' } }));
    assert.equal(code, 1);
    assert.match(text, /FAIL\s+config\s+invalid config .*\n\s+http\.adminToken: this token is published/);
  });
});

describe('doctor: firmware a Pi asked for and was refused', { timeout: 60_000 }, () => {
  let daemon: RunningDaemon;
  const assets = mkdtempSync(path.join(tmpdir(), 'rbt-doctor-assets-'));

  before(async () => {
    cpSync(path.join(repoRoot, 'boot-assets/templates'), path.join(assets, 'templates'), { recursive: true });
    mkdirSync(path.join(assets, 'firmware'));
    daemon = await startDaemon({ config: { assetsDir: assets } });
    // A Pi 4 behind another DHCP server: no model learnt, only its TFTP requests.
    for (const file of ['start4.elf', 'pieeprom.sig', 'fixup4.dat']) {
      await run('tftp', ['127.0.0.1', String(daemon.tftpPort), '-m', 'binary', '-c', 'get', `${SERIAL}/${file}`, path.join(assets, 'got')]);
    }
    await eventsWhen(daemon, SERIAL, (events) => events.filter((event) => event.kind === 'tftp-refused').length === 3);
  });
  after(async () => {
    await daemon?.stop();
    rmSync(assets, { recursive: true, force: true });
  });

  it('names the node, the files and the fix; the usual optional misses are left out', async () => {
    const { code, text, check } = await doctor(daemon.configFile, ['--url', daemon.httpUrl]);
    assert.equal(code, 1);
    assert.equal(check('firmware').status, 'skip');
    assert.match(check('firmware').message, /no Pi model learnt from DHCP yet/);
    const refused = check('firmware.refused');
    assert.equal(refused.status, 'fail');
    assert.match(refused.message, new RegExp(`1 node\\(s\\) asked for firmware this server does not have and were refused: start4\\.elf to ${SERIAL} \\(last \\S+\\); fixup4\\.dat to ${SERIAL}`));
    assert.doesNotMatch(refused.message, /pieeprom/);
    assert.match(text, new RegExp(`fix: copy start4\\.elf, fixup4\\.dat from the boot/ folder of the Raspberry Pi firmware repository .* into ${assets}/firmware/`));
  });

  it('a file put in place since is no longer reported', async () => {
    writeFileSync(path.join(assets, 'firmware', 'start4.elf'), 'firmware');
    const refused = (await doctor(daemon.configFile, ['--url', daemon.httpUrl])).check('firmware.refused');
    assert.doesNotMatch(refused.message, /start4\.elf/);
    assert.match(refused.message, /fixup4\.dat/);
    writeFileSync(path.join(assets, 'firmware', 'fixup4.dat'), 'firmware');
    assert.equal((await doctor(daemon.configFile, ['--url', daemon.httpUrl])).check('firmware.refused').status, 'ok');
  });
});
