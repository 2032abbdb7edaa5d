// Rollback steps back through a node's assignment history (A, B, C: rollback gives B, again A),
// works like undo after a new assignment, skips one-shots and says what it restored. The inventory
// is the unit; the CLI and API wording is in cli.test.ts.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { openInventory, type Inventory } from '../server/inventory/index.js';
import type { RollbackResult } from '../server/inventory/assignments.js';
import type { Mac } from '../server/net/mac.js';

describe('assignment rollback walks back through the history', () => {
  let dir: string;
  let inventory: Inventory;
  let macs = 0;
  const newNode = () => inventory.nodes.upsert({ mac: `52:54:00:00:0b:${(++macs).toString(16).padStart(2, '0')}` as Mac }, {}).id;
  const assign = (node: number, imageName: string | null, by = 'cli:ann', extra: { once?: boolean; imageVersion?: number } = {}) =>
    inventory.assignments.assign(node, { imageName, ...extra }, by);
  const restoredImage = (result: RollbackResult) => {
    assert.equal(result.outcome, 'restored');
    return result.outcome === 'restored' ? result.assignment.imageName : undefined;
  };
  const standingImage = (node: number) => inventory.assignments.current(node)?.imageName;

  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'rackboot-rollback-'));
    inventory = openInventory(dir);
  });
  after(() => {
    inventory.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('A, B, C: rollback gives B, then A, then refuses at the start of history naming the first', () => {
    const node = newNode();
    const a = assign(node, 'A', 'cli:ann');
    assign(node, 'B', 'api:10.0.0.9');
    assign(node, 'C');
    const toB = inventory.assignments.rollback(node, 'cli:bob');
    assert.equal(restoredImage(toB), 'B');
    assert.equal(toB.outcome === 'restored' && toB.restored.createdBy, 'api:10.0.0.9', 'it names the assignment it restores');
    assert.equal(standingImage(node), 'B');
    const toA = inventory.assignments.rollback(node, 'cli:bob');
    assert.equal(restoredImage(toA), 'A');
    assert.equal(toA.outcome === 'restored' && toA.restored.id, a.id);
    const end = inventory.assignments.rollback(node, 'cli:bob');
    assert.deepEqual(end.outcome === 'start-of-history' && [end.first.id, end.first.imageName], [a.id, 'A']);
    assert.equal(standingImage(node), 'A', 'a refused rollback changes nothing');
    assert.equal(inventory.assignments.history(node).length, 5, 'two rollbacks added two entries, the refused one none');
  });

  it('an assignment after a rollback is undone back to what the rollback restored (undo, not toggle)', () => {
    const node = newNode();
    for (const image of ['A', 'B', 'C']) assign(node, image);
    assert.equal(restoredImage(inventory.assignments.rollback(node, 'cli:bob')), 'B');
    assign(node, 'D');
    assert.equal(restoredImage(inventory.assignments.rollback(node, 'cli:bob')), 'B');
    assert.equal(restoredImage(inventory.assignments.rollback(node, 'cli:bob')), 'A');
  });

  it('one-shots are never stepped back onto, and a pending one is cancelled', () => {
    const node = newNode();
    assign(node, 'A');
    assign(node, 'rescue', 'cli:ann', { once: true });
    assign(node, 'B');
    assign(node, 'rescue', 'cli:ann', { once: true });
    assert.equal(inventory.assignments.current(node)?.imageName, 'rescue');
    assert.equal(restoredImage(inventory.assignments.rollback(node, 'cli:bob')), 'A');
    assert.equal(inventory.assignments.current(node)?.imageName, 'A', 'the pending one-shot no longer wins');
    assert.equal(inventory.assignments.rollback(node, 'cli:bob').outcome, 'start-of-history');
  });

  it('entries that would change nothing are skipped; unassigning is a step like any other', () => {
    const node = newNode();
    assign(node, 'A');
    assign(node, null);
    assign(node, 'B', 'cli:ann', { imageVersion: 2 });
    assign(node, 'B', 'cli:ann', { imageVersion: 2 });
    const result = inventory.assignments.rollback(node, 'cli:bob');
    assert.equal(restoredImage(result), null, 'the step before B v2 (twice) is the unassignment');
    assert.equal(restoredImage(inventory.assignments.rollback(node, 'cli:bob')), 'A');
  });

  it('a node with only one-shots, or none, has nothing to roll back', () => {
    const node = newNode();
    assert.equal(inventory.assignments.rollback(node, 'cli:bob').outcome, 'no-assignment');
    assign(node, 'rescue', 'cli:ann', { once: true });
    assert.equal(inventory.assignments.rollback(node, 'cli:bob').outcome, 'no-assignment');
  });
});
