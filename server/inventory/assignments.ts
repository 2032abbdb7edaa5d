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

/**
 * A one-shot assignment stays in force this long after the boot that consumed it started,
 * so every file of that boot (config.txt, kernel, initramfs, retries) comes from the same image.
 */
export const ONCE_BOOT_WINDOW_MS = 10 * 60_000;

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
   * The assignment in force: a pending (or just consumed) one-shot wins over the standing one.
   * Without `now` it is the answer for the present, from the cache until a consumed one-shot's
   * window ends.
   */
  current(nodeId: number, now?: number): Assignment | undefined {
    if (now !== undefined) return this.inForce(nodeId, now);
    return this.cache.read(
      `assignment:${nodeId}`,
      () => this.inForce(nodeId, Date.now()),
      (entry) => (entry?.once && entry.consumedAt !== null ? entry.consumedAt + ONCE_BOOT_WINDOW_MS : Infinity),
    );
  }

  private inForce(nodeId: number, now: number): Assignment | undefined {
    let standing: Assignment | undefined;
    // Newest first, read only down to the standing entry: the rest of a long history is never loaded.
    for (const row of this.historyStmt.iterate(nodeId)) {
      const entry = toAssignment(row);
      if (!entry.once) {
        standing = entry;
        break;
      }
      const inForce = entry.consumedAt === null || now - entry.consumedAt < ONCE_BOOT_WINDOW_MS;
      if (inForce) return entry;
    }
    return standing;
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
        this.db.prepare('UPDATE assignments SET consumed_at = ? WHERE node_id = ? AND once = 1 AND consumed_at IS NULL').run(
          now - ONCE_BOOT_WINDOW_MS,
          nodeId,
        );
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
