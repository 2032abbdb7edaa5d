import type { Db } from './db.js';
import type { EepromSettings } from '../eeprom/settings.js';

export interface EepromImageRecord {
  id: number;
  name: string;
  digest: string;
  size: number;
  buildTs: number | null;
  version: string | null;
  createdAt: number;
}

/** Bootloader settings for one node or for every node with one label. */
export interface EepromRule {
  image: string | null;
  settings: EepromSettings;
  updatedAt: number;
}

export interface EepromState {
  nodeId: number;
  servedDigest: string | null;
  servedImage: string | null;
  servedConfig: string | null;
  servedAt: number | null;
  reportedBuildTs: number | null;
  reportedVersion: string | null;
  reportedAt: number | null;
}

interface ImageRow {
  id: number;
  name: string;
  digest: string;
  size: number;
  build_ts: number | null;
  version: string | null;
  created_at: number;
}

interface RuleRow {
  image: string | null;
  settings: string;
  updated_at: number;
}

interface StateRow {
  node_id: number;
  served_digest: string | null;
  served_image: string | null;
  served_config: string | null;
  served_at: number | null;
  reported_build_ts: number | null;
  reported_version: string | null;
  reported_at: number | null;
}

const toImage = (row: ImageRow): EepromImageRecord => ({
  id: row.id,
  name: row.name,
  digest: row.digest,
  size: row.size,
  buildTs: row.build_ts,
  version: row.version,
  createdAt: row.created_at,
});

const toRule = (row: RuleRow): EepromRule => ({ image: row.image, settings: JSON.parse(row.settings) as EepromSettings, updatedAt: row.updated_at });

const toState = (row: StateRow): EepromState => ({
  nodeId: row.node_id,
  servedDigest: row.served_digest,
  servedImage: row.served_image,
  servedConfig: row.served_config,
  servedAt: row.served_at,
  reportedBuildTs: row.reported_build_ts,
  reportedVersion: row.reported_version,
  reportedAt: row.reported_at,
});

/** Rules per node and per label live in two tables of the same shape. */
const RULE_TABLES = {
  node: { table: 'eeprom_node_settings', column: 'node_id' },
  label: { table: 'eeprom_label_settings', column: 'label' },
} as const;
type RuleScope = keyof typeof RULE_TABLES;

/** Bootloader images, per-node and per-label bootloader settings, and what nodes were served and report. */
export class Eeprom {
  constructor(private readonly db: Db) {}

  addImage(image: Omit<EepromImageRecord, 'id' | 'createdAt'>, now = Date.now()): EepromImageRecord {
    this.db
      .prepare(
        `INSERT INTO eeprom_images (name, digest, size, build_ts, version, created_at) VALUES (@name, @digest, @size, @buildTs, @version, @now)
         ON CONFLICT (name) DO UPDATE SET digest = @digest, size = @size, build_ts = @buildTs, version = @version, created_at = @now`,
      )
      .run({ ...image, now });
    return this.image(image.name)!;
  }

  image(name: string): EepromImageRecord | undefined {
    const row = this.db.prepare<[string], ImageRow>('SELECT * FROM eeprom_images WHERE name = ?').get(name);
    return row && toImage(row);
  }

  images(): EepromImageRecord[] {
    return this.db.prepare<[], ImageRow>('SELECT * FROM eeprom_images ORDER BY name').all().map(toImage);
  }

  removeImage(name: string): boolean {
    return this.db.prepare('DELETE FROM eeprom_images WHERE name = ?').run(name).changes > 0;
  }

  /** Names of images some rule points to. */
  imagesInUse(): Set<string> {
    const rows = this.db
      .prepare<[], { image: string }>('SELECT image FROM eeprom_node_settings WHERE image IS NOT NULL UNION SELECT image FROM eeprom_label_settings WHERE image IS NOT NULL')
      .all();
    return new Set(rows.map((row) => row.image));
  }

