import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { pino } from 'pino';
import { startCheckpointer } from '../server/inventory/checkpointer.js';
import { openInventory } from '../server/inventory/index.js';
import { until } from './helpers/wait.js';

test('WAL checkpoints run in a worker thread, not in the commits of the daemon connection', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'rbt-checkpoint-'));
  const inventory = openInventory(dir);
  const stop = startCheckpointer(inventory.db, pino({ level: 'silent' }));
  try {
    await until('the worker taking over', () => (inventory.db.pragma('wal_autocheckpoint', { simple: true }) === 0 ? true : undefined), 10_000);
    const databaseFile = path.join(dir, 'rackboot.sqlite');
    const before = statSync(databaseFile).size;
    // 8 MB of events: twice what SQLite's own auto-checkpoint would have copied in one of these commits.
    const detail = { padding: 'x'.repeat(4_000) };
    inventory.db.transaction(() => {
      for (let i = 0; i < 2_000; i++) inventory.events.insert({ nodeId: null, at: i, source: 'test', kind: 'bulk', detail });
    })();
    assert.ok(statSync(databaseFile).size - before < 1_000_000, 'the commit itself copied nothing into the database file');
    await until('the worker copying the WAL into the database file', () => (statSync(databaseFile).size - before > 8_000_000 ? true : undefined), 10_000);
    assert.equal(inventory.events.recent(1)[0]?.kind, 'bulk');
  } finally {
    await stop();
    inventory.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
