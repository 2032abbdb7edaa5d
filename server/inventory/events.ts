import type { Db } from './db.js';

export interface StoredEvent {
  id: number;
  nodeId: number | null;
  at: number;
  source: string;
  kind: string;
  detail: Record<string, unknown>;
}

interface EventRow {
  id: number;
  node_id: number | null;
  at: number;
  source: string;
  kind: string;
  detail: string;
}

const toEvent = (row: EventRow): StoredEvent => ({
  id: row.id,
  nodeId: row.node_id,
  at: row.at,
  source: row.source,
  kind: row.kind,
  detail: JSON.parse(row.detail) as Record<string, unknown>,
});

export class Events {
  private readonly insertStmt;

  constructor(private readonly db: Db) {
    // Events are written in batches a moment after they happen: a node deleted meanwhile leaves them unattached.
    this.insertStmt = db.prepare(
      'INSERT INTO events (node_id, at, source, kind, detail) VALUES ((SELECT id FROM nodes WHERE id = ?), ?, ?, ?, ?)',
    );
  }

  /** Returns the new event's id. */
  insert(event: Omit<StoredEvent, 'id'>): number {
    return Number(this.insertStmt.run(event.nodeId, event.at, event.source, event.kind, JSON.stringify(event.detail)).lastInsertRowid);
  }

  /** Newest first. */
  forNode(nodeId: number, limit = 200, afterId = 0): StoredEvent[] {
    return this.db
      .prepare<[number, number, number], EventRow>(
        'SELECT * FROM events WHERE node_id = ? AND id > ? ORDER BY id DESC LIMIT ?',
      )
      .all(nodeId, afterId, limit)
      .map(toEvent);
  }

  recent(limit = 200, afterId = 0): StoredEvent[] {
    return this.db
      .prepare<[number, number], EventRow>('SELECT * FROM events WHERE id > ? ORDER BY id DESC LIMIT ?')
      .all(afterId, limit)
      .map(toEvent);
  }

  pruneBefore(at: number): number {
    return this.db.prepare('DELETE FROM events WHERE at < ?').run(at).changes;
  }

  /** Deletes the oldest events beyond the newest `keep`; ids grow with time, so by id. */
  pruneBeyond(keep: number): number {
    return this.db
      .prepare('DELETE FROM events WHERE id <= (SELECT id FROM events ORDER BY id DESC LIMIT 1 OFFSET ?)')
      .run(keep).changes;
  }
}
