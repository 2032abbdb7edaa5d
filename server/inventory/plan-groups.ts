import type { Db } from './db.js';
import { NEVER_SEEN, toRecord, type NodeRecord, type NodeRow } from './nodes.js';

/** What decides a node's plan (its arch and its assignment in force; none: the default applies), and whether it ever asked to boot. */
export interface PlanGroup {
  /** Opaque; hands a set of groups back to `page`. */
  key: string;
  arch: string | null;
  assignment: { imageName: string | null; imageVersion: number | null; once: boolean } | null;
  /** Some request of the node's reached us; a node only the operator registered has not asked to boot. */
  seen: boolean;
  nodes: number;
}

/**
 * Each node's assignment in force, as Assignments.current() picks it: the newest entry from the
 * newest standing one on that is standing or a one-shot still in force. Kept beside it in meaning;
 * the plan-groups test checks the two agree.
 */
const IN_FORCE = `
  standing AS (SELECT node_id, max(id) AS id FROM assignments WHERE once = 0 GROUP BY node_id),
  current AS (
    SELECT a.node_id, max(a.id) AS id FROM assignments a LEFT JOIN standing s ON s.node_id = a.node_id
    WHERE a.id >= coalesce(s.id, 0) AND (a.once = 0 OR a.consumed_at IS NULL)
    GROUP BY a.node_id),
  keyed AS (
    SELECT n.*, json_array(n.arch, c.id IS NOT NULL, a.image_name, a.image_version, a.once, n.last_seen != ${NEVER_SEEN}) AS plan_key,
      n.last_seen != ${NEVER_SEEN} AS seen,
      c.id IS NOT NULL AS assigned, a.image_name, a.image_version, a.once
    FROM nodes n LEFT JOIN current c ON c.node_id = n.id LEFT JOIN assignments a ON a.id = c.id)`;

/**
 * Nodes counted and paged by what decides their plan, in SQL: the page counts waiting nodes of a
 * rack of thousands and lists them first without planning each node (a handful of groups are
 * planned instead).
 */
export class PlanGroups {
  private readonly groupsStmt;
  private readonly pageStmt;

  constructor(db: Db) {
    this.groupsStmt = db.prepare<[], { plan_key: string; arch: string | null; assigned: number; image_name: string | null; image_version: number | null; once: number | null; seen: number; nodes: number }>(
      `WITH ${IN_FORCE} SELECT plan_key, arch, assigned, image_name, image_version, once, seen, count(*) AS nodes FROM keyed GROUP BY plan_key ORDER BY plan_key`,
    );
    this.pageStmt = db.prepare<{ first: string; offset: number; limit: number }, NodeRow>(
      `WITH ${IN_FORCE} SELECT * FROM keyed
       ORDER BY plan_key IN (SELECT value FROM json_each(@first)) DESC, id LIMIT @limit OFFSET @offset`,
    );
  }

  groups(): PlanGroup[] {
    return this.groupsStmt.all().map((row) => ({
      key: row.plan_key,
      arch: row.arch,
      assignment: row.assigned ? { imageName: row.image_name, imageVersion: row.image_version, once: row.once === 1 } : null,
      seen: row.seen === 1,
      nodes: row.nodes,
    }));
  }

  /** `limit` nodes from `offset`: those of the `first` groups, then the rest, each by id. */
  page(first: string[], offset: number, limit: number): NodeRecord[] {
    return this.pageStmt.all({ first: JSON.stringify(first), offset, limit }).map(toRecord);
  }
}
