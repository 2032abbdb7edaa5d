/** Boot events stay bounded in rows however many packets a LAN sends: retention by count, refusals aggregated. */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import pino from 'pino';
import { openInventory } from '../server/inventory/index.js';
import { startEventRetention } from '../server/timeline/retention.js';

const dirs: string[] = [];
after(() => dirs.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

function inventory() {
  const dir = mkdtempSync(path.join(tmpdir(), 'rbt-event-bounds-'));
  dirs.push(dir);
  return openInventory(dir);
}

const count = (inv: ReturnType<typeof inventory>) => (inv.db.prepare('SELECT count(*) AS n FROM events').get() as { n: number }).n;

describe('event retention', () => {
  it('events.maxRows keeps the newest rows and deletes the rest, whatever their age', async () => {
    const inv = inventory();
    const now = Date.now();
    for (let i = 0; i < 1_000; i++) inv.events.insert({ nodeId: null, at: now, source: 'dhcp', kind: 'discover', detail: { i } });
    const stop = startEventRetention(inv.events, { retentionDays: 30, maxRows: 100 }, pino({ level: 'silent' }));
    await stop();
    assert.equal(count(inv), 100);
    const kept = inv.events.recent(1_000).map((event) => event.detail['i']);
    assert.equal(kept[0], 999, 'the newest is kept');
    assert.equal(kept.at(-1), 900);
    inv.close();
  });
});
