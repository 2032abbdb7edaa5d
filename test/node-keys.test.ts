import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { openInventory } from '../server/inventory/index.js';
import type { Mac } from '../server/net/mac.js';
import { until } from './helpers/wait.js';

const dirs: string[] = [];
after(() => dirs.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

function twoConnections() {
  const dir = mkdtempSync(path.join(tmpdir(), 'rbt-node-keys-'));
  dirs.push(dir);
  // The daemon and the CLI: two connections to one file.
  return { daemon: openInventory(dir), cli: openInventory(dir) };
}

const macA = 'dc:a6:32:00:00:0a' as Mac;
const macB = 'dc:a6:32:00:00:0b' as Mac;

describe('node key index (ids and reservations per packet, from memory)', () => {
  it("sees this connection's writes at once: new nodes, reservations, a serial folded into its MAC, removal", () => {
    const { daemon } = twoConnections();
    assert.equal(daemon.nodes.idOf({ mac: macA }), undefined);
    const a = daemon.nodes.observe({ mac: macA });
    assert.equal(daemon.nodes.idOf({ mac: macA }), a.id);

    daemon.nodes.upsert({ mac: macA }, { reservedIp: '10.0.0.10' });
    assert.equal(daemon.nodes.reservedIpOf(macA), '10.0.0.10');
    assert.equal(daemon.nodes.reservedFor('10.0.0.10'), macA);
    daemon.nodes.upsert({ mac: macA }, { reservedIp: '10.0.0.11' });
    assert.equal(daemon.nodes.reservedFor('10.0.0.10'), undefined, 'the old reservation is gone');
    assert.equal(daemon.nodes.reservedFor('10.0.0.11'), macA);

    // A Pi's serial seen over TFTP first, then DHCP reports MAC and serial together.
    const serialOnly = daemon.nodes.observe({ serial: '1a2b3c4d' });
    assert.equal(daemon.nodes.idOf({ serial: '1a2b3c4d' }), serialOnly.id);
    const b = daemon.nodes.observe({ mac: macB });
    daemon.nodes.link(macB, '1a2b3c4d');
    assert.equal(daemon.nodes.idOf({ serial: '1a2b3c4d' }), b.id, 'the serial now names the MAC node');

    daemon.nodes.remove(a.id);
    assert.equal(daemon.nodes.idOf({ mac: macA }), undefined);
    assert.equal(daemon.nodes.reservedFor('10.0.0.11'), undefined);
  });

  it('a write that fails leaves no trace in the index', () => {
    const { daemon } = twoConnections();
    daemon.nodes.upsert({ mac: macA }, { reservedIp: '10.0.0.10' });
    // macB does not exist yet: upsert creates it, then the UNIQUE reservation fails and rolls it back.
    assert.throws(() => daemon.nodes.upsert({ mac: macB }, { reservedIp: '10.0.0.10' }), /UNIQUE/);
    assert.equal(daemon.nodes.idOf({ mac: macB }), undefined);
    assert.equal(daemon.nodes.reservedFor('10.0.0.10'), macA);
  });

  it("sees another process's commits (the CLI setting a reservation) within milliseconds", async () => {
    const { daemon, cli } = twoConnections();
    const node = daemon.nodes.observe({ mac: macA });
    assert.equal(daemon.nodes.reservedIpOf(macA), undefined);
    cli.nodes.upsert({ mac: macA }, { reservedIp: '10.0.0.20' });
    cli.nodes.observe({ mac: macB });
    await until('the reservation made by the other connection', () => daemon.nodes.reservedIpOf(macA), 1000);
    assert.equal(daemon.nodes.reservedIpOf(macA), '10.0.0.20');
    assert.equal(daemon.nodes.reservedFor('10.0.0.20'), macA);
    assert.equal(daemon.nodes.idOf({ mac: macA }), node.id);
    assert.ok(daemon.nodes.idOf({ mac: macB }));
    cli.nodes.remove(node.id);
    await until('the removal made by the other connection', () => (daemon.nodes.idOf({ mac: macA }) === undefined ? true : undefined), 1000);
  });
});
