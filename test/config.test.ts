import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { loadConfig, parseConfig } from '../server/config/load.js';
import { embeddedConfig } from '../server/cli/context.js';
import { runCli } from './helpers/daemon.js';

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

  it('the shipped example is valid and keeps DHCP off', () => {
    const config = loadConfig(embeddedConfig);
    assert.equal(config.dhcp.enabled, false);
    assert.equal(config.tftp.enabled, true);
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
