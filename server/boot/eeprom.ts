import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { ServedFile } from './files.js';
import { eepromSignature, replaceEepromFile } from '../eeprom/image.js';
import { renderBootconf, type EepromSettings } from '../eeprom/settings.js';
import type { BlobStore } from '../images/blob-store.js';
import type { EepromImageRecord, EepromRule } from '../inventory/eeprom.js';
import type { Inventory } from '../inventory/index.js';
import type { NodeRecord } from '../inventory/nodes.js';

export const EEPROM_UPDATE_FILE = 'pieeprom.upd';
export const EEPROM_SIGNATURE_FILE = 'pieeprom.sig';
/** Built updates kept: nodes share a few image and config pairs; each is 512 KiB or 2 MiB. */
const BUILT_KEPT = 8;
/** Nodes whose last offered update is remembered until their transfer ends. */
const OFFERS_KEPT = 10_000;

/** What a node's bootloader should run: its labels' rules (in label order), then its own, layered. */
export interface EffectiveEeprom {
  image: EepromImageRecord | null;
  settings: EepromSettings;
  /** The rules that apply, in the order they were layered: `label:k=v` and `node`. */
  from: string[];
  /** When any of them last changed (ms); the pieeprom.sig timestamp. */
  updatedAt: number;
  /** bootconf.txt as the node gets it. */
  config: string;
}

export function effectiveEeprom(inventory: Inventory, node: NodeRecord): EffectiveEeprom | undefined {
  const { eeprom } = inventory;
  const layers: [string, EepromRule][] = [];
  for (const [label, rule] of eeprom.labelRules()) {
    const at = label.indexOf('=');
    if (node.labels[label.slice(0, at)] === label.slice(at + 1)) layers.push([`label:${label}`, rule]);
  }
  const own = eeprom.nodeRule(node.id);
  if (own) layers.push(['node', own]);
  if (!layers.length) return undefined;
  let imageName: string | null = null;
  const settings: EepromSettings = {};
  for (const [, rule] of layers) {
    imageName = rule.image ?? imageName;
    Object.assign(settings, rule.settings);
  }
  const image = imageName === null ? null : (eeprom.image(imageName) ?? null);
  const updatedAt = Math.max(image?.createdAt ?? 0, ...layers.map(([, rule]) => rule.updatedAt));
  return { image, settings, from: layers.map(([name]) => name), updatedAt, config: renderBootconf(settings) };
}

interface BuiltUpdate {
  /** sha256 of pieeprom.upd: what pieeprom.sig carries and what "served" remembers. */
  digest: string;
  data: Buffer;
  imageDigest: string;
  config: string;
}

/**
 * Bootloader self-update over TFTP: a node with eeprom settings and a bootloader image is offered
 * pieeprom.upd (its image with bootconf.txt replaced) and pieeprom.sig in its prefix, until it has
 * fetched that very update once. Changing the settings or the image makes a new one to offer.
 */
export class EepromUpdates {
  private readonly built = new Map<string, BuiltUpdate>();
  private readonly offered = new Map<number, BuiltUpdate>();

  constructor(
    private readonly inventory: Inventory,
    private readonly store: BlobStore,
    /** Whether a transfer from this address is the node's own (see BootPolicy.isNodeAddress). */
    private readonly isNodeAddress: (node: NodeRecord, address: string) => boolean,
  ) {}

  /** pieeprom.upd or pieeprom.sig for this node, or undefined when it has no update to fetch. */
  async fileFor(node: NodeRecord, name: string): Promise<ServedFile | undefined> {
    if (name !== EEPROM_UPDATE_FILE && name !== EEPROM_SIGNATURE_FILE) return undefined;
    const effective = effectiveEeprom(this.inventory, node);
    if (!effective?.image) return undefined;
    const update = await this.build(effective.image, effective.config);
    if (this.inventory.eeprom.state(node.id)?.servedDigest === update.digest) return undefined;
    this.offered.delete(node.id);
    this.offered.set(node.id, update);
    if (this.offered.size > OFFERS_KEPT) this.offered.delete(this.offered.keys().next().value!);
    // The bootloader refuses an update whose timestamp is older than its own: the newest change counts.
    const data = name === EEPROM_UPDATE_FILE ? update.data : eepromSignature(update.digest, effective.updatedAt / 1000);
    return { kind: 'bytes', data, etag: update.digest };
  }

  /** A whole pieeprom.upd went to `address`: from the node itself, that update is done for it. */
  transferComplete(node: NodeRecord, address: string): void {
    const update = this.offered.get(node.id);
    if (!update || !this.isNodeAddress(node, address)) return;
    this.offered.delete(node.id);
    this.inventory.eeprom.served(node.id, { digest: update.digest, image: update.imageDigest, config: update.config });
  }

  private async build(image: EepromImageRecord, config: string): Promise<BuiltUpdate> {
    const key = `${image.digest}:${config}`;
    const cached = this.built.get(key);
    if (cached) return cached;
    const data = replaceEepromFile(await readFile(this.store.pathOf(image.digest)), Buffer.from(config));
    const update = { digest: createHash('sha256').update(data).digest('hex'), data, imageDigest: image.digest, config };
    this.built.set(key, update);
    if (this.built.size > BUILT_KEPT) this.built.delete(this.built.keys().next().value!);
    return update;
  }
}