  nodeRule(nodeId: number): EepromRule | undefined {
    return this.rule('node', nodeId);
  }

  labelRule(label: string): EepromRule | undefined {
    return this.rule('label', label);
  }

  /** Every label rule, by label (`key=value`) in sorted order: the order they are layered in. */
  labelRules(): Map<string, EepromRule> {
    const rows = this.db.prepare<[], RuleRow & { label: string }>('SELECT * FROM eeprom_label_settings ORDER BY label').all();
    return new Map(rows.map((row) => [row.label, toRule(row)]));
  }

  /** Node ids with a rule of their own. */
  nodesWithRules(): number[] {
    return this.db.prepare<[], { node_id: number }>('SELECT node_id FROM eeprom_node_settings').all().map((row) => row.node_id);
  }

  setNodeRule(nodeId: number, rule: Omit<EepromRule, 'updatedAt'>, now = Date.now()): void {
    this.setRule('node', nodeId, rule, now);
  }

  setLabelRule(label: string, rule: Omit<EepromRule, 'updatedAt'>, now = Date.now()): void {
    this.setRule('label', label, rule, now);
  }

  removeNodeRule(nodeId: number): boolean {
    return this.removeRule('node', nodeId);
  }

  removeLabelRule(label: string): boolean {
    return this.removeRule('label', label);
  }

  private rule(scope: RuleScope, key: number | string): EepromRule | undefined {
    const { table, column } = RULE_TABLES[scope];
    const row = this.db.prepare<[number | string], RuleRow>(`SELECT image, settings, updated_at FROM ${table} WHERE ${column} = ?`).get(key);
    return row && toRule(row);
  }

  private setRule(scope: RuleScope, key: number | string, rule: Omit<EepromRule, 'updatedAt'>, now: number): void {
    const { table, column } = RULE_TABLES[scope];
    this.db
      .prepare(
        `INSERT INTO ${table} (${column}, image, settings, updated_at) VALUES (?, ?, ?, ?)
         ON CONFLICT (${column}) DO UPDATE SET image = excluded.image, settings = excluded.settings, updated_at = excluded.updated_at`,
      )
      .run(key, rule.image, JSON.stringify(rule.settings), now);
  }

  private removeRule(scope: RuleScope, key: number | string): boolean {
    const { table, column } = RULE_TABLES[scope];
    return this.db.prepare(`DELETE FROM ${table} WHERE ${column} = ?`).run(key).changes > 0;
  }

  state(nodeId: number): EepromState | undefined {
    const row = this.db.prepare<[number], StateRow>('SELECT * FROM eeprom_state WHERE node_id = ?').get(nodeId);
    return row && toState(row);
  }

  states(): EepromState[] {
    return this.db.prepare<[], StateRow>('SELECT * FROM eeprom_state').all().map(toState);
  }

  /** The node fetched a whole pieeprom.upd: it is not offered again until image or config change. */
  served(nodeId: number, served: { digest: string; image: string; config: string }, now = Date.now()): void {
    this.db
      .prepare(
        `INSERT INTO eeprom_state (node_id, served_digest, served_image, served_config, served_at) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (node_id) DO UPDATE SET served_digest = excluded.served_digest, served_image = excluded.served_image,
           served_config = excluded.served_config, served_at = excluded.served_at`,
      )
      .run(nodeId, served.digest, served.image, served.config, now);
  }

  /** The bootloader build a node's console named. */
  reported(nodeId: number, build: { buildTs: number | null; version: string | null }, now = Date.now()): void {
    this.db
      .prepare(
        `INSERT INTO eeprom_state (node_id, reported_build_ts, reported_version, reported_at) VALUES (?, ?, ?, ?)
         ON CONFLICT (node_id) DO UPDATE SET reported_build_ts = coalesce(excluded.reported_build_ts, reported_build_ts),
           reported_version = coalesce(excluded.reported_version, reported_version), reported_at = excluded.reported_at`,
      )
      .run(nodeId, build.buildTs, build.version, now);
  }

}
