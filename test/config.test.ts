import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { loadConfig, parseConfig } from '../server/config/load.js';
import { PUBLISHED_TOKENS } from '../server/config/published-tokens.js';
import { embeddedConfig } from '../server/cli/context.js';
import { repoRoot, runCli } from './helpers/daemon.js';

const minimal = { serverAddress: '10.0.0.1', dataDir: './data' };

function rejects(raw: unknown, pattern: RegExp) {
  assert.throws(() => parseConfig(raw, '/etc/rackboot/config.json'), pattern);
}

describe('config', () => {
  it('fills defaults: standard ports, DHCP off, paths resolved against the file', () => {
    const config = parseConfig(minimal, '/etc/rackboot/config.json');
    assert.equal(config.http.port, 80);
    assert.equal(config.tftp.port, 69);
    assert.equal(config.dhcp.port, 67);
    assert.equal(config.dhcp.enabled, false);
    assert.equal(config.defaultImage, null);
    assert.equal(config.dataDir, '/etc/rackboot/data');
  });

  it('the shipped example is valid, keeps DHCP off and carries no token (a read-only API)', () => {
    const config = loadConfig(embeddedConfig, {});
    assert.equal(config.dhcp.enabled, false);
    assert.equal(config.tftp.enabled, true);
    assert.equal(config.http.adminToken, undefined);
  });

  it('refuses every admin token written in the repository, and placeholders', () => {
    const tracked = execFileSync('git', ['ls-files', '-z'], { cwd: repoRoot, encoding: 'utf8' }).split('\0').filter(Boolean);
    const inRepository = new Set(PUBLISHED_TOKENS);
    for (const file of tracked.filter((name) => /\.(json|ts|js|md)$/.test(name))) {
      const text = readFileSync(path.join(repoRoot, file), 'utf8');
      for (const match of text.matchAll(/adminToken["']?\s*[:=]\s*["'`]([^"'`\s]{16,})["'`]/g)) inRepository.add(match[1]!);
    }
    for (const token of [...inRepository, 'change-me-please-0123', 'xxxxxxxxxxxxxxxxxxxxxxxx']) {
      rejects({ ...minimal, http: { adminToken: token } }, /http\.adminToken: this token is published/);
    }
    const random = 'f3a91c07d2b84e6a59c1e0b7d4a2f6c8';
    assert.equal(parseConfig({ ...minimal, http: { adminToken: random } }, '/etc/rackboot/config.json').http.adminToken, random);
  });

  it('RACKBOOT_ADMIN_TOKEN sets the token and is checked like the config field', () => {
    const random = 'f3a91c07d2b84e6a59c1e0b7d4a2f6c8';
    assert.equal(loadConfig(embeddedConfig, { RACKBOOT_ADMIN_TOKEN: random }).http.adminToken, random);
    assert.throws(() => loadConfig(embeddedConfig, { RACKBOOT_ADMIN_TOKEN: 'change-me-to-a-long-random-token' }), /http\.adminToken: this token is published/);
  });

  it('a published token stops start-up, naming http.adminToken, before anything is written; doctor fails on it', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'rackboot-config-'));
    const file = path.join(dir, 'config.json');
    writeFileSync(file, JSON.stringify({ ...minimal, http: { address: '127.0.0.1', port: 0, adminToken: 'change-me-to-a-long-random-token' }, tftp: { enabled: false } }));
    const result = await runCli(['serve'], file);
    assert.equal(result.code, 78);
    assert.match(result.stderr, /http\.adminToken: this token is published/);
    assert.equal(existsSync(path.join(dir, 'data')), false);

    const doctor = await runCli(['doctor', '--json'], file);
    assert.equal(doctor.code, 1);
    const checks = (JSON.parse(doctor.stdout) as { checks: { id: string; status: string; message: string }[] }).checks;
    assert.ok(checks.some((check) => check.id === 'config' && check.status === 'fail' && /http\.adminToken/.test(check.message)), doctor.stdout);
  });

  it('names the field of a wrong type, an unknown field and a missing one', () => {
    rejects({ ...minimal, http: { port: 70000 } }, /http\.port: must be <= 65535/);
    rejects({ ...minimal, http: { prot: 80 } }, /http\.prot: unknown field/);
    rejects({ dataDir: './data' }, /serverAddress: required field is missing/);
    rejects({ ...minimal, serverAddress: '10.0.0' }, /serverAddress: must match format "ipv4"/);
    rejects({ ...minimal, dhcp: { mode: 'relay' } }, /dhcp\.mode: must be one of "server", "proxy"/);
  });

  it('enabling DHCP requires an interface and a subnet, and server mode a pool inside it', () => {
    rejects({ ...minimal, dhcp: { enabled: true, mode: 'proxy' } }, /dhcp\.interface: required field is missing/);
    rejects(
      { ...minimal, dhcp: { enabled: true, mode: 'server', interface: 'eth1', subnet: '10.0.0.0/24' } },
      /dhcp\.pool: required field is missing/,
    );
    rejects(
      {
        ...minimal,
        dhcp: { enabled: true, mode: 'server', interface: 'eth1', subnet: '10.0.0.0/24', pool: { start: '10.0.1.10', end: '10.0.0.20' } },
      },
      /dhcp\.pool\.start: 10\.0\.1\.10 is outside 10\.0\.0\.0\/24/,
    );
  });

  it('a pool holding the network, broadcast, router or server address is refused, naming the pool', () => {
    const dhcp = { enabled: true, mode: 'server', interface: 'eth1', subnet: '10.0.0.0/24', router: '10.0.0.254' };
    rejects({ ...minimal, dhcp: { ...dhcp, pool: { start: '10.0.0.1', end: '10.0.0.50' } } }, /dhcp\.pool: contains this server's address \(serverAddress\) 10\.0\.0\.1/);
    rejects({ ...minimal, dhcp: { ...dhcp, pool: { start: '10.0.0.0', end: '10.0.0.0' } } }, /dhcp\.pool: contains the network address 10\.0\.0\.0/);
    rejects({ ...minimal, dhcp: { ...dhcp, pool: { start: '10.0.0.200', end: '10.0.0.255' } } }, /dhcp\.pool: contains the broadcast address 10\.0\.0\.255[^]*dhcp\.pool: contains the router 10\.0\.0\.254/);
    rejects(
      { ...minimal, dhcp: { ...dhcp, pool: { start: '10.0.0.100', end: '10.0.0.150' }, relaySubnets: [{ subnet: '10.1.0.0/24', router: '10.1.0.1', pool: { start: '10.1.0.1', end: '10.1.0.9' } }] } },
      /dhcp\.relaySubnets\.0\.pool: contains the router 10\.1\.0\.1/,
    );
    assert.doesNotThrow(() => parseConfig({ ...minimal, dhcp: { ...dhcp, pool: { start: '10.0.0.100', end: '10.0.0.150' } } }, '/etc/rackboot/config.json'));
  });

  it('a subnet that does not parse is named, with or without a pool, local or relayed', () => {
    const dhcp = { enabled: true, mode: 'server', interface: 'eth1' };
    rejects({ ...minimal, dhcp: { ...dhcp, mode: 'proxy', subnet: '10.0.0.0/33' } }, /dhcp\.subnet: not a CIDR subnet: 10\.0\.0\.0\/33/);
    rejects({ ...minimal, dhcp: { ...dhcp, subnet: '10.0.0.0/33', pool: { start: '10.0.0.10', end: '10.0.0.20' } } }, /dhcp\.subnet: not a CIDR subnet/);
    rejects(
      { ...minimal, dhcp: { ...dhcp, subnet: '10.0.0.0/24', pool: { start: '10.0.0.10', end: '10.0.0.20' }, relaySubnets: [{ subnet: '10.1.0.0/40', pool: { start: '10.1.0.10', end: '10.1.0.20' } }] } },
      /dhcp\.relaySubnets\.0\.subnet: not a CIDR subnet: 10\.1\.0\.0\/40/,
    );
  });

  it('a broken file stops start-up with the field named, and nothing is written', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'rackboot-config-'));
    const file = path.join(dir, 'config.json');
    writeFileSync(file, JSON.stringify({ ...minimal, http: { port: 'eighty' } }));
    const result = await runCli(['serve'], file);
    assert.equal(result.code, 78);
    assert.match(result.stderr, /http\.port: must be integer/);
    assert.equal(existsSync(path.join(dir, 'data')), false);

    writeFileSync(file, '{ "serverAddress": ');
    const broken = await runCli(['serve'], file);
    assert.equal(broken.code, 78);
    assert.match(broken.stderr, /is not valid JSON/);
  });
});
