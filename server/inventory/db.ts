import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { ensurePrivateDir, ensurePrivateFile } from '../files/private.js';

export type Db = Database.Database;

export class MigrationError extends Error {
  readonly code = 'RB_MIGRATION';
}

export const shippedMigrationsDir = fileURLToPath(new URL('../../../migrations', import.meta.url));

interface Migration {
  version: number;
  name: string;
  sql: string;
}

function readMigrations(dir: string): Migration[] {
  return readdirSync(dir)
    .filter((file) => /^\d+_.+\.sql$/.test(file))
    .map((file) => ({
      version: Number.parseInt(file, 10),
      name: file,
      sql: readFileSync(path.join(dir, file), 'utf8'),
    }))
    .sort((a, b) => a.version - b.version);
}

/**
 * Applies every migration newer than the database, each in its own transaction, and
 * refuses a database written by a newer rackboot (its schema could be misread).
 */
export function migrate(db: Db, dir = shippedMigrationsDir): number[] {
  db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)`);
  const migrations = readMigrations(dir);
  const known = migrations.at(-1)?.version ?? 0;
  const current = (db.prepare('SELECT max(version) AS v FROM schema_migrations').get() as { v: number | null }).v ?? 0;
  if (current > known) {
    throw new MigrationError(
      `database schema version ${current} is newer than this rackboot knows (${known}): upgrade rackboot or restore a backup of the database`,
    );
  }
  const applied: number[] = [];
  for (const migration of migrations.filter((m) => m.version > current)) {
    db.transaction(() => {
      db.exec(migration.sql);
      db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(
        migration.version,
        migration.name,
        Date.now(),
      );
    })();
    applied.push(migration.version);
  }
  return applied;
}

/** Where the inventory of a dataDir lives. */
export const databaseFile = (dataDir: string): string => path.join(dataDir, 'rackboot.sqlite');

export function openDatabase(dataDir: string): Db {
  ensurePrivateDir(dataDir);
  const file = databaseFile(dataDir);
  // SQLite creates the -wal and -shm files with the database file's mode, so this covers them too.
  ensurePrivateFile(file);
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  // The CLI and the daemon share the file; a writer waits instead of failing.
  db.pragma('busy_timeout = 5000');
  db.pragma('foreign_keys = ON');
  db.pragma('synchronous = NORMAL');
  migrate(db);
  return db;
}
