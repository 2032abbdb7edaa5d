import type { Db } from './db.js';
import type { ReadCache } from './read-cache.js';

export interface Assignment {
  id: number;
  nodeId: number;
  /** null: explicitly unassigned */
  imageName: string | null;
  /** Pinned version, or null to follow the newest. */
  imageVersion: number | null;
  once: boolean;
  consumedAt: number | null;
  createdBy: string;
  createdAt: number;
}

interface AssignmentRow {
  id: number;
  node_id: number;
  image_name: string | null;
  image_version: number | null;
  once: number;
  consumed_at: number | null;
  created_by: string;
  created_at: number;
}

function toAssignment(row: AssignmentRow): Assignment {
  return {
    id: row.id,
    nodeId: row.node_id,
    imageName: row.image_name,
    imageVersion: row.image_version,
    once: row.once === 1,
    consumedAt: row.consumed_at,
    createdBy: row.created_by,
    createdAt: row.created_at,
  };
}

export class Assignments {
  // Prepared once: every chain request and Pi file lookup reads the history.
  private readonly historyStmt;

  constructor(
    private readonly db: Db,
    private readonly cache: ReadCache,
  ) {
    this.historyStmt = db.prepare<[number], AssignmentRow>('SELECT * FROM assignments WHERE node_id = ? ORDER BY id DESC');
  }

  history(nodeId: number): Assignment[] {
    return this.historyStmt.all(nodeId).map(toAssignment);
  }

  /**
   * The assignment the node's next boot gets: a pending one-shot wins over the standing one. A
   * one-shot is over once the boot that used it is (the policy keeps that boot's plan, not this).
   */
  current(nodeId: number): Assignment | undefined {
    return this.cache.read(`assignment:${nodeId}`, () => this.inForce(nodeId));
  }

  private inForce(nodeId: number): Assignment | undefined {
    // Newest first, read only down to the standing entry: the rest of a long history is never loaded.
    for (const row of this.historyStmt.iterate(nodeId)) {
      const entry = toAssignment(row);
      if (!entry.once) return entry;
      if (entry.consumedAt === null) return entry;
    }
    return undefined;
  }

  /**
   * Adds an assignment. A standing one cancels the node's pending one-shots: current() would
   * never reach them behind it, and they would keep their image "in use" for delete and gc.
   */
  assign(
    nodeId: number,
    target: { imageName: string | null; imageVersion?: number | null; once?: boolean },
    by: string,
    now = Date.now(),
  ): Assignment {
    return this.cache.write(() => {
      if (!target.once) {
        this.db.prepare('UPDATE assignments SET consumed_at = ? WHERE node_id = ? AND once = 1 AND consumed_at IS NULL').run(now, nodeId);
      }
      const id = this.db
        .prepare(
          `INSERT INTO assignments (node_id, image_name, image_version, once, created_by, created_at)
           VALUES (?, ?, ?, ?, ?, ?)`,
        )
        .run(nodeId, target.imageName, target.imageVersion ?? null, target.once ? 1 : 0, by, now).lastInsertRowid;
      return toAssignment(this.db.prepare<[number], AssignmentRow>('SELECT * FROM assignments WHERE id = ?').get(Number(id))!);
    });
  }

  /**
   * Restores the standing assignment before the current one, as a new history entry (so a
   * rollback can itself be rolled back). Pending one-shots are cancelled by it.
   */
  rollback(nodeId: number, by: string, now = Date.now()): Assignment | undefined {
    return this.db.transaction(() => {
      const standing = this.history(nodeId).filter((entry) => !entry.once);
      const [current, ...older] = standing;
      if (!current) return undefined;
      const differs = (entry: Assignment) =>
        entry.imageName !== current.imageName || entry.imageVersion !== current.imageVersion;
      const previous = older.find(differs);
      if (!previous) return undefined;
      return this.assign(nodeId, { imageName: previous.imageName, imageVersion: previous.imageVersion }, by, now);
    })();
  }

  consume(assignmentId: number, now = Date.now()): void {
    this.cache.write(() => this.db.prepare('UPDATE assignments SET consumed_at = ? WHERE id = ? AND consumed_at IS NULL').run(now, assignmentId));
  }

  /** Names of images some node's standing or pending assignment refers to. */
  imagesInUse(): Set<string> {
    const rows = this.db
      .prepare<[], { image_name: string }>(
        `SELECT DISTINCT a.image_name FROM assignments a
         WHERE a.image_name IS NOT NULL AND a.id IN (
           SELECT max(id) FROM assignments WHERE once = 0 GROUP BY node_id
           UNION SELECT id FROM assignments WHERE once = 1 AND consumed_at IS NULL)`,
      )
      .all();
    return new Set(rows.map((row) => row.image_name));
  }
}
