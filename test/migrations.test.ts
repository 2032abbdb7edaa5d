import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { migrate, MigrationError, openDatabase, shippedMigrationsDir } from '../server/inventory/db.js';

const schemaOf = (db: Database.Database) =>
  db.prepare("SELECT name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY name").all();

describe('migrations', () => {
  it('a database created by migration 1 upgrades to the newest schema, and a second run changes nothing', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'rackboot-migrate-'));
    const onlyFirst = path.join(dir, 'first');
    mkdirSync(onlyFirst);
    copyFileSync(path.join(shippedMigrationsDir, '001_initial.sql'), path.join(onlyFirst, '001_initial.sql'));
    const db = new Database(path.join(dir, 'db.sqlite'));
    assert.deepEqual(migrate(db, onlyFirst), [1]);
    db.prepare("INSERT INTO nodes (mac, first_seen, last_seen) VALUES ('52:54:00:00:00:01', 1, 1)").run();

    const all = readdirSync(shippedMigrationsDir).filter((file) => file.endsWith('.sql')).map((file) => Number.parseInt(file, 10));
    assert.deepEqual(migrate(db), all.filter((version) => version > 1));
    const after = schemaOf(db);
    assert.deepEqual(migrate(db), []);
    assert.deepEqual(schemaOf(db), after);
    assert.equal((db.prepare('SELECT count(*) AS n FROM nodes').get() as { n: number }).n, 1);
    db.close();
  });

  it('refuses a database written by a newer rackboot', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'rackboot-migrate-'));
    const db = openDatabase(dir);
    db.prepare("INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, '999_future.sql', 0)").run();
    db.close();
    assert.throws(() => openDatabase(dir), (error: unknown) => error instanceof MigrationError && /newer than this rackboot/.test(error.message));
  });

  it('opens in WAL mode with a busy timeout', () => {
    const db = openDatabase(mkdtempSync(path.join(tmpdir(), 'rackboot-migrate-')));
    assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
    assert.equal(db.pragma('busy_timeout', { simple: true }), 5000);
    db.close();
  });
});
