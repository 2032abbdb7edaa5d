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
  /** Set on a rollback: the operator's assignment it restores. */
  restores: number | null;
}

/** What a rollback did, or why it could not. */
export type RollbackResult =
  | { outcome: 'restored'; assignment: Assignment; restored: Assignment }
  | { outcome: 'no-assignment' }
  /** `first` is the operator's assignment in force: nothing different was assigned before it. */
  | { outcome: 'start-of-history'; first: Assignment };

interface AssignmentRow {
  id: number;
  node_id: number;
  image_name: string | null;
  image_version: number | null;
  once: number;
  consumed_at: number | null;
  created_by: string;
  created_at: number;
  restores: number | null;
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
    restores: row.restores,
  };
}

/** Ids of the assignments that hold an image: each node's standing one and its pending one-shots. */
const IN_FORCE = `SELECT max(id) FROM assignments WHERE once = 0 GROUP BY node_id
  UNION SELECT id FROM assignments WHERE once = 1 AND consumed_at IS NULL`;

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
   * `restores` is set by rollback only.
   */
  assign(
    nodeId: number,
    target: { imageName: string | null; imageVersion?: number | null; once?: boolean; restores?: number },
    by: string,
    now = Date.now(),
  ): Assignment {
    return this.cache.write(() => {
      if (!target.once) {
        this.db.prepare('UPDATE assignments SET consumed_at = ? WHERE node_id = ? AND once = 1 AND consumed_at IS NULL').run(now, nodeId);
      }
      const id = this.db
        .prepare(
          `INSERT INTO assignments (node_id, image_name, image_version, once, created_by, created_at, restores)
           VALUES (?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(nodeId, target.imageName, target.imageVersion ?? null, target.once ? 1 : 0, by, now, target.restores ?? null).lastInsertRowid;
      return toAssignment(this.db.prepare<[number], AssignmentRow>('SELECT * FROM assignments WHERE id = ?').get(Number(id))!);
    });
  }

  /**
   * Steps the standing assignment one place back through the history, as a new entry (the history
   * stays append-only): A, B, C then rollback gives B, rollback again A. Works like undo: an
   * assignment made after a rollback is undone back to what the rollback restored. One-shots are not
   * standing assignments and are never restored; pending ones are cancelled, as by any standing
   * assignment. Entries that would change nothing (the image and version in force) are skipped.
   */
  rollback(nodeId: number, by: string, now = Date.now()): RollbackResult {
    return this.db.transaction((): RollbackResult => {
      const standing = this.history(nodeId).filter((entry) => !entry.once);
      const byId = new Map(standing.map((entry) => [entry.id, entry]));
      // A rollback stands for the operator's assignment it restored: stepping back goes on from there.
      const origin = (entry: Assignment) => (entry.restores !== null && byId.get(entry.restores)) || entry;
      const current = standing[0];
      if (!current) return { outcome: 'no-assignment' };
      const unchanged = (entry: Assignment) => entry.imageName === current.imageName && entry.imageVersion === current.imageVersion;
      let restored = origin(current);
      do {
        // Newest first: the first older entry is what was in force when `restored` was assigned.
        const before = standing.find((entry) => entry.id < restored.id);
        if (!before) return { outcome: 'start-of-history', first: origin(current) };
        restored = origin(before);
      } while (unchanged(restored));
      const target = { imageName: restored.imageName, imageVersion: restored.imageVersion, restores: restored.id };
      return { outcome: 'restored', assignment: this.assign(nodeId, target, by, now), restored };
    })();
  }

  consume(assignmentId: number, now = Date.now()): void {
    this.cache.write(() => this.db.prepare('UPDATE assignments SET consumed_at = ? WHERE id = ? AND consumed_at IS NULL').run(now, assignmentId));
  }

  /** Names of images some node's standing or pending assignment refers to. */
  imagesInUse(): Set<string> {
    const rows = this.db
      .prepare<[], { image_name: string }>(`SELECT DISTINCT a.image_name FROM assignments a WHERE a.image_name IS NOT NULL AND a.id IN (${IN_FORCE})`)
      .all();
    return new Set(rows.map((row) => row.image_name));
  }

  /** The nodes (MAC, else serial) whose standing or pending assignment refers to `imageName`: the first `limit`, and how many in all. */
  holders(imageName: string, limit: number): { nodes: string[]; total: number } {
    const rows = this.db
      .prepare<[string], { name: string }>(
        `SELECT DISTINCT coalesce(n.mac, n.serial) AS name FROM assignments a JOIN nodes n ON n.id = a.node_id
         WHERE a.image_name = ? AND a.id IN (${IN_FORCE}) ORDER BY n.id`,
      )
      .all(imageName);
    return { nodes: rows.slice(0, limit).map((row) => row.name), total: rows.length };
  }
}
