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

function tempDir(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'rbt-read-cache-'));
  dirs.push(dir);
  return dir;
}

const mac = 'dc:a6:32:00:00:0c' as Mac;
const kernel = (digest: string) => ({ digest: digest.repeat(64), size: 10 });

describe('read cache (nodes, assignments and images from memory)', () => {
  it("answers this connection's writes at once", () => {
    const inventory = openInventory(tempDir());
    const node = inventory.nodes.observe({ mac });
    inventory.images.add({ name: 'a', arch: 'arm64', kernel: kernel('a') });
    inventory.images.add({ name: 'b', arch: 'arm64', kernel: kernel('b') });
    inventory.assignments.assign(node.id, { imageName: 'a' }, 'test');
    assert.equal(inventory.assignments.current(node.id)?.imageName, 'a');
    assert.equal(inventory.images.newest('a', 'arm64')?.version, 1);

    inventory.assignments.assign(node.id, { imageName: 'b' }, 'test');
    assert.equal(inventory.assignments.current(node.id)?.imageName, 'b');
    inventory.images.add({ name: 'b', arch: 'arm64', kernel: kernel('c') });
    assert.equal(inventory.images.newest('b', 'arm64')?.version, 2);
    inventory.images.remove('b', 2);
    assert.equal(inventory.images.newest('b', 'arm64')?.version, 1);

    inventory.nodes.upsert({ mac }, { hostname: 'rack1-n3' });
    assert.equal(inventory.nodes.byMac(mac)?.hostname, 'rack1-n3');
    assert.equal(inventory.nodes.byId(node.id)?.hostname, 'rack1-n3');
    inventory.nodes.remove(node.id);
    assert.equal(inventory.nodes.byMac(mac), undefined);
    assert.equal(inventory.assignments.current(node.id), undefined, 'the assignments went with the node');
  });

  it('keeps nothing a rolled-back transaction wrote', () => {
    const inventory = openInventory(tempDir());
    const node = inventory.nodes.observe({ mac });
    inventory.assignments.assign(node.id, { imageName: 'a' }, 'test');
    assert.equal(inventory.assignments.current(node.id)?.imageName, 'a');
    assert.throws(
      () =>
        inventory.db.transaction(() => {
          inventory.assignments.assign(node.id, { imageName: 'b' }, 'test');
          assert.equal(inventory.assignments.current(node.id)?.imageName, 'b', 'seen inside the transaction');
          throw new Error('operator aborted');
        })(),
      /operator aborted/,
    );
    assert.equal(inventory.assignments.current(node.id)?.imageName, 'a');
  });

  it("sees another process's commits (the CLI reassigning a node) within milliseconds", async () => {
    const dir = tempDir();
    const daemon = openInventory(dir);
    const cli = openInventory(dir);
    const node = daemon.nodes.observe({ mac });
    daemon.images.add({ name: 'a', arch: 'arm64', kernel: kernel('a') });
    daemon.assignments.assign(node.id, { imageName: 'a' }, 'test');
    assert.equal(daemon.assignments.current(node.id)?.imageName, 'a');
    assert.equal(daemon.images.newest('a', 'arm64')?.version, 1);

    cli.assignments.assign(node.id, { imageName: 'b' }, 'cli');
    cli.images.add({ name: 'a', arch: 'arm64', kernel: kernel('d') });
    cli.nodes.upsert({ mac }, { hostname: 'from-cli' });
    await until('the assignment made by the other connection', () => (daemon.assignments.current(node.id)?.imageName === 'b' ? true : undefined), 1000);
    assert.equal(daemon.images.newest('a', 'arm64')?.version, 2);
    assert.equal(daemon.nodes.byMac(mac)?.hostname, 'from-cli');
  });

  it('hands out records no caller can change for the others', () => {
    const inventory = openInventory(tempDir());
    inventory.nodes.upsert({ mac }, { sshKeys: ['ssh-ed25519 AAAA test'] });
    const node = inventory.nodes.byMac(mac)!;
    assert.throws(() => Object.assign(node, { hostname: 'changed' }), TypeError);
    assert.throws(() => node.sshKeys.push('ssh-ed25519 BBBB other'), TypeError);
    assert.deepEqual(inventory.nodes.byMac(mac)?.sshKeys, ['ssh-ed25519 AAAA test']);
  });
});
